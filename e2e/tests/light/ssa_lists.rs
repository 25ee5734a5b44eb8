//! Server-side apply merges keyed lists: two field managers share one object's tags (and a task
//! definition's containers and environment); removing one manager's entry removes only that, in
//! Kubernetes and in AWS. Against the real bed (kube-apiserver + etcd + moto).

use std::collections::BTreeMap;

use anyhow::{Context as _, Result, anyhow};
use aws_sdk_ecs::types::ClusterField;
use e2e::{TestEnv, unique};
use ecs_operator::api::{EcrRepository, EcsCluster, TaskDefinition};
use kube::Resource;
use kube::api::{Api, Patch, PatchParams};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Server-side apply of `spec` to `name` as field manager `manager`, without force: a conflict
/// (two managers owning one atomic list) is an error, as it is for `kubectl apply --server-side`.
async fn apply_as<K>(env: &TestEnv, manager: &str, kind: &str, name: &str, spec: Value) -> Result<K>
where
    K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Serialize
        + std::fmt::Debug,
{
    let object = json!({
        "apiVersion": "ecs.operator.dev/v1alpha1", "kind": kind,
        "metadata": {"name": name}, "spec": spec,
    });
    let api: Api<K> = env.api();
    api.patch(name, &PatchParams::apply(manager), &Patch::Apply(&object))
        .await
        .with_context(|| format!("server-side apply of {kind} {name} by {manager}"))
}

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The repository's tags in AWS, without the operator's ownership tags.
async fn ecr_tags(env: &TestEnv, name: &str) -> Result<BTreeMap<String, String>> {
    let repo = env
        .ecr
        .describe_repositories()
        .repository_names(name)
        .send()
        .await?
        .repositories()
        .first()
        .cloned()
        .ok_or_else(|| anyhow!("repository {name} not in AWS"))?;
    let out = env
        .ecr
        .list_tags_for_resource()
        .resource_arn(repo.repository_arn().unwrap_or_default())
        .send()
        .await?;
    Ok(out
        .tags()
        .iter()
        .filter(|t| !t.key().starts_with("ecs.operator.dev/"))
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect())
}

/// The cluster's tags in AWS, without the operator's ownership tags.
async fn cluster_tags(env: &TestEnv, name: &str) -> Result<BTreeMap<String, String>> {
    let out = env
        .ecs
        .describe_clusters()
        .clusters(name)
        .include(ClusterField::Tags)
        .send()
        .await?;
    let cluster = out
        .clusters()
        .first()
        .ok_or_else(|| anyhow!("cluster {name} not in AWS"))?;
    Ok(cluster
        .tags()
        .iter()
        .filter(|t| !t.key().unwrap_or_default().starts_with("ecs.operator.dev/"))
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect())
}

#[tokio::test]
async fn ecr_tags_from_two_field_managers() -> Result<()> {
    let env = TestEnv::new("ssa-ecr").await?;
    let name = unique("ssa-ecr");
    let spec_a = json!({"repositoryName": name, "tags": [{"Key": "team", "Value": "a"}]});
    apply_as::<EcrRepository>(&env, "manager-a", "EcrRepository", "repo", spec_a).await?;
    // With an atomic list this apply conflicts with manager-a's ownership of spec.tags.
    let spec_b = json!({"tags": [{"Key": "cost-center", "Value": "b"}]});
    let merged =
        apply_as::<EcrRepository>(&env, "manager-b", "EcrRepository", "repo", spec_b).await?;
    let keys: Vec<String> = merged
        .spec
        .tags
        .iter()
        .flatten()
        .map(|t| t.key.clone())
        .collect();
    assert_eq!(keys, ["team", "cost-center"], "merged spec.tags");

    let both = tags(&[("team", "a"), ("cost-center", "b")]);
    env.wait_for("both managers' tags in AWS", || async {
        Ok((ecr_tags(&env, &name).await? == both).then_some(()))
    })
    .await?;

    // manager-a drops its tag: only that tag goes, in the object and in AWS.
    let spec_a = json!({"repositoryName": name});
    let after =
        apply_as::<EcrRepository>(&env, "manager-a", "EcrRepository", "repo", spec_a).await?;
    let keys: Vec<String> = after
        .spec
        .tags
        .iter()
        .flatten()
        .map(|t| t.key.clone())
        .collect();
    assert_eq!(
        keys,
        ["cost-center"],
        "spec.tags after manager-a removed its tag"
    );
    let only_b = tags(&[("cost-center", "b")]);
    env.wait_for("only manager-b's tag in AWS", || async {
        Ok((ecr_tags(&env, &name).await? == only_b).then_some(()))
    })
    .await?;
    env.cleanup::<EcrRepository>().await
}

