//! Helpers for tests on the node bed (`e2e/env up --node`): the operator runs as the Helm chart's
//! pod on a real kubelet, and reaches the API server and moto only through the bed's forwarder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use ecs_operator::runtime::leader::pod_of_identity;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, Pod, Secret};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use crate::{tool, tool_output};

/// What `e2e/env up --node` exported.
#[derive(Clone, Debug)]
pub struct NodeBed {
    pub dir: PathBuf,
    pub netns: String,
    pub containerd: String,
    /// Where pods reach the API server and moto (the forwarder inside the bed netns).
    pub pod_api_host: String,
    pub pod_api_port: String,
    pub pod_aws_endpoint: String,
}

fn var(name: &str) -> Result<String> {
    std::env::var(name).with_context(|| {
        format!("{name} is not set: these tests need the node bed: eval \"$(e2e/env up --node)\" (make e2e does this)")
    })
}

impl NodeBed {
    pub fn from_env() -> Result<Self> {
        ensure!(
            var("ECS_BED_NODE")? == "1",
            "ECS_BED_NODE is not 1: start the node bed with e2e/env up --node"
        );
        Ok(Self {
            dir: PathBuf::from(var("ECS_BED_DIR")?),
            netns: var("ECS_BED_NETNS")?,
            containerd: var("ECS_BED_CONTAINERD")?,
            pod_api_host: var("ECS_BED_POD_KUBERNETES_SERVICE_HOST")?,
            pod_api_port: var("ECS_BED_POD_KUBERNETES_SERVICE_PORT")?,
            pod_aws_endpoint: var("ECS_BED_POD_AWS_ENDPOINT_URL")?,
        })
    }

    /// Lines of the forwarder's log (one per accepted connection).
    pub fn forwarder_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("logs/bed-forward.log")).unwrap_or_default()
    }

    /// Connections the forwarder accepted from `peer_ip` towards host port `port`.
    pub fn forwarded(&self, peer_ip: &str, port: &str) -> usize {
        let peer = format!("accept peer={peer_ip}:");
        let target = format!("-> 127.0.0.1:{port}");
        self.forwarder_log()
            .lines()
            .filter(|l| l.contains(&peer) && l.ends_with(&target))
            .count()
    }

    /// The moto port as the host sees it (same number inside the netns).
    pub fn moto_port(&self) -> &str {
        self.pod_aws_endpoint.rsplit(':').next().unwrap_or_default()
    }

    /// `ctr` against the node's containerd, in the kubelet's namespace.
    pub async fn ctr(&self, args: &[&str]) -> Result<String> {
        let mut all = vec!["--address", &self.containerd, "--namespace", "k8s.io"];
        all.extend_from_slice(args);
        tool("ctr", &all).await
    }
}

/// The operator image in the node: `ECS_BED_IMAGE` if set (make e2e builds it once), else built
/// and imported now with `e2e/env image`. Returns (repository, tag).
pub async fn operator_image() -> Result<(String, String)> {
    static IMAGE: OnceCell<String> = OnceCell::const_new();
    let image = IMAGE
        .get_or_try_init(|| async {
            if let Ok(image) = std::env::var("ECS_BED_IMAGE") {
                return Ok::<_, anyhow::Error>(image);
            }
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("env");
            let out = tool(&script.display().to_string(), &["image"]).await?;
            out.lines()
                .find_map(|l| l.strip_prefix("IMAGE="))
                .map(str::to_string)
                .context("e2e/env image printed no IMAGE=")
        })
        .await?;
    let (repo, tag) = image.rsplit_once(':').context("IMAGE without a tag")?;
    Ok((repo.to_string(), tag.to_string()))
}

/// Creates a namespace; `restricted` labels it for Pod Security `restricted` enforcement.
pub async fn create_namespace(client: &kube::Client, name: &str, restricted: bool) -> Result<()> {
    let mut labels = json!({});
    if restricted {
        labels = json!({
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest",
        });
    }
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}}))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .with_context(|| format!("create namespace {name}"))?;
    Ok(())
}

