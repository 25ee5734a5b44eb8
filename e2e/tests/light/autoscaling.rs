//! EcsService `spec.autoScaling` end to end against moto's Application Auto Scaling: the
//! scalable target, a target-tracking policy (moto creates its CloudWatch alarms) and a
//! scheduled action are created, updated in place and removed; a policy created outside the
//! spec is left alone; `kubectl scale` is refused while auto scaling owns the count; deleting the
//! object deregisters the target.

use anyhow::{Result, ensure};
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
use e2e::{TestEnv, manifest, unique};
use ecs_operator::api::ecs_service::EcsService;
use ecs_operator::api::{EcsCluster, TaskDefinition};
use serde_json::{Value, json};

/// What moto's Application Auto Scaling holds for the service.
struct Scaling {
    bounds: Option<(i32, i32)>,
    policies: Vec<(String, f64)>,
    actions: Vec<String>,
}

async fn scaling(client: &aws_sdk_applicationautoscaling::Client, rid: &str) -> Result<Scaling> {
    let targets = client
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_ids(rid)
        .send()
        .await?;
    let policies = client
        .describe_scaling_policies()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(rid)
        .send()
        .await?;
    let actions = client
        .describe_scheduled_actions()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(rid)
        .send()
        .await?;
    Ok(Scaling {
        bounds: targets
            .scalable_targets()
            .first()
            .map(|t| (t.min_capacity, t.max_capacity)),
        policies: policies
            .scaling_policies()
            .iter()
            .map(|p| {
                let target = p
                    .target_tracking_scaling_policy_configuration()
                    .map(|c| c.target_value)
                    .unwrap_or_default();
                (p.policy_name.clone(), target)
            })
            .collect(),
        actions: actions
            .scheduled_actions()
            .iter()
            .map(|a| a.scheduled_action_name.clone())
            .collect(),
    })
}

fn service(name: &str, auto_scaling: Option<Value>) -> String {
    let mut spec = json!({
        "serviceName": name,
        "clusterRef": {"name": "cluster"},
        "taskDefinitionRef": {"name": "web"},
        "launchType": "EC2",
    });
    if let Some(a) = auto_scaling {
        spec["autoScaling"] = a;
    }
    manifest("EcsService", "api", &spec)
}

fn policy(target: f64) -> Value {
    json!({
        "PolicyName": "cpu",
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": target,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
            "ScaleOutCooldown": 60,
        },
    })
}

