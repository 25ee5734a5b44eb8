//! The chart's pod killed again and again while it converges a few dozen objects, on the node
//! bed: the kubelet restarts the container each time (SIGKILL: no cleanup, no Lease release),
//! and still every object converges with exactly one AWS resource each — no second service, no
//! extra task-definition revision, no duplicate repository or cluster. Then everything is
//! deleted under the same treatment, and AWS is left empty with no finalizer hanging.
//!
//! One test: the release is cluster-wide (its objects live in several namespaces), so no other
//! test may run beside it (`make e2e-node` runs one module at a time).

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, ensure};
use e2e::TestEnv;
use e2e::node::{
    AwsHolds, OneOfEachKind, Release, apply_one_of_each_kind, aws_holds, container_id,
    operator_pods, poll_until, restarts, wait_one_of_each_kind_ready,
};
use ecs_operator::api::{EcrRepository, EcsCluster, EcsService, TaskDefinition};
use serde_json::json;

/// Namespaces, each with one object of every kind (4 objects): 24 objects in all.
const SETS: usize = 6;
/// SIGKILLs during convergence, and again during deletion.
const KILLS: usize = 3;

#[tokio::test]
async fn sigkilled_pod_converges_and_deletes_everything_exactly_once() -> Result<()> {
    let mut envs = Vec::new();
    for i in 0..SETS {
        let mut env = TestEnv::new(&format!("node-chaos-{i}")).await?;
        env.stop_operator(); // the operator under test is the chart's pod
        envs.push(env);
    }
    let rel = Release::prepare(&envs[0].client, "chaos").await?;
    let result = chaos(&rel, &envs).await;
    rel.finish(result).await?;
    for env in envs {
        env.cleanup_all().await?;
    }
    Ok(())
}

async fn chaos(rel: &Release, envs: &[TestEnv]) -> Result<()> {
    let client = &envs[0].client;
    // Cluster-wide (the chart's default), so one pod serves all the namespaces.
    rel.install(&[]).await?;

    let mut sets: Vec<OneOfEachKind> = Vec::new();
    for (i, env) in envs.iter().enumerate() {
        sets.push(apply_one_of_each_kind(env, &format!("node-chaos-{i}"), json!({})).await?);
    }
    let started = Instant::now();
    kill_repeatedly(rel, client, KILLS).await?;
    for env in envs {
        wait_one_of_each_kind_ready(env)
            .await
            .with_context(|| format!("after {KILLS} SIGKILLs, in {}", env.namespace))?;
    }
    eprintln!(
        "{} objects Ready {:?} after the first SIGKILL",
        4 * SETS,
        started.elapsed()
    );
    for (env, names) in envs.iter().zip(&sets) {
        exactly_one_each(env, names).await?;
    }

    // Delete everything, killing the pod again meanwhile.
    for env in envs {
        env.delete::<EcsService>("web").await?;
        env.delete::<TaskDefinition>("web").await?;
        env.delete::<EcsCluster>("cluster").await?;
        env.delete::<EcrRepository>("repo").await?;
    }
    kill_repeatedly(rel, client, KILLS).await?;
    for env in envs {
        env.wait_gone::<EcsService>("web").await?;
        env.wait_gone::<TaskDefinition>("web").await?;
        env.wait_gone::<EcsCluster>("cluster").await?;
        env.wait_gone::<EcrRepository>("repo").await?;
    }
    for (env, names) in envs.iter().zip(&sets) {
        let left = aws_holds(env, names).await?;
        ensure!(
            left == AwsHolds::NOTHING,
            "after deletion AWS still holds {left:?} of {names:?}"
        );
    }
    Ok(())
}

/// SIGKILLs the operator container `times` times, each time once the kubelet has restarted it
/// and it has run for a moment (so each kill lands mid-work).
async fn kill_repeatedly(rel: &Release, client: &kube::Client, times: usize) -> Result<()> {
    for round in 0..times {
        let pod = poll_until(
            "a running operator container",
            Duration::from_secs(120),
            || async {
                let pods = operator_pods(client, &rel.namespace, &rel.name).await?;
                Ok(pods.into_iter().find(|p| {
                    p.status
                        .as_ref()
                        .and_then(|s| s.container_statuses.as_ref())
                        .and_then(|c| c.first())
                        .is_some_and(|c| c.state.as_ref().is_some_and(|s| s.running.is_some()))
                }))
            },
        )
        .await?;
        // Let it get going: read its objects, start creating.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let before = restarts(&pod);
        let id = container_id(&pod).context("operator pod without a container ID")?;
        rel.bed
            .ctr(&["tasks", "kill", "--signal", "SIGKILL", &id])
            .await
            .with_context(|| format!("SIGKILL #{}", round + 1))?;
        let name = e2e::node::pod_name(&pod);
        poll_until(
            &format!("the kubelet to restart {name} after SIGKILL #{}", round + 1),
            Duration::from_secs(120),
            || async {
                let pods = operator_pods(client, &rel.namespace, &rel.name).await?;
                Ok(pods
                    .iter()
                    .find(|p| e2e::node::pod_name(p) == name)
                    .filter(|p| restarts(p) > before)
                    .map(|_| ()))
            },
        )
        .await?;
    }
    Ok(())
}

/// AWS holds exactly one resource per object: one repository, one revision of the family (of
/// any status: a duplicate registered and then deregistered would show as INACTIVE), one
/// cluster, one service in it.
async fn exactly_one_each(env: &TestEnv, names: &OneOfEachKind) -> Result<()> {
    let holds = aws_holds(env, names).await?;
    ensure!(holds == AwsHolds::ALL, "{names:?}: {holds:?}");
    let mut revisions = 0;
    for status in [
        aws_sdk_ecs::types::TaskDefinitionStatus::Active,
        aws_sdk_ecs::types::TaskDefinitionStatus::Inactive,
    ] {
        revisions += env
            .ecs
            .list_task_definitions()
            .family_prefix(&names.family)
            .status(status)
            .send()
            .await?
            .task_definition_arns()
            .iter()
            .filter(|arn| arn.contains(&format!("/{}:", names.family)))
            .count();
    }
    ensure!(
        revisions == 1,
        "{revisions} revisions of {} in AWS",
        names.family
    );
    let services = env
        .ecs
        .list_services()
        .cluster(&names.cluster)
        .send()
        .await?;
    ensure!(
        services.service_arns().len() == 1,
        "services in {}: {:?}",
        names.cluster,
        services.service_arns()
    );
    let clusters = env
        .ecs
        .describe_clusters()
        .clusters(&names.cluster)
        .send()
        .await?;
    ensure!(
        clusters.clusters().len() == 1,
        "clusters named {}: {:?}",
        names.cluster,
        clusters.clusters()
    );
    Ok(())
}
