//! The shared driver end to end: behaviour every kind gets from it.

use anyhow::{Result, anyhow, ensure};
use aws_sdk_ecs::types::{ContainerDefinition, Tag};
use e2e::{TestEnv, unique};
use ecs_operator::api::task_definition::TaskDefinition;
use ecs_operator::contract::Identity;
use ecs_operator::contract::{
    CREATE_PENDING_ANNOTATION, CREATE_SUCCEEDED_ANNOTATION, EXTERNAL_NAME_ANNOTATION,
};
use ecs_operator::contract::{SPEC_HASH_TAG, spec_hash};
use kube::ResourceExt;
use serde_json::json;

/// A crash (or a lost answer) after RegisterTaskDefinition: the object carries create-pending
/// without create-succeeded, and the revision that register made exists but observe does not
/// see it (moto's DescribeTaskDefinition by family answers with the latest revision even when
/// it is INACTIVE, as real ECS may answer right after a register). The driver must find the
/// revision by its tags and take it, not register a second one.
#[tokio::test]
async fn unfinished_create_is_recovered_not_repeated() -> Result<()> {
    let env = TestEnv::new("engine-recover").await?;
    let family = unique("recover");
    let manifest = |paused: bool| {
        let mut annotations = json!({CREATE_PENDING_ANNOTATION: "2026-01-01T00:00:00Z"});
        if paused {
            annotations["ecs.operator.dev/paused"] = json!("true");
        }
        serde_yaml::to_string(&json!({
            "apiVersion": "ecs.operator.dev/v1alpha1",
            "kind": "TaskDefinition",
            "metadata": {"name": "web", "annotations": annotations},
            "spec": {
                "family": family,
                "containerDefinitions": [{"name": "web", "image": "nginx:1.27", "memory": 128}],
            },
        }))
    };
    // Paused: the operator writes nothing to AWS while the test plays the lost register.
    let obj: TaskDefinition = env.apply(&manifest(true)?).await?;
    let uid = obj.uid().ok_or_else(|| anyhow!("no uid"))?;
    let mut tags = Identity::new(&env.namespace, "web", &uid, "default").tags();
    tags.insert(SPEC_HASH_TAG.to_string(), spec_hash(&obj.spec));
    let register = |tags: Vec<Tag>| {
        env.ecs
            .register_task_definition()
            .family(&family)
            .container_definitions(
                ContainerDefinition::builder()
                    .name("web")
                    .image("nginx:1.27")
                    .memory(128)
                    .build(),
            )
            .set_tags(Some(tags))
            .send()
    };
    let lost = register(
        tags.iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect(),
    )
    .await?;
    let lost_arn = lost
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .ok_or_else(|| anyhow!("no arn"))?
        .to_string();
    // Someone else's later revision, deregistered: it hides ours from DescribeTaskDefinition.
    let other = register(vec![]).await?;
    let other_arn = other
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .ok_or_else(|| anyhow!("no arn"))?;
    env.ecs
        .deregister_task_definition()
        .task_definition(other_arn)
        .send()
        .await?;

    env.apply::<TaskDefinition>(&manifest(false)?).await?;
    let td = env
        .wait_condition::<TaskDefinition>("web", "Ready", "True", None)
        .await?;
    let status_arn = td.status.as_ref().and_then(|s| s.arn.clone());
    ensure!(
        status_arn.as_deref() == Some(lost_arn.as_str()),
        "status.arn {status_arn:?}, want the lost revision {lost_arn}\n{}",
        env.operator_log()
    );
    let active = env
        .ecs
        .list_task_definitions()
        .family_prefix(&family)
        .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
        .send()
        .await?
        .task_definition_arns()
        .to_vec();
    ensure!(
        active == [lost_arn.clone()],
        "ACTIVE revisions {active:?}: a second register happened\n{}",
        env.operator_log()
    );
    ensure!(
        env.log_count("registered revision") == 0,
        "{}",
        env.operator_log()
    );
    let annotations = td.annotations();
    ensure!(
        annotations.contains_key(CREATE_SUCCEEDED_ANNOTATION)
            && annotations.get(EXTERNAL_NAME_ANNOTATION) == Some(&lost_arn),
        "create not recorded: {annotations:?}"
    );
    let events = env
        .wait_for("Recovered event", || async {
            let events = env.events_for("web", "Recovered").await?;
            Ok((!events.is_empty()).then_some(events))
        })
        .await?;
    ensure!(
        events[0]
            .message
            .as_deref()
            .is_some_and(|n| n.contains(&lost_arn)),
        "{events:?}"
    );
    env.delete::<TaskDefinition>("web").await?;
    env.wait_gone::<TaskDefinition>("web").await?;
    env.cleanup::<TaskDefinition>().await
}

