//! EcsCluster end to end against the real bed (kube-apiserver + etcd + moto).

use anyhow::{Context as _, Result, anyhow, ensure};
use aws_sdk_ecs::types::{ClusterField, ContainerDefinition};
use e2e::{TestEnv, condition_message, unique};
use ecs_operator::api::ecs_cluster::EcsCluster;
use serde_json::{Value, json};

async fn apply(env: &TestEnv, obj: &str, spec: &Value) -> Result<EcsCluster> {
    env.apply_spec::<EcsCluster>(obj, spec).await
}

async fn wait_ready(env: &TestEnv, obj: &str) -> Result<Value> {
    env.wait_condition::<EcsCluster>(obj, "Synced", "True", Some("ReconcileSuccess"))
        .await?;
    let c = env.wait_ready::<EcsCluster>(obj).await?;
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

/// A capacity provider as moto reports it (`None` when absent or INACTIVE).
async fn aws_provider(
    env: &TestEnv,
    name: &str,
) -> Result<Option<aws_sdk_ecs::types::CapacityProvider>> {
    let out = env
        .ecs
        .describe_capacity_providers()
        .capacity_providers(name)
        .include(aws_sdk_ecs::types::CapacityProviderField::Tags)
        .send()
        .await?;
    Ok(out
        .capacity_providers()
        .iter()
        .find(|p| p.name() == Some(name) && p.status().map(|s| s.as_str()) != Some("INACTIVE"))
        .cloned())
}

fn asg_provider(cluster: &str, name: &str) -> Value {
    json!({"name": name, "autoScalingGroupProvider": {
        "autoScalingGroupArn": format!("arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/{cluster}-{name}"),
        "managedTerminationProtection": "DISABLED"}})
}

fn mi_provider(name: &str, storage: i32) -> Value {
    json!({"name": name, "managedInstancesProvider": {
        "infrastructureRoleArn": "arn:aws:iam::123456789012:role/ecsInfrastructureRole",
        "propagateTags": "CAPACITY_PROVIDER",
        "instanceLaunchTemplate": {
            "ec2InstanceProfileArn": "arn:aws:iam::123456789012:instance-profile/ecsInstanceRole",
            "networkConfiguration": {"subnets": ["subnet-0a1b2c3d"], "securityGroups": ["sg-0a1b2c3d"]},
            "storageConfiguration": {"storageSizeGiB": storage},
            "capacityOptionType": "SPOT",
            "instanceRequirements": {"vCpuCount": {"min": 2, "max": 8}, "memoryMiB": {"min": 4096}},
        }},
        "tags": [{"key": "pool", "value": name}]})
}

/// Managed Instances providers (on moto with e2e/moto/ecs_managed_instances.py: stock moto
/// rejects them) are created in the cluster, updated in place, deleted when they leave the
/// spec and with the cluster; Auto Scaling group providers this object created are deleted
/// when they leave the spec, while one made outside the operator is only detached.
#[tokio::test]
async fn capacity_providers_managed_instances_and_providers_leaving_the_spec() -> Result<()> {
    let env = TestEnv::new("ecsc-cp").await?;
    let cluster = unique("cp");
    let mi = format!("{cluster}-mi");
    let mi2 = format!("{cluster}-mi2");
    let asg = format!("{cluster}-asg");
    let foreign = format!("{cluster}-foreign");
    // Made outside the operator, then named in spec.capacityProviders.
    env.ecs
        .create_capacity_provider()
        .name(&foreign)
        .auto_scaling_group_provider(
            aws_sdk_ecs::types::AutoScalingGroupProvider::builder()
                .auto_scaling_group_arn(format!("arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:0:autoScalingGroupName/{foreign}"))
                .build()?,
        )
        .send()
        .await?;
    let spec = json!({
        "clusterName": cluster,
        "capacityProviders": ["FARGATE", foreign],
        "autoScalingGroupProviders": [asg_provider(&cluster, &asg)],
        "managedInstancesProviders": [mi_provider(&mi, 50), mi_provider(&mi2, 40)],
        "defaultCapacityProviderStrategy": [{"capacityProvider": mi, "weight": 1, "base": 1}],
    });
    apply(&env, "cp", &spec).await?;
    wait_ready(&env, "cp").await?;
    let a = aws_cluster_required(&env, &cluster).await?;
    let mut want = vec![
        "FARGATE".to_string(),
        asg.clone(),
        foreign.clone(),
        mi.clone(),
        mi2.clone(),
    ];
    want.sort();
    ensure!(a["capacityProviders"] == json!(want), "{a}");
    ensure!(
        a["strategy"] == json!([{"capacityProvider": mi, "weight": 1, "base": 1}]),
        "{a}"
    );
    let p = aws_provider(&env, &mi)
        .await?
        .ok_or_else(|| anyhow!("{mi} not created"))?;
    let m = p
        .managed_instances_provider()
        .ok_or_else(|| anyhow!("no managedInstancesProvider: {p:?}"))?;
    ensure!(
        m.infrastructure_role_arn() == Some("arn:aws:iam::123456789012:role/ecsInfrastructureRole"),
        "{p:?}"
    );
    let t = m
        .instance_launch_template()
        .ok_or_else(|| anyhow!("no template: {p:?}"))?;
    ensure!(
        t.storage_configuration().and_then(|s| s.storage_size_gib()) == Some(50),
        "{p:?}"
    );
    ensure!(
        t.capacity_option_type().map(|c| c.as_str()) == Some("SPOT"),
        "{p:?}"
    );
    ensure!(
        t.instance_requirements()
            .and_then(|r| r.v_cpu_count())
            .map(|v| (v.min(), v.max()))
            == Some((2, Some(8))),
        "{p:?}"
    );
    ensure!(
        p.tags()
            .iter()
            .any(|t| t.key() == Some("pool") && t.value() == Some(mi.as_str())),
        "{p:?}"
    );
    ensure!(
        p.tags()
            .iter()
            .any(|t| t.key() == Some("ecs.operator.dev/owner")),
        "providers carry the ownership tags: {p:?}"
    );

    // Updated in place: a bigger root volume, another tag.
    let mut changed = spec.clone();
    let mut bigger = mi_provider(&mi, 80);
    bigger["tags"] = json!([{"key": "pool", "value": "big"}]);
    changed["managedInstancesProviders"] = json!([bigger, mi_provider(&mi2, 40)]);
    apply(&env, "cp", &changed).await?;
    env.wait_for("the provider update", || async {
        let Some(p) = aws_provider(&env, &mi).await? else {
            return Ok(None);
        };
        let size = p
            .managed_instances_provider()
            .and_then(|m| m.instance_launch_template())
            .and_then(|t| t.storage_configuration())
            .and_then(|s| s.storage_size_gib());
        let tagged = p
            .tags()
            .iter()
            .any(|t| t.key() == Some("pool") && t.value() == Some("big"));
        Ok((size == Some(80) && tagged).then_some(()))
    })
    .await?;
    wait_ready(&env, "cp").await?;

    // Every provider but the first Managed Instances one leaves the spec: ours are detached and
    // deleted, the foreign one only detached.
    let mut fewer = changed.clone();
    fewer["capacityProviders"] = json!(["FARGATE"]);
    fewer["autoScalingGroupProviders"] = json!([]);
    fewer["managedInstancesProviders"] = json!([changed["managedInstancesProviders"][0]]);
    apply(&env, "cp", &fewer).await?;
    env.wait_for("providers that left the spec to go", || async {
        let a = aws_cluster_required(&env, &cluster).await?;
        let mut want = vec!["FARGATE".to_string(), mi.clone()];
        want.sort();
        let gone =
            aws_provider(&env, &asg).await?.is_none() && aws_provider(&env, &mi2).await?.is_none();
        Ok((a["capacityProviders"] == json!(want) && gone).then_some(()))
    })
    .await?;
    ensure!(
        aws_provider(&env, &foreign).await?.is_some(),
        "a provider the operator did not create was deleted"
    );
    wait_ready(&env, "cp").await?;

    // Deleting the cluster deletes its Managed Instances provider too.
    env.delete::<EcsCluster>("cp").await?;
    env.wait_gone::<EcsCluster>("cp").await?;
    ensure!(
        aws_cluster(&env, &cluster).await?.is_none(),
        "cluster still exists"
    );
    ensure!(aws_provider(&env, &mi).await?.is_none(), "{mi} left behind");
    env.ecs
        .delete_capacity_provider()
        .capacity_provider(&foreign)
        .send()
        .await?;
    env.cleanup::<EcsCluster>().await
}
