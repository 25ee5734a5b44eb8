//! The Helm chart as users run it, on the node bed (`e2e/env up --node`): `helm install` into a
//! namespace enforcing the `restricted` Pod Security level, the pod Ready through its probes, and
//! every kind reconciled by that pod under the chart's ServiceAccount via in-cluster config.

use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use e2e::node::{
    OneOfEachKind, Release, apply_one_of_each_kind, operator_pods, pod_http_get, pod_ip, pod_logs,
    pod_name, pod_ready, poll_until, restarts, wait_one_of_each_kind_ready,
};
use e2e::{TestEnv, metric_value};
use ecs_operator::api::{EcrRepository, EcsCluster, EcsService, TaskDefinition};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use serde_json::json;

#[tokio::test]
async fn restricted_install_runs_a_ready_pod_that_reconciles_every_kind_in_cluster() -> Result<()> {
    // The watched namespace is the test's; the release lives in a restricted one of its own.
    let mut env = TestEnv::new("node-psa").await?;
    env.stop_operator(); // the operator under test is the chart's pod, not a local process
    let rel = Release::prepare(&env.client, "psa").await?;
    rel.finish(restricted_install(&rel, &mut env).await).await?;
    env.cleanup::<EcsService>().await
}

async fn restricted_install(rel: &Release, env: &mut TestEnv) -> Result<()> {
    let Release {
        bed,
        name: release,
        namespace: release_ns,
        repository,
        ..
    } = rel;
    let watched = env.namespace.clone();

    // Pod Security admission really enforces `restricted` there: a hostNetwork pod is refused.
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), release_ns);
    let bad: Pod = serde_json::from_value(json!({
        "metadata": {"name": "host-network"},
        "spec": {"hostNetwork": true, "containers": [{"name": "c", "image": repository}]}
    }))?;
    let refused = pods.create(&PostParams::default(), &bad).await;
    ensure!(
        matches!(&refused, Err(kube::Error::Api(e)) if e.code == 403 && e.message.contains("PodSecurity")),
        "a hostNetwork pod was not refused by PodSecurity: {refused:?}"
    );

    rel.install(&[("watchNamespace", json!(watched))]).await?;

    // helm --wait returned: the Deployment is available, so the pod passed its readiness probe.
    let found = operator_pods(&env.client, release_ns, release).await?;
    ensure!(found.len() == 1, "pods: {found:?}");
    let pod = &found[0];
    ensure!(pod_ready(pod), "pod not Ready: {:?}", pod.status);
    let name = pod_name(pod);
    let ip = pod_ip(pod).context("pod without IP")?;
    let spec = pod.spec.as_ref().context("pod without spec")?;
    ensure!(
        spec.service_account_name.as_deref() == Some(&format!("{release}-ecs-operator")),
        "pod runs as {:?}",
        spec.service_account_name
    );
    ensure!(
        spec.host_network != Some(true),
        "the operator pod uses the host network"
    );

    let OneOfEachKind {
        repo,
        family,
        cluster,
    } = apply_one_of_each_kind(env, "node-psa", json!({})).await?;
    wait_one_of_each_kind_ready(env).await?;

    // AWS (moto, read from the host) holds what the pod created.
    let repos = env
        .ecr
        .describe_repositories()
        .repository_names(&repo)
        .send()
        .await?;
    let uri = repos
        .repositories()
        .first()
        .and_then(|r| r.repository_uri())
        .context("repository without URI")?;
    let td = env
        .ecs
        .describe_task_definition()
        .task_definition(&family)
        .send()
        .await?;
    let image = td
        .task_definition()
        .and_then(|t| t.container_definitions().first())
        .and_then(|c| c.image())
        .unwrap_or_default();
    ensure!(
        image == format!("{uri}:v1"),
        "image {image}, repository {uri}"
    );
    let services = env
        .ecs
        .describe_services()
        .cluster(&cluster)
        .services("web")
        .send()
        .await?;
    ensure!(
        services
            .services()
            .iter()
            .any(|s| s.status() == Some("ACTIVE")),
        "{services:?}"
    );

    // It was this pod, via in-cluster config: it holds the chart's Lease under its pod name, and
    // its connections to the API server and to moto came through the bed's forwarder from its IP.
    let leases: Api<Lease> = Api::namespaced(env.client.clone(), release_ns);
    let lease = leases
        .get(&format!("{release}-ecs-operator-leader"))
        .await?;
    let holder = lease.spec.and_then(|s| s.holder_identity);
    ensure!(
        holder
            .as_deref()
            .map(ecs_operator::runtime::leader::pod_of_identity)
            == Some(name.as_str()),
        "Lease holder {holder:?}, pod {name}"
    );
    ensure!(
        bed.forwarded(&ip, &bed.pod_api_port) > 0,
        "no API server connection from pod {ip} through the forwarder"
    );
    ensure!(
        bed.forwarded(&ip, bed.moto_port()) > 0,
        "no moto connection from pod {ip} through the forwarder"
    );

    // /metrics from the running pod: it counted reconciles of every kind and leads.
    let metrics = pod_http_get(release_ns, &name, 8080, "/metrics").await?;
    for kind in [
        "EcrRepository",
        "TaskDefinition",
        "EcsCluster",
        "EcsService",
    ] {
        ensure!(
            metric_value(&metrics, "ecs_operator_reconciles_total", &[("kind", kind)]) > 0.0,
            "no reconciles of {kind} in /metrics:\n{metrics}"
        );
    }
    ensure!(
        metric_value(&metrics, "ecs_operator_leader", &[]) == 1.0,
        "the pod does not report itself leader:\n{metrics}"
    );
    ensure!(
        metric_value(&metrics, "ecs_operator_aws_calls_total", &[]) > 0.0,
        "no AWS calls in /metrics"
    );

    // Deleting needs the finalizer rights too.
    env.delete::<EcsService>("web").await?;
    env.delete::<EcsCluster>("cluster").await?;
    env.delete::<TaskDefinition>("web").await?;
    env.delete::<EcrRepository>("repo").await?;
    env.wait_gone::<EcsService>("web").await?;
    env.wait_gone::<EcsCluster>("cluster").await?;
    env.wait_gone::<TaskDefinition>("web").await?;
    env.wait_gone::<EcrRepository>("repo").await?;

    let logs = pod_logs(release_ns, &name, false).await?;
    let refused: Vec<&str> = logs
        .lines()
        .filter(|l| l.to_lowercase().contains("forbidden"))
        .collect();
    ensure!(
        refused.is_empty(),
        "the operator was refused something:\n{}",
        refused.join("\n")
    );
    // Ready all along: no probe killed it.
    let now = poll_until("the pod", Duration::from_secs(10), || async {
        Ok(operator_pods(&env.client, release_ns, release).await?.pop())
    })
    .await?;
    ensure!(restarts(&now) == 0, "the pod restarted: {:?}", now.status);
    Ok(())
}
