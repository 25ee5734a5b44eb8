//! Harness for end-to-end tests against the real bed (`e2e/env up`): a real kube-apiserver +
//! etcd and moto. Each test gets its own namespace and its own operator process watching only
//! that namespace; the process is killed when the test's [`TestEnv`] is dropped.

use std::future::Future;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use k8s_openapi::api::core::v1::{Event, Namespace};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

pub use ecs_operator::api;

pub mod fault;
pub mod kstatus;
pub mod node;

/// A manifest of one of the operator's kinds, as JSON text (valid YAML) for [`TestEnv::apply`].
pub fn manifest(kind: &str, name: &str, spec: &serde_json::Value) -> String {
    json!({"apiVersion": "ecs.operator.dev/v1alpha1", "kind": kind, "metadata": {"name": name}, "spec": spec})
        .to_string()
}

/// The message of a condition of `obj` ("" when absent).
pub fn condition_message<K: ecs_operator::engine::Managed>(obj: &K, type_: &str) -> String {
    obj.conditions()
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

/// Default deadline for one wait.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Unique suffix for namespaces and AWS names: pid + counter + time, so parallel tests and
/// re-runs against a long-lived bed never collide.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() % 1_000_000)
        .unwrap_or(0);
    format!("{prefix}-{}-{n}-{t}", std::process::id())
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The operator binary the tests run (`ECS_OPERATOR_BIN`, else the debug build).
pub fn operator_binary() -> PathBuf {
    std::env::var_os("ECS_OPERATOR_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/debug/ecs-operator"))
}

/// One test's world: namespace, clients, and a running operator.
pub struct TestEnv {
    pub namespace: String,
    pub client: Client,
    pub ecr: aws_sdk_ecr::Client,
    pub ecs: aws_sdk_ecs::Client,
    operator: Option<tokio::process::Child>,
    pub log_path: PathBuf,
}

