//! EcsService end to end against the real bed. The bed's moto runs a test-only ECS deployment
//! model (e2e/moto/ecs_deployments.py): a deployment reaches its desired count and COMPLETES
//! after MOTO_ECS_DEPLOYMENT_SECONDS (2 s), or after the task definition's
//! `moto-ecs/deployment-seconds` tag. Rollout failures are in rollout.rs.

use anyhow::{Result, anyhow, ensure};
use e2e::{TestEnv, condition, condition_message, unique};
use ecs_operator::api::ecs_service::EcsService;
use ecs_operator::api::{EcsCluster, TaskDefinition};
use kube::api::{Patch, PatchParams};
use serde_json::json;

use e2e::manifest;

/// Cluster + task definition objects (Ready) for a service to reference.
async fn bed_for_service(env: &TestEnv) -> Result<(String, String)> {
    bed_for_service_tagged(env, json!([])).await
}

/// [`bed_for_service`] with `tags` on the task definition (moto's test-only knobs).
async fn bed_for_service_tagged(
    env: &TestEnv,
    tags: serde_json::Value,
) -> Result<(String, String)> {
    let cluster = unique("svc-cluster");
    let family = unique("svc-web");
    env.apply::<EcsCluster>(&manifest(
        "EcsCluster",
        "cluster",
        &json!({"clusterName": cluster}),
    ))
    .await?;
    let mut td = json!({"family": family, "networkMode": "bridge", "requiresCompatibilities": ["EC2"],
            "containerDefinitions": [{"name": "web", "image": "nginx:1", "memory": 128, "portMappings": [{"containerPort": 80, "hostPort": 0}]}]});
    if tags.as_array().is_some_and(|t| !t.is_empty()) {
        td["tags"] = tags;
    }
    env.apply::<TaskDefinition>(&manifest("TaskDefinition", "web", &td))
        .await?;
    env.wait_condition::<EcsCluster>("cluster", "Ready", "True", None)
        .await?;
    env.wait_condition::<TaskDefinition>("web", "Ready", "True", None)
        .await?;
    Ok((cluster, family))
}

async fn aws_service(
    env: &TestEnv,
    cluster: &str,
    name: &str,
) -> Result<Option<aws_sdk_ecs::types::Service>> {
    let out = env
        .ecs
        .describe_services()
        .cluster(cluster)
        .services(name)
        .send()
        .await?;
    Ok(out
        .services()
        .iter()
        .find(|s| s.status() != Some("INACTIVE"))
        .cloned())
}

