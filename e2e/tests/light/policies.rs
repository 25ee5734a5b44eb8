//! Safety policies end to end against the real bed: deletion policy, ownership and adoption,
//! observe-only, pause, per-object region and per-namespace role.

use std::collections::BTreeMap;

use anyhow::{Result, anyhow, ensure};
use aws_sdk_ecs::types::{ClusterField, ClusterSetting, ClusterSettingName, ContainerDefinition};
use e2e::{TestEnv, condition_message, manifest, unique};
use ecs_operator::api::{EcrRepository, EcsCluster, EcsService, TaskDefinition};
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

const OWNER: &str = "ecs.operator.dev/owner";
const OWNER_UID: &str = "ecs.operator.dev/owner-uid";

/// Tags of an ECR repository, `None` when it does not exist.
async fn repo_tags(env: &TestEnv, name: &str) -> Result<Option<BTreeMap<String, String>>> {
    let Some(repo) = env.ecr_repository(name).await? else {
        return Ok(None);
    };
    let arn = repo
        .repository_arn()
        .ok_or_else(|| anyhow!("repository without ARN"))?
        .to_string();
    let tags = env
        .ecr
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await?;
    Ok(Some(
        tags.tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect(),
    ))
}

/// ARN and tags of an ACTIVE cluster, `None` when absent.
async fn cluster(
    ecs: &aws_sdk_ecs::Client,
    name: &str,
) -> Result<Option<(String, BTreeMap<String, String>, Vec<ClusterSetting>)>> {
    let out = ecs
        .describe_clusters()
        .clusters(name)
        .include(ClusterField::Tags)
        .include(ClusterField::Settings)
        .send()
        .await?;
    Ok(out
        .clusters()
        .iter()
        .find(|c| c.status() == Some("ACTIVE"))
        .map(|c| {
            (
                c.cluster_arn().unwrap_or_default().to_string(),
                c.tags()
                    .iter()
                    .map(|t| {
                        (
                            t.key().unwrap_or_default().to_string(),
                            t.value().unwrap_or_default().to_string(),
                        )
                    })
                    .collect(),
                c.settings().to_vec(),
            )
        }))
}

fn insights(settings: &[ClusterSetting]) -> Option<String> {
    settings
        .iter()
        .find(|s| s.name() == Some(&ClusterSettingName::ContainerInsights))
        .and_then(|s| s.value().map(str::to_string))
}

async fn create_repo(env: &TestEnv, name: &str, team: &str) -> Result<()> {
    env.ecr
        .create_repository()
        .repository_name(name)
        .tags(
            aws_sdk_ecr::types::Tag::builder()
                .key("team")
                .value(team)
                .build()?,
        )
        .send()
        .await?;
    Ok(())
}

fn repo_manifest(obj: &str, spec: Value) -> String {
    manifest("EcrRepository", obj, &spec)
}

fn status(obj: &impl serde::Serialize) -> Value {
    serde_json::to_value(obj)
        .map(|v| v["status"].clone())
        .unwrap_or_default()
}

/// Sets (a string) or removes (null) the `ecs.operator.dev/paused` annotation of repository `name`.
async fn set_paused(env: &TestEnv, name: &str, value: Value) -> kube::Result<EcrRepository> {
    let patch = json!({"metadata": {"annotations": {"ecs.operator.dev/paused": value}}});
    env.api::<EcrRepository>()
        .patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
}