#[tokio::test]
async fn cluster_tags_from_two_field_managers() -> Result<()> {
    let env = TestEnv::new("ssa-cluster").await?;
    let name = unique("ssa-cluster");
    let spec_a = json!({"clusterName": name, "tags": [{"key": "team", "value": "a"}]});
    apply_as::<EcsCluster>(&env, "manager-a", "EcsCluster", "cluster", spec_a).await?;
    let spec_b = json!({"tags": [{"key": "cost-center", "value": "b"}]});
    apply_as::<EcsCluster>(&env, "manager-b", "EcsCluster", "cluster", spec_b).await?;

    let both = tags(&[("team", "a"), ("cost-center", "b")]);
    env.wait_for("both managers' tags on the cluster", || async {
        Ok((cluster_tags(&env, &name).await.unwrap_or_default() == both).then_some(()))
    })
    .await?;

    let spec_a = json!({"clusterName": name});
    apply_as::<EcsCluster>(&env, "manager-a", "EcsCluster", "cluster", spec_a).await?;
    let only_b = tags(&[("cost-center", "b")]);
    env.wait_for("only manager-b's tag on the cluster", || async {
        Ok((cluster_tags(&env, &name).await? == only_b).then_some(()))
    })
    .await?;
    env.cleanup::<EcsCluster>().await
}

/// The environment of container `container` in the revision the object last registered.
async fn revision_environment(
    env: &TestEnv,
    obj: &str,
    container: &str,
) -> Result<Option<BTreeMap<String, String>>> {
    let td = env.api::<TaskDefinition>().get(obj).await?;
    let Some(arn) = td.status.and_then(|s| s.arn) else {
        return Ok(None);
    };
    let out = env
        .ecs
        .describe_task_definition()
        .task_definition(&arn)
        .send()
        .await?;
    Ok(out
        .task_definition()
        .into_iter()
        .flat_map(|t| t.container_definitions())
        .find(|c| c.name() == Some(container))
        .map(|c| {
            c.environment()
                .iter()
                .map(|e| {
                    (
                        e.name().unwrap_or_default().to_string(),
                        e.value().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        }))
}

#[tokio::test]
async fn task_definition_environment_from_two_field_managers() -> Result<()> {
    let env = TestEnv::new("ssa-td").await?;
    let family = unique("ssa-td");
    // manager-a owns the container and one variable; manager-b adds a variable to the same
    // container by name (containerDefinitions and environment are both keyed by name).
    let spec_a = json!({"family": family, "containerDefinitions": [
        {"name": "app", "image": "nginx:1.27", "memory": 128,
         "environment": [{"name": "FROM_A", "value": "a"}]}
    ]});
    apply_as::<TaskDefinition>(&env, "manager-a", "TaskDefinition", "td", spec_a).await?;
    let spec_b = json!({"containerDefinitions": [
        {"name": "app", "environment": [{"name": "FROM_B", "value": "b"}]}
    ]});
    apply_as::<TaskDefinition>(&env, "manager-b", "TaskDefinition", "td", spec_b).await?;

    let both = tags(&[("FROM_A", "a"), ("FROM_B", "b")]);
    env.wait_for("a revision with both managers' variables", || async {
        Ok((revision_environment(&env, "td", "app").await? == Some(both.clone())).then_some(()))
    })
    .await?;

    let spec_a = json!({"family": family, "containerDefinitions": [
        {"name": "app", "image": "nginx:1.27", "memory": 128}
    ]});
    apply_as::<TaskDefinition>(&env, "manager-a", "TaskDefinition", "td", spec_a).await?;
    let only_b = tags(&[("FROM_B", "b")]);
    env.wait_for("a revision with only manager-b's variable", || async {
        Ok((revision_environment(&env, "td", "app").await? == Some(only_b.clone())).then_some(()))
    })
    .await?;
    env.cleanup::<TaskDefinition>().await
}

#[tokio::test]
async fn a_duplicate_key_is_refused_by_the_api_server_naming_it() -> Result<()> {
    let env = TestEnv::new("ssa-dup").await?;
    let spec = json!({"repositoryName": unique("ssa-dup"),
        "tags": [{"Key": "team", "Value": "a"}, {"Key": "team", "Value": "b"}]});
    // Server-side apply (kubectl apply --server-side, Argo CD, Flux).
    let applied =
        apply_as::<EcrRepository>(&env, "e2e-test", "EcrRepository", "dup", spec.clone()).await;
    let message = format!(
        "{:#}",
        applied.err().context("a duplicate tag key was applied")?
    );
    anyhow::ensure!(
        message.contains("duplicate entries for key [Key=\"team\"]"),
        "server-side apply refusal does not name the key: {message}"
    );
    // A plain create (kubectl create / client-side apply).
    let object: EcrRepository = serde_json::from_value(json!({
        "apiVersion": "ecs.operator.dev/v1alpha1", "kind": "EcrRepository",
        "metadata": {"name": "dup"}, "spec": spec,
    }))?;
    let created = env
        .api::<EcrRepository>()
        .create(&kube::api::PostParams::default(), &object)
        .await;
    match created {
        Err(kube::Error::Api(e)) => anyhow::ensure!(
            e.code == 422 && e.message.contains("spec.tags[1]: Duplicate value"),
            "create refusal: {} {}",
            e.code,
            e.message
        ),
        other => anyhow::bail!("a duplicate tag key was created: {other:?}"),
    }
    env.cleanup::<EcrRepository>().await
}