/// A Secret `aws-credentials` in `namespace` with the bed's (moto's) credentials.
pub async fn aws_secret(client: &kube::Client, namespace: &str) -> Result<()> {
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "aws-credentials"},
        "stringData": {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
    }))?;
    Api::<Secret>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &secret)
        .await
        .context("create the AWS credentials Secret")?;
    Ok(())
}

/// Chart values for the node bed: the imported image (pullPolicy Never), moto and the API
/// server at the addresses pods reach, credentials from the `aws-credentials` Secret.
pub fn chart_values(bed: &NodeBed, repository: &str, tag: &str) -> Value {
    let secret = |key: &str| json!({"secretKeyRef": {"name": "aws-credentials", "key": key}});
    json!({
        "image": {"repository": repository, "tag": tag, "pullPolicy": "Never"},
        "aws": {"region": "us-east-1", "endpointUrl": bed.pod_aws_endpoint},
        "resyncSeconds": 5,
        "logLevel": "ecs_operator=debug,info",
        "extraEnv": [
            // No kube-proxy: in-cluster config must name the forwarder, not the Service IP.
            {"name": "KUBERNETES_SERVICE_HOST", "value": bed.pod_api_host},
            {"name": "KUBERNETES_SERVICE_PORT", "value": bed.pod_api_port},
            {"name": "AWS_ACCESS_KEY_ID", "valueFrom": secret("AWS_ACCESS_KEY_ID")},
            {"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": secret("AWS_SECRET_ACCESS_KEY")},
        ],
    })
}

/// Sets `values[key] = value` for each pair (top-level keys; nested objects are replaced).
pub fn with(mut values: Value, pairs: &[(&str, Value)]) -> Value {
    for (k, v) in pairs {
        values[*k] = v.clone();
    }
    values
}

/// `helm install|upgrade` of `chart` with `values` (written to a file: values only, no --set
/// strings), waiting for the Deployment to be available.
pub async fn helm_apply(
    verb: &str,
    release: &str,
    namespace: &str,
    chart: &Path,
    values: &Value,
) -> Result<String> {
    let file = std::env::temp_dir().join(format!("{release}-{namespace}-values.yaml"));
    std::fs::write(&file, serde_json::to_string_pretty(values)?)?;
    let chart = chart.display().to_string();
    let file_arg = file.display().to_string();
    let out = tool(
        "helm",
        &[
            verb,
            release,
            &chart,
            "--namespace",
            namespace,
            "--values",
            &file_arg,
            "--wait",
            "--timeout",
            "180s",
        ],
    )
    .await;
    let _ = std::fs::remove_file(&file);
    out
}

/// The release's operator pods (any phase).
pub async fn operator_pods(
    client: &kube::Client,
    namespace: &str,
    release: &str,
) -> Result<Vec<Pod>> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let lp = ListParams::default().labels(&format!("app.kubernetes.io/instance={release}"));
    Ok(pods.list(&lp).await?.items)
}

pub fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

pub fn pod_ip(pod: &Pod) -> Option<String> {
    pod.status.as_ref().and_then(|s| s.pod_ip.clone())
}

pub fn pod_name(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

/// The containerd ID of the pod's (only) container.
pub fn container_id(pod: &Pod) -> Option<String> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    let id = statuses.first()?.container_id.as_deref()?;
    Some(id.trim_start_matches("containerd://").to_string())
}

pub fn restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|c| c.first())
        .map(|c| c.restart_count)
        .unwrap_or(0)
}

/// `GET path` on the pod's `port`, through the API server's pod proxy (the bed's egress proxy
/// carries it into the bed netns to the pod's IP).
pub async fn pod_http_get(namespace: &str, pod: &str, port: u16, path: &str) -> Result<String> {
    let raw = format!("/api/v1/namespaces/{namespace}/pods/{pod}:{port}/proxy{path}");
    tool("kubectl", &["get", "--raw", &raw]).await
}

