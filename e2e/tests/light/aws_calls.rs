//! AWS calls per object while converging, counted by the fault proxy (no faults: it only
//! counts). Each test runs its own operator behind its own proxy and asserts, per action, what
//! converging may cost: the create or register answer is the first observation, shared reads
//! answer "does it exist" for many objects, and no "not found" probe precedes a create.

use anyhow::{Result, ensure};
use e2e::fault::{Counts, FaultConfig, FaultProxy};
use e2e::{OperatorProcess, TestEnv, manifest, unique};
use ecs_operator::api::ecs_service::EcsService;
use ecs_operator::api::{EcrRepository, EcsCluster, TaskDefinition};
use serde_json::json;
use std::time::Duration;

/// Calls of `action` (`service:Action`) in `counts`.
fn calls(counts: &Counts, action: &str) -> u64 {
    counts.get(action).map_or(0, |c| c.calls)
}

/// This test's operator, its AWS calls through a counting proxy.
async fn counted(env: &mut TestEnv, name: &str) -> Result<(FaultProxy, OperatorProcess)> {
    env.stop_operator();
    let proxy = FaultProxy::in_front_of_bed(FaultConfig::default()).await?;
    let op = env.spawn_operator(name, &[], &[("AWS_ENDPOINT_URL", &proxy.url())])?;
    Ok((proxy, op))
}

/// Waits until every object of `K` named `prefix-0..n` is Ready.
async fn all_ready<K>(env: &TestEnv, prefix: &str, n: usize) -> Result<()>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
{
    for i in 0..n {
        env.wait_condition::<K>(&format!("{prefix}-{i}"), "Ready", "True", None)
            .await?;
    }
    Ok(())
}

/// RegisterTaskDefinition answers with the whole revision: registering a new family is one
/// RegisterTaskDefinition and no DescribeTaskDefinition, before or after.
#[tokio::test]
async fn a_new_task_definition_costs_one_register_and_no_describe() -> Result<()> {
    let mut env = TestEnv::new("calls-td").await?;
    let (proxy, op) = counted(&mut env, "calls-td").await?;
    let n = 3;
    for i in 0..n {
        let spec = json!({"family": unique(&format!("calls-td{i}")),
            "containerDefinitions": [{"name": "app", "image": "nginx:1", "memory": 128}]});
        env.apply::<TaskDefinition>(&manifest("TaskDefinition", &format!("td-{i}"), &spec))
            .await?;
    }
    all_ready::<TaskDefinition>(&env, "td", n).await?;
    let counts = proxy.counts();
    ensure!(
        calls(&counts, "ecs:RegisterTaskDefinition") == n as u64
            && calls(&counts, "ecs:DescribeTaskDefinition") == 0,
        "{n} new task definitions: {counts:?}\n{}",
        op.log_tail()
    );
    drop(op);
    env.cleanup::<TaskDefinition>().await
}

/// A cluster and a task definition whose rollouts take `rollout_seconds` (the moto model's
/// tag), both Ready.
struct Fleet {
    cluster: String,
    family: String,
}

async fn fleet(env: &TestEnv, rollout_seconds: u32) -> Result<Fleet> {
    let cluster = unique("calls-svc");
    let family = unique("calls-svc");
    env.apply::<EcsCluster>(&manifest(
        "EcsCluster",
        "cluster",
        &json!({"clusterName": cluster}),
    ))
    .await?;
    let td = json!({"family": family, "networkMode": "bridge", "requiresCompatibilities": ["EC2"],
        "containerDefinitions": [{"name": "web", "image": "nginx:1", "memory": 128}],
        "tags": [{"key": "moto-ecs/deployment-seconds", "value": rollout_seconds.to_string()}]});
    env.apply::<TaskDefinition>(&manifest("TaskDefinition", "web", &td))
        .await?;
    env.wait_condition::<EcsCluster>("cluster", "Ready", "True", None)
        .await?;
    env.wait_condition::<TaskDefinition>("web", "Ready", "True", None)
        .await?;
    Ok(Fleet { cluster, family })
}

/// Applies services `prefix-0..n` in `fleet`'s cluster, `gap` apart.
async fn apply_services(
    env: &TestEnv,
    fleet: &Fleet,
    prefix: &str,
    n: usize,
    gap: Duration,
) -> Result<()> {
    for i in 0..n {
        let spec = json!({"serviceName": unique(&format!("{prefix}{i}")),
            "cluster": fleet.cluster, "taskDefinition": fleet.family, "desiredCount": 1});
        env.apply::<EcsService>(&manifest("EcsService", &format!("{prefix}-{i}"), &spec))
            .await?;
        tokio::time::sleep(gap).await;
    }
    Ok(())
}

