//! Three shards of the chart on the node bed (`sharding.shards: [a, b, c]`, a leader and a
//! standby each, beside the main Deployment for unlabelled objects): every object is reconciled
//! by its own shard only; a reference into another shard is `ReferenceInAnotherShard` until the
//! objects share a shard, and relabelling moves the object between shards without overlap;
//! deleting shard a's leader pod hands shard a's objects to its standby (a spec change converges
//! afterwards), and the two never reconcile at the same time.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, ensure};
use e2e::node::{
    Follower, Release, assert_one_reconciler, follow, lease_holder, log_entries, operator_pods,
    pod_logs, pod_name, poll_until,
};
use e2e::{TestEnv, unique};
use ecs_operator::SHARD_LABEL;
use ecs_operator::api::{EcrRepository, TaskDefinition};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams};
use serde_json::{Value, json};

const LEASE_SECONDS: u64 = 10;
const SHARDS: [&str; 3] = ["a", "b", "c"];
/// How the test names the main (unsharded) Deployment's pods' shard.
const MAIN: &str = "main";

/// A manifest with the shard label (none for the main instance).
fn labelled(kind: &str, name: &str, shard: &str, spec: Value) -> String {
    let labels = if shard == MAIN {
        json!({})
    } else {
        json!({ SHARD_LABEL: shard })
    };
    json!({"apiVersion": "ecs.operator.dev/v1alpha1", "kind": kind,
        "metadata": {"name": name, "labels": labels}, "spec": spec})
    .to_string()
}

/// The shard a pod serves, from its label.
fn shard_of(pod: &Pod) -> String {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(SHARD_LABEL))
        .cloned()
        .unwrap_or_else(|| MAIN.to_string())
}

#[tokio::test]
async fn three_shards_split_the_objects_and_a_killed_leader_hands_its_shard_over() -> Result<()> {
    let mut env = TestEnv::new("node-shards").await?;
    env.stop_operator(); // the operators under test are the chart's pods
    let rel = Release::prepare(&env.client, "shards").await?;
    rel.finish(shards(&rel, &env).await).await?;
    env.cleanup_all().await
}