#[tokio::test]
async fn references_rollout_status_scale_redeploy_restart_and_delete() -> Result<()> {
    let env = TestEnv::new("svc-main").await?;
    let svc_name = unique("api");
    // The service is applied first: its references do not exist yet.
    let spec = json!({
        "serviceName": svc_name,
        "clusterRef": {"name": "cluster"},
        "taskDefinitionRef": {"name": "web"},
        "desiredCount": 2,
        "launchType": "EC2",
        "placementStrategy": [{"type": "spread", "field": "attribute:ecs.availability-zone"}, {"type": "binpack", "field": "memory"}],
        "tags": [{"key": "team", "value": "api"}],
    });
    env.apply::<EcsService>(&manifest("EcsService", "api", &spec))
        .await?;
    let waiting = env
        .wait_condition::<EcsService>("api", "Synced", "False", Some("ReferenceNotReady"))
        .await?;
    ensure!(
        condition_message(&waiting, "Synced").contains("cluster"),
        "{:?}",
        waiting.status
    );

    let (cluster, family) = bed_for_service(&env).await?;
    env.wait_condition::<EcsService>("api", "Ready", "True", None)
        .await?;
    let s = env.status_json::<EcsService>("api").await?;
    ensure!(s["desiredCount"] == 2 && s["runningCount"] == 2, "{s}");
    ensure!(
        s["taskDefinition"]
            .as_str()
            .is_some_and(|t| t.ends_with(&format!("{family}:1"))),
        "{s}"
    );
    ensure!(condition(&s, "Progressing").0 == "False", "{s}");
    ensure!(
        env.log_count("related object updated") > 0,
        "references were not resolved through watches"
    );
    let svc = aws_service(&env, &cluster, &svc_name)
        .await?
        .ok_or_else(|| anyhow!("service missing in AWS"))?;
    ensure!(svc.desired_count() == 2, "{svc:?}");
    let strategies: Vec<&str> = svc
        .placement_strategy()
        .iter()
        .filter_map(|p| p.field())
        .collect();
    ensure!(
        strategies == ["attribute:ecs.availability-zone", "memory"],
        "placement strategies in AWS: {svc:?}"
    );

    let out = env.kubectl(&["get", "ecsservices"]).await?;
    let table = String::from_utf8_lossy(&out.stdout);
    for column in ["DESIRED", "RUNNING", "PENDING", "ROLLOUT", "READY", "AGE"] {
        ensure!(table.contains(column), "missing column {column}: {table}");
    }

    // kubectl scale drives desiredCount through the scale subresource.
    let out = env
        .kubectl(&["scale", "ecsservice", "api", "--replicas=4"])
        .await?;
    ensure!(
        out.status.success(),
        "kubectl scale: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.wait_for("desiredCount 4 in AWS", || async {
        Ok(aws_service(&env, &cluster, &svc_name)
            .await?
            .filter(|s| s.desired_count() == 4)
            .map(|_| ()))
    })
    .await?;

    // A new TaskDefinition revision rolls the service to it, with no change to the service.
    env.api::<TaskDefinition>()
        .patch(
            "web",
            &PatchParams::apply("e2e-test").force(),
            &Patch::Apply(json!({"apiVersion": "ecs.operator.dev/v1alpha1", "kind": "TaskDefinition", "metadata": {"name": "web"},
                "spec": {"family": family, "networkMode": "bridge", "requiresCompatibilities": ["EC2"],
                         "containerDefinitions": [{"name": "web", "image": "nginx:2", "memory": 128, "portMappings": [{"containerPort": 80, "hostPort": 0}]}]}})),
        )
        .await?;
    env.wait_for("service on revision 2", || async {
        let svc = aws_service(&env, &cluster, &svc_name).await?;
        Ok(svc
            .filter(|s| {
                s.task_definition()
                    .is_some_and(|t| t.ends_with(&format!("{family}:2")))
            })
            .map(|_| ()))
    })
    .await?;

    // Restart annotation: one forced deployment per new value.
    let before = aws_service(&env, &cluster, &svc_name).await?.and_then(|s| {
        s.deployments()
            .first()
            .and_then(|d| d.id().map(str::to_string))
    });
    env.api::<EcsService>()
        .patch("api", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"annotations": {"ecs.operator.dev/restartedAt": "2026-11-22T00:00:00Z"}}})))
        .await?;
    env.wait_for("a forced new deployment", || async {
        let now = aws_service(&env, &cluster, &svc_name).await?.and_then(|s| {
            s.deployments()
                .first()
                .and_then(|d| d.id().map(str::to_string))
        });
        Ok((now.is_some() && now != before).then_some(()))
    })
    .await?;
    env.wait_for("restartedAt recorded", || async {
        Ok(
            (env.status_json::<EcsService>("api").await?["restartedAt"] == "2026-11-22T00:00:00Z")
                .then_some(()),
        )
    })
    .await?;
    ensure!(
        env.log_count("restart requested") == 1,
        "restart acted on more than once"
    );

    // Deleting the cluster first waits for the service; deleting the service releases both.
    env.delete::<EcsCluster>("cluster").await?;
    let blocked = env
        .wait_condition::<EcsCluster>("cluster", "Synced", "False", Some("DeleteBlocked"))
        .await?;
    ensure!(
        condition_message(&blocked, "Synced").contains(&svc_name),
        "{:?}",
        blocked.status
    );
    env.delete::<EcsService>("api").await?;
    env.wait_gone::<EcsService>("api").await?;
    ensure!(
        aws_service(&env, &cluster, &svc_name).await?.is_none(),
        "service still active in AWS"
    );
    env.wait_gone::<EcsCluster>("cluster").await?;
    env.cleanup::<EcsService>().await
}