#[tokio::test]
async fn retain_keeps_every_kind_and_delete_removes() -> Result<()> {
    let env = TestEnv::new("pol-retain").await?;
    // The namespace default is Retain; one repository overrides it with Delete.
    env.annotate_namespace("ecs.operator.dev/deletion-policy", "Retain")
        .await?;
    let (keep_repo, gone_repo) = (unique("keep"), unique("gone"));
    let (cluster_name, family, service_name) = (unique("keep"), unique("keep-td"), unique("svc"));
    env.apply::<EcrRepository>(&repo_manifest("keep", json!({"repositoryName": keep_repo})))
        .await?;
    env.apply::<EcrRepository>(&repo_manifest(
        "gone",
        json!({"repositoryName": gone_repo, "deletionPolicy": "Delete"}),
    ))
    .await?;
    env.apply::<EcsCluster>(&manifest(
        "EcsCluster",
        "keep",
        &json!({"clusterName": cluster_name, "deletionPolicy": "Retain"}),
    ))
    .await?;
    env.apply::<TaskDefinition>(&manifest(
        "TaskDefinition",
        "keep",
        &json!({"family": family, "deletionPolicy": "Retain",
                "containerDefinitions": [{"name": "web", "image": "nginx", "memory": 128}]}),
    ))
    .await?;
    env.apply::<EcsService>(&manifest(
        "EcsService",
        "keep",
        &json!({"serviceName": service_name, "clusterRef": {"name": "keep"},
                "taskDefinitionRef": {"name": "keep"}, "desiredCount": 1}),
    ))
    .await?;
    for name in ["keep", "gone"] {
        env.wait_condition::<EcrRepository>(name, "Ready", "True", None)
            .await?;
    }
    env.wait_condition::<EcsCluster>("keep", "Ready", "True", None)
        .await?;
    let td = env
        .wait_condition::<TaskDefinition>("keep", "Ready", "True", None)
        .await?;
    let td_arn = status(&td)["arn"].as_str().unwrap_or_default().to_string();
    env.wait_condition::<EcsService>("keep", "Synced", "True", None)
        .await?;

    // Every resource the operator created carries its owner.
    let tags = repo_tags(&env, &keep_repo)
        .await?
        .ok_or_else(|| anyhow!("repository missing"))?;
    ensure!(
        tags.get(OWNER) == Some(&format!("{}/keep", env.namespace)) && tags.contains_key(OWNER_UID),
        "{tags:?}"
    );

    env.delete::<EcsService>("keep").await?;
    env.delete::<TaskDefinition>("keep").await?;
    env.delete::<EcsCluster>("keep").await?;
    env.delete::<EcrRepository>("keep").await?;
    env.delete::<EcrRepository>("gone").await?;
    env.wait_gone::<EcsService>("keep").await?;
    env.wait_gone::<TaskDefinition>("keep").await?;
    env.wait_gone::<EcsCluster>("keep").await?;
    env.wait_gone::<EcrRepository>("keep").await?;
    env.wait_gone::<EcrRepository>("gone").await?;

    ensure!(
        repo_tags(&env, &keep_repo).await?.is_some(),
        "retained repository was deleted"
    );
    ensure!(
        repo_tags(&env, &gone_repo).await?.is_none(),
        "deletionPolicy Delete did not delete the repository"
    );
    ensure!(
        cluster(&env.ecs, &cluster_name).await?.is_some(),
        "retained cluster was deleted"
    );
    let revision = env
        .ecs
        .describe_task_definition()
        .task_definition(&td_arn)
        .send()
        .await?;
    ensure!(
        revision
            .task_definition()
            .and_then(|t| t.status())
            .map(|s| s.as_str())
            == Some("ACTIVE"),
        "retained revision was deregistered"
    );
    let services = env
        .ecs
        .describe_services()
        .cluster(&cluster_name)
        .services(&service_name)
        .send()
        .await?;
    ensure!(
        services
            .services()
            .iter()
            .any(|s| s.status() == Some("ACTIVE") && s.desired_count() == 1),
        "retained service was changed: {services:?}"
    );
    ensure!(
        !env.events_for("keep", "Retained").await?.is_empty(),
        "no Retained event"
    );
    env.cleanup_all().await
}

