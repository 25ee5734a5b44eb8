//! KEDA drives an EcsService through its scale subresource, past one task, with the real
//! controllers on the node bed:
//!
//! - KEDA's operator (built from github.com/kedacore/keda/v2 by `e2e/tools/build.sh keda`) runs
//!   its `aws-sqs-queue` scaler against the bed's moto SQS; it activates the service (0 -> 1) and
//!   deactivates it after the cooldown (-> 0), and creates an HPA for everything in between.
//! - KEDA's metrics adapter serves `external.metrics.k8s.io` behind the API server's aggregation
//!   layer (APIService `v1beta1.external.metrics.k8s.io` -> a Service whose EndpointSlice names
//!   the adapter's address inside the bed netns; the API server proxies there through the bed's
//!   egress proxy with its front-proxy client certificate).
//! - The node bed's kube-controller-manager runs that HPA: it reads the queue depth through the
//!   aggregator and sets `desiredCount` (1 -> 2 for two messages), clamped to the ScaledObject's
//!   maxReplicaCount (3, while six messages ask for 6). The operator carries every step to AWS.
//!
//! KEDA's two processes run as host processes inside the bed netns (`nsenter --net`), where they
//! reach the API server and moto through the bed's forwarder like pods do, and each other on the
//! netns's loopback.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, Result, bail, ensure};
use e2e::node::{NodeBed, poll_until};
use e2e::{TestEnv, manifest, tool, unique};
use ecs_operator::api::{EcsCluster, EcsService, TaskDefinition};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

/// KEDA's defaults for the adapter's HTTPS port and the operator's metrics gRPC port; free in
/// the bed netns (the bed's own listeners there use the API server's and moto's random ports).
const ADAPTER_PORT: u16 = 6443;
const GRPC_PORT: u16 = 9666;
/// The adapter's Prometheus endpoint (all addresses of the bed netns).
const ADAPTER_METRICS_PORT: u16 = 8080;
const ADAPTER_SERVICE: &str = "keda-metrics-apiserver";
const APISERVICE: &str = "v1beta1.external.metrics.k8s.io";
/// The ScaledObject's maxReplicaCount: the HPA's maxReplicas.
const MAX_REPLICAS: i32 = 3;

/// Where `e2e/tools/build.sh keda` put the KEDA operator, its metrics adapter and its CRDs.
fn keda_dir() -> Result<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/build.sh");
    let out = std::process::Command::new(&script)
        .arg("paths")
        .output()
        .context("e2e/tools/build.sh paths")?;
    let paths = String::from_utf8_lossy(&out.stdout);
    let dir = paths
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("KEDA_DIR="))
        .map(PathBuf::from)
        .context("build.sh paths names no KEDA_DIR")?;
    for bin in ["keda-operator", "keda-adapter"] {
        let path = dir.join("bin").join(bin);
        if !path.exists() {
            bail!(
                "{} is missing: build it with `e2e/tools/build.sh keda` (make e2e-extended does)",
                path.display()
            );
        }
    }
    Ok(dir)
}

/// One of KEDA's processes, inside the bed netns; killed when dropped.
struct Proc {
    name: &'static str,
    child: tokio::process::Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(
        bed: &NodeBed,
        name: &'static str,
        bin: &Path,
        args: &[String],
        env: &[(&str, String)],
        log: PathBuf,
    ) -> Result<Self> {
        let file = std::fs::File::create(&log)?;
        let child = tokio::process::Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", bed.netns))
            .arg("--")
            .arg(bin)
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start {name}"))?;
        Ok(Self { name, child, log })
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!(
            "--- {} log tail ({}) ---\n{}",
            self.name,
            self.log.display(),
            lines[lines.len().saturating_sub(25)..].join("\n")
        )
    }
}

/// KEDA's operator and metrics adapter for one namespace; both killed when dropped.
struct Keda {
    operator: Proc,
    adapter: Proc,
    dir: PathBuf,
}