#[tokio::test]
async fn rollout_in_progress_is_not_ready() -> Result<()> {
    let env = TestEnv::new("svc-progress").await?;
    let (cluster, _) = bed_for_service(&env).await?;
    // A revision whose deployments take longer than the test looks.
    let slow = env
        .ecs
        .register_task_definition()
        .family(unique("svc-slow"))
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("web")
                .image("nginx")
                .memory(64)
                .build(),
        )
        .tags(
            aws_sdk_ecs::types::Tag::builder()
                .key("moto-ecs/deployment-seconds")
                .value("300")
                .build(),
        )
        .send()
        .await?
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .ok_or_else(|| anyhow!("no ARN"))?
        .to_string();
    let name = unique("big");
    let spec =
        json!({"serviceName": name, "cluster": cluster, "taskDefinition": slow, "desiredCount": 5});
    env.apply::<EcsService>(&manifest("EcsService", "big", &spec))
        .await?;
    env.wait_condition::<EcsService>("big", "Synced", "True", None)
        .await?;
    let s = env.status_json::<EcsService>("big").await?;
    ensure!(
        condition(&s, "Ready").0 == "False" && condition(&s, "Progressing").0 == "True",
        "{s}"
    );
    ensure!(
        s["desiredCount"] == 5 && s["runningCount"] == 0 && s["pendingCount"] == 5,
        "{s}"
    );
    ensure!(s["rolloutState"] == "IN_PROGRESS", "{s}");
    env.api::<EcsService>()
        .patch(
            "big",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await?;
    env.cleanup::<EcsService>().await
}

#[tokio::test]
async fn immutable_fields_and_exclusive_references_are_rejected() -> Result<()> {
    let env = TestEnv::new("svc-admission").await?;
    let bad = json!({"cluster": "c", "clusterRef": {"name": "c"}, "taskDefinition": "t"});
    let err = env
        .apply::<EcsService>(&manifest("EcsService", "bad", &bad))
        .await
        .err()
        .ok_or_else(|| anyhow!("accepted"))?;
    ensure!(
        format!("{err:#}").contains("cluster-or-clusterRef"),
        "{err:#}"
    );
    let ok = json!({"cluster": "c", "taskDefinition": "t", "launchType": "EC2"});
    env.apply::<EcsService>(&manifest("EcsService", "svc", &ok))
        .await?;
    let changed = json!({"cluster": "c", "taskDefinition": "t", "launchType": "FARGATE"});
    let err = env
        .apply::<EcsService>(&manifest("EcsService", "svc", &changed))
        .await
        .err()
        .ok_or_else(|| anyhow!("launchType change accepted"))?;
    ensure!(
        format!("{err:#}").contains("launchType-immutable"),
        "{err:#}"
    );
    env.cleanup::<EcsService>().await
}