async fn shards(rel: &Release, env: &TestEnv) -> Result<()> {
    let Release {
        name: release,
        namespace: release_ns,
        ..
    } = rel;
    rel.install(&[
        ("watchNamespace", json!(env.namespace)),
        ("replicas", json!(1)),
        ("sharding", json!({"shards": SHARDS, "replicas": 2})),
        (
            "leaderElection",
            json!({"enabled": true, "leaseSeconds": LEASE_SECONDS}),
        ),
    ])
    .await?;
    let ns = &env.namespace;
    let base = format!("{release}-ecs-operator-leader");
    let lease_of = |shard: &str| {
        if shard == MAIN {
            base.clone()
        } else {
            format!("{base}-{shard}")
        }
    };
    let leases: Api<Lease> = Api::namespaced(env.client.clone(), release_ns);
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), release_ns);

    // Every shard elects its own leader on its own Lease.
    let mut leaders = BTreeMap::new();
    for shard in SHARDS.iter().copied().chain([MAIN]) {
        let lease = lease_of(shard);
        let leader = poll_until(
            &format!("a leader of {lease}"),
            Duration::from_secs(60),
            || {
                let leases = leases.clone();
                let lease = lease.clone();
                async move { lease_holder(&leases, &lease).await }
            },
        )
        .await?;
        leaders.insert(shard.to_string(), leader);
    }
    let distinct: BTreeSet<&String> = leaders.values().collect();
    ensure!(distinct.len() == 4, "one pod leads two shards: {leaders:?}");

    let mut shard_of_pod: BTreeMap<String, String> = BTreeMap::new();
    let mut followers: BTreeMap<String, Follower> = BTreeMap::new();
    let all = operator_pods(&env.client, release_ns, release).await?;
    ensure!(
        all.len() == 7,
        "pods: {:?}",
        all.iter().map(pod_name).collect::<Vec<_>>()
    );
    for pod in &all {
        let name = pod_name(pod);
        shard_of_pod.insert(name.clone(), shard_of(pod));
        followers.insert(name.clone(), follow(release_ns, &name)?);
    }
    for (shard, leader) in &leaders {
        ensure!(
            shard_of_pod.get(leader) == Some(shard),
            "{leader} leads shard {shard} but serves {:?}",
            shard_of_pod.get(leader)
        );
    }

    // One repository per shard, and one without a shard label.
    let mut expected: BTreeMap<String, String> = BTreeMap::new();
    for shard in SHARDS.iter().copied().chain([MAIN]) {
        let name = format!("repo-{shard}");
        let spec = json!({"repositoryName": unique(&format!("node-shards-{shard}"))});
        env.apply::<EcrRepository>(&labelled("EcrRepository", &name, shard, spec))
            .await?;
        expected.insert(format!("{ns}/{name}"), shard.to_string());
    }
    for name in expected.keys() {
        let name = name.rsplit('/').next().unwrap_or_default();
        env.wait_condition::<EcrRepository>(name, "Ready", "True", None)
            .await?;
    }

    // A task definition of shard a whose image is a repository of shard b: refused, naming both.
    let family = unique("node-shards");
    let td_spec = json!({"family": family, "networkMode": "bridge",
        "requiresCompatibilities": ["EC2"],
        "containerDefinitions": [{"name": "web", "memory": 128,
            "imageRef": {"repositoryRef": {"name": "repo-b"}, "tag": "v1"}}]});
    env.apply::<TaskDefinition>(&labelled("TaskDefinition", "cross", "a", td_spec.clone()))
        .await?;
    let refused = env
        .wait_condition::<TaskDefinition>(
            "cross",
            "Synced",
            "False",
            Some("ReferenceInAnotherShard"),
        )
        .await?;
    let message = e2e::condition_message(&refused, "Synced");
    for part in [
        "EcrRepository repo-b is in shard b",
        "this object in shard a",
    ] {
        ensure!(message.contains(part), "Synced message: {message}");
    }
    let (stalled, _) = e2e::condition(&serde_json::to_value(&refused)?["status"], "Stalled");
    ensure!(stalled == "True", "not Stalled: {:?}", refused.status);
    // Moved to shard b, it is shard b's and resolves.
    env.apply::<TaskDefinition>(&labelled("TaskDefinition", "cross", "b", td_spec))
        .await?;
    env.wait_condition::<TaskDefinition>("cross", "Ready", "True", None)
        .await?;

    // Shard a's leader goes: its standby takes shard a over.
    let first = leaders["a"].clone();
    let start = Instant::now();
    pods.delete(&first, &DeleteParams::default()).await?;
    let lease_a = lease_of("a");
    let second = poll_until(
        "a new leader of shard a",
        Duration::from_secs(2 * LEASE_SECONDS),
        || async {
            Ok(lease_holder(&leases, &lease_a)
                .await?
                .filter(|h| *h != first))
        },
    )
    .await?;
    eprintln!(
        "shard a: {second} led {:?} after {first} was deleted",
        start.elapsed()
    );
    if !followers.contains_key(&second) {
        followers.insert(second.clone(), follow(release_ns, &second)?);
        shard_of_pod.insert(second.clone(), "a".into());
    }
    // The other shards kept their leaders.
    for shard in ["b", "c"] {
        let now = lease_holder(&leases, &lease_of(shard)).await?;
        ensure!(
            now.as_ref() == Some(&leaders[shard]),
            "shard {shard}: {now:?}"
        );
    }
    // A spec change of shard a converges under the new leader.
    let repo_a: EcrRepository = env.api::<EcrRepository>().get("repo-a").await?;
    let aws_name = repo_a.repository_name();
    env.apply::<EcrRepository>(&labelled(
        "EcrRepository",
        "repo-a",
        "a",
        json!({"repositoryName": aws_name, "imageTagMutability": "IMMUTABLE"}),
    ))
    .await?;
    env.wait_condition::<EcrRepository>("repo-a", "Ready", "True", None)
        .await?;
    let mutability = poll_until("IMMUTABLE in AWS", Duration::from_secs(30), || async {
        let repo = env.ecr_repository(&aws_name).await?;
        Ok(repo
            .and_then(|r| r.image_tag_mutability().map(|m| m.as_str().to_string()))
            .filter(|m| m == "IMMUTABLE"))
    })
    .await?;
    ensure!(mutability == "IMMUTABLE");

    // Evidence, from every pod's log.
    tokio::time::sleep(Duration::from_secs(2)).await;
    // A live pod's whole log from the kubelet; a deleted one's from its follower (a follower
    // started while a container was starting may have missed lines).
    let mut logs = BTreeMap::new();
    for (pod, f) in followers {
        let followed = f.stop().await;
        let live = match pods.get_opt(&pod).await? {
            Some(_) => pod_logs(release_ns, &pod, false).await.ok(),
            None => None,
        };
        let log = live
            .filter(|l| l.len() >= followed.len())
            .unwrap_or(followed);
        logs.insert(pod, log);
    }
    // Which shards' pods logged about each object (any line naming it: reconciles, errors).
    let mut seen: BTreeMap<String, BTreeMap<String, (String, String)>> = BTreeMap::new();
    for (pod, log) in &logs {
        let shard = shard_of_pod.get(pod).cloned().unwrap_or_default();
        for e in log_entries(log) {
            let Some(object) = e.object else { continue };
            let span = seen
                .entry(object)
                .or_default()
                .entry(shard.clone())
                .or_insert_with(|| (e.timestamp.clone(), e.timestamp.clone()));
            span.1 = e.timestamp.clone();
        }
    }
    for (object, shard) in &expected {
        let by: Vec<&String> = seen
            .get(object)
            .map(|s| s.keys().collect())
            .unwrap_or_default();
        ensure!(
            by == [shard],
            "{object} (shard {shard}) was reconciled by {by:?}"
        );
    }
    // The relabelled object: shard a, then shard b, never both at once.
    let cross = seen
        .get(&format!("{ns}/cross"))
        .context("no log line names the task definition")?;
    let (a, b) = (cross.get("a"), cross.get("b"));
    ensure!(
        matches!((a, b), (Some(a), Some(b)) if a.1 < b.0) && cross.len() == 2,
        "cross: {cross:?}"
    );
    // Shard a's two leaders never reconciled at the same time.
    let shard_a: BTreeMap<String, String> = logs
        .iter()
        .filter(|(pod, _)| shard_of_pod.get(*pod).map(String::as_str) == Some("a"))
        .map(|(p, l)| (p.clone(), l.clone()))
        .collect();
    assert_one_reconciler(&shard_a)
}
