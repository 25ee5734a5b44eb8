//! EcsCluster end to end against the real bed (kube-apiserver + etcd + moto).

use anyhow::{Context as _, Result, anyhow, ensure};
use aws_sdk_ecs::types::{ClusterField, ContainerDefinition};
use e2e::{TestEnv, condition_message, unique};
use ecs_operator::api::ecs_cluster::EcsCluster;
use serde_json::{Value, json};

fn manifest(obj: &str, spec: &Value) -> String {
    e2e::manifest("EcsCluster", obj, spec)
}

async fn apply(env: &TestEnv, obj: &str, spec: &Value) -> Result<EcsCluster> {
    env.apply::<EcsCluster>(&manifest(obj, spec)).await
}

async fn wait_ready(env: &TestEnv, obj: &str) -> Result<Value> {
    env.wait_condition::<EcsCluster>(obj, "Synced", "True", Some("ReconcileSuccess"))
        .await?;
    let c = env
        .wait_condition::<EcsCluster>(obj, "Ready", "True", None)
        .await?;
    Ok(serde_json::to_value(c)?["status"].clone())
}

/// What AWS holds for a cluster: (settings map, tags map, capacity providers, strategy, configuration).
async fn aws_cluster(env: &TestEnv, name: &str) -> Result<Option<Value>> {
    let out = env
        .ecs
        .describe_clusters()
        .clusters(name)
        .include(ClusterField::Settings)
        .include(ClusterField::Configurations)
        .include(ClusterField::Tags)
        .send()
        .await?;
    let Some(c) = out
        .clusters()
        .first()
        .filter(|c| c.status() != Some("INACTIVE"))
    else {
        return Ok(None);
    };
    let settings: serde_json::Map<String, Value> = c
        .settings()
        .iter()
        .map(|s| {
            (
                s.name().map(|n| n.as_str().to_string()).unwrap_or_default(),
                json!(s.value()),
            )
        })
        .collect();
    // The operator's ownership tags are checked by the policy tests; here only the spec's.
    let tags: serde_json::Map<String, Value> = c
        .tags()
        .iter()
        .filter(|t| !t.key().unwrap_or_default().starts_with("ecs.operator.dev/"))
        .map(|t| (t.key().unwrap_or_default().to_string(), json!(t.value())))
        .collect();
    let mut providers: Vec<String> = c.capacity_providers().to_vec();
    providers.sort();
    let strategy: Vec<Value> = c
        .default_capacity_provider_strategy()
        .iter()
        .map(|s| json!({"capacityProvider": s.capacity_provider(), "weight": s.weight(), "base": s.base()}))
        .collect();
    let logging = c
        .configuration()
        .and_then(|cfg| cfg.execute_command_configuration())
        .and_then(|e| e.logging())
        .map(|l| l.as_str().to_string());
    Ok(Some(json!({
        "arn": c.cluster_arn(), "settings": settings, "tags": tags, "capacityProviders": providers,
        "strategy": strategy, "logging": logging,
    })))
}

async fn aws_cluster_required(env: &TestEnv, name: &str) -> Result<Value> {
    aws_cluster(env, name)
        .await?
        .ok_or_else(|| anyhow!("cluster {name} does not exist in AWS"))
}