/// One object the operator cannot read must not stop its kind's controller. The bad object
/// is honest: `status.activeServicesCount` is `integer` in the CRD schema, so the API server
/// stores 3000000000, but the type is i32. (No CRD change: parallel tests are unaffected.) It
/// exists before the operator starts, so the first list already holds it; a good object of the
/// same kind must still converge, and the bad one is named in the log and an Event.
#[tokio::test]
async fn unreadable_object_is_skipped_and_named() -> Result<()> {
    use ecs_operator::api::EcsCluster;
    use kube::api::{Patch, PatchParams};
    let mut env = TestEnv::new("engine-bad").await?;
    env.stop_operator();
    let bad_cluster = unique("bad");
    let paused = json!({"ecs.operator.dev/paused": "true"});
    let bad = serde_yaml::to_string(&json!({
        "apiVersion": "ecs.operator.dev/v1alpha1", "kind": "EcsCluster",
        "metadata": {"name": "bad", "annotations": paused},
        "spec": {"clusterName": bad_cluster},
    }))?;
    env.apply::<EcsCluster>(&bad).await?;
    // Untyped: the typed client cannot read the answer either.
    let resource = kube::api::ApiResource::erase::<EcsCluster>(&());
    let clusters: kube::Api<kube::api::DynamicObject> =
        kube::Api::namespaced_with(env.client.clone(), &env.namespace, &resource);
    let status = |count: u64| Patch::Merge(json!({"status": {"activeServicesCount": count}}));
    clusters
        .patch_status("bad", &PatchParams::default(), &status(3_000_000_000))
        .await?;
    env.start_operator()?;
    let good_cluster = unique("good");
    let good = serde_yaml::to_string(&json!({
        "apiVersion": "ecs.operator.dev/v1alpha1", "kind": "EcsCluster",
        "metadata": {"name": "good"}, "spec": {"clusterName": good_cluster},
    }))?;
    env.apply::<EcsCluster>(&good).await?;
    env.wait_condition::<EcsCluster>("good", "Ready", "True", None)
        .await?;
    let named = format!("namespace={} name=bad", env.namespace);
    env.wait_for("the bad object named in the log", || async {
        let log = std::fs::read_to_string(&env.log_path)?;
        Ok(log
            .lines()
            .any(|l| l.contains("object cannot be read") && l.contains(&named))
            .then_some(()))
    })
    .await?;
    let events = env
        .wait_for("an InvalidObject event for the bad object", || async {
            let events = env.events_for("bad", "InvalidObject").await?;
            Ok((!events.is_empty()).then_some(events))
        })
        .await?;
    let message = events[0].message.clone().unwrap_or_default();
    ensure!(
        message.contains(&format!("EcsCluster {}/bad", env.namespace)),
        "{message}"
    );
    // The paused bad object was never reconciled: nothing was created for it.
    let described = env
        .ecs
        .describe_clusters()
        .clusters(&bad_cluster)
        .send()
        .await?;
    ensure!(
        described
            .clusters()
            .iter()
            .all(|c| c.status() == Some("INACTIVE")),
        "a cluster was created for the unreadable object: {described:?}"
    );
    // Make it readable again so cleanup (typed lists) can remove it.
    clusters
        .patch_status("bad", &PatchParams::default(), &status(0))
        .await?;
    env.delete::<EcsCluster>("good").await?;
    env.wait_gone::<EcsCluster>("good").await?;
    env.cleanup::<EcsCluster>().await
}

/// The watch requests in an operator log written with `kube_client=debug` (the client logs
/// every request with its URL), counted per ecs.operator.dev resource.
fn watch_requests(log: &str) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for line in log.lines() {
        if !(line.contains("requesting") && line.contains("watch=true")) {
            continue;
        }
        let Some((_, path)) = line.split_once("/apis/ecs.operator.dev/") else {
            continue;
        };
        let path = path.split(['?', ' ']).next().unwrap_or_default();
        if let Some(plural) = path.rsplit('/').next() {
            *counts.entry(plural.to_string()).or_insert(0) += 1;
        }
    }
    counts
}

/// One watch per kind, shared by the kind's controller and every controller that follows it
/// (an EcsCluster is followed by three kinds, an EcrRepository by two, an EcrRegistry by
/// itself): the operator opens exactly one watch per kind. The kind's own controller still
/// reconciles from it: a cluster applied after the start becomes Ready with a 300 s resync.
#[tokio::test]
async fn each_kind_is_watched_once_for_every_controller_that_reads_it() -> Result<()> {
    use ecs_operator::api::EcsCluster;
    use std::time::Duration;
    let mut env = TestEnv::new("engine-watches").await?;
    env.stop_operator();
    let mut op = env.spawn_operator(
        "watches",
        &["--resync-seconds", "300"],
        &[(
            "ECS_OPERATOR_LOG_LEVEL",
            "ecs_operator=debug,kube_client=debug",
        )],
    )?;
    let addr = op.metrics_addr().await?;
    env.wait_for("/readyz to answer 200", || async move {
        Ok((e2e::http_get(addr, "/readyz").await?.0 == 200).then_some(()))
    })
    .await?;
    let plurals = ecs_operator::kinds::plurals();
    let log = || std::fs::read_to_string(&op.log_path).unwrap_or_default();
    env.wait_for("a watch request of every kind in the log", || async {
        let counts = watch_requests(&log());
        Ok(plurals.iter().all(|p| counts.contains_key(p)).then_some(()))
    })
    .await?;
    let cluster = unique("watched");
    env.apply_spec::<EcsCluster>("c", &json!({"clusterName": cluster}))
        .await?;
    env.wait_condition::<EcsCluster>("c", "Ready", "True", None)
        .await?;
    // Late watches (a follower's, say) would have been opened by now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let counts = watch_requests(&log());
    let want: std::collections::BTreeMap<String, usize> =
        plurals.iter().map(|p| (p.clone(), 1)).collect();
    ensure!(
        counts == want,
        "watch requests per resource: {counts:?}, want one each: {want:?}"
    );
    env.delete::<EcsCluster>("c").await?;
    env.wait_gone::<EcsCluster>("c").await?;
    op.kill();
    env.cleanup::<EcsCluster>().await
}