#[tokio::test]
async fn auto_scaling_is_declared_updated_refuses_kubectl_scale_and_goes_with_the_service()
-> Result<()> {
    let env = TestEnv::new("autoscale").await?;
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let aas = aws_sdk_applicationautoscaling::Client::new(&config);
    let cluster = unique("as-cluster");
    let family = unique("as-web");
    let name = unique("api");
    let rid = format!("service/{cluster}/{name}");
    env.apply::<EcsCluster>(&manifest(
        "EcsCluster",
        "cluster",
        &json!({"clusterName": cluster}),
    ))
    .await?;
    env.apply::<TaskDefinition>(&manifest(
        "TaskDefinition",
        "web",
        &json!({"family": family, "networkMode": "bridge", "requiresCompatibilities": ["EC2"],
                "containerDefinitions": [{"name": "web", "image": "nginx:1", "memory": 128}]}),
    ))
    .await?;

    // Admission: auto scaling and a fixed count, or a DAEMON service, cannot go together.
    let bounds = json!({"MinCapacity": 1, "MaxCapacity": 2});
    for (spec, rule) in [
        (
            json!({"cluster": "c", "taskDefinition": "t", "desiredCount": 3, "autoScaling": bounds}),
            "autoScaling-owns-desiredCount",
        ),
        (
            json!({"cluster": "c", "taskDefinition": "t", "schedulingStrategy": "DAEMON", "autoScaling": bounds}),
            "autoScaling-daemon",
        ),
        (
            json!({"cluster": "c", "taskDefinition": "t", "autoScaling": {"MinCapacity": 3, "MaxCapacity": 2}}),
            "MinCapacity must not exceed MaxCapacity",
        ),
    ] {
        let refused = env
            .apply::<EcsService>(&manifest("EcsService", "bad", &spec))
            .await;
        let message = refused.err().map(|e| format!("{e:#}")).unwrap_or_default();
        ensure!(
            message.contains(rule),
            "{spec} not refused with {rule}: {message}"
        );
    }

    // Declared: the service starts at MinCapacity, the target, policy and action exist.
    let first = json!({
        "MinCapacity": 2, "MaxCapacity": 5,
        "ScalingPolicies": [policy(60.0)],
        "ScheduledActions": [{"ScheduledActionName": "night", "Schedule": "cron(0 22 * * ? *)",
                              "Timezone": "Europe/Berlin", "ScalableTargetAction": {"MinCapacity": 1, "MaxCapacity": 2}}],
    });
    env.apply::<EcsService>(&service(&name, Some(first)))
        .await?;
    env.wait_condition::<EcsService>("api", "Ready", "True", None)
        .await?;
    env.wait_condition::<EcsService>("api", "Synced", "True", None)
        .await?;
    ensure!(env.aws_desired_count(&cluster, &name).await? == 2);
    let s = scaling(&aas, &rid).await?;
    ensure!(s.bounds == Some((2, 5)), "target: {:?}", s.bounds);
    ensure!(
        s.policies == [("cpu".to_string(), 60.0)],
        "{:?}",
        s.policies
    );
    ensure!(s.actions == ["night"], "{:?}", s.actions);
    let status =
        serde_json::to_value(env.api::<EcsService>().get("api").await?)?["status"]["autoScaling"]
            .clone();
    ensure!(
        status["minCapacity"] == 2 && status["maxCapacity"] == 5,
        "{status}"
    );
    let cpu = &status["policies"][0];
    ensure!(
        cpu["policyName"] == "cpu"
            && cpu["managed"] == true
            && cpu["policyARN"].as_str().is_some_and(|a| a.contains("cpu")),
        "{status}"
    );
    ensure!(
        cpu["alarms"].as_array().is_some_and(|a| !a.is_empty()),
        "target tracking alarms missing: {status}"
    );
    let wide = env
        .kubectl(&["get", "ecsservice", "api", "-o", "wide"])
        .await?;
    let table = String::from_utf8_lossy(&wide.stdout);
    ensure!(
        table.contains("MIN") && table.contains("MAX"),
        "columns: {table}"
    );

    // kubectl scale would fight auto scaling: refused at admission, with the reason.
    let out = env
        .kubectl(&["scale", "ecsservice", "api", "--replicas=4"])
        .await?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(!out.status.success(), "kubectl scale was accepted");
    ensure!(
        stderr.contains("autoScaling-owns-desiredCount"),
        "unclear refusal: {stderr}"
    );

    // A policy someone added outside the spec is not the object's.
    aas.put_scaling_policy()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(&rid)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .policy_name("console")
        .policy_type(aws_sdk_applicationautoscaling::types::PolicyType::TargetTrackingScaling)
        .target_tracking_scaling_policy_configuration(
            aws_sdk_applicationautoscaling::types::TargetTrackingScalingPolicyConfiguration::builder()
                .target_value(80.0)
                .predefined_metric_specification(
                    aws_sdk_applicationautoscaling::types::PredefinedMetricSpecification::builder()
                        .predefined_metric_type(
                            aws_sdk_applicationautoscaling::types::MetricType::EcsServiceAverageMemoryUtilization,
                        )
                        .build()?,
                )
                .build()?,
        )
        .send()
        .await?;

    // Updated in place: new bounds and target value, the scheduled action removed.
    let second = json!({"MinCapacity": 1, "MaxCapacity": 7, "ScalingPolicies": [policy(70.0)]});
    env.apply::<EcsService>(&service(&name, Some(second.clone())))
        .await?;
    env.wait_for("auto scaling updated in AWS", || async {
        let s = scaling(&aas, &rid).await?;
        Ok((s.bounds == Some((1, 7))
            && s.actions.is_empty()
            && s.policies.contains(&("cpu".to_string(), 70.0)))
        .then_some(s))
    })
    .await
    .map(|s| s.policies)
    .and_then(|p| {
        ensure!(
            p.iter().any(|(n, _)| n == "console"),
            "the foreign policy was deleted: {p:?}"
        );
        Ok(())
    })?;
    ensure!(
        env.aws_desired_count(&cluster, &name).await? == 2,
        "the operator wrote desiredCount while auto scaling owns it"
    );

    // The block removed: the target is deregistered and status forgets it.
    env.apply::<EcsService>(&service(&name, None)).await?;
    env.wait_for("scalable target deregistered", || async {
        Ok(scaling(&aas, &rid).await?.bounds.is_none().then_some(()))
    })
    .await?;
    env.wait_for("status.autoScaling cleared", || async {
        let v = serde_json::to_value(env.api::<EcsService>().get("api").await?)?;
        Ok(v["status"].get("autoScaling").is_none().then_some(()))
    })
    .await?;

    // Declared again, then the object deleted: the target goes with the service.
    env.apply::<EcsService>(&service(&name, Some(second)))
        .await?;
    env.wait_for("scalable target registered again", || async {
        Ok(scaling(&aas, &rid).await?.bounds.map(|_| ()))
    })
    .await?;
    env.wait_for("status.autoScaling recorded", || async {
        let v = serde_json::to_value(env.api::<EcsService>().get("api").await?)?;
        Ok(v["status"].get("autoScaling").map(|_| ()))
    })
    .await?;
    env.delete::<EcsService>("api").await?;
    env.wait_gone::<EcsService>("api").await?;
    ensure!(
        scaling(&aas, &rid).await?.bounds.is_none(),
        "the scalable target outlived its service"
    );
    env.cleanup::<EcsService>().await
}