impl Keda {
    /// `dir` holds KEDA's build; the certificates and kubeconfig go to a scratch dir.
    async fn start(keda: &Path, bed: &NodeBed, namespace: &str) -> Result<Self> {
        let dir = std::env::temp_dir().join(unique("keda"));
        let certs = dir.join("certs");
        std::fs::create_dir_all(&certs)?;
        // One self-signed certificate for everything KEDA serves and presents: the operator's
        // metrics gRPC service and the adapter (mutual TLS between them, ca.crt = the cert), and
        // the adapter's HTTPS as the aggregator checks it (<service>.<namespace>.svc, caBundle).
        let key = certs.join("tls.key").display().to_string();
        let crt = certs.join("tls.crt").display().to_string();
        let san = format!(
            "subjectAltName=IP:127.0.0.1,IP:{},DNS:{ADAPTER_SERVICE}.{namespace}.svc",
            bed.pod_api_host
        );
        tool(
            "openssl",
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=keda",
                "-addext",
                &san,
                "-addext",
                "extendedKeyUsage=serverAuth,clientAuth",
                "-keyout",
                &key,
                "-out",
                &crt,
            ],
        )
        .await?;
        std::fs::copy(&crt, certs.join("ca.crt"))?;

        // The bed's admin kubeconfig, with the API server where the bed netns reaches it.
        let admin = std::env::var("KUBECONFIG").context("KUBECONFIG")?;
        let host_server = format!("https://127.0.0.1:{}", bed.pod_api_port);
        let netns_server = format!("https://{}:{}", bed.pod_api_host, bed.pod_api_port);
        let text = std::fs::read_to_string(&admin)?;
        ensure!(
            text.contains(&host_server),
            "{admin} does not name {host_server}"
        );
        let kubeconfig = dir.join("kubeconfig");
        std::fs::write(&kubeconfig, text.replace(&host_server, &netns_server))?;
        let kubeconfig = kubeconfig.display().to_string();

        let env = [
            ("KUBECONFIG", kubeconfig.clone()),
            ("WATCH_NAMESPACE", namespace.to_string()),
            ("KEDA_CLUSTER_OBJECT_NAMESPACE", namespace.to_string()),
            ("POD_NAMESPACE", namespace.to_string()),
            ("POD_NAME", "keda-e2e".to_string()),
        ];
        let cert_dir = format!("--cert-dir={}", certs.display());
        let operator = Proc::spawn(
            bed,
            "keda-operator",
            &keda.join("bin/keda-operator"),
            &[
                "--metrics-bind-address=127.0.0.1:0".into(),
                "--health-probe-bind-address=127.0.0.1:0".into(),
                format!("--metrics-service-bind-address=127.0.0.1:{GRPC_PORT}"),
                "--enable-cert-rotation=false".into(),
                "--enable-webhook-patching=false".into(),
                "--enable-apiservice-patching=false".into(),
                "--zap-log-level=info".into(),
                cert_dir.clone(),
            ],
            &env,
            std::env::temp_dir().join(format!("{namespace}-keda-operator.log")),
        )?;
        let adapter = Proc::spawn(
            bed,
            "keda-adapter",
            &keda.join("bin/keda-adapter"),
            &[
                format!("--bind-address={}", bed.pod_api_host),
                format!("--secure-port={ADAPTER_PORT}"),
                format!("--tls-cert-file={crt}"),
                format!("--tls-private-key-file={key}"),
                cert_dir,
                format!("--metrics-service-address=127.0.0.1:{GRPC_PORT}"),
                format!("--port={ADAPTER_METRICS_PORT}"),
                format!("--lister-kubeconfig={kubeconfig}"),
                format!("--authentication-kubeconfig={kubeconfig}"),
                format!("--authorization-kubeconfig={kubeconfig}"),
                "--zap-log-level=info".into(),
            ],
            &env,
            std::env::temp_dir().join(format!("{namespace}-keda-adapter.log")),
        )?;
        Ok(Self {
            operator,
            adapter,
            dir,
        })
    }

    /// The certificate, base64-encoded as an APIService's caBundle.
    fn ca_bundle(&self) -> Result<Value> {
        let pem = std::fs::read(self.dir.join("certs/ca.crt"))?;
        Ok(serde_json::to_value(k8s_openapi::ByteString(pem))?)
    }

    fn alive(&mut self) -> Result<()> {
        for p in [&mut self.operator, &mut self.adapter] {
            if let Some(status) = p.child.try_wait()? {
                bail!("{} exited ({status})\n{}", p.name, p.log_tail());
            }
        }
        Ok(())
    }

    fn log_tails(&self) -> String {
        format!("{}\n{}", self.operator.log_tail(), self.adapter.log_tail())
    }
}