#[tokio::test]
async fn existing_repositories_need_adoption_and_never_get_two_owners() -> Result<()> {
    let env = TestEnv::new("pol-adopt").await?;
    let existing = unique("existing");
    create_repo(&env, &existing, "a").await?;

    // Never (the default): reported, AWS untouched; deleting the object leaves it alone.
    env.apply::<EcrRepository>(&repo_manifest(
        "squatter",
        json!({"repositoryName": existing, "tags": [{"Key": "team", "Value": "b"}]}),
    ))
    .await?;
    let obj = env
        .wait_condition::<EcrRepository>("squatter", "Synced", "False", Some("AlreadyExists"))
        .await?;
    let message = condition_message(&obj, "Synced");
    ensure!(message.contains("adoptionPolicy: Adopt"), "{message}");
    let untouched = BTreeMap::from([("team".to_string(), "a".to_string())]);
    ensure!(
        repo_tags(&env, &existing).await? == Some(untouched.clone()),
        "AWS changed without adoption"
    );
    env.delete::<EcrRepository>("squatter").await?;
    env.wait_gone::<EcrRepository>("squatter").await?;
    ensure!(
        repo_tags(&env, &existing).await? == Some(untouched),
        "deleting a non-owner touched AWS"
    );

    // Adopt: converged to the spec and owned.
    env.apply::<EcrRepository>(&repo_manifest(
        "adopter",
        json!({"repositoryName": existing, "adoptionPolicy": "Adopt",
               "tags": [{"Key": "team", "Value": "b"}]}),
    ))
    .await?;
    env.wait_condition::<EcrRepository>("adopter", "Ready", "True", None)
        .await?;
    let tags = repo_tags(&env, &existing)
        .await?
        .ok_or_else(|| anyhow!("gone"))?;
    ensure!(
        tags.get("team").map(String::as_str) == Some("b")
            && tags.get(OWNER) == Some(&format!("{}/adopter", env.namespace)),
        "{tags:?}"
    );
    ensure!(
        !env.events_for("adopter", "Adopted").await?.is_empty(),
        "no Adopted event"
    );

    // A second object for the same repository reports the conflict, even with Adopt.
    env.apply::<EcrRepository>(&repo_manifest(
        "rival",
        json!({"repositoryName": existing, "adoptionPolicy": "Adopt",
               "tags": [{"Key": "team", "Value": "rival"}]}),
    ))
    .await?;
    let rival = env
        .wait_condition::<EcrRepository>("rival", "Synced", "False", Some("OwnedByAnother"))
        .await?;
    ensure!(
        condition_message(&rival, "Synced").contains("/adopter"),
        "{}",
        condition_message(&rival, "Synced")
    );
    // Its retries (with backoff) are aggregated into one Event series, not one Event each.
    env.wait_for("one aggregated OwnedByAnother event", || async {
        let events = env.events_for("rival", "OwnedByAnother").await?;
        let repeated = events.len() == 1
            && events[0]
                .series
                .as_ref()
                .is_some_and(|s| s.count.unwrap_or(0) >= 2);
        Ok(repeated.then_some(()))
    })
    .await?;
    let tags = repo_tags(&env, &existing)
        .await?
        .ok_or_else(|| anyhow!("gone"))?;
    ensure!(
        tags.get("team").map(String::as_str) == Some("b"),
        "objects fought: {tags:?}"
    );
    env.wait_condition::<EcrRepository>("adopter", "Synced", "True", None)
        .await?;

    // Adopt requires the resource; AdoptOrCreate creates or adopts.
    let missing = unique("missing");
    env.apply::<EcrRepository>(&repo_manifest(
        "must-exist",
        json!({"repositoryName": missing, "adoptionPolicy": "Adopt"}),
    ))
    .await?;
    env.wait_condition::<EcrRepository>("must-exist", "Synced", "False", Some("NotFound"))
        .await?;
    ensure!(
        repo_tags(&env, &missing).await?.is_none(),
        "Adopt created a repository"
    );
    let (fresh, old) = (unique("fresh"), unique("old"));
    create_repo(&env, &old, "old").await?;
    for (obj, name) in [("either-new", &fresh), ("either-old", &old)] {
        env.apply::<EcrRepository>(&repo_manifest(
            obj,
            json!({"repositoryName": name, "adoptionPolicy": "AdoptOrCreate"}),
        ))
        .await?;
    }
    for (obj, name) in [("either-new", &fresh), ("either-old", &old)] {
        env.wait_condition::<EcrRepository>(obj, "Ready", "True", None)
            .await?;
        let tags = repo_tags(&env, name)
            .await?
            .ok_or_else(|| anyhow!("{name} missing"))?;
        ensure!(
            tags.get(OWNER) == Some(&format!("{}/{obj}", env.namespace)),
            "{obj}: {tags:?}"
        );
        // The spec has no tags: adoption converges, so the old team tag is gone.
        ensure!(!tags.contains_key("team"), "{obj}: {tags:?}");
    }
    env.cleanup::<EcrRepository>().await
}

