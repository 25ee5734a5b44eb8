//! EcsService `autoScaling` end to end against moto's Application Auto Scaling.

use anyhow::{Result, anyhow, ensure};
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
use aws_sdk_ecs::types::ContainerDefinition;
use e2e::{TestEnv, manifest, unique};
use ecs_operator::api::EcsService;
use serde_json::{Value, json};

/// A scheduled action: (name, schedule, timezone, min, max).
type Action = (String, String, Option<String>, Option<i32>, Option<i32>);

/// What Application Auto Scaling holds for one service.
#[derive(Debug, PartialEq)]
struct Scaling {
    /// (min, max) of the scalable target.
    target: Option<(i32, i32)>,
    /// (policy name, policy type), sorted.
    policies: Vec<(String, String)>,
    /// (action name, schedule, timezone, min, max).
    actions: Vec<Action>,
}

async fn scaling(aas: &aws_sdk_applicationautoscaling::Client, rid: &str) -> Result<Scaling> {
    let targets = aas
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_ids(rid)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .send()
        .await?;
    let target = targets
        .scalable_targets()
        .iter()
        .find(|t| t.resource_id() == rid)
        .map(|t| (t.min_capacity(), t.max_capacity()));
    let policies = aas
        .describe_scaling_policies()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(rid)
        .send()
        .await?;
    let mut policies: Vec<(String, String)> = policies
        .scaling_policies()
        .iter()
        .filter(|p| p.resource_id() == rid)
        .map(|p| {
            (
                p.policy_name().to_string(),
                p.policy_type().as_str().to_string(),
            )
        })
        .collect();
    policies.sort();
    let actions = aas
        .describe_scheduled_actions()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(rid)
        .send()
        .await?;
    let actions = actions
        .scheduled_actions()
        .iter()
        .map(|a| {
            let t = a.scalable_target_action();
            (
                a.scheduled_action_name().to_string(),
                a.schedule().to_string(),
                a.timezone().map(str::to_string),
                t.and_then(|t| t.min_capacity()),
                t.and_then(|t| t.max_capacity()),
            )
        })
        .collect();
    Ok(Scaling {
        target,
        policies,
        actions,
    })
}

fn auto_scaling(max: i32, with_step: bool) -> Value {
    let mut block = json!({
        "minCapacity": 1,
        "maxCapacity": max,
        "targetTrackingScalingPolicies": [{
            "policyName": "cpu60", "targetValue": 60.0, "scaleInCooldown": 120,
            "predefinedMetricSpecification": {"predefinedMetricType": "ECSServiceAverageCPUUtilization"},
        }],
        "scheduledActions": [{
            "scheduledActionName": "night", "schedule": "cron(0 22 * * ? *)", "timezone": "Europe/Paris",
            "scalableTargetAction": {"minCapacity": 0, "maxCapacity": 1},
        }],
    });
    if with_step {
        block["stepScalingPolicies"] = json!([{
            "policyName": "burst", "adjustmentType": "ChangeInCapacity", "cooldown": 60,
            "stepAdjustments": [{"metricIntervalLowerBound": 0.0, "scalingAdjustment": 2}],
        }]);
    }
    block
}