impl Drop for Keda {
    fn drop(&mut self) {
        let _ = self.operator.child.start_kill();
        let _ = self.adapter.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn dynamic_api(
    env: &TestEnv,
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk(group, version, kind);
    let resource = ApiResource::from_gvk_with_plural(&gvk, plural);
    if kind == "APIService" {
        Api::all_with(env.client.clone(), &resource)
    } else {
        Api::namespaced_with(env.client.clone(), &env.namespace, &resource)
    }
}

/// Server-side applies any object (KEDA's, the adapter's Service, EndpointSlice and APIService).
async fn apply(env: &TestEnv, plural: &str, body: Value) -> Result<DynamicObject> {
    let name = body["metadata"]["name"]
        .as_str()
        .context("metadata.name")?
        .to_string();
    let kind = body["kind"].as_str().context("kind")?.to_string();
    let api_version = body["apiVersion"].as_str().context("apiVersion")?;
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let obj: DynamicObject = serde_json::from_value(body.clone())?;
    dynamic_api(env, group, version, &kind, plural)
        .patch(
            &name,
            &PatchParams::apply("e2e-test").force(),
            &Patch::Apply(&obj),
        )
        .await
        .with_context(|| format!("apply {kind} {name}"))
}

/// The adapter behind the aggregation layer: a Service without selector, an EndpointSlice with
/// the adapter's address in the bed netns, and the APIService naming that Service.
async fn register_adapter(env: &TestEnv, bed: &NodeBed, keda: &mut Keda) -> Result<()> {
    apply(
        env,
        "services",
        json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": ADAPTER_SERVICE},
            "spec": {"ports": [{"name": "https", "port": 443, "targetPort": ADAPTER_PORT}]}}),
    )
    .await?;
    apply(
        env,
        "endpointslices",
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": format!("{ADAPTER_SERVICE}-bed"),
                "labels": {"kubernetes.io/service-name": ADAPTER_SERVICE,
                    "endpointslice.kubernetes.io/managed-by": "e2e-test"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [bed.pod_api_host], "conditions": {"ready": true}}],
            "ports": [{"name": "https", "port": ADAPTER_PORT, "protocol": "TCP"}]}),
    )
    .await?;
    apply(
        env,
        "apiservices",
        json!({"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": APISERVICE},
            "spec": {"group": "external.metrics.k8s.io", "version": "v1beta1",
                "groupPriorityMinimum": 100, "versionPriority": 100,
                "caBundle": keda.ca_bundle()?,
                "service": {"namespace": env.namespace, "name": ADAPTER_SERVICE, "port": 443}}}),
    )
    .await?;
    let apiservices = dynamic_api(
        env,
        "apiregistration.k8s.io",
        "v1",
        "APIService",
        "apiservices",
    );
    let result = poll_until(
        &format!("APIService {APISERVICE} Available"),
        Duration::from_secs(120),
        || {
            let apiservices = apiservices.clone();
            let alive = keda.alive();
            async move {
                alive?;
                let obj = apiservices.get(APISERVICE).await?;
                let available = obj.data["status"]["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|c| c["type"] == "Available");
                match available {
                    Some(c) if c["status"] == "True" => Ok(Some(())),
                    other => bail!("Available: {other:?}"),
                }
            }
        },
    )
    .await;
    result.with_context(|| keda.log_tails())
}

