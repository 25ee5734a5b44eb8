//! Operator processes for a test and their metrics/health server.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};

use crate::waits::DEADLINE;
use crate::{TestEnv, repo_root};

/// The operator binary the tests run (`ECS_OPERATOR_BIN`, else the debug build).
pub fn operator_binary() -> PathBuf {
    std::env::var_os("ECS_OPERATOR_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/debug/ecs-operator"))
}

impl TestEnv {
    /// Starts (or restarts) the operator process for this namespace.
    pub fn start_operator(&mut self) -> Result<()> {
        self.stop_operator();
        let bin = operator_binary();
        if !bin.exists() {
            bail!(
                "{} not found: build it with `cargo build` (make test does this)",
                bin.display()
            );
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)?;
        let child = tokio::process::Command::new(bin)
            .args([
                "run",
                "--watch-namespace",
                &self.namespace,
                "--resync-seconds",
                "3",
                // Parallel tests must not share a port: any free loopback port (logged).
                "--metrics-bind-address",
                "127.0.0.1:0",
            ])
            .env("ECS_OPERATOR_LOG_LEVEL", "ecs_operator=debug,info")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .context("spawn operator")?;
        self.operator = Some(child);
        Ok(())
    }

    /// The operator's exit status if it has died.
    pub(crate) fn operator_exit(&self) -> Option<String> {
        let child = self.operator.as_ref()?;
        // try_wait needs &mut; peek at /proc instead so waits can borrow self immutably.
        let pid = child.id()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
        match stat {
            None => Some("gone".into()),
            Some(s) if s.split_whitespace().nth(2) == Some("Z") => Some("exited".into()),
            Some(_) => None,
        }
    }

    pub fn stop_operator(&mut self) {
        if let Some(mut child) = self.operator.take() {
            let _ = child.start_kill();
        }
    }