#[tokio::test]
async fn clusters_and_task_definitions_adopt_without_new_revisions() -> Result<()> {
    let env = TestEnv::new("pol-adopt-ecs").await?;
    let cluster_name = unique("legacy");
    env.ecs
        .create_cluster()
        .cluster_name(&cluster_name)
        .settings(
            ClusterSetting::builder()
                .name(ClusterSettingName::ContainerInsights)
                .value("disabled")
                .build(),
        )
        .send()
        .await?;
    let family = unique("legacy-td");
    let registered = env
        .ecs
        .register_task_definition()
        .family(&family)
        .container_definitions(
            ContainerDefinition::builder()
                .name("web")
                .image("nginx:1")
                .memory(128)
                .essential(true)
                .build(),
        )
        .send()
        .await?;
    let revision_arn = registered
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .ok_or_else(|| anyhow!("no ARN"))?
        .to_string();
    let td_spec = json!({"family": family,
        "containerDefinitions": [{"name": "web", "image": "nginx:1", "memory": 128, "essential": true}]});

    // Without adoption: both refused, AWS untouched.
    env.apply::<EcsCluster>(&manifest(
        "EcsCluster",
        "legacy",
        &json!({"clusterName": cluster_name,
                "settings": [{"name": "containerInsights", "value": "enabled"}]}),
    ))
    .await?;
    env.apply::<TaskDefinition>(&manifest("TaskDefinition", "legacy", &td_spec))
        .await?;
    env.wait_condition::<EcsCluster>("legacy", "Synced", "False", Some("AlreadyExists"))
        .await?;
    env.wait_condition::<TaskDefinition>("legacy", "Synced", "False", Some("AlreadyExists"))
        .await?;
    let (_, tags, settings) = cluster(&env.ecs, &cluster_name)
        .await?
        .ok_or_else(|| anyhow!("cluster gone"))?;
    ensure!(
        !tags.contains_key(OWNER) && insights(&settings).as_deref() == Some("disabled"),
        "AWS changed without adoption: {tags:?} {settings:?}"
    );

    // Adopt: the cluster converges; the task definition keeps its revision (same content).
    let mut cluster_spec = json!({"clusterName": cluster_name, "adoptionPolicy": "Adopt",
        "settings": [{"name": "containerInsights", "value": "enabled"}]});
    env.apply::<EcsCluster>(&manifest("EcsCluster", "legacy", &cluster_spec))
        .await?;
    let mut adopt_td = td_spec.clone();
    adopt_td["adoptionPolicy"] = json!("Adopt");
    env.apply::<TaskDefinition>(&manifest("TaskDefinition", "legacy", &adopt_td))
        .await?;
    env.wait_condition::<EcsCluster>("legacy", "Ready", "True", None)
        .await?;
    let td = env
        .wait_condition::<TaskDefinition>("legacy", "Ready", "True", None)
        .await?;
    ensure!(
        status(&td)["arn"] == json!(revision_arn),
        "adoption registered a new revision: {}",
        status(&td)
    );
    let revisions = env
        .ecs
        .list_task_definitions()
        .family_prefix(&family)
        .send()
        .await?;
    ensure!(
        revisions.task_definition_arns().len() == 1,
        "new revisions: {:?}",
        revisions.task_definition_arns()
    );
    let described = env
        .ecs
        .describe_task_definition()
        .task_definition(&revision_arn)
        .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
        .send()
        .await?;
    ensure!(
        described
            .tags()
            .iter()
            .any(|t| t.key() == Some(OWNER)
                && t.value() == Some(&format!("{}/legacy", env.namespace))),
        "revision not tagged: {:?}",
        described.tags()
    );
    env.wait_for("cluster converged", || async {
        let (_, tags, settings) = cluster(&env.ecs, &cluster_name)
            .await?
            .ok_or_else(|| anyhow!("cluster gone"))?;
        Ok(
            (tags.contains_key(OWNER) && insights(&settings).as_deref() == Some("enabled"))
                .then_some(()),
        )
    })
    .await?;
    cluster_spec["deletionPolicy"] = json!("Retain");
    env.apply::<EcsCluster>(&manifest("EcsCluster", "legacy", &cluster_spec))
        .await?;
    env.cleanup_all().await
}