async fn wait_aws_desired(env: &TestEnv, keda: &mut Keda, cluster: &str, want: i32) -> Result<()> {
    let result = poll_until(
        &format!("desiredCount {want} in AWS"),
        Duration::from_secs(120),
        || {
            let alive = keda.alive();
            async move {
                alive?;
                let got = env.aws_desired_count(cluster, "web").await?;
                ensure!(got == want, "desiredCount {got} in AWS");
                Ok(Some(()))
            }
        },
    )
    .await;
    result.with_context(|| keda.log_tails())
}

/// The queue depth as moto holds it (what KEDA's scaler reads: visible plus in flight).
async fn queue_depth(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Result<i64> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let out = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await?;
    let attrs = out.attributes().context("no queue attributes")?;
    let mut depth = 0;
    for name in [
        A::ApproximateNumberOfMessages,
        A::ApproximateNumberOfMessagesNotVisible,
    ] {
        depth += attrs
            .get(&name)
            .with_context(|| format!("no {name:?}"))?
            .parse::<i64>()?;
    }
    Ok(depth)
}

async fn send(sqs: &aws_sdk_sqs::Client, queue_url: &str, n: usize) -> Result<()> {
    for i in 0..n {
        sqs.send_message()
            .queue_url(queue_url)
            .message_body(format!("work {i}"))
            .send()
            .await?;
    }
    Ok(())
}

/// The external metric the HPA reads, fetched the way the HPA controller does: from the API
/// server, which proxies `external.metrics.k8s.io` to the adapter.
async fn external_metric(env: &TestEnv, hpa: &HorizontalPodAutoscaler) -> Result<f64> {
    let metric = hpa
        .spec
        .metrics
        .as_ref()
        .and_then(|m| m.first())
        .and_then(|m| m.external.as_ref())
        .context("HPA without an external metric")?;
    let selector = metric
        .metric
        .selector
        .as_ref()
        .and_then(|s| s.match_labels.as_ref())
        .map(|labels| {
            labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let path = format!(
        "/apis/external.metrics.k8s.io/v1beta1/namespaces/{}/{}?labelSelector={selector}",
        env.namespace, metric.metric.name
    );
    let out = tool("kubectl", &["get", "--raw", &path]).await?;
    let list: Value = serde_json::from_str(&out)?;
    let value = list["items"][0]["value"]
        .as_str()
        .with_context(|| format!("no items[0].value in {out}"))?;
    parse_quantity(value)
}

/// A metric value as the adapter writes it: an integer or milli-units ("2", "1500m").
fn parse_quantity(q: &str) -> Result<f64> {
    match q.strip_suffix('m') {
        Some(milli) => Ok(milli.parse::<f64>()? / 1000.0),
        None => Ok(q.parse::<f64>()?),
    }
}

fn condition<'a>(hpa: &'a HorizontalPodAutoscaler, type_: &str) -> Option<(&'a str, &'a str)> {
    hpa.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.as_str(), c.reason.as_deref().unwrap_or("")))
}