impl TestEnv {
    /// Creates a namespace and starts an operator for it with a short resync.
    pub async fn new(prefix: &str) -> Result<Self> {
        for var in ["KUBECONFIG", "AWS_ENDPOINT_URL"] {
            if std::env::var_os(var).is_none() {
                bail!(
                    "{var} is not set: start the bed first with `eval \"$(e2e/env up)\"` (make test does this)"
                );
            }
        }
        let client = Client::try_default()
            .await
            .context("kube client from KUBECONFIG")?;
        let namespace = unique(prefix);
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": namespace}}))?;
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .context("create test namespace")?;
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        let mut env = Self {
            ecr: aws_sdk_ecr::Client::new(&config),
            ecs: aws_sdk_ecs::Client::new(&config),
            log_path: std::env::temp_dir().join(format!("{namespace}-operator.log")),
            namespace,
            client,
            operator: None,
        };
        env.start_operator()?;
        Ok(env)
    }

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
    fn operator_exit(&self) -> Option<String> {
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

    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Creates or replaces an object from YAML with server-side apply (as `kubectl apply --server-side`).
    pub async fn apply<K>(&self, yaml: &str) -> Result<K>
    where
        K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Serialize
            + std::fmt::Debug,
    {
        let value: serde_json::Value = serde_yaml::from_str(yaml).context("parse manifest")?;
        let name = value["metadata"]["name"]
            .as_str()
            .ok_or_else(|| anyhow!("manifest without metadata.name"))?;
        let api: Api<K> = self.api();
        api.patch(
            name,
            &PatchParams::apply("e2e-test").force(),
            &Patch::Apply(&value),
        )
        .await
        .map_err(anyhow::Error::from)
    }

    /// Polls `check` until it returns Some, or fails with the last state and the operator log.
    pub async fn wait_for<T, F, Fut>(&self, what: &str, mut check: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<T>>>,
    {
        let start = Instant::now();
        let mut last;
        loop {
            match check().await {
                Ok(Some(v)) => return Ok(v),
                Ok(None) => last = "condition not met".into(),
                Err(e) => last = format!("{e:#}"),
            }
            if let Some(status) = self.operator_exit() {
                bail!(
                    "operator exited ({status}) while waiting for {what}\n--- operator log tail ---\n{}",
                    self.operator_log()
                );
            }
            if start.elapsed() > DEADLINE {
                bail!(
                    "timed out after {:?} waiting for {what} ({last})\n--- operator log tail ---\n{}",
                    DEADLINE,
                    self.operator_log()
                );
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Waits until a condition of `name` has the given status (and, if given, reason).
    pub async fn wait_condition<K>(
        &self,
        name: &str,
        type_: &str,
        status: &str,
        reason: Option<&str>,
    ) -> Result<K>
    where
        K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Serialize
            + std::fmt::Debug,
    {
        let api: Api<K> = self.api();
        self.wait_for(&format!("{name} {type_}={status} {reason:?}"), || {
            let api = api.clone();
            async move {
                let obj = api.get(name).await?;
                let v = serde_json::to_value(&obj)?;
                let generation = v["metadata"]["generation"].as_i64();
                let found = v["status"]["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| {
                        c["type"] == type_
                            && c["status"] == status
                            && reason.is_none_or(|r| c["reason"] == r)
                            && c["observedGeneration"].as_i64() == generation
                    });
                Ok(found.then_some(obj))
            }
        })
        .await
    }

    /// Waits until the object is gone.
    pub async fn wait_gone<K>(&self, name: &str) -> Result<()>
    where
        K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + std::fmt::Debug,
    {
        let api: Api<K> = self.api();
        self.wait_for(&format!("{name} to be deleted"), || {
            let api = api.clone();
            async move { Ok(api.get_opt(name).await?.is_none().then_some(())) }
        })
        .await
    }

    pub async fn delete<K>(&self, name: &str) -> Result<()>
    where
        K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + std::fmt::Debug,
    {
        self.api::<K>()
            .delete(name, &DeleteParams::default())
            .await?;
        Ok(())
    }

    /// Events recorded for the object with the given reason.
    pub async fn events_for(&self, name: &str, reason: &str) -> Result<Vec<Event>> {
        let events: Api<Event> = self.api();
        Ok(events
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .filter(|e| {
                e.involved_object.name.as_deref() == Some(name)
                    && e.reason.as_deref() == Some(reason)
            })
            .collect())
    }

    /// Runs the bed's kubectl (first on PATH after `e2e/env up`) in this namespace.
    pub async fn kubectl(&self, args: &[&str]) -> Result<std::process::Output> {
        Ok(tokio::process::Command::new("kubectl")
            .args(args)
            .args(["-n", &self.namespace])
            // A private discovery cache: a shared one can predate the CRDs of this bed.
            .arg(format!(
                "--cache-dir={}",
                std::env::temp_dir()
                    .join(format!("{}-kubecache", self.namespace))
                    .display()
            ))
            .output()
            .await?)
    }

    /// Removes finalizers left by the test and deletes the namespace. Best effort.
    pub async fn cleanup<K>(mut self) -> Result<()>
    where
        K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + std::fmt::Debug,
    {
        self.stop_operator();
        // The bed has no controller-manager, so a deleted namespace keeps its objects: delete
        // them one by one (finalizers first, the operator is gone).
        strip_and_delete::<K>(&self).await;
        let _ = Api::<Namespace>::all(self.client.clone())
            .delete(&self.namespace, &DeleteParams::default())
            .await;
        Ok(())
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        self.stop_operator();
    }
}

impl TestEnv {
    /// The ECR repository `name` as AWS describes it; `None` when it does not exist.
    pub async fn ecr_repository(
        &self,
        name: &str,
    ) -> Result<Option<aws_sdk_ecr::types::Repository>> {
        match self
            .ecr
            .describe_repositories()
            .repository_names(name)
            .send()
            .await
        {
            Ok(out) => Ok(out.repositories().first().cloned()),
            Err(e) if format!("{e:?}").contains("RepositoryNotFoundException") => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// desiredCount of `service` in `cluster` as AWS (moto's DescribeServices) reports it.
    pub async fn aws_desired_count(&self, cluster: &str, service: &str) -> Result<i32> {
        let out = self
            .ecs
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await?;
        out.services()
            .first()
            .map(|s| s.desired_count())
            .with_context(|| format!("service {service} not in AWS"))
    }

    /// How many operator log lines contain `needle`.
    pub fn log_count(&self, needle: &str) -> usize {
        std::fs::read_to_string(&self.log_path)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// Waits until the operator has logged `needle` `more` more times than now: a deadline-bound
    /// way to let several resyncs pass without sleeping a fixed time.
    pub async fn wait_log_grows(&self, needle: &str, more: usize) -> Result<()> {
        self.wait_log_count(needle, self.log_count(needle) + more)
            .await
    }

    /// Waits until the operator has logged `needle` at least `target` times in all.
    pub async fn wait_log_count(&self, needle: &str, target: usize) -> Result<()> {
        self.wait_for(
            &format!("{target} log lines with {needle:?}"),
            || async move { Ok((self.log_count(needle) >= target).then_some(())) },
        )
        .await
    }

    /// Waits until the operator has logged `n` reconcile errors of object `name` in this
    /// namespace (one per failed reconcile: how far its retry backoff has grown).
    pub async fn wait_reconcile_errors(&self, name: &str, n: usize) -> Result<()> {
        let key = format!("object={}/{name} ", self.namespace);
        self.wait_for(&format!("{n} reconcile errors of {name}"), || async {
            let count = std::fs::read_to_string(&self.log_path)
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains("reconcile error") && l.contains(&key))
                .count();
            Ok((count >= n).then_some(()))
        })
        .await
    }
}

/// Runs a tool from the bed's PATH (`helm`, `kubectl`) and returns its output whatever the exit status.
pub async fn tool_output(program: &str, args: &[&str]) -> Result<std::process::Output> {
    tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| format!("run {program} (is the bed's PATH exported?)"))
}

/// Runs a tool from the bed's PATH and returns its stdout; fails with stderr unless it exits 0.
pub async fn tool(program: &str, args: &[&str]) -> Result<String> {
    let out = tool_output(program, args).await?;
    if !out.status.success() {
        bail!(
            "{program} {} failed ({}): {}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Writes a kubeconfig for the bed's API server (server and CA from KUBECONFIG) that authenticates
/// with `token` only, e.g. a ServiceAccount token from `kubectl create token`.
pub fn token_kubeconfig(token: &str, path: &std::path::Path) -> Result<()> {
    let admin = std::env::var_os("KUBECONFIG").context("KUBECONFIG is not set")?;
    let admin: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(&admin).context("read the bed's kubeconfig")?,
    )?;
    let cluster = &admin["clusters"][0]["cluster"];
    let server = cluster["server"]
        .as_str()
        .context("kubeconfig without clusters[0].cluster.server")?;
    let ca = cluster["certificate-authority-data"]
        .as_str()
        .context("kubeconfig without certificate-authority-data")?;
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "bed", "cluster": {"server": server, "certificate-authority-data": ca}}],
        "users": [{"name": "token", "user": {"token": token.trim()}}],
        "contexts": [{"name": "bed", "context": {"cluster": "bed", "user": "token"}}],
        "current-context": "bed",
    });
    std::fs::write(path, serde_yaml::to_string(&config)?)
        .with_context(|| format!("write {}", path.display()))
}

impl TestEnv {
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

    /// Registers a revision of `family` made with the SDK (one container `main` running `image`,
    /// 128 MiB) and returns its ARN.
    pub async fn register_revision(&self, family: &str, image: &str) -> Result<String> {
        let out = self
            .ecs
            .register_task_definition()
            .family(family)
            .container_definitions(
                aws_sdk_ecs::types::ContainerDefinition::builder()
                    .name("main")
                    .image(image)
                    .memory(128)
                    .build(),
            )
            .send()
            .await?;
        let arn = out.task_definition().and_then(|t| t.task_definition_arn());
        Ok(arn.ok_or_else(|| anyhow!("no revision"))?.to_string())
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

impl TestEnv {
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

impl TestEnv {
    /// Sets an annotation on the test namespace (e.g. `ecs.operator.dev/deletion-policy`).
    /// Call it before creating objects: the operator caches namespace settings briefly.
    pub async fn annotate_namespace(&self, key: &str, value: &str) -> Result<()> {
        Api::<Namespace>::all(self.client.clone())
            .patch(
                &self.namespace,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"annotations": {key: value}}})),
            )
            .await?;
        Ok(())
    }

    /// [`TestEnv::cleanup`] for tests that create objects of every kind.
    pub async fn cleanup_all(self) -> Result<()> {
        use ecs_operator::api::{
            EcrRegistry, EcrRepository, EcsCluster, EcsSchedule, EcsService, EcsTask,
            TaskDefinition,
        };
        strip_and_delete::<EcsTask>(&self).await;
        strip_and_delete::<EcsSchedule>(&self).await;
        strip_and_delete::<EcrRegistry>(&self).await;
        strip_and_delete::<EcsService>(&self).await;
        strip_and_delete::<TaskDefinition>(&self).await;
        strip_and_delete::<EcsCluster>(&self).await;
        self.cleanup::<EcrRepository>().await
    }
}

async fn strip_and_delete<K>(env: &TestEnv)
where
    K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = env.api();
    let Ok(list) = api.list(&ListParams::default()).await else {
        return;
    };
    for obj in list.items {
        let _ = api
            .patch(
                &obj.name_any(),
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"finalizers": null}})),
            )
            .await;
        let _ = api.delete(&obj.name_any(), &DeleteParams::default()).await;
    }
}