#[tokio::test]
async fn observe_only_mirrors_status_and_never_writes() -> Result<()> {
    let env = TestEnv::new("pol-observe").await?;
    let cluster_name = unique("watched");
    let created = env
        .ecs
        .create_cluster()
        .cluster_name(&cluster_name)
        .tags(
            aws_sdk_ecs::types::Tag::builder()
                .key("team")
                .value("x")
                .build(),
        )
        .send()
        .await?;
    let arn = created
        .cluster()
        .and_then(|c| c.cluster_arn())
        .unwrap_or_default()
        .to_string();
    let spec = json!({"clusterName": cluster_name, "managementPolicy": "ObserveOnly",
        "tags": [{"key": "team", "value": "y"}]});
    env.apply::<EcsCluster>(&manifest("EcsCluster", "watched", &spec))
        .await?;
    let obj = env
        .wait_condition::<EcsCluster>("watched", "Synced", "True", Some("ObserveOnly"))
        .await?;
    env.wait_condition::<EcsCluster>("watched", "Ready", "True", None)
        .await?;
    ensure!(status(&obj)["arn"] == json!(arn), "{}", status(&obj));
    let message = condition_message(&obj, "Synced");
    ensure!(message.contains("differs"), "{message}");

    // An update attempt changes nothing in AWS.
    let mut changed = spec.clone();
    changed["settings"] = json!([{"name": "containerInsights", "value": "enabled"}]);
    env.apply::<EcsCluster>(&manifest("EcsCluster", "watched", &changed))
        .await?;
    env.wait_condition::<EcsCluster>("watched", "Synced", "True", Some("ObserveOnly"))
        .await?;
    env.wait_log_grows("reconciled: in sync", 3).await?;
    let expected = BTreeMap::from([("team".to_string(), "x".to_string())]);
    let (_, tags, settings) = cluster(&env.ecs, &cluster_name)
        .await?
        .ok_or_else(|| anyhow!("cluster gone"))?;
    ensure!(tags == expected, "ObserveOnly wrote tags: {tags:?}");
    ensure!(
        insights(&settings).as_deref() != Some("enabled"),
        "ObserveOnly wrote settings: {settings:?}"
    );

    // Absent resources are reported, not created.
    let absent = unique("absent");
    env.apply::<EcrRepository>(&repo_manifest(
        "absent",
        json!({"repositoryName": absent, "managementPolicy": "ObserveOnly"}),
    ))
    .await?;
    env.wait_condition::<EcrRepository>("absent", "Ready", "False", Some("NotFound"))
        .await?;
    ensure!(
        repo_tags(&env, &absent).await?.is_none(),
        "ObserveOnly created a repository"
    );

    // Deleting the object never touches AWS.
    env.delete::<EcsCluster>("watched").await?;
    env.wait_gone::<EcsCluster>("watched").await?;
    let (_, tags, _) = cluster(&env.ecs, &cluster_name)
        .await?
        .ok_or_else(|| anyhow!("ObserveOnly deletion deleted the cluster"))?;
    ensure!(tags == expected, "{tags:?}");
    env.cleanup_all().await
}

#[tokio::test]
async fn pause_stops_writes_and_resume_converges() -> Result<()> {
    let env = TestEnv::new("pol-pause").await?;
    let name = unique("paused");
    let spec =
        |team: &str| json!({"repositoryName": name, "tags": [{"Key": "team", "Value": team}]});
    env.apply::<EcrRepository>(&repo_manifest("repo", spec("a")))
        .await?;
    env.wait_condition::<EcrRepository>("repo", "Ready", "True", None)
        .await?;
    let annotate = |value: Value| set_paused(&env, "repo", value);
    annotate(json!("true")).await?;
    env.apply::<EcrRepository>(&repo_manifest("repo", spec("b")))
        .await?;
    env.wait_condition::<EcrRepository>("repo", "Synced", "False", Some("Paused"))
        .await?;
    env.wait_log_grows("reconciled: in sync", 3).await?;
    let team = |tags: Option<BTreeMap<String, String>>| tags.and_then(|t| t.get("team").cloned());
    ensure!(
        team(repo_tags(&env, &name).await?).as_deref() == Some("a"),
        "paused object wrote to AWS"
    );
    ensure!(
        !env.events_for("repo", "Paused").await?.is_empty(),
        "no Paused event"
    );

    annotate(Value::Null).await?;
    env.wait_for("resumed update", || async {
        Ok((team(repo_tags(&env, &name).await?).as_deref() == Some("b")).then_some(()))
    })
    .await?;
    env.wait_condition::<EcrRepository>("repo", "Synced", "True", Some("ReconcileSuccess"))
        .await?;
    ensure!(
        !env.events_for("repo", "Resumed").await?.is_empty(),
        "no Resumed event"
    );
    env.cleanup::<EcrRepository>().await
}

