//! Shards as processes on the light bed: `--shard a`, `--shard b` and an `--exclude-sharded` main
//! instance each reconcile only their own objects; a reference into another shard is
//! `ReferenceInAnotherShard` until relabelled; deleting an object whose reference is in another
//! shard is not blocked. The chart's shard Deployments on a kubelet, with failover, are
//! e2e/tests/node/shards.rs.

use anyhow::{Result, ensure};
use e2e::{TestEnv, condition_message, unique};
use ecs_operator::SHARD_LABEL;
use ecs_operator::api::{EcrRepository, EcsCluster, EcsService, TaskDefinition};
use serde_json::{Value, json};

/// A manifest labelled for `shard` (`None`: no shard label).
fn labelled(kind: &str, name: &str, shard: Option<&str>, spec: Value) -> String {
    let labels = shard.map_or(json!({}), |s| json!({ SHARD_LABEL: s }));
    json!({"apiVersion": "ecs.operator.dev/v1alpha1", "kind": kind,
        "metadata": {"name": name, "labels": labels}, "spec": spec})
    .to_string()
}

#[tokio::test]
async fn shard_processes_reconcile_their_own_objects_and_refuse_references_across_shards()
-> Result<()> {
    let mut env = TestEnv::new("shards").await?;
    // The test's own operator is the main instance beside two shards.
    env.restart_operator(env.operator().args(&["--exclude-sharded"]))?;
    let a = env.spawn_operator("shard-a", &["--shard", "a"], &[])?;
    let b = env.spawn_operator("shard-b", &["--shard", "b"], &[])?;
    let ns = env.namespace.clone();

    for (name, shard) in [
        ("repo-a", Some("a")),
        ("repo-b", Some("b")),
        ("repo-main", None),
    ] {
        let spec = json!({"repositoryName": unique("shards")});
        env.apply::<EcrRepository>(&labelled("EcrRepository", name, shard, spec))
            .await?;
    }
    for name in ["repo-a", "repo-b", "repo-main"] {
        env.wait_condition::<EcrRepository>(name, "Ready", "True", None)
            .await?;
    }
    let logs = [("a", a.log()), ("b", b.log()), ("main", env.operator_log())];
    for (object, owner) in [("repo-a", "a"), ("repo-b", "b"), ("repo-main", "main")] {
        let key = format!("{ns}/{object}");
        let by: Vec<&str> = logs
            .iter()
            .filter(|(_, log)| log.contains(&key))
            .map(|(who, _)| *who)
            .collect();
        ensure!(
            by == [owner],
            "{key} is in the logs of {by:?}, not only {owner}"
        );
    }

    // Shard a's task definition with the unlabelled repository's image: refused, naming both.
    let td = |shard: Option<&str>| {
        labelled(
            "TaskDefinition",
            "cross",
            shard,
            json!({"family": unique("shards"), "networkMode": "bridge",
                "requiresCompatibilities": ["EC2"],
                "containerDefinitions": [{"name": "web", "memory": 128,
                    "imageRef": {"repositoryRef": {"name": "repo-main"}, "tag": "v1"}}]}),
        )
    };
    env.apply::<TaskDefinition>(&td(Some("a"))).await?;
    let refused = env
        .wait_condition::<TaskDefinition>(
            "cross",
            "Synced",
            "False",
            Some("ReferenceInAnotherShard"),
        )
        .await?;
    let message = condition_message(&refused, "Synced");
    for part in [
        "EcrRepository repo-main is in no shard",
        "this object in shard a",
        SHARD_LABEL,
    ] {
        ensure!(message.contains(part), "{message}");
    }
    env.wait_condition::<TaskDefinition>("cross", "Stalled", "True", None)
        .await?;
    // Unlabelled like its repository, the main instance takes it and it resolves.
    env.apply::<TaskDefinition>(&td(None)).await?;
    env.wait_condition::<TaskDefinition>("cross", "Ready", "True", None)
        .await?;

    // A service of shard a whose cluster is shard b's: refused, and its deletion is not blocked.
    env.apply::<EcsCluster>(&labelled(
        "EcsCluster",
        "cluster-b",
        Some("b"),
        json!({"clusterName": unique("shards")}),
    ))
    .await?;
    env.wait_condition::<EcsCluster>("cluster-b", "Ready", "True", None)
        .await?;
    env.apply::<EcsService>(&labelled(
        "EcsService",
        "web",
        Some("a"),
        json!({"serviceName": "web", "clusterRef": {"name": "cluster-b"},
            "taskDefinition": "web:1", "desiredCount": 0, "launchType": "EC2"}),
    ))
    .await?;
    env.wait_condition::<EcsService>("web", "Synced", "False", Some("ReferenceInAnotherShard"))
        .await?;
    env.delete::<EcsService>("web").await?;
    env.wait_gone::<EcsService>("web").await?;
    drop((a, b));
    env.cleanup_all().await
}
