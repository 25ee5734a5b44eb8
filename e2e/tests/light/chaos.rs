//! Chaos: AWS faults (throttling, 5xx, lost responses) from the fault proxy (e2e::fault) while
//! the operator is SIGKILLed during convergence; the API server and etcd restarted mid-reconcile;
//! another writer's status write. AWS is counted in moto directly, never through the proxy.
//!
//! The tests of this file take turns (one lock): restarting the bed's API server would disturb
//! the others.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Result, bail, ensure};
use e2e::fault::{FaultConfig, FaultProxy, total};
use e2e::{OperatorProcess, TestEnv, manifest, unique};
use ecs_operator::api::{EcrRepository, EcsCluster, EcsService, TaskDefinition};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

// The kinds beyond the four original ones; a submodule, so the `chaos::` filters select it.
#[path = "chaos_kinds.rs"]
mod kinds;

static TURNS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Convergence (and deletion) of everything must finish within this.
const CHAOS_DEADLINE: Duration = Duration::from_secs(240);

/// The dice seed: `CHAOS_SEED` when set (to explore), else the test's own.
fn seed(default: u64) -> u64 {
    std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The faults the issue asks for.
fn chaos_faults(seed: u64) -> FaultConfig {
    FaultConfig {
        throttle: 0.30,
        server_error: 0.05,
        lost: 0.03,
        seed,
        ..FaultConfig::default()
    }
}

/// AWS names of one set of objects.
struct World {
    repos: Vec<String>,
    clusters: Vec<String>,
    families: Vec<String>,
    /// (cluster index, service name)
    services: Vec<(usize, String)>,
}

impl World {
    fn new(tag: &str, repos: usize, clusters: usize, pairs: usize) -> Self {
        Self {
            repos: (0..repos).map(|i| unique(&format!("{tag}-r{i}"))).collect(),
            clusters: (0..clusters)
                .map(|i| unique(&format!("{tag}-c{i}")))
                .collect(),
            families: (0..pairs).map(|i| unique(&format!("{tag}-f{i}"))).collect(),
            services: (0..pairs)
                .map(|i| (i % clusters, unique(&format!("{tag}-s{i}"))))
                .collect(),
        }
    }

    fn objects(&self) -> usize {
        self.repos.len() + self.clusters.len() + self.families.len() + self.services.len()
    }

    async fn apply(&self, env: &TestEnv) -> Result<()> {
        for (i, name) in self.repos.iter().enumerate() {
            env.apply::<EcrRepository>(&manifest(
                "EcrRepository",
                &format!("r{i}"),
                &json!({"repositoryName": name, "tags": [{"Key": "chaos", "Value": "yes"}]}),
            ))
            .await?;
        }
        for (i, name) in self.clusters.iter().enumerate() {
            env.apply::<EcsCluster>(&manifest(
                "EcsCluster",
                &format!("c{i}"),
                &json!({"clusterName": name}),
            ))
            .await?;
        }
        for (i, family) in self.families.iter().enumerate() {
            env.apply::<TaskDefinition>(&manifest(
                "TaskDefinition",
                &format!("f{i}"),
                &json!({"family": family, "networkMode": "bridge", "requiresCompatibilities": ["EC2"],
                        "containerDefinitions": [{"name": "web", "image": "nginx:1", "memory": 64}]}),
            ))
            .await?;
        }
        for (i, (cluster, name)) in self.services.iter().enumerate() {
            env.apply::<EcsService>(&manifest(
                "EcsService",
                &format!("s{i}"),
                &json!({"serviceName": name, "clusterRef": {"name": format!("c{cluster}")},
                        "taskDefinitionRef": {"name": format!("f{i}")}, "desiredCount": 1,
                        "launchType": "EC2"}),
            ))
            .await?;
        }
        Ok(())
    }

    /// Exactly one AWS resource per object, counted in moto.
    async fn check_one_each(&self, env: &TestEnv) -> Result<()> {
        let repos = repositories(env).await?;
        for name in &self.repos {
            ensure!(
                repos.iter().filter(|r| *r == name).count() == 1,
                "repository {name}: {repos:?}"
            );
        }
        let clusters = active_clusters(env, &self.clusters).await?;
        ensure!(
            clusters.len() == self.clusters.len(),
            "clusters: {clusters:?}"
        );
        for family in &self.families {
            let (active, inactive) = revisions(env, family).await?;
            ensure!(
                active.len() == 1 && inactive.is_empty(),
                "family {family} must have exactly one revision: active {active:?}, inactive {inactive:?}"
            );
        }
        for (i, cluster) in self.clusters.iter().enumerate() {
            let mut want: Vec<&String> = self
                .services
                .iter()
                .filter(|(c, _)| *c == i)
                .map(|(_, s)| s)
                .collect();
            want.sort();
            let mut have = services(env, cluster).await?;
            have.sort();
            ensure!(
                have.iter().collect::<Vec<_>>() == want,
                "services in {cluster}: {have:?}, want {want:?}"
            );
        }
        Ok(())
    }

    /// Nothing of this world is left in moto.
    async fn check_nothing_left(&self, env: &TestEnv) -> Result<()> {
        let repos = repositories(env).await?;
        let left: Vec<&String> = self.repos.iter().filter(|r| repos.contains(r)).collect();
        ensure!(left.is_empty(), "repositories left: {left:?}");
        for cluster in &self.clusters {
            let svcs = services(env, cluster).await.unwrap_or_default();
            ensure!(svcs.is_empty(), "services left in {cluster}: {svcs:?}");
        }
        let clusters = active_clusters(env, &self.clusters).await?;
        ensure!(clusters.is_empty(), "clusters left: {clusters:?}");
        for family in &self.families {
            let (active, _) = revisions(env, family).await?;
            ensure!(
                active.is_empty(),
                "family {family} still ACTIVE: {active:?}"
            );
        }
        Ok(())
    }
}

async fn repositories(env: &TestEnv) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let out = env
            .ecr
            .describe_repositories()
            .set_next_token(token)
            .max_results(1000)
            .send()
            .await?;
        names.extend(
            out.repositories()
                .iter()
                .filter_map(|r| r.repository_name().map(str::to_string)),
        );
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(names);
        }
    }
}