#[tokio::test]
async fn daemon_and_capacity_provider_strategy_services() -> Result<()> {
    let env = TestEnv::new("svc-kinds").await?;
    let cluster = unique("cp-cluster");
    let asg_arn = format!(
        "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/{cluster}-asg"
    );
    let cluster_spec = json!({
        "clusterName": cluster,
        "capacityProviders": ["FARGATE", "FARGATE_SPOT"],
        "autoScalingGroupProviders": [{"name": format!("{cluster}-ec2"), "autoScalingGroupProvider": {
            "autoScalingGroupArn": asg_arn,
            "managedScaling": {"status": "ENABLED", "targetCapacity": 90, "minimumScalingStepSize": 1, "maximumScalingStepSize": 10, "instanceWarmupPeriod": 120},
            "managedTerminationProtection": "DISABLED"}}],
        "defaultCapacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1, "base": 1}, {"capacityProvider": "FARGATE_SPOT", "weight": 3}],
    });
    env.apply::<EcsCluster>(&manifest("EcsCluster", "cluster", &cluster_spec))
        .await?;
    env.wait_condition::<EcsCluster>("cluster", "Ready", "True", None)
        .await?;
    let providers = env
        .ecs
        .describe_capacity_providers()
        .capacity_providers(format!("{cluster}-ec2"))
        .send()
        .await?;
    let provider = providers
        .capacity_providers()
        .first()
        .ok_or_else(|| anyhow!("ASG capacity provider not created"))?;
    let scaling = provider
        .auto_scaling_group_provider()
        .and_then(|p| p.managed_scaling())
        .ok_or_else(|| anyhow!("no managed scaling"))?;
    ensure!(scaling.target_capacity() == Some(90), "{provider:?}");

    let family = unique("cp-td");
    env.apply::<TaskDefinition>(&manifest(
        "TaskDefinition",
        "web",
        &json!({"family": family, "containerDefinitions": [{"name": "web", "image": "nginx", "memory": 128}]}),
    ))
    .await?;
    env.wait_condition::<TaskDefinition>("web", "Ready", "True", None)
        .await?;

    // A REPLICA service placed by a capacity provider strategy that includes the ASG provider.
    let strategy = json!([{"capacityProvider": format!("{cluster}-ec2"), "weight": 1, "base": 1}, {"capacityProvider": "FARGATE_SPOT", "weight": 2}]);
    let spot = unique("spot");
    env.apply::<EcsService>(&manifest(
        "EcsService",
        "spot",
        &json!({"serviceName": spot, "clusterRef": {"name": "cluster"}, "taskDefinitionRef": {"name": "web"}, "desiredCount": 1, "capacityProviderStrategy": strategy}),
    ))
    .await?;
    env.wait_condition::<EcsService>("spot", "Synced", "True", Some("ReconcileSuccess"))
        .await?;
    let svc = aws_service(&env, &cluster, &spot)
        .await?
        .ok_or_else(|| anyhow!("spot service missing"))?;
    let names: Vec<&str> = svc
        .capacity_provider_strategy()
        .iter()
        .map(|s| s.capacity_provider())
        .collect();
    ensure!(
        names.contains(&format!("{cluster}-ec2").as_str()) && names.contains(&"FARGATE_SPOT"),
        "{svc:?}"
    );

    // A DAEMON service: no desiredCount; one task per instance.
    let daemon = unique("agent");
    env.apply::<EcsService>(&manifest(
        "EcsService",
        "agent",
        &json!({"serviceName": daemon, "clusterRef": {"name": "cluster"}, "taskDefinitionRef": {"name": "web"}, "schedulingStrategy": "DAEMON", "launchType": "EC2"}),
    ))
    .await?;
    env.wait_condition::<EcsService>("agent", "Synced", "True", Some("ReconcileSuccess"))
        .await?;
    let svc = aws_service(&env, &cluster, &daemon)
        .await?
        .ok_or_else(|| anyhow!("daemon service missing"))?;
    ensure!(
        svc.scheduling_strategy().map(|s| s.as_str()) == Some("DAEMON"),
        "{svc:?}"
    );
    let err = env
        .apply::<EcsService>(&manifest(
            "EcsService",
            "agent2",
            &json!({"clusterRef": {"name": "cluster"}, "taskDefinitionRef": {"name": "web"}, "schedulingStrategy": "DAEMON", "desiredCount": 3}),
        ))
        .await
        .err()
        .ok_or_else(|| anyhow!("DAEMON with desiredCount accepted"))?;
    ensure!(format!("{err:#}").contains("daemon-fields"), "{err:#}");

    for svc in ["spot", "agent"] {
        env.delete::<EcsService>(svc).await?;
        env.wait_gone::<EcsService>(svc).await?;
    }
    env.delete::<EcsCluster>("cluster").await?;
    env.wait_gone::<EcsCluster>("cluster").await?;
    let left = env
        .ecs
        .describe_capacity_providers()
        .capacity_providers(format!("{cluster}-ec2"))
        .send()
        .await?;
    ensure!(
        left.capacity_providers().is_empty(),
        "ASG capacity provider left behind: {left:?}"
    );
    env.cleanup::<EcsService>().await
}

