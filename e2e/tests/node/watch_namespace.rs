//! A single-namespace install (`watchNamespace`) torn down as users do it: `helm uninstall`, and
//! deleting the watched namespace while objects with both deletion policies live there. The
//! RoleBinding that grants the operator its rights lives in that namespace; the chart's admission
//! policy keeps it until the namespace controller reports no content with the operator's finalizer.

use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use e2e::node::{
    AwsHolds, Release, apply_one_of_each_kind, aws_holds, poll_until, wait_one_of_each_kind_ready,
};
use e2e::{TestEnv, manifest, tool, unique};
use ecs_operator::api::{EcrRepository, EcsCluster};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{Api, DeleteParams};
use serde_json::json;

#[tokio::test]
async fn deleting_the_watched_namespace_finalizes_its_objects_and_the_namespace_goes_away()
-> Result<()> {
    let mut watched = TestEnv::new("node-wns").await?;
    watched.stop_operator(); // the operator under test is the chart's pod
    let rel = Release::prepare(&watched.client, "wns").await?;
    let result = teardown(&rel, &watched).await;
    // The uninstall removes the admission policy too, so a namespace left Terminating can go.
    rel.finish(result).await?;
    watched.cleanup_all().await
}

/// The chart's RoleBinding in the watched namespace (the release's full name).
fn binding_name(rel: &Release) -> String {
    format!("{}-ecs-operator", rel.name)
}

async fn teardown(rel: &Release, env: &TestEnv) -> Result<()> {
    let client = &env.client;
    let bindings: Api<RoleBinding> = Api::namespaced(client.clone(), &env.namespace);
    let binding = binding_name(rel);
    let install = [("watchNamespace", json!(env.namespace))];

    // `helm uninstall` while the namespace stays: the policy lets the binding go, and nothing of
    // the release is left in the watched namespace.
    rel.install(&install).await?;
    ensure!(
        bindings.get_opt(&binding).await?.is_some(),
        "no RoleBinding {binding} in {}",
        env.namespace
    );
    tool(
        "helm",
        &[
            "uninstall",
            &rel.name,
            "--namespace",
            &rel.namespace,
            "--wait",
            "--timeout",
            "60s",
        ],
    )
    .await
    .context("helm uninstall of a watchNamespace release")?;
    ensure!(
        bindings.get_opt(&binding).await?.is_none(),
        "helm uninstall left the RoleBinding behind"
    );

    // Installed again: objects with Delete (one of each kind) and Retain policies.
    rel.install(&install).await?;
    let del = apply_one_of_each_kind(env, "node-wns-del", json!({})).await?;
    let kept_repo = unique("node-wns-keep");
    let kept_cluster = unique("node-wns-keep");
    env.apply::<EcrRepository>(&manifest(
        "EcrRepository",
        "kept",
        &json!({"repositoryName": kept_repo, "deletionPolicy": "Retain"}),
    ))
    .await?;
    env.apply::<EcsCluster>(&manifest(
        "EcsCluster",
        "kept",
        &json!({"clusterName": kept_cluster, "deletionPolicy": "Retain"}),
    ))
    .await?;
    wait_one_of_each_kind_ready(env).await?;
    env.wait_condition::<EcrRepository>("kept", "Ready", "True", None)
        .await?;
    env.wait_condition::<EcsCluster>("kept", "Ready", "True", None)
        .await?;
    let holds = aws_holds(env, &del).await?;
    ensure!(holds == AwsHolds::ALL, "{del:?}: {holds:?}");

    // Deleting the watched namespace: the namespace controller's deletion of the RoleBinding is
    // refused while objects with the operator's finalizer remain, so the operator keeps its rights,
    // finalizes every object by its policy, and then the binding and the namespace go.
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .delete(&env.namespace, &DeleteParams::default())
        .await?;
    poll_until(
        &format!("namespace {} to go away", env.namespace),
        Duration::from_secs(180),
        || async {
            Ok(namespaces
                .get_opt(&env.namespace)
                .await?
                .is_none()
                .then_some(()))
        },
    )
    .await?;
    let gone = aws_holds(env, &del).await?;
    ensure!(
        gone == AwsHolds::NOTHING,
        "Delete policy: AWS still holds {gone:?} of {del:?}"
    );
    ensure!(
        env.ecr_repository(&kept_repo).await?.is_some(),
        "Retain policy: repository {kept_repo} was deleted"
    );
    let clusters = env
        .ecs
        .describe_clusters()
        .clusters(&kept_cluster)
        .send()
        .await?;
    ensure!(
        clusters
            .clusters()
            .iter()
            .any(|c| c.status() == Some("ACTIVE")),
        "Retain policy: cluster {kept_cluster} is not ACTIVE: {clusters:?}"
    );
    Ok(())
}