/// `kubectl logs` of the pod's container (`previous`: the last terminated one).
pub async fn pod_logs(namespace: &str, pod: &str, previous: bool) -> Result<String> {
    let mut args = vec!["logs", "-n", namespace, pod];
    if previous {
        args.push("--previous");
    }
    tool("kubectl", &args).await
}

/// Polls `check` until it returns Some or `deadline` passes.
pub async fn poll_until<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let start = Instant::now();
    loop {
        let last = match check().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => "not yet".to_string(),
            Err(e) => format!("{e:#}"),
        };
        if start.elapsed() > deadline {
            bail!("timed out after {deadline:?} waiting for {what}: {last}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Uninstalls the release and deletes its namespace (best effort; the node bed's
/// controller-manager finalizes it).
pub async fn uninstall(client: &kube::Client, release: &str, namespace: &str) {
    let _ = tool_output(
        "helm",
        &["uninstall", release, "--namespace", namespace, "--wait"],
    )
    .await;
    let _ = Api::<Namespace>::all(client.clone())
        .delete(namespace, &DeleteParams::default())
        .await;
}

/// Server-side applies `value` (a full object) with field manager `e2e-test`.
pub async fn apply_json<K>(api: &Api<K>, value: &Value) -> Result<K>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let name = value["metadata"]["name"]
        .as_str()
        .context("metadata.name")?;
    Ok(api
        .patch(
            name,
            &PatchParams::apply("e2e-test").force(),
            &Patch::Apply(value),
        )
        .await?)
}

/// AWS names of the objects [`apply_one_of_each_kind`] made.
#[derive(Clone, Debug)]
pub struct OneOfEachKind {
    pub repo: String,
    pub family: String,
    pub cluster: String,
}

/// Kubernetes names of the objects [`apply_one_of_each_kind`] makes (kind, name).
pub const ONE_OF_EACH_KIND: [(&str, &str); 4] = [
    ("EcrRepository", "repo"),
    ("TaskDefinition", "web"),
    ("EcsCluster", "cluster"),
    ("EcsService", "web"),
];

/// A minimal object of every kind in `env`'s namespace: repository <- task definition
/// (imageRef) <- service -> cluster. `extra` is merged into every spec (e.g. a deletionPolicy).
pub async fn apply_one_of_each_kind(
    env: &crate::TestEnv,
    prefix: &str,
    extra: Value,
) -> Result<OneOfEachKind> {
    use ecs_operator::api::{EcrRepository, EcsCluster, EcsService, TaskDefinition};
    let names = OneOfEachKind {
        repo: crate::unique(prefix),
        family: crate::unique(prefix),
        cluster: crate::unique(prefix),
    };
    let spec = |mut v: Value| {
        if let (Some(spec), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
            spec.extend(extra.clone());
        }
        v
    };
    let m = crate::manifest;
    env.apply::<EcrRepository>(&m(
        "EcrRepository",
        "repo",
        &spec(json!({"repositoryName": names.repo})),
    ))
    .await?;
    env.apply::<TaskDefinition>(&m(
        "TaskDefinition",
        "web",
        &spec(json!({"family": names.family, "networkMode": "bridge",
            "requiresCompatibilities": ["EC2"],
            "containerDefinitions": [{"name": "web", "memory": 128,
                "imageRef": {"repositoryRef": {"name": "repo"}, "tag": "v1"},
                "portMappings": [{"containerPort": 80, "hostPort": 0}]}]})),
    ))
    .await?;
    env.apply::<EcsCluster>(&m(
        "EcsCluster",
        "cluster",
        &spec(json!({"clusterName": names.cluster})),
    ))
    .await?;
    env.apply::<EcsService>(&m(
        "EcsService",
        "web",
        &spec(
            json!({"serviceName": "web", "clusterRef": {"name": "cluster"},
            "taskDefinitionRef": {"name": "web"}, "desiredCount": 2, "launchType": "EC2"}),
        ),
    ))
    .await?;
    Ok(names)
}

/// Waits until every object of [`apply_one_of_each_kind`] is Ready.
pub async fn wait_one_of_each_kind_ready(env: &crate::TestEnv) -> Result<()> {
    use ecs_operator::api::{EcrRepository, EcsCluster, EcsService, TaskDefinition};
    env.wait_condition::<EcrRepository>("repo", "Ready", "True", None)
        .await?;
    env.wait_condition::<TaskDefinition>("web", "Ready", "True", None)
        .await?;
    env.wait_condition::<EcsCluster>("cluster", "Ready", "True", None)
        .await?;
    env.wait_condition::<EcsService>("web", "Ready", "True", None)
        .await?;
    Ok(())
}

/// What AWS (moto, read from the host) holds of one [`OneOfEachKind`] set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsHolds {
    pub repository: bool,
    /// ACTIVE revisions of the family.
    pub active_revisions: usize,
    pub cluster_active: bool,
    pub service_active: bool,
}