/// `n` services applied together in a new cluster, rollouts of `rollout_seconds`: waits until
/// all are Ready and returns the AWS calls made from the first apply on.
async fn services_applied_together(
    env: &TestEnv,
    proxy: &FaultProxy,
    n: usize,
    rollout_seconds: u32,
) -> Result<Counts> {
    let fleet = fleet(env, rollout_seconds).await?;
    proxy.reset_counts();
    apply_services(env, &fleet, "svc", n, Duration::ZERO).await?;
    all_ready::<EcsService>(env, "svc", n).await?;
    Ok(proxy.counts())
}

/// Twenty services created together in one cluster: the CreateService answer is each one's
/// first observation, a batch that finds a peer absent spares that peer its "not found" probe,
/// rollouts are polled ten services per DescribeServices, and the deployment in flight is read
/// by the ARN DescribeServices names (`currentServiceDeployment`), without ListServiceDeployments,
/// and not in the reconcile that creates the service. Each service needs one read after its
/// create (the create answer shows the rollout in flight), so without the batch converging
/// costs at least one DescribeServices per service (34 before, when each service also had its
/// own probe). With it, fewer: 10 measured on an idle
/// machine, 17 in CI with other tests beside it, where the applies spread out and a kept answer
/// taken before a peer's rollout ends serves that peer one poll only.
#[tokio::test]
async fn services_created_together_share_describe_services_calls() -> Result<()> {
    let mut env = TestEnv::new("calls-svc").await?;
    let (proxy, op) = counted(&mut env, "calls-svc").await?;
    let n = 20;
    let counts = services_applied_together(&env, &proxy, n, 2).await?;
    let describes = calls(&counts, "ecs:DescribeServices");
    eprintln!("{n} services: {describes} DescribeServices; {counts:?}");
    ensure!(
        calls(&counts, "ecs:CreateService") == n as u64,
        "one CreateService per service: {counts:?}"
    );
    // The deployment in flight is the one DescribeServices names current: no listing. The
    // reconcile that creates a service reads no deployment (its rollout has just started), and
    // by the first poll two-second rollouts are done: about none read, not one per create.
    ensure!(
        calls(&counts, "ecs:ListServiceDeployments") == 0,
        "ListServiceDeployments while DescribeServices names the current deployment: {counts:?}"
    );
    let deployment_reads = calls(&counts, "ecs:DescribeServiceDeployments");
    ensure!(
        deployment_reads < n as u64 / 2,
        "{deployment_reads} DescribeServiceDeployments for {n} services created: read at create?"
    );
    ensure!(
        describes < n as u64,
        "{describes} DescribeServices for {n} services converging (fewer than one per service \
         when batched): {counts:?}\n{}",
        op.log_tail()
    );
    drop(op);
    env.cleanup_all().await
}

/// Rollouts of eight seconds, polled every three: each service reads its deployment in flight
/// at two polls, so one read per service and poll would be 2 × 20 = 40
/// DescribeServiceDeployments (75 measured when every create read one too). A poll's call
/// also reads the deployments in flight of the peers its DescribeServices batch brought (up to twenty ARNs per call), kept for their
/// next poll: fewer than one read per service.
#[tokio::test]
async fn services_in_flight_share_describe_service_deployments_calls() -> Result<()> {
    let mut env = TestEnv::new("calls-sd").await?;
    let (proxy, op) = counted(&mut env, "calls-sd").await?;
    let n = 20;
    let counts = services_applied_together(&env, &proxy, n, 8).await?;
    let reads = calls(&counts, "ecs:DescribeServiceDeployments");
    eprintln!("{n} services: {reads} DescribeServiceDeployments; {counts:?}");
    ensure!(
        reads < n as u64,
        "{reads} DescribeServiceDeployments for {n} services in flight (fewer than one per \
         service when batched): {counts:?}\n{}",
        op.log_tail()
    );
    drop(op);
    env.cleanup_all().await
}

/// Twenty new services applied 400 ms apart beside twenty steady ones, rollouts of fifteen
/// seconds, polled every ten (resync 300 s: the steady ones stay quiet), counted from the last
/// apply. On its own schedule each new service would poll twice, and a batch would take nine
/// peers of thirty-nine, steady ones among them. Not-ready polls fall on shared ticks instead,
/// a batch takes the peers that are not Ready first, a service whose answer a call in flight is
/// bringing waits for it, and that call also reads the batch's deployments in flight: at most
/// 30 calls (13 measured; 52 before, when a rollout's kept answer, too old to serve, still kept
/// its service out of later batches and every service polled on its own schedule).
#[tokio::test]
async fn services_applied_apart_poll_on_shared_ticks() -> Result<()> {
    let mut env = TestEnv::new("calls-tick").await?;
    env.stop_operator();
    let proxy = FaultProxy::in_front_of_bed(FaultConfig::default()).await?;
    let op = env.spawn_operator(
        "calls-tick",
        &["--resync-seconds", "300"],
        &[("AWS_ENDPOINT_URL", &proxy.url())],
    )?;
    let n = 20;
    let fleet = fleet(&env, 15).await?;
    apply_services(&env, &fleet, "steady", n, Duration::ZERO).await?;
    all_ready::<EcsService>(&env, "steady", n).await?;
    apply_services(&env, &fleet, "new", n, Duration::from_millis(400)).await?;
    proxy.reset_counts();
    all_ready::<EcsService>(&env, "new", n).await?;
    let counts = proxy.counts();
    let describes = calls(&counts, "ecs:DescribeServices");
    let deployments = calls(&counts, "ecs:DescribeServiceDeployments");
    eprintln!(
        "{n} services applied apart: {describes} DescribeServices, {deployments} \
         DescribeServiceDeployments; {counts:?}"
    );
    ensure!(
        describes + deployments <= 30,
        "{describes} DescribeServices + {deployments} DescribeServiceDeployments after the \
         applies of {n} services (at most 30 on shared ticks): {counts:?}\n{}",
        op.log_tail()
    );
    drop(op);
    env.cleanup_all().await
}