#[tokio::test]
async fn drift_is_corrected_but_autoscaled_count_is_left_alone() -> Result<()> {
    let env = TestEnv::new("svc-drift").await?;
    let (cluster, family) = bed_for_service(&env).await?;
    // desiredCount unset: Application Auto Scaling (here: someone in AWS) owns it.
    let auto = unique("auto");
    env.apply::<EcsService>(&manifest(
        "EcsService",
        "auto",
        &json!({"serviceName": auto, "cluster": cluster, "taskDefinition": family, "tags": [{"key": "team", "value": "a"}]}),
    ))
    .await?;
    env.wait_condition::<EcsService>("auto", "Synced", "True", Some("ReconcileSuccess"))
        .await?;
    env.ecs
        .update_service()
        .cluster(&cluster)
        .service(&auto)
        .desired_count(7)
        .send()
        .await?;
    let arn = aws_service(&env, &cluster, &auto)
        .await?
        .and_then(|s| s.service_arn().map(str::to_string))
        .unwrap_or_default();
    env.ecs
        .untag_resource()
        .resource_arn(&arn)
        .tag_keys("team")
        .send()
        .await?;
    env.wait_for("tag drift corrected", || async {
        let tags = env
            .ecs
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await?;
        Ok(tags
            .tags()
            .iter()
            .any(|t| t.key() == Some("team"))
            .then_some(()))
    })
    .await?;
    env.wait_log_grows("reconciled: in sync", 2).await?;
    let svc = aws_service(&env, &cluster, &auto)
        .await?
        .ok_or_else(|| anyhow!("service missing"))?;
    ensure!(
        svc.desired_count() == 7,
        "the operator overwrote an autoscaled desiredCount: {}",
        svc.desired_count()
    );
    ensure!(
        env.status_json::<EcsService>("auto").await?["desiredCount"] == 7,
        "status does not follow AWS"
    );
    env.delete::<EcsService>("auto").await?;
    env.wait_gone::<EcsService>("auto").await?;
    env.cleanup::<EcsService>().await
}

#[tokio::test]
async fn fargate_awsvpc_service_behind_a_target_group() -> Result<()> {
    let env = TestEnv::new("svc-fargate").await?;
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    // Network and load balancing made in moto for this test.
    let vpc = ec2.create_vpc().cidr_block("10.20.0.0/16").send().await?;
    let vpc_id = vpc
        .vpc()
        .and_then(|v| v.vpc_id())
        .ok_or_else(|| anyhow!("no vpc"))?
        .to_string();
    let subnet = ec2
        .create_subnet()
        .vpc_id(&vpc_id)
        .cidr_block("10.20.1.0/24")
        .availability_zone("us-east-1a")
        .send()
        .await?;
    let subnet_id = subnet
        .subnet()
        .and_then(|s| s.subnet_id())
        .ok_or_else(|| anyhow!("no subnet"))?
        .to_string();
    let sg = ec2
        .create_security_group()
        .vpc_id(&vpc_id)
        .group_name(unique("web-sg"))
        .description("web")
        .send()
        .await?;
    let sg_id = sg
        .group_id()
        .ok_or_else(|| anyhow!("no security group"))?
        .to_string();
    let tg = elb
        .create_target_group()
        .name(unique("tg").chars().take(32).collect::<String>())
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .port(8080)
        .vpc_id(&vpc_id)
        .target_type(aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum::Ip)
        .send()
        .await?;
    let tg_arn = tg
        .target_groups()
        .first()
        .and_then(|t| t.target_group_arn())
        .ok_or_else(|| anyhow!("no target group"))?
        .to_string();

    let cluster = unique("fargate");
    env.apply::<EcsCluster>(&manifest(
        "EcsCluster",
        "cluster",
        &json!({"clusterName": cluster, "capacityProviders": ["FARGATE"]}),
    ))
    .await?;
    let family = unique("fg-web");
    env.apply::<TaskDefinition>(&manifest(
        "TaskDefinition",
        "web",
        &json!({"family": family, "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
                "containerDefinitions": [{"name": "web", "image": "nginx", "portMappings": [{"containerPort": 8080}]}]}),
    ))
    .await?;
    let name = unique("web");
    env.apply::<EcsService>(&manifest(
        "EcsService",
        "web",
        &json!({
            "serviceName": name, "clusterRef": {"name": "cluster"}, "taskDefinitionRef": {"name": "web"},
            "desiredCount": 2, "launchType": "FARGATE", "platformVersion": "1.4.0",
            "networkConfiguration": {"awsvpcConfiguration": {"subnets": [subnet_id], "securityGroups": [sg_id], "assignPublicIp": "DISABLED"}},
            "loadBalancers": [{"targetGroupArn": tg_arn, "containerName": "web", "containerPort": 8080}],
            "healthCheckGracePeriodSeconds": 30,
            "deploymentConfiguration": {"maximumPercent": 200, "minimumHealthyPercent": 50,
                                        "deploymentCircuitBreaker": {"enable": true, "rollback": true}},
            "propagateTags": "SERVICE", "enableECSManagedTags": true,
        }),
    ))
    .await?;
    env.wait_condition::<EcsService>("web", "Ready", "True", None)
        .await?;
    let svc = aws_service(&env, &cluster, &name)
        .await?
        .ok_or_else(|| anyhow!("service missing"))?;
    ensure!(
        svc.launch_type().map(|l| l.as_str()) == Some("FARGATE"),
        "{svc:?}"
    );
    ensure!(
        svc.load_balancers()
            .first()
            .and_then(|l| l.target_group_arn())
            == Some(tg_arn.as_str()),
        "{svc:?}"
    );
    let awsvpc = svc
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration())
        .ok_or_else(|| anyhow!("no awsvpc configuration"))?;
    ensure!(
        awsvpc.subnets() == [subnet_id.clone()] && awsvpc.security_groups() == [sg_id.clone()],
        "{awsvpc:?}"
    );
    // Several resyncs: the service converged (no update loop on AWS defaults).
    env.wait_log_grows("reconciled: in sync", 4).await?;
    ensure!(
        env.log_count("still differs from the spec") == 0
            && env.events_for("web", "Updated").await?.len() <= 1,
        "update loop:\n{}",
        env.operator_log()
    );
    env.delete::<EcsService>("web").await?;
    env.wait_gone::<EcsService>("web").await?;
    env.cleanup::<EcsService>().await
}