#[tokio::test]
async fn keda_scales_a_service_in_aws_from_zero_past_one_and_back_by_queue_depth() -> Result<()> {
    let dir = keda_dir()?;
    let bed = NodeBed::from_env()?;
    let env = TestEnv::new("keda").await?;
    let crds = dir.join("crds").display().to_string();
    tool("kubectl", &["apply", "--server-side", "-f", &crds]).await?;
    let crd_api: Api<CustomResourceDefinition> = Api::all(env.client.clone());
    for name in ["scaledobjects.keda.sh", "triggerauthentications.keda.sh"] {
        env.wait_for(&format!("CRD {name} Established"), || async {
            let crd = crd_api.get(name).await?;
            let established = crd
                .status
                .and_then(|s| s.conditions)
                .into_iter()
                .flatten()
                .any(|c| c.type_ == "Established" && c.status == "True");
            Ok(established.then_some(()))
        })
        .await?;
    }
    let mut keda = Keda::start(&dir, &bed, &env.namespace).await?;
    let result = scale(&env, &bed, &mut keda).await;
    // The APIService is cluster-wide: remove it whatever happened.
    let _ = dynamic_api(
        &env,
        "apiregistration.k8s.io",
        "v1",
        "APIService",
        "apiservices",
    )
    .delete(APISERVICE, &DeleteParams::default())
    .await;
    result?;
    drop(keda);
    env.cleanup::<EcsService>().await
}