#[tokio::test]
async fn create_with_every_field_update_and_drift() -> Result<()> {
    let env = TestEnv::new("ecsc-create").await?;
    let name = unique("cluster");
    let spec = json!({
        "clusterName": name,
        "settings": [{"name": "containerInsights", "value": "enabled"}],
        "configuration": {"executeCommandConfiguration": {"logging": "OVERRIDE",
            "logConfiguration": {"cloudWatchLogGroupName": "/ecs/exec", "cloudWatchEncryptionEnabled": true}}},
        "capacityProviders": ["FARGATE", "FARGATE_SPOT"],
        "defaultCapacityProviderStrategy": [
            {"capacityProvider": "FARGATE", "weight": 1, "base": 1},
            {"capacityProvider": "FARGATE_SPOT", "weight": 4}
        ],
        "tags": [{"key": "team", "value": "platform"}, {"key": "env", "value": "test"}],
    });
    apply(&env, "prod", &spec).await?;
    let status = wait_ready(&env, "prod").await?;
    let aws = aws_cluster_required(&env, &name).await?;
    assert_eq!(status["arn"], aws["arn"]);
    assert_eq!(aws["settings"]["containerInsights"], "enabled");
    assert_eq!(aws["tags"], json!({"team": "platform", "env": "test"}));
    assert_eq!(aws["capacityProviders"], json!(["FARGATE", "FARGATE_SPOT"]));
    assert_eq!(aws["logging"], "OVERRIDE");
    ensure!(
        status["activeServicesCount"] == 0 && status["runningTasksCount"] == 0,
        "{status}"
    );

    let out = env.kubectl(&["get", "ecsclusters"]).await?;
    let table = String::from_utf8_lossy(&out.stdout);
    for column in ["SERVICES", "RUNNING", "READY", "AGE"] {
        ensure!(table.contains(column), "missing column {column}: {table}");
    }

    // Steady: nothing is updated on resync.
    env.wait_log_grows("reconciled: in sync", 3).await?;
    ensure!(
        env.events_for("prod", "Updated").await?.is_empty(),
        "spurious update"
    );

    // Update settings, strategy and tags in place.
    let mut changed = spec.clone();
    changed["settings"] = json!([{"name": "containerInsights", "value": "disabled"}]);
    changed["defaultCapacityProviderStrategy"] =
        json!([{"capacityProvider": "FARGATE_SPOT", "weight": 1}]);
    changed["tags"] = json!([{"key": "team", "value": "platform-2"}]);
    apply(&env, "prod", &changed).await?;
    env.wait_for("update in AWS", || async {
        let a = aws_cluster_required(&env, &name).await?;
        Ok((a["settings"]["containerInsights"] == "disabled"
            && a["tags"] == json!({"team": "platform-2"})
            && a["strategy"]
                .as_array()
                .is_some_and(|s| s.len() == 1 && s[0]["capacityProvider"] == "FARGATE_SPOT"))
        .then_some(()))
    })
    .await?;

    // Drift: a tag removed and one added in AWS are put back.
    let arn = aws["arn"].as_str().unwrap_or_default().to_string();
    env.ecs
        .untag_resource()
        .resource_arn(&arn)
        .tag_keys("team")
        .send()
        .await?;
    env.ecs
        .tag_resource()
        .resource_arn(&arn)
        .tags(
            aws_sdk_ecs::types::Tag::builder()
                .key("intruder")
                .value("x")
                .build(),
        )
        .send()
        .await?;
    env.wait_for("drift corrected", || async {
        let a = aws_cluster_required(&env, &name).await?;
        Ok((a["tags"] == json!({"team": "platform-2"})).then_some(()))
    })
    .await?;
    env.cleanup::<EcsCluster>().await
}

#[tokio::test]
async fn delete_waits_until_services_are_gone() -> Result<()> {
    let env = TestEnv::new("ecsc-delete").await?;
    let name = unique("busy");
    apply(&env, "busy", &json!({"clusterName": name})).await?;
    wait_ready(&env, "busy").await?;
    let family = unique("svc-td");
    env.ecs
        .register_task_definition()
        .family(&family)
        .container_definitions(
            ContainerDefinition::builder()
                .name("c")
                .image("nginx")
                .memory(64)
                .build(),
        )
        .send()
        .await?;
    env.ecs
        .create_service()
        .cluster(&name)
        .service_name("api")
        .task_definition(&family)
        .desired_count(0)
        .send()
        .await
        .context("CreateService")?;

    env.delete::<EcsCluster>("busy").await?;
    let blocked = env
        .wait_condition::<EcsCluster>("busy", "Synced", "False", Some("DeleteBlocked"))
        .await?;
    let message = condition_message(&blocked, "Synced");
    ensure!(
        message.contains("api"),
        "message should name the service: {message}"
    );
    ensure!(
        aws_cluster(&env, &name).await?.is_some(),
        "cluster deleted while it had services"
    );

    env.ecs
        .delete_service()
        .cluster(&name)
        .service("api")
        .force(true)
        .send()
        .await?;
    env.wait_gone::<EcsCluster>("busy").await?;
    ensure!(
        aws_cluster(&env, &name).await?.is_none(),
        "cluster still exists"
    );
    env.cleanup::<EcsCluster>().await
}

#[tokio::test]
async fn admission_rejects_rename_and_bad_values() -> Result<()> {
    let env = TestEnv::new("ecsc-admission").await?;
    let cases = [
        (
            "bad setting value",
            json!({"settings": [{"name": "containerInsights", "value": "sometimes"}]}),
            "value",
        ),
        (
            "weight out of range",
            json!({"defaultCapacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 5000}]}),
            "weight",
        ),
    ];
    for (case, spec, needle) in cases {
        let err = apply(&env, "bad", &spec)
            .await
            .err()
            .ok_or_else(|| anyhow!("{case}: accepted"))?;
        ensure!(format!("{err:#}").contains(needle), "{case}: {err:#}");
    }
    let name = unique("fixed");
    apply(&env, "named", &json!({"clusterName": name})).await?;
    let err = apply(&env, "named", &json!({"clusterName": format!("{name}-2")}))
        .await
        .err()
        .ok_or_else(|| anyhow!("rename accepted"))?;
    ensure!(format!("{err:#}").contains("clusterName"), "{err:#}");
    env.cleanup::<EcsCluster>().await
}