async fn active_clusters(env: &TestEnv, names: &[String]) -> Result<Vec<String>> {
    let mut found = Vec::new();
    for chunk in names.chunks(100) {
        let out = env
            .ecs
            .describe_clusters()
            .set_clusters(Some(chunk.to_vec()))
            .send()
            .await?;
        found.extend(
            out.clusters()
                .iter()
                .filter(|c| c.status() == Some("ACTIVE"))
                .filter_map(|c| c.cluster_name().map(str::to_string)),
        );
    }
    Ok(found)
}

/// (ACTIVE, INACTIVE) revision ARNs of exactly `family`.
async fn revisions(env: &TestEnv, family: &str) -> Result<(Vec<String>, Vec<String>)> {
    let mut out = (Vec::new(), Vec::new());
    for status in [
        aws_sdk_ecs::types::TaskDefinitionStatus::Active,
        aws_sdk_ecs::types::TaskDefinitionStatus::Inactive,
    ] {
        let arns: Vec<String> = env
            .ecs
            .list_task_definitions()
            .family_prefix(family)
            .status(status.clone())
            .into_paginator()
            .items()
            .send()
            .collect::<Result<_, _>>()
            .await?;
        let own: Vec<String> = arns
            .into_iter()
            .filter(|a| {
                a.rsplit_once(":task-definition/")
                    .and_then(|(_, rest)| rest.rsplit_once(':'))
                    .is_some_and(|(f, _)| f == family)
            })
            .collect();
        if status == aws_sdk_ecs::types::TaskDefinitionStatus::Active {
            out.0 = own;
        } else {
            out.1 = own;
        }
    }
    Ok(out)
}

/// Names of the ACTIVE or DRAINING services of a cluster.
async fn services(env: &TestEnv, cluster: &str) -> Result<Vec<String>> {
    let arns: Vec<String> = env
        .ecs
        .list_services()
        .cluster(cluster)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<_, _>>()
        .await?;
    let mut names = Vec::new();
    for chunk in arns.chunks(10) {
        let out = env
            .ecs
            .describe_services()
            .cluster(cluster)
            .set_services(Some(chunk.to_vec()))
            .send()
            .await?;
        names.extend(
            out.services()
                .iter()
                .filter(|s| s.status() != Some("INACTIVE"))
                .filter_map(|s| s.service_name().map(str::to_string)),
        );
    }
    Ok(names)
}

/// Objects of kind K not Ready=True for their generation (names).
async fn not_ready<K>(env: &TestEnv) -> Result<Vec<String>>
where
    K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Serialize
        + std::fmt::Debug,
{
    let list = env.api::<K>().list(&ListParams::default()).await?;
    let mut out = Vec::new();
    for obj in list.items {
        let v = serde_json::to_value(&obj)?;
        let generation = v["metadata"]["generation"].as_i64();
        let ready = v["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| {
                c["type"] == "Ready"
                    && c["status"] == "True"
                    && c["observedGeneration"].as_i64() == generation
            });
        if !ready {
            out.push(obj.name_any());
        }
    }
    Ok(out)
}