async fn scale(env: &TestEnv, bed: &NodeBed, keda: &mut Keda) -> Result<()> {
    let egress_before = egress_to_adapter(bed);
    register_adapter(env, bed, keda).await?;

    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue_url = sqs
        .create_queue()
        .queue_name(unique("keda"))
        .send()
        .await?
        .queue_url()
        .context("queue without URL")?
        .to_string();

    let cluster = unique("keda");
    env.apply::<EcsCluster>(&manifest(
        "EcsCluster",
        "cluster",
        &json!({"clusterName": cluster}),
    ))
    .await?;
    env.apply::<TaskDefinition>(&manifest(
        "TaskDefinition",
        "web",
        &json!({"family": unique("keda"), "requiresCompatibilities": ["EC2"],
                "containerDefinitions": [{"name": "web", "image": "nginx:1", "memory": 64}]}),
    ))
    .await?;
    // No spec.autoScaling: the operator's auto scaling is off, so the scale subresource is open
    // to KEDA and its HPA.
    env.apply::<EcsService>(&manifest(
        "EcsService",
        "web",
        &json!({"serviceName": "web", "clusterRef": {"name": "cluster"},
                "taskDefinitionRef": {"name": "web"}, "launchType": "EC2", "desiredCount": 1}),
    ))
    .await?;
    env.wait_condition::<EcsService>("web", "Ready", "True", None)
        .await?;

    // KEDA's objects: credentials from a Secret (moto's), a ScaledObject on the EcsService. The
    // scaler runs in the bed netns, so it reaches moto where pods do.
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = env.api();
    secrets
        .patch(
            "moto",
            &PatchParams::apply("e2e-test").force(),
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "moto"},
                "stringData": {"id": "testing", "secret": "testing"}})),
        )
        .await?;
    apply(
        env,
        "triggerauthentications",
        json!({"apiVersion": "keda.sh/v1alpha1", "kind": "TriggerAuthentication",
            "metadata": {"name": "moto"},
            "spec": {"secretTargetRef": [
                {"parameter": "awsAccessKeyID", "name": "moto", "key": "id"},
                {"parameter": "awsSecretAccessKey", "name": "moto", "key": "secret"}]}}),
    )
    .await?;
    apply(
        env,
        "scaledobjects",
        json!({"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
            "metadata": {"name": "web"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "ecs.operator.dev/v1alpha1", "kind": "EcsService", "name": "web"},
                "minReplicaCount": 0, "maxReplicaCount": MAX_REPLICAS,
                "pollingInterval": 1, "cooldownPeriod": 2,
                "triggers": [{"type": "aws-sqs-queue",
                    "authenticationRef": {"name": "moto"},
                    "metadata": {"queueURL": queue_url, "queueLength": "1",
                        "awsRegion": "us-east-1", "awsEndpoint": bed.pod_aws_endpoint}}]}}),
    )
    .await?;

    // Empty queue: KEDA deactivates the service, and the operator carries 0 to AWS.
    wait_aws_desired(env, keda, &cluster, 0).await?;
    // One message: KEDA activates it, 0 -> 1 in AWS.
    send(&sqs, &queue_url, 1).await?;
    wait_aws_desired(env, keda, &cluster, 1).await?;

    // Two messages at one per task: the HPA (kube-controller-manager) reads the depth through the
    // aggregation layer and asks for 2 tasks.
    send(&sqs, &queue_url, 1).await?;
    wait_aws_desired(env, keda, &cluster, 2).await?;
    let hpas: Api<HorizontalPodAutoscaler> = env.api();
    let hpa = hpas.get("keda-hpa-web").await.context("KEDA's HPA")?;
    ensure!(
        queue_depth(&sqs, &queue_url).await? == 2,
        "moto's queue depth is not 2"
    );
    let metric = external_metric(env, &hpa).await?;
    ensure!(
        metric == 2.0,
        "external metric {metric}, moto's queue depth 2"
    );

    // Six messages ask for 6 tasks: the HPA clamps to maxReplicas, and AWS stays at 3.
    send(&sqs, &queue_url, 4).await?;
    wait_aws_desired(env, keda, &cluster, MAX_REPLICAS).await?;
    let clamped = poll_until(
        "the HPA to report ScalingLimited TooManyReplicas",
        Duration::from_secs(60),
        || {
            let hpas = hpas.clone();
            async move {
                let hpa = hpas.get("keda-hpa-web").await?;
                match condition(&hpa, "ScalingLimited") {
                    Some(("True", "TooManyReplicas")) => Ok(Some(hpa)),
                    other => bail!("ScalingLimited {other:?}"),
                }
            }
        },
    )
    .await?;
    let depth = queue_depth(&sqs, &queue_url).await?;
    ensure!(depth == 6, "moto's queue depth {depth}, want 6");
    let metric = external_metric(env, &clamped).await?;
    ensure!(
        metric == 6.0,
        "external metric {metric}, moto's queue depth 6"
    );
    let spec = &clamped.spec;
    ensure!(
        spec.max_replicas == MAX_REPLICAS,
        "HPA maxReplicas {}",
        spec.max_replicas
    );
    // Held there across several HPA syncs (3 s each on the bed).
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let got = env.aws_desired_count(&cluster, "web").await?;
        ensure!(
            got == MAX_REPLICAS,
            "desiredCount {got} in AWS, above maxReplicas"
        );
    }
    let svc = env.api::<EcsService>().get("web").await?;
    ensure!(
        svc.spec.desired_count == Some(MAX_REPLICAS),
        "spec.desiredCount {:?}",
        svc.spec.desired_count
    );

    // The work is done (queue empty): KEDA deactivates it after the cooldown, 3 -> 0 in AWS.
    sqs.purge_queue().queue_url(&queue_url).send().await?;
    wait_aws_desired(env, keda, &cluster, 0).await?;

    // The metric came through the aggregation layer: the API server dialled the adapter's
    // address in the bed netns through the bed's egress proxy.
    let egress = egress_to_adapter(bed);
    ensure!(
        egress > egress_before,
        "no connection from the API server to the adapter through the egress proxy"
    );

    // It was KEDA: the ScaledObject is Ready again.
    let obj = dynamic_api(env, "keda.sh", "v1alpha1", "ScaledObject", "scaledobjects")
        .get("web")
        .await?;
    let ready = obj.data["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True");
    ensure!(
        ready,
        "ScaledObject not Ready: {}\n{}",
        obj.data["status"],
        keda.log_tails()
    );
    Ok(())
}

/// CONNECTs the bed's egress proxy made to the adapter (the API server's aggregator proxying).
fn egress_to_adapter(bed: &NodeBed) -> usize {
    let target = format!("egress {}:{ADAPTER_PORT}", bed.pod_api_host);
    bed.forwarder_log()
        .lines()
        .filter(|l| l.ends_with(&target))
        .count()
}
