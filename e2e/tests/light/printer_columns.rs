//! `kubectl get` and `kubectl get -o wide` print the columns the README lists for every kind.
//! The operator is stopped: the objects exist only in Kubernetes, nothing reaches AWS.

use anyhow::{Result, ensure};
use e2e::{TestEnv, manifest};
use ecs_operator::api::{
    EcrRegistry, EcrRepository, EcsCluster, EcsExpressService, EcsGateway, EcsSchedule, EcsService,
    EcsTask, TaskDefinition,
};
use serde_json::json;

#[tokio::test]
async fn kubectl_get_prints_the_columns_the_readme_lists() -> Result<()> {
    let mut env = TestEnv::new("columns").await?;
    env.stop_operator();
    let run = json!({"cluster": "c", "taskDefinition": "f:1"});
    env.apply::<EcrRepository>(&manifest("EcrRepository", "x", &json!({})))
        .await?;
    env.apply::<TaskDefinition>(&manifest(
        "TaskDefinition",
        "x",
        &json!({"family": "f", "containerDefinitions": [{"name": "a", "image": "i", "memory": 64}]}),
    ))
    .await?;
    env.apply::<EcsCluster>(&manifest("EcsCluster", "x", &json!({})))
        .await?;
    env.apply::<EcsService>(&manifest("EcsService", "x", &run))
        .await?;
    env.apply::<EcsTask>(&manifest("EcsTask", "x", &run))
        .await?;
    env.apply::<EcsSchedule>(&manifest(
        "EcsSchedule",
        "x",
        &json!({"scheduleExpression": "rate(1 day)", "flexibleTimeWindow": {"mode": "OFF"},
                "roleArn": "arn:aws:iam::123456789012:role/r", "cluster": "c", "taskDefinition": "f"}),
    ))
    .await?;
    env.apply::<EcrRegistry>(&manifest("EcrRegistry", "x", &json!({})))
        .await?;
    env.apply::<EcsExpressService>(&manifest(
        "EcsExpressService",
        "x",
        &json!({"cluster": "c", "executionRoleArn": "arn:aws:iam::123456789012:role/e",
                "infrastructureRoleArn": "arn:aws:iam::123456789012:role/i",
                "primaryContainer": {"image": "nginx", "containerPort": 80}}),
    ))
    .await?;
    env.apply::<EcsGateway>(&manifest(
        "EcsGateway",
        "x",
        &json!({"infrastructureRoleArn": "arn:aws:iam::123456789012:role/i"}),
    ))
    .await?;
    // (plural, columns, what -o wide adds), as the README lists them.
    let cases: &[(&str, &str, &str)] = &[
        ("ecrrepositories", "READY SYNCED URI AGE", "REASON"),
        ("taskdefinitions", "FAMILY REVISION READY SYNCED AGE", "ARN"),
        (
            "ecsclusters",
            "SERVICES RUNNING READY SYNCED AGE",
            "STATUS REASON",
        ),
        (
            "ecsservices",
            "DESIRED RUNNING PENDING ROLLOUT READY AGE",
            "MIN MAX REASON",
        ),
        (
            "ecstasks",
            "STATUS EXIT STARTED DURATION AGE",
            "ATTEMPTS REASON",
        ),
        ("ecsschedules", "SCHEDULE STATE READY SYNCED AGE", ""),
        (
            "ecrregistries",
            "READY SYNCED REGISTRY REPLICATION SCAN CACHES TEMPLATES AGE",
            "REASON",
        ),
        (
            "ecsexpressservices",
            "STATUS URL READY AGE",
            "RUNNING REASON",
        ),
        (
            "ecsgateways",
            "STATUS ACCESS CLUSTERS READY AGE",
            "ARN REASON",
        ),
    ];
    for (plural, columns, wide) in cases {
        for (args, want) in [
            (vec!["get", plural, "x"], format!("NAME {columns}")),
            (
                vec!["get", plural, "x", "-o", "wide"],
                format!("NAME {columns} {wide}"),
            ),
        ] {
            let out = env.kubectl(&args).await?;
            ensure!(
                out.status.success(),
                "kubectl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            let header: Vec<&str> = text
                .lines()
                .next()
                .unwrap_or_default()
                .split_whitespace()
                .collect();
            let mut want: Vec<&str> = want.split_whitespace().collect();
            // kubectl prints AGE where the CRD puts it; compare the set and the order of the rest.
            let without_age = |v: &mut Vec<&str>| v.retain(|c| *c != "AGE");
            let mut got = header.clone();
            without_age(&mut got);
            without_age(&mut want);
            ensure!(
                got == want && header.contains(&"AGE"),
                "kubectl {args:?} prints {header:?}, the README lists {want:?} and AGE"
            );
        }
    }
    env.cleanup_all().await
}