async fn all_not_ready(env: &TestEnv) -> Result<Vec<String>> {
    let mut out = not_ready::<EcrRepository>(env).await?;
    out.extend(not_ready::<EcsCluster>(env).await?);
    out.extend(not_ready::<TaskDefinition>(env).await?);
    out.extend(not_ready::<EcsService>(env).await?);
    Ok(out)
}

async fn remaining(env: &TestEnv) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    out.extend(
        env.api::<EcrRepository>()
            .list(&ListParams::default())
            .await?
            .items
            .iter()
            .map(|o| format!("ecr/{}", o.name_any())),
    );
    out.extend(
        env.api::<EcsCluster>()
            .list(&ListParams::default())
            .await?
            .items
            .iter()
            .map(|o| format!("cluster/{}", o.name_any())),
    );
    out.extend(
        env.api::<TaskDefinition>()
            .list(&ListParams::default())
            .await?
            .items
            .iter()
            .map(|o| format!("td/{}", o.name_any())),
    );
    out.extend(
        env.api::<EcsService>()
            .list(&ListParams::default())
            .await?
            .items
            .iter()
            .map(|o| format!("svc/{}", o.name_any())),
    );
    Ok(out)
}

/// Polls `check` (errors count as "not yet") until it returns an empty list or `within` passes.
async fn poll_until_empty<F, Fut>(
    what: &str,
    within: Duration,
    log: impl Fn() -> String,
    mut check: F,
) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Vec<String>>>,
{
    let start = Instant::now();
    loop {
        let last = match check().await {
            Ok(v) if v.is_empty() => return Ok(()),
            Ok(v) => format!("{} left: {v:?}", v.len()),
            Err(e) => format!("{e:#}"),
        };
        if start.elapsed() > within {
            bail!(
                "{what}: not done after {within:?} ({last})\n--- operator log tail ---\n{}",
                log()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Starts operator generation `n` against `endpoint`.
fn operator(env: &TestEnv, n: usize, endpoint: &str) -> Result<OperatorProcess> {
    env.spawn_operator(
        &format!("op{n}"),
        &["--concurrency", "8"],
        &[("AWS_ENDPOINT_URL", endpoint)],
    )
}

/// SIGKILLs and restarts the operator `kills` times, `every` apart; returns the last one.
async fn kill_repeatedly(
    env: &TestEnv,
    mut op: OperatorProcess,
    generation: &mut usize,
    kills: usize,
    every: Duration,
    endpoint: &str,
) -> Result<OperatorProcess> {
    for _ in 0..kills {
        // Pacing the kills, not an assertion.
        tokio::time::sleep(every).await;
        op.kill();
        op.wait_exit(Duration::from_secs(10)).await?;
        *generation += 1;
        op = operator(env, *generation, endpoint)?;
    }
    Ok(op)
}

#[tokio::test]
async fn faults_and_kills_converge_with_one_resource_per_object_then_delete_everything()
-> Result<()> {
    let _turn = TURNS.lock().await;
    let mut env = TestEnv::new("chaos").await?;
    env.stop_operator();
    let proxy = FaultProxy::in_front_of_bed(chaos_faults(seed(13))).await?;
    let endpoint = proxy.url();
    let world = World::new("chaos", 8, 3, 12);
    let mut generation = 0;
    let op = operator(&env, generation, &endpoint)?;
    world.apply(&env).await?;
    let op = kill_repeatedly(
        &env,
        op,
        &mut generation,
        4,
        Duration::from_secs(4),
        &endpoint,
    )
    .await?;
    let log_of = |op: &OperatorProcess| op.log_tail();
    poll_until_empty(
        &format!("all {} objects Ready", world.objects()),
        CHAOS_DEADLINE,
        || log_of(&op),
        || all_not_ready(&env),
    )
    .await?;
    world.check_one_each(&env).await?;
    let counts = proxy.counts();
    let injected = total(&counts, |c| c.throttled + c.server_errors + c.lost);
    let lost = total(&counts, |c| c.lost);
    // Lost answers (3 %) may not happen in a run this size: the next test makes them common.
    ensure!(injected > 20, "the faults did not happen: {counts:?}");
    eprintln!(
        "converged under faults: {injected} injected ({lost} lost) in {} calls",
        total(&counts, |c| c.calls)
    );

    // Delete everything under the same faults, with one more kill.
    for name in (0..world.services.len()).map(|i| format!("s{i}")) {
        env.api::<EcsService>()
            .delete(&name, &DeleteParams::default())
            .await?;
    }
    for name in (0..world.families.len()).map(|i| format!("f{i}")) {
        env.api::<TaskDefinition>()
            .delete(&name, &DeleteParams::default())
            .await?;
    }
    for name in (0..world.clusters.len()).map(|i| format!("c{i}")) {
        env.api::<EcsCluster>()
            .delete(&name, &DeleteParams::default())
            .await?;
    }
    for name in (0..world.repos.len()).map(|i| format!("r{i}")) {
        env.api::<EcrRepository>()
            .delete(&name, &DeleteParams::default())
            .await?;
    }
    let op = kill_repeatedly(
        &env,
        op,
        &mut generation,
        1,
        Duration::from_secs(3),
        &endpoint,
    )
    .await?;
    poll_until_empty(
        "every object deleted (finalizers done)",
        CHAOS_DEADLINE,
        || op.log_tail(),
        || remaining(&env),
    )
    .await?;
    world.check_nothing_left(&env).await?;
    drop(op);
    env.cleanup_all().await
}

/// The first call of every mutating action and half of the rest lose their answer (the call
/// took effect in moto, the operator never heard; with the SDK's own retries on top): still one
/// resource per object, and deletion leaves nothing behind. The 3 % of the main chaos test makes this path rare; here it is common.
#[tokio::test]
async fn lost_answers_of_mutating_calls_never_duplicate_or_leak() -> Result<()> {
    let _turn = TURNS.lock().await;
    let mut env = TestEnv::new("chaos-lost").await?;
    env.stop_operator();
    let proxy = FaultProxy::in_front_of_bed(FaultConfig {
        lose_first: 1,
        lost: 0.5,
        seed: seed(5),
        ..FaultConfig::default()
    })
    .await?;
    let world = World::new("lost", 4, 2, 6);
    let op = operator(&env, 0, &proxy.url())?;
    world.apply(&env).await?;
    poll_until_empty(
        &format!("all {} objects Ready", world.objects()),
        CHAOS_DEADLINE,
        || op.log_tail(),
        || all_not_ready(&env),
    )
    .await?;
    world.check_one_each(&env).await?;
    let counts = proxy.counts();
    for action in [
        "ecr:CreateRepository",
        "ecs:RegisterTaskDefinition",
        "ecs:CreateService",
    ] {
        ensure!(
            counts.get(action).is_some_and(|c| c.lost > 0),
            "no {action} answer was lost: {counts:?}"
        );
    }
    delete_all(&env, &world).await?;
    poll_until_empty(
        "every object deleted (finalizers done)",
        CHAOS_DEADLINE,
        || op.log_tail(),
        || remaining(&env),
    )
    .await?;
    world.check_nothing_left(&env).await?;
    drop(op);
    env.cleanup_all().await
}

async fn delete_all(env: &TestEnv, world: &World) -> Result<()> {
    for name in (0..world.services.len()).map(|i| format!("s{i}")) {
        env.api::<EcsService>()
            .delete(&name, &DeleteParams::default())
            .await?;
    }
    for name in (0..world.families.len()).map(|i| format!("f{i}")) {
        env.api::<TaskDefinition>()
            .delete(&name, &DeleteParams::default())
            .await?;
    }
    for name in (0..world.clusters.len()).map(|i| format!("c{i}")) {
        env.api::<EcsCluster>()
            .delete(&name, &DeleteParams::default())
            .await?;
    }
    for name in (0..world.repos.len()).map(|i| format!("r{i}")) {
        env.api::<EcrRepository>()
            .delete(&name, &DeleteParams::default())
            .await?;
    }
    Ok(())
}

/// Another writer (a second field manager) overwrites the operator's Ready condition; the
/// operator's status writes are server-side apply with force (they cannot get a 409), and the
/// next reconcile writes its own status again: the update is not lost.
#[tokio::test]
async fn another_status_writer_does_not_lose_the_operators_status() -> Result<()> {
    let _turn = TURNS.lock().await;
    let env = TestEnv::new("chaos-status").await?;
    let name = unique("chaos-status");
    env.apply::<EcrRepository>(&manifest(
        "EcrRepository",
        "repo",
        &json!({"repositoryName": name}),
    ))
    .await?;
    env.wait_condition::<EcrRepository>("repo", "Ready", "True", None)
        .await?;
    let api: Api<EcrRepository> = env.api();
    let obj = api.get("repo").await?;
    let generation = obj.meta().generation;
    // A conflicting write: without force it is refused (409) because the operator owns the field.
    let patch = json!({
        "apiVersion": "ecs.operator.dev/v1alpha1", "kind": "EcrRepository",
        "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "Other",
            "message": "another writer", "lastTransitionTime": "2020-01-01T00:00:00Z",
            "observedGeneration": generation}]},
    });
    let refused = api
        .patch_status(
            "repo",
            &PatchParams::apply("other-writer"),
            &Patch::Apply(&patch),
        )
        .await;
    ensure!(
        matches!(&refused, Err(kube::Error::Api(e)) if e.code == 409),
        "a conflicting status apply without force must get 409: {refused:?}"
    );
    api.patch_status(
        "repo",
        &PatchParams::apply("other-writer").force(),
        &Patch::Apply(&patch),
    )
    .await?;
    let overwritten = api.get("repo").await?;
    ensure!(
        e2e::condition_message(&overwritten, "Ready") == "another writer",
        "{:?}",
        overwritten.status
    );
    // The operator writes its status again (on the watch event or the next resync).
    env.wait_condition::<EcrRepository>("repo", "Ready", "True", None)
        .await?;
    let back = api.get("repo").await?;
    let arn = back.status.as_ref().and_then(|s| s.arn.clone());
    ensure!(arn.is_some_and(|a| a.ends_with(&name)), "{:?}", back.status);
    env.cleanup::<EcrRepository>().await
}

/// Calls per action that write AWS (create/register), through the proxy.
fn creates(proxy: &FaultProxy) -> BTreeMap<String, u64> {
    proxy
        .counts()
        .into_iter()
        .filter(|(k, _)| {
            [
                "CreateRepository",
                "CreateCluster",
                "RegisterTaskDefinition",
                "CreateService",
            ]
            .iter()
            .any(|a| k.ends_with(&format!(":{a}")))
        })
        .map(|(k, v)| (k, v.calls))
        .collect()
}

async fn restart_mid_reconcile(component: &str) -> Result<()> {
    let mut env = TestEnv::new(&format!("chaos-{component}")).await?;
    env.stop_operator();
    // No injected faults; latency keeps reconciles in flight while the component restarts.
    let proxy = FaultProxy::in_front_of_bed(FaultConfig {
        latency_ms: 300,
        ..FaultConfig::default()
    })
    .await?;
    let mut op = operator(&env, 0, &proxy.url())?;
    let pid = op.pid();
    let world = World::new(&format!("rs-{component}"), 3, 2, 4);
    world.apply(&env).await?;
    tokio::time::sleep(Duration::from_millis(1500)).await; // let reconciles start (pacing)
    let bed = e2e::tool("e2e/env", &["restart", component]).await;
    if let Err(e) = bed {
        bail!("e2e/env restart {component}: {e:#}");
    }
    poll_until_empty(
        &format!("all objects Ready after the {component} restart"),
        CHAOS_DEADLINE,
        || op.log_tail(),
        || all_not_ready(&env),
    )
    .await?;
    ensure!(
        op.exited().is_none() && op.pid() == pid,
        "the operator restarted or exited"
    );
    world.check_one_each(&env).await?;
    let want: BTreeMap<String, u64> = [
        ("ecr:CreateRepository", world.repos.len()),
        ("ecs:CreateCluster", world.clusters.len()),
        ("ecs:RegisterTaskDefinition", world.families.len()),
        ("ecs:CreateService", world.services.len()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v as u64))
    .collect();
    ensure!(
        creates(&proxy) == want,
        "duplicate AWS writes: {:?}, want {want:?}",
        creates(&proxy)
    );
    drop(op);
    env.cleanup_all().await
}

#[tokio::test]
async fn apiserver_then_etcd_restart_mid_reconcile_recover_without_duplicates() -> Result<()> {
    let _turn = TURNS.lock().await;
    // e2e/env needs the bed's state dir, which `e2e/env up` exported.
    ensure!(
        std::env::var_os("ECS_BED_DIR").is_some(),
        "ECS_BED_DIR is not set (eval \"$(e2e/env up)\")"
    );
    std::env::set_current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))?;
    restart_mid_reconcile("apiserver").await?;
    restart_mid_reconcile("etcd").await
}