impl AwsHolds {
    pub const ALL: Self = Self {
        repository: true,
        active_revisions: 1,
        cluster_active: true,
        service_active: true,
    };
    pub const NOTHING: Self = Self {
        repository: false,
        active_revisions: 0,
        cluster_active: false,
        service_active: false,
    };
}

pub async fn aws_holds(env: &crate::TestEnv, names: &OneOfEachKind) -> Result<AwsHolds> {
    let repository = env.ecr_repository(&names.repo).await?.is_some();
    let active_revisions = env
        .ecs
        .list_task_definitions()
        .family_prefix(&names.family)
        .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
        .send()
        .await?
        .task_definition_arns()
        .iter()
        .filter(|arn| arn.contains(&format!("/{}:", names.family)))
        .count();
    let clusters = env
        .ecs
        .describe_clusters()
        .clusters(&names.cluster)
        .send()
        .await?;
    let cluster_active = clusters
        .clusters()
        .iter()
        .any(|c| c.status() == Some("ACTIVE"));
    let service_active = if cluster_active {
        env.ecs
            .describe_services()
            .cluster(&names.cluster)
            .services("web")
            .send()
            .await?
            .services()
            .iter()
            .any(|s| s.status() == Some("ACTIVE"))
    } else {
        false
    };
    Ok(AwsHolds {
        repository,
        active_revisions,
        cluster_active,
        service_active,
    })
}

/// The chart in this repository.
pub fn chart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/ecs-operator")
}

/// One Helm release of the operator on the node bed: its name, its namespace (enforcing Pod
/// Security `restricted`, with the `aws-credentials` Secret) and the image it runs.
pub struct Release {
    pub bed: NodeBed,
    pub repository: String,
    pub tag: String,
    pub name: String,
    pub namespace: String,
    client: kube::Client,
}

impl Release {
    /// Names a release `<prefix>-…` in a new namespace `node-<prefix>-ops-…`; installs nothing.
    pub async fn prepare(client: &kube::Client, prefix: &str) -> Result<Self> {
        let bed = NodeBed::from_env()?;
        let (repository, tag) = operator_image().await?;
        let release = Self {
            bed,
            repository,
            tag,
            name: crate::unique(prefix),
            namespace: crate::unique(&format!("node-{prefix}-ops")),
            client: client.clone(),
        };
        create_namespace(client, &release.namespace, true).await?;
        aws_secret(client, &release.namespace).await?;
        Ok(release)
    }

    /// The node-bed chart values for this release's image.
    pub fn values(&self) -> Value {
        chart_values(&self.bed, &self.repository, &self.tag)
    }

    /// `helm install` of the chart with [`Release::values`] and `extra` top-level values.
    pub async fn install(&self, extra: &[(&str, Value)]) -> Result<String> {
        let values = with(self.values(), extra);
        helm_apply("install", &self.name, &self.namespace, &chart(), &values).await
    }

    /// Passes `result` through after printing the operator pods' log tails (when it is an
    /// error) and uninstalling the release with its namespace.
    pub async fn finish<T>(&self, result: Result<T>) -> Result<T> {
        if result.is_err() {
            for pod in operator_pods(&self.client, &self.namespace, &self.name)
                .await
                .unwrap_or_default()
            {
                let logs = pod_logs(&self.namespace, &pod_name(&pod), false)
                    .await
                    .unwrap_or_default();
                let lines: Vec<&str> = logs.lines().collect();
                eprintln!(
                    "--- {} log tail ---\n{}",
                    pod_name(&pod),
                    lines[lines.len().saturating_sub(40)..].join("\n")
                );
            }
        }
        uninstall(&self.client, &self.name, &self.namespace).await;
        result
    }
}