/// (status, reason) of the condition `type_` in a status JSON; empty strings when absent.
pub fn condition(status: &serde_json::Value, type_: &str) -> (String, String) {
    status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == type_)
        .map(|c| {
            (
                c["status"].as_str().unwrap_or_default().to_string(),
                c["reason"].as_str().unwrap_or_default().to_string(),
            )
        })
        .unwrap_or_default()
}

impl TestEnv {
    /// The `status` of object `name` of kind `K`, as JSON.
    pub async fn status_json<K>(&self, name: &str) -> Result<serde_json::Value>
    where
        K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Serialize
            + std::fmt::Debug,
    {
        Ok(serde_json::to_value(self.api::<K>().get(name).await?)?["status"].clone())
    }
}

/// Spec-level AWS names [`rewrite_example`] suffixes.
const EXAMPLE_AWS_NAMES: &[&str] = &["clusterName", "family", "serviceName", "repositoryName"];

/// An `examples/` manifest with the namespace replaced and the spec-level AWS names (clusterName,
/// family, serviceName, repositoryName) made unique, so tests can share a bed. A repository named
/// after its object (`spec: {}`) gets that name, suffixed, and so does a schedule (EcsSchedule's
/// `spec.name`, which the examples leave to default to metadata.name).
pub fn rewrite_example(text: &str, namespace: &str, suffix: &str) -> String {
    let mut kind = "";
    let mut name = "";
    let mut out = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if line == "---" {
            (kind, name) = ("", "");
        }
        if let Some(k) = line.strip_prefix("kind: ") {
            kind = k.trim();
        }
        if indent == 2
            && let Some(n) = trimmed.strip_prefix("name: ")
        {
            name = n.trim();
        }
        if indent == 2 && trimmed.starts_with("namespace: ") {
            out.push(format!("  namespace: {namespace}"));
            continue;
        }
        if line == "spec: {}" && kind == "EcrRepository" {
            out.push(format!("spec:\n  repositoryName: {name}-{suffix}"));
            continue;
        }
        if line == "spec:" && kind == "EcsSchedule" {
            out.push(format!("spec:\n  name: {name}-{suffix}"));
            continue;
        }
        let renamed = EXAMPLE_AWS_NAMES.iter().find_map(|key| {
            let value = trimmed.strip_prefix(&format!("{key}: "))?;
            (indent == 2).then(|| format!("  {key}: {value}-{suffix}"))
        });
        out.push(renamed.unwrap_or_else(|| line.to_string()));
    }
    out.join("\n")
}

