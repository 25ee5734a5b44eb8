//! Operator processes for a test and their metrics/health server. There is one way to start an
//! operator: [`TestEnv::operator`] returns an [`OperatorBuilder`]; the older entry points
//! (`start_operator`, `spawn_operator`, ...) are one builder call each.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
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

/// How to start an operator process, from [`TestEnv::operator`]: `run --watch-namespace <ns>
/// --resync-seconds 3 --metrics-bind-address 127.0.0.1:0`, debug logs appended to the test's
/// [`TestEnv::log_path`]. A default is left out when [`OperatorBuilder::args`] names its flag
/// (`--flag value` form). [`OperatorBuilder::start`] gives an extra process;
/// [`TestEnv::restart_operator`] makes it the test's own operator.
#[derive(Clone, Debug)]
#[must_use = "an operator builder does nothing until started"]
pub struct OperatorBuilder {
    namespace: String,
    resync_seconds: u32,
    scoped: bool,
    args: Vec<String>,
    envs: Vec<(OsString, OsString)>,
    log_path: PathBuf,
    append: bool,
}

impl OperatorBuilder {
    /// `--resync-seconds` (default 3). A long one shows that a reconcile within seconds came
    /// from a watch.
    pub fn resync(mut self, seconds: u32) -> Self {
        self.resync_seconds = seconds;
        self
    }

    /// Arguments after the defaults.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// Extra environment (after the debug log level, so it can override it).
    pub fn envs(mut self, envs: &[(&str, &str)]) -> Self {
        self.envs
            .extend(envs.iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// `KUBECONFIG` for the process (default: the test's, inherited).
    pub fn kubeconfig(mut self, path: &Path) -> Self {
        self.envs.push(("KUBECONFIG".into(), path.into()));
        self
    }

    /// Neither `--watch-namespace` nor `--resync-seconds`: only [`OperatorBuilder::args`] (and a
    /// free metrics port), e.g. the arguments of the chart's pod.
    pub fn unscoped(mut self) -> Self {
        self.scoped = false;
        self
    }

    /// Logs to its own file `<namespace>-<name>.log` (truncated) instead of the test's log.
    pub fn log_name(mut self, name: &str) -> Self {
        self.log_path = std::env::temp_dir().join(format!("{}-{name}.log", self.namespace));
        self.append = false;
        self
    }

    /// Spawns the process; it is killed when the returned handle is dropped.
    pub fn start(self) -> Result<OperatorProcess> {
        let bin = operator_binary();
        if !bin.exists() {
            bail!(
                "{} not found: build it with `cargo build` (make test does this)",
                bin.display()
            );
        }
        let log = if self.append {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.log_path)?
        } else {
            std::fs::File::create(&self.log_path)?
        };
        let named = |flag: &str| self.args.iter().any(|a| a == flag);
        let mut cmd = tokio::process::Command::new(bin);
        cmd.arg("run");
        if self.scoped && !named("--watch-namespace") {
            cmd.args(["--watch-namespace", &self.namespace]);
        }
        if self.scoped && !named("--resync-seconds") {
            cmd.args(["--resync-seconds", &self.resync_seconds.to_string()]);
        }
        if !named("--metrics-bind-address") {
            // Parallel operators must not share a port: any free loopback port (logged).
            cmd.args(["--metrics-bind-address", "127.0.0.1:0"]);
        }
        let child = cmd
            .args(&self.args)
            .env("ECS_OPERATOR_LOG_LEVEL", "ecs_operator=debug,info")
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .context("spawn operator")?;
        Ok(OperatorProcess {
            child: Some(child),
            log_path: self.log_path,
        })
    }
}

impl TestEnv {
    /// An operator for this namespace, to configure and start: see [`OperatorBuilder`].
    pub fn operator(&self) -> OperatorBuilder {
        OperatorBuilder {
            namespace: self.namespace.clone(),
            resync_seconds: 3,
            scoped: true,
            args: Vec::new(),
            envs: Vec::new(),
            log_path: self.log_path.clone(),
            append: true,
        }
    }

    /// Stops this test's operator and starts `operator` as the new one, the one
    /// [`TestEnv::wait_for`] watches. Keep its log at [`TestEnv::log_path`] (no `log_name`):
    /// failure messages read that file.
    pub fn restart_operator(&mut self, operator: OperatorBuilder) -> Result<()> {
        self.stop_operator();
        self.process = Some(operator.start()?);
        Ok(())
    }

    // The entry points the tests were written against, each one builder call.

    /// Starts (or restarts) the operator process for this namespace.
    pub fn start_operator(&mut self) -> Result<()> {
        self.restart_operator(self.operator())
    }

    /// Starts (or restarts) the operator with `KUBECONFIG=kubeconfig`, only these arguments
    /// after `run` (and a free metrics port) and extra environment.
    pub fn start_operator_with(
        &mut self,
        kubeconfig: &Path,
        args: &[&str],
        envs: &[(&str, &str)],
    ) -> Result<()> {
        let operator = self.operator().unscoped().kubeconfig(kubeconfig);
        self.restart_operator(operator.args(args).envs(envs))
    }

    /// Restarts the operator for this namespace with a resync of `seconds`.
    pub fn restart_operator_with_resync(&mut self, seconds: u32) -> Result<()> {
        self.restart_operator(self.operator().resync(seconds))
    }

    /// Spawns another operator process for this namespace, logging to `<namespace>-<name>.log`.
    pub fn spawn_operator(
        &self,
        name: &str,
        args: &[&str],
        envs: &[(&str, &str)],
    ) -> Result<OperatorProcess> {
        self.operator().log_name(name).args(args).envs(envs).start()
    }

    pub fn stop_operator(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill();
        }
    }

    /// The operator's exit status if it has died.
    pub(crate) fn operator_exit(&self) -> Option<String> {
        // try_wait needs &mut; peek at /proc instead so waits can borrow self immutably.
        let pid = self.process.as_ref()?.pid()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
        match stat {
            None => Some("gone".into()),
            Some(s) if s.split_whitespace().nth(2) == Some("Z") => Some("exited".into()),
            Some(_) => None,
        }
    }

    /// The operator's log so far (for failure messages).
    pub fn operator_log(&self) -> String {
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
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

/// An operator process and its log file; killed when dropped.
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