/// `kubectl logs -f` of a pod into a file: the only record of a pod that gets deleted.
pub struct Follower {
    pub child: tokio::process::Child,
    pub path: PathBuf,
}

pub fn follow(namespace: &str, pod: &str) -> Result<Follower> {
    let path = std::env::temp_dir().join(format!("{namespace}-{pod}.log"));
    let file = std::fs::File::create(&path)?;
    let child = tokio::process::Command::new("kubectl")
        .args(["logs", "-f", "-n", namespace, pod])
        .stdout(file)
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("kubectl logs -f")?;
    Ok(Follower { child, path })
}

impl Follower {
    /// Stops following and returns what was written (the file is removed).
    pub async fn stop(mut self) -> String {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        let _ = std::fs::remove_file(&self.path);
        text
    }
}

/// The pod whose process holds the Lease (identities are `<pod>_<process start>`).
pub async fn lease_holder(leases: &Api<Lease>, name: &str) -> Result<Option<String>> {
    Ok(lease_holder_identity(leases, name)
        .await?
        .map(|id| pod_of_identity(&id).to_string()))
}

pub async fn lease_holder_identity(leases: &Api<Lease>, name: &str) -> Result<Option<String>> {
    Ok(leases
        .get_opt(name)
        .await?
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity))
}

/// A reconcile-side log line ("reconciled", "created/updated/deleted AWS resource").
pub fn is_reconcile(message: &str) -> bool {
    message.starts_with("reconciled")
        || message.ends_with("AWS resource")
        || message.starts_with("adopting")
}

/// One JSON log line of the operator: its timestamp, message and `object` field (if any).
#[derive(Clone, Debug)]
pub struct LogEntry {
    pub timestamp: String,
    pub message: String,
    pub object: Option<String>,
}

/// The JSON log lines of `log` (others skipped).
pub fn log_entries(log: &str) -> Vec<LogEntry> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| {
            Some(LogEntry {
                timestamp: v["timestamp"].as_str()?.to_string(),
                message: v["fields"]["message"].as_str()?.to_string(),
                object: v["fields"]["object"].as_str().map(str::to_string),
            })
        })
        .collect()
}

/// Per process log: every reconcile line comes after that process acquired the lease, and the
/// spans from first to last reconcile of different processes never overlap; at least two
/// processes reconciled (the test handed leadership over).
pub fn assert_one_reconciler(logs: &BTreeMap<String, String>) -> Result<()> {
    let mut spans = Vec::new();
    for (who, log) in logs {
        let lines = log_entries(log);
        let acquired = lines
            .iter()
            .find(|e| e.message.starts_with("acquired the leader lease"))
            .map(|e| e.timestamp.clone());
        let reconciles: Vec<&String> = lines
            .iter()
            .filter(|e| is_reconcile(&e.message))
            .map(|e| &e.timestamp)
            .collect();
        let (Some(first), Some(last)) = (reconciles.first(), reconciles.last()) else {
            continue;
        };
        let acquired = acquired.with_context(|| format!("{who} reconciled without the lease"))?;
        ensure!(
            **first >= acquired,
            "{who} reconciled at {first} before acquiring the lease at {acquired}"
        );
        spans.push((first.to_string(), last.to_string(), who.clone()));
    }
    spans.sort();
    for pair in spans.windows(2) {
        ensure!(
            pair[1].0 > pair[0].1,
            "{} reconciled from {} while {} still did until {}",
            pair[1].2,
            pair[1].0,
            pair[0].2,
            pair[0].1
        );
    }
    ensure!(
        spans.len() >= 2,
        "fewer than two replicas ever reconciled: {spans:?}"
    );
    Ok(())
}
