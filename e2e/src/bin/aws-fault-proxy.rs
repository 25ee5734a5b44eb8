//! The fault-injecting AWS proxy (e2e::fault) as a process, for trying the operator by hand:
//!
//!   cargo run -p e2e --bin aws-fault-proxy -- [--upstream URL] [--listen ADDR] [--throttle 0.3]
//!       [--server-error 0.05] [--lost 0.03] [--latency-ms 50] [--buckets] [--seed N]
//!
//! `--upstream` defaults to AWS_ENDPOINT_URL (the bed's moto). Prints `AWS_ENDPOINT_URL=...` for
//! the operator, then serves until killed. `GET /__faults/counts` shows calls per action;
//! `POST /__faults/config` with a JSON FaultConfig changes the faults.

use anyhow::{Context as _, Result, bail};
use e2e::fault::{FaultConfig, FaultProxy, upstream_addr};

#[tokio::main]
async fn main() -> Result<()> {
    let mut config = FaultConfig::default();
    let mut upstream = std::env::var("AWS_ENDPOINT_URL").ok();
    let mut listen = "127.0.0.1:0".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--upstream" => upstream = Some(value()?),
            "--listen" => listen = value()?,
            "--throttle" => config.throttle = value()?.parse()?,
            "--server-error" => config.server_error = value()?.parse()?,
            "--lost" => config.lost = value()?.parse()?,
            "--latency-ms" => config.latency_ms = value()?.parse()?,
            "--seed" => config.seed = value()?.parse()?,
            "--buckets" => config.buckets = true,
            "-h" | "--help" => {
                println!(
                    "aws-fault-proxy [--upstream URL] [--listen ADDR] [--throttle P] [--server-error P] \
                     [--lost P] [--latency-ms MS] [--buckets] [--seed N]"
                );
                return Ok(());
            }
            other => bail!("unknown argument {other} (try --help)"),
        }
    }
    let upstream = upstream.context("no --upstream and AWS_ENDPOINT_URL is not set")?;
    let proxy = FaultProxy::start(upstream_addr(&upstream)?, listen.parse()?, config).await?;
    println!("AWS_ENDPOINT_URL={}", proxy.url());
    eprintln!("forwarding to {upstream} with {:?}", proxy.config());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