/// Writes a copy of the bed's kubeconfig (KUBECONFIG) whose users impersonate `user` in `groups`
/// (`as` / `as-groups`, which kube-rs and kubectl send as Impersonate-* headers): every request
/// made with it is authorized as that user by the API server's RBAC.
pub fn impersonating_kubeconfig(user: &str, groups: &[&str], path: &std::path::Path) -> Result<()> {
    let admin = std::env::var_os("KUBECONFIG").context("KUBECONFIG is not set")?;
    let mut config: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(&admin).context("read the bed's kubeconfig")?,
    )?;
    let users = config["users"]
        .as_sequence_mut()
        .filter(|u| !u.is_empty())
        .context("kubeconfig without users")?;
    for entry in users {
        let user_entry = entry
            .get_mut("user")
            .and_then(serde_yaml::Value::as_mapping_mut)
            .context("kubeconfig user entry without `user`")?;
        user_entry.insert("as".into(), user.into());
        user_entry.insert(
            "as-groups".into(),
            groups.iter().map(|g| serde_yaml::Value::from(*g)).collect(),
        );
    }
    std::fs::write(path, serde_yaml::to_string(&config)?)
        .with_context(|| format!("write {}", path.display()))
}

/// A multi-document YAML stream as JSON values (empty documents skipped).
pub fn yaml_documents(yaml: &str) -> Result<Vec<serde_json::Value>> {
    use serde::Deserialize as _;
    let mut docs = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(yaml) {
        let value = serde_json::Value::deserialize(doc).context("parse YAML document")?;
        if !value.is_null() {
            docs.push(value);
        }
    }
    Ok(docs)
}