#[tokio::test]
async fn describe_services_is_batched_per_cluster() -> Result<()> {
    let env = TestEnv::new("svc-batch").await?;
    let (cluster, family) = bed_for_service(&env).await?;
    for i in 0..4 {
        let spec = json!({"serviceName": unique(&format!("b{i}")), "cluster": cluster, "taskDefinition": family, "desiredCount": 2});
        env.apply::<EcsService>(&manifest("EcsService", &format!("svc-{i}"), &spec))
            .await?;
    }
    for i in 0..4 {
        env.wait_condition::<EcsService>(&format!("svc-{i}"), "Ready", "True", None)
            .await?;
    }
    // Two more resync rounds of all four services, then compare AWS calls with reconciles.
    let in_sync = format!("in sync object={}/svc-", env.namespace);
    let (reconciles, calls) = (
        env.log_count(&in_sync),
        env.log_count("DescribeServices batch"),
    );
    env.wait_log_count(&in_sync, reconciles + 8).await?;
    let reconciles = env.log_count(&in_sync) - reconciles;
    let calls = env.log_count("DescribeServices batch") - calls;
    ensure!(
        calls * 2 <= reconciles,
        "{calls} DescribeServices calls for {reconciles} service reconciles: not batched"
    );
    for i in 0..4 {
        env.delete::<EcsService>(&format!("svc-{i}")).await?;
    }
    for i in 0..4 {
        env.wait_gone::<EcsService>(&format!("svc-{i}")).await?;
    }
    env.cleanup::<EcsService>().await
}

