//! The shared driver end to end: behaviour every kind gets from it.

use anyhow::{Result, anyhow, ensure};
use aws_sdk_ecs::types::{ContainerDefinition, Tag};
use e2e::{TestEnv, unique};
use ecs_operator::api::task_definition::TaskDefinition;
use ecs_operator::reconcile::ownership::Identity;
use ecs_operator::reconcile::task_definition::{SPEC_HASH_TAG, spec_hash};
use ecs_operator::reconcile::{
    CREATE_PENDING_ANNOTATION, CREATE_SUCCEEDED_ANNOTATION, EXTERNAL_NAME_ANNOTATION,
};
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
