//! KEDA drives an EcsService through its scale subresource: the real KEDA operator (built from
//! github.com/kedacore/keda/v2 by `e2e/tools/build.sh keda`) runs its `aws-sqs-queue` scaler
//! against the bed's moto SQS. A message in the queue activates the service (desiredCount in AWS
//! 0 -> 1); once the queue is empty again, KEDA deactivates it after the cooldown (1 -> 0).
//!
//! Scaling beyond one replica goes through KEDA's metrics adapter and an HPA, which needs the
//! API server's aggregation layer; the bed has none, so that path is not covered here.

use std::path::PathBuf;
use std::process::Stdio;

use anyhow::{Context as _, Result, bail, ensure};
use e2e::{TestEnv, manifest, tool, unique};
use ecs_operator::api::{EcsCluster, EcsService, TaskDefinition};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::json;

/// Where `e2e/tools/build.sh keda` put the KEDA operator and its CRDs.
fn keda_dir() -> Result<PathBuf> {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/build.sh");
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
    if !dir.join("bin/keda-operator").exists() {
        bail!(
            "{} is missing: build it with `e2e/tools/build.sh keda` (make tools does)",
            dir.join("bin/keda-operator").display()
        );
    }
    Ok(dir)
}

/// The KEDA operator as a process watching one namespace; killed when dropped.
struct Keda {
    child: tokio::process::Child,
    log: PathBuf,
    _certs: PathBuf,
}

impl Keda {
    async fn start(dir: &std::path::Path, namespace: &str) -> Result<Self> {
        // Its metrics gRPC service (for the adapter, unused here) insists on TLS files.
        let certs = std::env::temp_dir().join(unique("keda-certs"));
        std::fs::create_dir_all(&certs)?;
        let key = certs.join("tls.key").display().to_string();
        let crt = certs.join("tls.crt").display().to_string();
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
                "/CN=keda-operator",
                "-keyout",
                &key,
                "-out",
                &crt,
            ],
        )
        .await?;
        std::fs::copy(&crt, certs.join("ca.crt"))?;
        let log = std::env::temp_dir().join(format!("{namespace}-keda.log"));
        let file = std::fs::File::create(&log)?;
        let child = tokio::process::Command::new(dir.join("bin/keda-operator"))
            .args([
                "--metrics-bind-address=127.0.0.1:0",
                "--health-probe-bind-address=127.0.0.1:0",
                "--metrics-service-bind-address=127.0.0.1:0",
                "--enable-cert-rotation=false",
                "--enable-webhook-patching=false",
                "--enable-apiservice-patching=false",
                "--zap-log-level=info",
            ])
            .arg(format!("--cert-dir={}", certs.display()))
            .env("WATCH_NAMESPACE", namespace)
            .env("KEDA_CLUSTER_OBJECT_NAMESPACE", namespace)
            .env("POD_NAMESPACE", namespace)
            .env("POD_NAME", "keda-operator-e2e")
            .stdout(Stdio::null())
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .context("start keda-operator")?;
        Ok(Self {
            child,
            log,
            _certs: certs,
        })
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Keda {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self._certs);
    }
}

fn keda_api(env: &TestEnv, kind: &str, plural: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("keda.sh", "v1alpha1", kind);
    Api::namespaced_with(
        env.client.clone(),
        &env.namespace,
        &ApiResource::from_gvk_with_plural(&gvk, plural),
    )
}

/// Server-side applies one of KEDA's objects.
async fn apply_keda(
    env: &TestEnv,
    kind: &str,
    plural: &str,
    body: serde_json::Value,
) -> Result<DynamicObject> {
    let name = body["metadata"]["name"]
        .as_str()
        .context("metadata.name")?
        .to_string();
    let obj: DynamicObject = serde_json::from_value(body)?;
    keda_api(env, kind, plural)
        .patch(
            &name,
            &PatchParams::apply("e2e-test").force(),
            &Patch::Apply(&obj),
        )
        .await
        .with_context(|| format!("apply {kind} {name}"))
}

async fn wait_aws_desired(env: &TestEnv, keda: &Keda, cluster: &str, want: i32) -> Result<()> {
    let result = env
        .wait_for(&format!("desiredCount {want} in AWS"), || async move {
            Ok((env.aws_desired_count(cluster, "web").await? == want).then_some(()))
        })
        .await;
    result.with_context(|| format!("KEDA log tail:\n{}", keda.log_tail()))
}

#[tokio::test]
async fn keda_sqs_scaler_activates_and_deactivates_a_service_in_aws() -> Result<()> {
    let dir = keda_dir()?;
    let env = TestEnv::new("keda").await?;
    let crds = dir.join("crds").display().to_string();
    tool("kubectl", &["apply", "--server-side", "-f", &crds]).await?;
    let crds: Api<CustomResourceDefinition> = Api::all(env.client.clone());
    for name in ["scaledobjects.keda.sh", "triggerauthentications.keda.sh"] {
        env.wait_for(&format!("CRD {name} Established"), || async {
            let crd = crds.get(name).await?;
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
    let keda = Keda::start(&dir, &env.namespace).await?;

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
    env.apply::<EcsService>(&manifest(
        "EcsService",
        "web",
        &json!({"serviceName": "web", "clusterRef": {"name": "cluster"},
                "taskDefinitionRef": {"name": "web"}, "launchType": "EC2", "desiredCount": 1}),
    ))
    .await?;
    env.wait_condition::<EcsService>("web", "Ready", "True", None)
        .await?;

    // KEDA's objects: credentials from a Secret (moto's), a ScaledObject on the EcsService.
    let endpoint = std::env::var("AWS_ENDPOINT_URL")?;
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
    apply_keda(
        &env,
        "TriggerAuthentication",
        "triggerauthentications",
        json!({"apiVersion": "keda.sh/v1alpha1", "kind": "TriggerAuthentication",
            "metadata": {"name": "moto"},
            "spec": {"secretTargetRef": [
                {"parameter": "awsAccessKeyID", "name": "moto", "key": "id"},
                {"parameter": "awsSecretAccessKey", "name": "moto", "key": "secret"}]}}),
    )
    .await?;
    apply_keda(
        &env,
        "ScaledObject",
        "scaledobjects",
        json!({"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
            "metadata": {"name": "web"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "ecs.operator.dev/v1alpha1", "kind": "EcsService", "name": "web"},
                "minReplicaCount": 0, "maxReplicaCount": 3,
                "pollingInterval": 1, "cooldownPeriod": 2,
                "triggers": [{"type": "aws-sqs-queue",
                    "authenticationRef": {"name": "moto"},
                    "metadata": {"queueURL": queue_url, "queueLength": "1",
                        "awsRegion": "us-east-1", "awsEndpoint": endpoint}}]}}),
    )
    .await?;

    // Empty queue: KEDA deactivates the service, and the operator carries 0 to AWS.
    wait_aws_desired(&env, &keda, &cluster, 0).await?;
    // A message arrives: activated, 0 -> 1 in AWS.
    sqs.send_message()
        .queue_url(&queue_url)
        .message_body("work")
        .send()
        .await?;
    wait_aws_desired(&env, &keda, &cluster, 1).await?;
    // The work is done (queue empty): back to 0 after the cooldown.
    sqs.purge_queue().queue_url(&queue_url).send().await?;
    wait_aws_desired(&env, &keda, &cluster, 0).await?;

    // It was KEDA: the ScaledObject reports itself Active=False again and Ready.
    let obj = keda_api(&env, "ScaledObject", "scaledobjects")
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
        keda.log_tail()
    );
    drop(keda);
    env.cleanup::<EcsService>().await
}