/// README (EcsService): "Deleting: scale to 0, DeleteService, wait through DRAINING until
/// INACTIVE, then release the finalizer." The calls go through the fault proxy, recording them
/// (an UpdateService to desiredCount 0 comes before the one DeleteService, which is not forced);
/// the task definition's `moto-ecs/draining-seconds` tag makes moto keep the deleted service
/// DRAINING for a while (e2e/moto/ecs_deployments.py: stock moto makes it INACTIVE at once): the
/// object keeps its finalizer (Synced=False, reason Deleting) while moto says DRAINING, and goes
/// once it is INACTIVE.
#[tokio::test]
async fn delete_scales_to_zero_then_waits_through_draining() -> Result<()> {
    let mut env = TestEnv::new("svc-drain").await?;
    env.stop_operator();
    let proxy = e2e::fault::FaultProxy::in_front_of_bed(e2e::fault::FaultConfig {
        record: true,
        ..Default::default()
    })
    .await?;
    let op = env.spawn_operator("drain", &[], &[("AWS_ENDPOINT_URL", &proxy.url())])?;
    let (cluster, _) = bed_for_service_tagged(
        &env,
        json!([{"key": "moto-ecs/draining-seconds", "value": "15"}]),
    )
    .await?;
    let name = unique("drain");
    env.apply::<EcsService>(&manifest(
        "EcsService",
        "svc",
        &json!({"serviceName": name, "clusterRef": {"name": "cluster"},
                "taskDefinitionRef": {"name": "web"}, "desiredCount": 2}),
    ))
    .await?;
    env.wait_condition::<EcsService>("svc", "Ready", "True", None)
        .await
        .map_err(|e| anyhow!("{e:#}\n--- drain operator ---\n{}", op.log_tail()))?;
    let before = proxy.recorded().len();
    env.delete::<EcsService>("svc").await?;
    let moto_status = || async {
        let out = env
            .ecs
            .describe_services()
            .cluster(&cluster)
            .services(&name)
            .send()
            .await?;
        anyhow::Ok(
            out.services()
                .first()
                .and_then(|s| s.status())
                .unwrap_or_default()
                .to_string(),
        )
    };
    // While moto says DRAINING, the object waits with its finalizer, re-polling.
    env.wait_for("the operator re-polling a DRAINING service", || async {
        let calls = proxy.recorded();
        let Some(delete) = calls[before..]
            .iter()
            .position(|c| c.action == "DeleteService")
        else {
            return Ok(None);
        };
        let polls = calls[before + delete..]
            .iter()
            .filter(|c| c.action == "DescribeServices" && c.body.contains(&name))
            .count();
        Ok((polls >= 2).then_some(()))
    })
    .await
    .map_err(|e| anyhow!("{e:#}\n--- drain operator ---\n{}", op.log_tail()))?;
    ensure!(
        moto_status().await? == "DRAINING",
        "moto no longer DRAINING: raise the tag's seconds"
    );
    let obj = env
        .api::<EcsService>()
        .get_opt("svc")
        .await?
        .ok_or_else(|| anyhow!("the finalizer was released while the service was DRAINING"))?;
    ensure!(
        obj.metadata
            .finalizers
            .as_ref()
            .is_some_and(|f| !f.is_empty()),
        "{:?}",
        obj.metadata
    );
    let s = env.status_json::<EcsService>("svc").await?;
    ensure!(
        condition(&s, "Synced") == ("False".into(), "Deleting".into())
            && condition_message(&obj, "Synced").contains("draining"),
        "{s}"
    );

    // The order of the writes: scale to 0, then one DeleteService, not forced.
    let writes: Vec<(String, String)> = proxy.recorded()[before..]
        .iter()
        .filter(|c| c.action == "UpdateService" || c.action == "DeleteService")
        .map(|c| (c.action.clone(), c.body.clone()))
        .collect();
    ensure!(
        writes.len() == 2
            && writes[0].0 == "UpdateService"
            && serde_json::from_str::<serde_json::Value>(&writes[0].1)?["desiredCount"] == 0
            && writes[1].0 == "DeleteService"
            && !writes[1].1.replace(' ', "").contains("\"force\":true"),
        "writes after the delete: {writes:?}"
    );

    // INACTIVE: the finalizer goes.
    env.wait_gone::<EcsService>("svc")
        .await
        .map_err(|e| anyhow!("{e:#}\n--- drain operator ---\n{}", op.log_tail()))?;
    ensure!(
        moto_status().await? == "INACTIVE",
        "gone before moto said INACTIVE"
    );
    drop(op);
    env.cleanup_all().await
}