#[tokio::test]
async fn auto_scaling_owns_the_count_and_follows_the_spec() -> Result<()> {
    let env = TestEnv::new("aas").await?;
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let aas = aws_sdk_applicationautoscaling::Client::new(&config);
    let cluster = unique("aas-cluster");
    let family = unique("aas-td");
    let service = unique("aas-svc");
    env.ecs
        .create_cluster()
        .cluster_name(&cluster)
        .send()
        .await?;
    env.ecs
        .register_task_definition()
        .family(&family)
        .container_definitions(
            ContainerDefinition::builder()
                .name("web")
                .image("nginx")
                .memory(64)
                .build(),
        )
        .send()
        .await?;
    let rid = format!("service/{cluster}/{service}");
    let spec = |block: Value| json!({"serviceName": service, "cluster": cluster, "taskDefinition": family, "launchType": "EC2", "autoScaling": block});
    env.apply::<EcsService>(&manifest("EcsService", "web", &spec(auto_scaling(4, true))))
        .await?;
    let obj = env
        .wait_condition::<EcsService>("web", "Synced", "True", None)
        .await?;
    let want = Scaling {
        target: Some((1, 4)),
        policies: vec![
            ("burst".into(), "StepScaling".into()),
            ("cpu60".into(), "TargetTrackingScaling".into()),
        ],
        actions: vec![(
            "night".into(),
            "cron(0 22 * * ? *)".into(),
            Some("Europe/Paris".into()),
            Some(0),
            Some(1),
        )],
    };
    ensure!(
        scaling(&aas, &rid).await? == want,
        "{:?}",
        scaling(&aas, &rid).await?
    );
    // Status: the target's min/max, each policy's ARN and (target tracking) alarms.
    let s = serde_json::to_value(&obj)?["status"]["autoScaling"].clone();
    ensure!(s["minCapacity"] == 1 && s["maxCapacity"] == 4, "{s}");
    let policies = s["policies"].as_array().cloned().unwrap_or_default();
    ensure!(policies.len() == 2, "{s}");
    for p in &policies {
        ensure!(
            p["policyARN"]
                .as_str()
                .is_some_and(|a| a.contains(":scalingPolicy:")),
            "{p}"
        );
    }
    let cpu = policies
        .iter()
        .find(|p| p["policyName"] == "cpu60")
        .ok_or_else(|| anyhow!("no cpu60 in {s}"))?;
    ensure!(
        cpu["alarms"].as_array().is_some_and(|a| !a.is_empty()),
        "{cpu}"
    );
    let out = env.kubectl(&["get", "ecsservices", "web"]).await?;
    let table = String::from_utf8_lossy(&out.stdout).to_string();
    ensure!(table.contains("MIN") && table.contains("MAX"), "{table}");

    // kubectl scale is refused with a clear message, and so is desiredCount in the spec.
    let out = env
        .kubectl(&["scale", "ecsservice", "web", "--replicas=3"])
        .await?;
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    ensure!(!out.status.success(), "kubectl scale was accepted");
    ensure!(stderr.contains("autoscaling-owns-desiredCount"), "{stderr}");
    let mut with_count = spec(auto_scaling(4, true));
    with_count["desiredCount"] = json!(3);
    let err = env
        .apply::<EcsService>(&manifest("EcsService", "web", &with_count))
        .await
        .err()
        .ok_or_else(|| anyhow!("desiredCount with autoScaling accepted"))?;
    ensure!(
        format!("{err:#}").contains("autoscaling-owns-desiredCount"),
        "{err:#}"
    );

    // Application Auto Scaling moves the count: the operator never writes it back.
    env.ecs
        .update_service()
        .cluster(&cluster)
        .service(&service)
        .desired_count(3)
        .send()
        .await?;
    env.wait_log_grows("reconciled: in sync", 3).await?;
    ensure!(
        env.aws_desired_count(&cluster, &service).await? == 3,
        "the operator wrote desiredCount"
    );

    // A spec change: a higher maximum, the step policy removed.
    env.apply::<EcsService>(&manifest(
        "EcsService",
        "web",
        &spec(auto_scaling(6, false)),
    ))
    .await?;
    let want_changed = Scaling {
        target: Some((1, 6)),
        policies: vec![("cpu60".into(), "TargetTrackingScaling".into())],
        ..want
    };
    env.wait_for("the auto scaling change", || async {
        Ok((scaling(&aas, &rid).await? == want_changed).then_some(()))
    })
    .await?;

    // Removing the block deregisters everything and clears the status.
    let mut without = spec(Value::Null);
    without.as_object_mut().map(|m| m.remove("autoScaling"));
    env.apply::<EcsService>(&manifest("EcsService", "web", &without))
        .await?;
    let empty = Scaling {
        target: None,
        policies: vec![],
        actions: vec![],
    };
    env.wait_for("the target to be deregistered", || async {
        Ok((scaling(&aas, &rid).await? == empty).then_some(()))
    })
    .await?;
    env.wait_for("status.autoScaling to clear", || async {
        let o = env.api::<EcsService>().get("web").await?;
        Ok(o.status.filter(|s| s.auto_scaling.is_none()).map(|_| ()))
    })
    .await?;

    // Back again, then the service is deleted: the target goes with it.
    env.apply::<EcsService>(&manifest(
        "EcsService",
        "web",
        &spec(auto_scaling(4, false)),
    ))
    .await?;
    env.wait_for("the target to be registered again", || async {
        Ok((scaling(&aas, &rid).await?.target == Some((1, 4))).then_some(()))
    })
    .await?;
    env.delete::<EcsService>("web").await?;
    env.wait_gone::<EcsService>("web").await?;
    ensure!(
        scaling(&aas, &rid).await? == empty,
        "{:?}",
        scaling(&aas, &rid).await?
    );
    env.cleanup::<EcsService>().await
}