/// A subnet and a security group in moto (a Fargate task's network interface needs both),
/// as the `awsvpcConfiguration` of a Fargate run.
pub async fn fargate_network() -> Result<serde_json::Value> {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let vpc = ec2.create_vpc().cidr_block("10.30.0.0/16").send().await?;
    let vpc_id = vpc
        .vpc()
        .and_then(|v| v.vpc_id())
        .ok_or_else(|| anyhow!("no vpc"))?;
    let subnet = ec2
        .create_subnet()
        .vpc_id(vpc_id)
        .cidr_block("10.30.1.0/24")
        .send()
        .await?;
    let subnet_id = subnet
        .subnet()
        .and_then(|s| s.subnet_id())
        .ok_or_else(|| anyhow!("no subnet"))?;
    let sg = ec2
        .create_security_group()
        .vpc_id(vpc_id)
        .group_name(unique("job-sg"))
        .description("jobs")
        .send()
        .await?;
    let sg_id = sg.group_id().ok_or_else(|| anyhow!("no security group"))?;
    Ok(json!({"subnets": [subnet_id], "securityGroups": [sg_id]}))
}

impl TestEnv {
    /// A cluster and a Fargate task definition (moto knobs as tags) made with the SDK; returns
    /// (cluster, family, revision ARN).
    pub async fn aws_run_target(
        &self,
        seconds: u32,
        exit_code: i32,
    ) -> Result<(String, String, String)> {
        let cluster = unique("jobs");
        self.ecs
            .create_cluster()
            .cluster_name(&cluster)
            .send()
            .await?;
        let family = unique("job");
        let td = self
            .ecs
            .register_task_definition()
            .family(&family)
            .network_mode(aws_sdk_ecs::types::NetworkMode::Awsvpc)
            .requires_compatibilities(aws_sdk_ecs::types::Compatibility::Fargate)
            .cpu("256")
            .memory("512")
            .container_definitions(
                aws_sdk_ecs::types::ContainerDefinition::builder()
                    .name("main")
                    .image("busybox")
                    .essential(true)
                    // moto's RunTask adds up container memory (it fails without it).
                    .memory(256)
                    .build(),
            )
            .tags(
                aws_sdk_ecs::types::Tag::builder()
                    .key("moto-ecs/task-seconds")
                    .value(seconds.to_string())
                    .build(),
            )
            .tags(
                aws_sdk_ecs::types::Tag::builder()
                    .key("moto-ecs/exit-code")
                    .value(exit_code.to_string())
                    .build(),
            )
            .send()
            .await?;
        let arn = td
            .task_definition()
            .and_then(|t| t.task_definition_arn())
            .ok_or_else(|| anyhow!("no arn"))?
            .to_string();
        Ok((cluster, family, arn))
    }
}