/// CreateRepository carries the tags and its answer is the first observation; the lifecycle
/// policy is put right after. No repository is probed before its create (the registry listing
/// says "absent"), and no policy or tag read follows: per repository one CreateRepository and
/// one PutLifecyclePolicy, and a few listings for all of them.
#[tokio::test]
async fn ecr_repositories_are_created_without_probes_or_reads_back() -> Result<()> {
    let mut env = TestEnv::new("calls-ecr").await?;
    let (proxy, op) = counted(&mut env, "calls-ecr").await?;
    let n = 5;
    let lifecycle = json!({"rules": [{"rulePriority": 1, "description": "expire untagged",
        "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed",
                      "countUnit": "days", "countNumber": 14},
        "action": {"type": "expire"}}]});
    // Applied together: a first reconcile lists the registry again when the listing at hand
    // is older than the reconcile (a listing taken after it says "absent"); none probes by name.
    for i in 0..n {
        let spec = json!({"repositoryName": unique(&format!("calls-ecr{i}")),
            "lifecyclePolicy": lifecycle, "tags": [{"Key": "team", "Value": "calls"}]});
        env.apply::<EcrRepository>(&manifest("EcrRepository", &format!("repo-{i}"), &spec))
            .await?;
    }
    all_ready::<EcrRepository>(&env, "repo", n).await?;
    let counts = proxy.counts();
    let per_repo_reads = [
        "ecr:GetRepositoryPolicy",
        "ecr:GetLifecyclePolicy",
        "ecr:ListTagsForResource",
        "ecr:TagResource",
    ];
    let read_back: Vec<(&str, u64)> = per_repo_reads
        .iter()
        .map(|a| (*a, calls(&counts, a)))
        .filter(|(_, c)| *c > 0)
        .collect();
    ensure!(
        calls(&counts, "ecr:CreateRepository") == n as u64
            && calls(&counts, "ecr:PutLifecyclePolicy") == n as u64
            && read_back.is_empty(),
        "{n} repositories: reads back {read_back:?}; {counts:?}\n{}",
        op.log_tail()
    );
    let listings = calls(&counts, "ecr:DescribeRepositories");
    ensure!(
        listings < n as u64,
        "{listings} DescribeRepositories for {n} repositories: probes by name? {counts:?}"
    );
    drop(op);
    env.cleanup::<EcrRepository>().await
}

/// Steady clusters are described 100 per DescribeClusters: a resync round of six clusters
/// costs one or two calls, not six (each answer serves its cluster's next resync once).
#[tokio::test]
async fn steady_clusters_share_describe_clusters_calls() -> Result<()> {
    let mut env = TestEnv::new("calls-cl").await?;
    let (proxy, op) = counted(&mut env, "calls-cl").await?;
    let n = 6;
    for i in 0..n {
        let spec = json!({"clusterName": unique(&format!("calls-cl{i}"))});
        env.apply::<EcsCluster>(&manifest("EcsCluster", &format!("cl-{i}"), &spec))
            .await?;
    }
    all_ready::<EcsCluster>(&env, "cl", n).await?;
    // Two resync rounds (resync 3 s), then compare DescribeClusters calls with reconciles.
    let in_sync = format!("in sync object={}/cl-", env.namespace);
    proxy.reset_counts();
    let before = op.log_count(&in_sync);
    env.wait_for("two resync rounds", || async {
        Ok((op.log_count(&in_sync) >= before + 2 * n).then_some(()))
    })
    .await?;
    let reconciles = op.log_count(&in_sync) - before;
    let describes = calls(&proxy.counts(), "ecs:DescribeClusters");
    ensure!(
        describes * 2 <= reconciles as u64,
        "{describes} DescribeClusters for {reconciles} cluster reconciles: not batched\n{}",
        op.log_tail()
    );
    drop(op);
    env.cleanup::<EcsCluster>().await
}