    /// The operator's log so far (for failure messages).
    pub fn operator_log(&self) -> String {
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// Starts (or restarts) the operator with `KUBECONFIG=kubeconfig`, these arguments after `run`
    /// and extra environment; its metrics server gets a free loopback port.
    pub fn start_operator_with(
        &mut self,
        kubeconfig: &std::path::Path,
        args: &[&str],
        envs: &[(&str, &str)],
    ) -> Result<()> {
        self.stop_operator();
        let bin = operator_binary();
        if !bin.exists() {
            bail!("{} not found: build it with `cargo build`", bin.display());
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)?;
        let child = tokio::process::Command::new(bin)
            // Parallel operators must not share a port.
            .args(["run", "--metrics-bind-address", "127.0.0.1:0"])
            .args(args)
            .env("KUBECONFIG", kubeconfig)
            .env("ECS_OPERATOR_LOG_LEVEL", "ecs_operator=debug,info")
            .envs(envs.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .context("spawn operator")?;
        self.operator = Some(child);
        Ok(())
    }

    /// Restarts the operator on the bed's kubeconfig for this namespace with a resync of
    /// `seconds`: long enough, a reconcile within seconds can only come from a watch.
    pub fn restart_operator_with_resync(&mut self, seconds: u32) -> Result<()> {
        let kubeconfig = std::env::var("KUBECONFIG").context("KUBECONFIG is not set")?;
        let (ns, resync) = (self.namespace.clone(), seconds.to_string());
        self.start_operator_with(
            std::path::Path::new(&kubeconfig),
            &["--watch-namespace", &ns, "--resync-seconds", &resync],
            &[],
        )
    }

    /// Spawns another operator process for this namespace (resync 3 s, a free metrics port),
    /// logging to its own file `<namespace>-<name>.log`; `args` come after the defaults.
    pub fn spawn_operator(
        &self,
        name: &str,
        args: &[&str],
        envs: &[(&str, &str)],
    ) -> Result<OperatorProcess> {
        let bin = operator_binary();
        if !bin.exists() {
            bail!("{} not found: build it with `cargo build`", bin.display());
        }
        let log_path = std::env::temp_dir().join(format!("{}-{name}.log", self.namespace));
        let log = std::fs::File::create(&log_path)?;
        let mut cmd = tokio::process::Command::new(bin);
        cmd.args([
            "run",
            "--watch-namespace",
            &self.namespace,
            "--resync-seconds",
            "3",
        ]);
        if !args.contains(&"--metrics-bind-address") {
            cmd.args(["--metrics-bind-address", "127.0.0.1:0"]);
        }
        let child = cmd
            .args(args)
            .env("ECS_OPERATOR_LOG_LEVEL", "ecs_operator=debug,info")
            .envs(envs.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .context("spawn operator")?;
        Ok(OperatorProcess {
            child: Some(child),
            log_path,
        })
    }

    /// The metrics/health address of this test's operator (from its log; waits for it).
    pub async fn metrics_addr(&self) -> Result<std::net::SocketAddr> {
        self.wait_for("the operator's metrics address", || async {
            Ok(metrics_addr_in(
                &std::fs::read_to_string(&self.log_path).unwrap_or_default(),
            ))
        })
        .await
    }
}

/// The log line the operator writes once its metrics and health server listens.
pub const SERVING_METRICS: &str = "serving metrics and health on ";

/// The address in the last "serving metrics and health on ADDR" line of an operator log.
pub fn metrics_addr_in(log: &str) -> Option<std::net::SocketAddr> {
    log.lines().rev().find_map(|line| {
        let rest = &line[line.find(SERVING_METRICS)? + SERVING_METRICS.len()..];
        let addr = rest.split_whitespace().next()?;
        addr.trim_end_matches(['"', ',', '}']).parse().ok()
    })
}

/// `GET path` on the operator's metrics/health server: (status, body). Plain HTTP/1.1 over TCP,
/// so the tests need no HTTP client crate.
pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let io = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream
            .write_all(
                format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw)
    };
    let raw = tokio::time::timeout(Duration::from_secs(10), io)
        .await
        .with_context(|| format!("GET {path} on {addr} timed out"))?
        .with_context(|| format!("GET {path} on {addr}"))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow!("malformed HTTP response: {text}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("no status in {head:?}"))?;
    Ok((status, body.to_string()))
}

/// Sum of the samples of metric `name` (exact series name, e.g. `ecs_operator_aws_calls_total`)
/// whose labels include every `(label, value)` given; 0 when none match.
pub fn metric_value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(series, _)| {
            let (series_name, series_labels) = series.split_once('{').unwrap_or((series, ""));
            series_name == name
                && labels
                    .iter()
                    .all(|(k, v)| series_labels.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|(_, value)| value.parse::<f64>().ok())
        .sum()
}

/// An extra operator process with its own log file; killed when dropped.
pub struct OperatorProcess {
    child: Option<tokio::process::Child>,
    pub log_path: PathBuf,
}

impl OperatorProcess {
    /// Its whole log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn log_count(&self, needle: &str) -> usize {
        self.log().lines().filter(|l| l.contains(needle)).count()
    }

    /// Its log's last lines, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = self.log();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref()?.id()
    }

    /// SIGKILL: no cleanup, no lease release.
    pub fn kill(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
    }

    /// SIGTERM: graceful shutdown.
    pub fn terminate(&self) -> Result<()> {
        let pid = self
            .pid()
            .ok_or_else(|| anyhow!("operator already exited"))?;
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()?;
        anyhow::ensure!(status.success(), "kill -TERM {pid} failed");
        Ok(())
    }

    /// Waits (bounded) for the process to exit.
    pub async fn wait_exit(&mut self, within: Duration) -> Result<std::process::ExitStatus> {
        let child = self
            .child
            .as_mut()
            .ok_or_else(|| anyhow!("no operator process"))?;
        tokio::time::timeout(within, child.wait())
            .await
            .with_context(|| format!("operator still running after {within:?}"))?
            .context("wait for operator")
    }

    /// The exit status if the process has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut()?.try_wait().ok().flatten()
    }

    /// Waits until the log names the metrics/health address.
    pub async fn metrics_addr(&mut self) -> Result<std::net::SocketAddr> {
        let start = Instant::now();
        loop {
            if let Some(addr) = metrics_addr_in(&self.log()) {
                return Ok(addr);
            }
            if let Some(status) = self.exited() {
                bail!(
                    "operator exited ({status}) before serving metrics\n{}",
                    self.log_tail()
                );
            }
            if start.elapsed() > DEADLINE {
                bail!("no {SERVING_METRICS:?} log line\n{}", self.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