/// README (safety table): a paused object's "status still observed" and "a paused object's
/// deletion waits until it is resumed". While paused, a change made in AWS shows in the Synced
/// message; deleting the object keeps it (finalizer, AWS untouched) until the annotation goes.
#[tokio::test]
async fn paused_object_is_still_observed_and_its_deletion_waits_for_resume() -> Result<()> {
    let env = TestEnv::new("pol-pause-del").await?;
    let name = unique("paused-del");
    let spec =
        |team: &str| json!({"repositoryName": name, "tags": [{"Key": "team", "Value": team}]});
    env.apply::<EcrRepository>(&repo_manifest("repo", spec("a")))
        .await?;
    let ready = env
        .wait_condition::<EcrRepository>("repo", "Ready", "True", None)
        .await?;
    let arn = status(&ready)["arn"]
        .as_str()
        .ok_or_else(|| anyhow!("no ARN in status"))?
        .to_string();
    let annotate = |value: Value| set_paused(&env, "repo", value);
    annotate(json!("true")).await?;
    env.apply::<EcrRepository>(&repo_manifest("repo", spec("b")))
        .await?;
    let paused = env
        .wait_condition::<EcrRepository>("repo", "Synced", "False", Some("Paused"))
        .await?;
    let message = condition_message(&paused, "Synced");
    ensure!(message.contains("differs from the spec"), "{message}");

    // Someone makes AWS match the spec: the paused object's status shows it (observed, not
    // frozen), and the operator still writes nothing.
    env.ecr
        .tag_resource()
        .resource_arn(&arn)
        .tags(
            aws_sdk_ecr::types::Tag::builder()
                .key("team")
                .value("b")
                .build()?,
        )
        .send()
        .await?;
    env.wait_for(
        "the paused status to show the change made in AWS",
        || async {
            let obj = env.api::<EcrRepository>().get("repo").await?;
            let (synced, reason) = e2e::condition(&status(&obj), "Synced");
            let message = condition_message(&obj, "Synced");
            Ok((synced == "False"
                && reason == "Paused"
                && message.contains("AWS matches the spec"))
            .then_some(()))
        },
    )
    .await?;
    ensure!(
        env.events_for("repo", "Updated").await?.is_empty(),
        "a paused object updated AWS"
    );

    // Deleting it waits: the object stays with its finalizer and AWS is untouched, for as long
    // as the annotation is there (checked over several resync periods).
    env.delete::<EcrRepository>("repo").await?;
    let waiting = env
        .wait_for("the paused deletion to be reported", || async {
            let obj = env.api::<EcrRepository>().get("repo").await?;
            let s = status(&obj);
            Ok(
                (e2e::condition(&s, "Synced") == ("False".into(), "Paused".into())
                    && e2e::condition(&s, "Ready") == ("False".into(), "Deleting".into()))
                    .then_some(obj),
            )
        })
        .await?;
    let message = condition_message(&waiting, "Synced");
    ensure!(message.contains("deletion waits"), "{message}");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(8);
    while std::time::Instant::now() < until {
        let obj = env
            .api::<EcrRepository>()
            .get_opt("repo")
            .await?
            .ok_or_else(|| anyhow!("the paused object was deleted"))?;
        ensure!(
            obj.metadata.deletion_timestamp.is_some()
                && obj
                    .metadata
                    .finalizers
                    .as_ref()
                    .is_some_and(|f| !f.is_empty()),
            "finalizer gone while paused: {:?}",
            obj.metadata
        );
        let tags = repo_tags(&env, &name)
            .await?
            .ok_or_else(|| anyhow!("the paused object's repository was deleted"))?;
        ensure!(
            tags.get("team").map(String::as_str) == Some("b"),
            "{tags:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }

    // Resumed: the deletion goes through (deletionPolicy Delete, the default).
    annotate(Value::Null).await?;
    env.wait_gone::<EcrRepository>("repo").await?;
    ensure!(
        repo_tags(&env, &name).await?.is_none(),
        "the resumed deletion left the repository"
    );
    env.cleanup::<EcrRepository>().await
}

/// README (Ownership): AlreadyExists / OwnedByAnother "are retried with backoff ... and
/// immediately after a spec change". The operator runs with a 300 s resync, and the spec change
/// comes once the refusal's backoff has reached 16 s: acting on it within a few seconds can only
/// come from the watch.
#[tokio::test]
async fn a_refused_object_is_retried_at_once_after_a_spec_change() -> Result<()> {
    let mut env = TestEnv::new("pol-spec-wake").await?;
    env.restart_operator_with_resync(300)?;
    let existing = unique("wake");
    create_repo(&env, &existing, "a").await?;
    env.apply::<EcrRepository>(&repo_manifest("late", json!({"repositoryName": existing})))
        .await?;
    env.wait_condition::<EcrRepository>("late", "Synced", "False", Some("AlreadyExists"))
        .await?;
    // Four refusals in a row: the next retry of the backoff (2, 4, 8, 16 s) is 16 s away.
    env.wait_reconcile_errors("late", 4).await?;
    let changed = std::time::Instant::now();
    env.apply::<EcrRepository>(&repo_manifest(
        "late",
        json!({"repositoryName": existing, "adoptionPolicy": "Adopt"}),
    ))
    .await?;
    env.wait_condition::<EcrRepository>("late", "Ready", "True", None)
        .await?;
    let took = changed.elapsed();
    ensure!(
        took < std::time::Duration::from_secs(8),
        "the spec change was acted on after {took:?}, as late as the backoff"
    );
    let tags = repo_tags(&env, &existing)
        .await?
        .ok_or_else(|| anyhow!("repository gone"))?;
    ensure!(
        tags.get(OWNER) == Some(&format!("{}/late", env.namespace)),
        "{tags:?}"
    );
    env.cleanup::<EcrRepository>().await
}

#[tokio::test]
async fn spec_region_and_same_namespace_references() -> Result<()> {
    let env = TestEnv::new("pol-region").await?;
    let name = unique("eu");
    let spec = json!({"clusterName": name, "region": "eu-west-1"});
    env.apply::<EcsCluster>(&manifest("EcsCluster", "eu", &spec))
        .await?;
    let obj = env
        .wait_condition::<EcsCluster>("eu", "Ready", "True", None)
        .await?;
    let arn = status(&obj)["arn"].as_str().unwrap_or_default().to_string();
    ensure!(arn.contains(":eu-west-1:"), "{arn}");
    let eu = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-1"))
        .load()
        .await;
    ensure!(
        cluster(&aws_sdk_ecs::Client::new(&eu), &name)
            .await?
            .is_some(),
        "not in eu-west-1"
    );
    ensure!(
        cluster(&env.ecs, &name).await?.is_none(),
        "also created in the operator's default region"
    );

    // region is immutable; references never cross namespaces (both at admission).
    let mut moved = spec.clone();
    moved["region"] = json!("us-west-2");
    let err = env
        .apply::<EcsCluster>(&manifest("EcsCluster", "eu", &moved))
        .await
        .err()
        .ok_or_else(|| anyhow!("region change accepted"))?;
    ensure!(format!("{err:#}").contains("immutable"), "{err:#}");
    let err = env
        .apply::<EcsService>(&manifest(
            "EcsService",
            "cross",
            &json!({"serviceName": "x", "clusterRef": {"name": "eu", "namespace": "other-team"},
                    "taskDefinition": "td:1"}),
        ))
        .await
        .err()
        .ok_or_else(|| anyhow!("cross-namespace reference accepted"))?;
    ensure!(format!("{err:#}").contains("same-namespace"), "{err:#}");
    env.cleanup_all().await
}

#[tokio::test]
async fn namespace_role_runs_calls_under_the_assumed_identity() -> Result<()> {
    let env = TestEnv::new("pol-role").await?;
    // moto's STS answers AssumeRole; calls made with the assumed credentials land in the
    // role's account, so the account in the ARNs proves which identity made them.
    let account = "111111111111";
    env.annotate_namespace(
        "ecs.operator.dev/role-arn",
        &format!("arn:aws:iam::{account}:role/{}", unique("tenant")),
    )
    .await?;
    let (repo, cluster_name) = (unique("tenant"), unique("tenant"));
    env.apply::<EcrRepository>(&repo_manifest("repo", json!({"repositoryName": repo})))
        .await?;
    env.apply::<EcsCluster>(&manifest(
        "EcsCluster",
        "cluster",
        &json!({"clusterName": cluster_name}),
    ))
    .await?;
    let r = env
        .wait_condition::<EcrRepository>("repo", "Ready", "True", None)
        .await?;
    let c = env
        .wait_condition::<EcsCluster>("cluster", "Ready", "True", None)
        .await?;
    let (repo_arn, cluster_arn) = (
        status(&r)["arn"].as_str().unwrap_or_default().to_string(),
        status(&c)["arn"].as_str().unwrap_or_default().to_string(),
    );
    ensure!(repo_arn.contains(&format!(":{account}:")), "{repo_arn}");
    ensure!(
        cluster_arn.contains(&format!(":{account}:")),
        "{cluster_arn}"
    );
    // The operator's own account does not have them.
    ensure!(
        repo_tags(&env, &repo).await?.is_none(),
        "repository created in the operator's own account"
    );
    ensure!(
        cluster(&env.ecs, &cluster_name).await?.is_none(),
        "cluster created in the operator's own account"
    );
    // Deletion goes through the same identity.
    env.delete::<EcsCluster>("cluster").await?;
    env.wait_gone::<EcsCluster>("cluster").await?;
    env.cleanup_all().await
}

#[tokio::test]
async fn two_objects_created_together_one_wins_and_they_never_fight() -> Result<()> {
    let env = TestEnv::new("pol-race").await?;
    // CreateCluster answers with an existing cluster instead of failing: the loser must notice.
    let name = unique("race");
    for obj in ["first", "second"] {
        env.apply::<EcsCluster>(&manifest(
            "EcsCluster",
            obj,
            &json!({"clusterName": name, "tags": [{"key": "by", "value": obj}]}),
        ))
        .await?;
    }
    let (winner, loser) = env
        .wait_for("one owner and one OwnedByAnother", || async {
            let api = env.api::<EcsCluster>();
            let synced = |o: &EcsCluster| {
                o.status
                    .as_ref()
                    .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Synced"))
                    .map(|c| c.reason.clone())
                    .unwrap_or_default()
            };
            let (a, b) = (api.get("first").await?, api.get("second").await?);
            Ok(match (synced(&a).as_str(), synced(&b).as_str()) {
                ("ReconcileSuccess", "OwnedByAnother") => Some(("first", "second")),
                ("OwnedByAnother", "ReconcileSuccess") => Some(("second", "first")),
                _ => None,
            })
        })
        .await?;
    env.wait_log_grows("reconciled: in sync", 3).await?;
    let (_, tags, _) = cluster(&env.ecs, &name)
        .await?
        .ok_or_else(|| anyhow!("cluster missing"))?;
    ensure!(
        tags.get(OWNER) == Some(&format!("{}/{winner}", env.namespace))
            && tags.get("by").map(String::as_str) == Some(winner),
        "{loser} changed the cluster it does not own: {tags:?}"
    );
    env.wait_condition::<EcsCluster>(loser, "Synced", "False", Some("OwnedByAnother"))
        .await?;
    env.cleanup_all().await
}

#[tokio::test]
async fn another_operator_instance_never_takes_over() -> Result<()> {
    let mut env = TestEnv::new("pol-instance").await?;
    let name = unique("shared-account");
    env.apply::<EcrRepository>(&repo_manifest("repo", json!({"repositoryName": name})))
        .await?;
    env.wait_condition::<EcrRepository>("repo", "Ready", "True", None)
        .await?;
    let before = repo_tags(&env, &name)
        .await?
        .ok_or_else(|| anyhow!("repository missing"))?;
    ensure!(
        before.get("ecs.operator.dev/instance").map(String::as_str) == Some("default"),
        "{before:?}"
    );

    // The same object seen by an operator of another installation (another cluster sharing the
    // account): it reports the conflict, writes nothing, and deleting the object keeps AWS.
    let kubeconfig = std::env::var("KUBECONFIG")?;
    let ns = env.namespace.clone();
    env.start_operator_with(
        std::path::Path::new(&kubeconfig),
        &[
            "--watch-namespace",
            &ns,
            "--resync-seconds",
            "3",
            "--instance-id",
            "other-cluster",
        ],
        &[],
    )?;
    let obj = env
        .wait_condition::<EcrRepository>("repo", "Synced", "False", Some("OwnedByAnother"))
        .await?;
    let message = condition_message(&obj, "Synced");
    ensure!(
        message.contains("another ecs-operator instance"),
        "{message}"
    );
    env.delete::<EcrRepository>("repo").await?;
    env.wait_gone::<EcrRepository>("repo").await?;
    ensure!(
        repo_tags(&env, &name).await? == Some(before),
        "another instance changed or deleted the repository"
    );
    env.cleanup::<EcrRepository>().await
}
