//! CEL rules the README names, each shown by an apply the API server refuses with the rule's
//! message (the CRD unit tests only check that a rule's text is in the schema). The operator is
//! stopped: nothing here reaches AWS. Creates are checked as server-side dry runs; transition
//! rules (immutable fields) against an object created first.

use anyhow::{Result, anyhow, ensure};
use e2e::{TestEnv, manifest};
use ecs_operator::api::{EcrRepository, EcsCluster, EcsService, TaskDefinition};
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

/// Sends `spec` as object `name` of `kind`: a create (POST, as `kubectl create` and client-side
/// `kubectl apply` send it) as a server-side dry run when `dry_run`, else a server-side apply.
async fn apply(env: &TestEnv, kind: &str, name: &str, spec: &Value, dry_run: bool) -> Result<()> {
    async fn send<K>(env: &TestEnv, value: Value, name: &str, dry_run: bool) -> kube::Result<()>
    where
        K: kube::Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + serde::Serialize
            + std::fmt::Debug,
    {
        let api = env.api::<K>();
        if dry_run {
            let obj: K = serde_json::from_value(value).map_err(kube::Error::SerdeError)?;
            let params = kube::api::PostParams {
                dry_run: true,
                ..Default::default()
            };
            return api.create(&params, &obj).await.map(drop);
        }
        let params = PatchParams::apply("e2e-admission").force();
        api.patch(name, &params, &Patch::Apply(&value))
            .await
            .map(drop)
    }
    let value: Value = serde_json::from_str(&manifest(kind, name, spec))?;
    let result = match kind {
        "EcrRepository" => send::<EcrRepository>(env, value, name, dry_run).await,
        "TaskDefinition" => send::<TaskDefinition>(env, value, name, dry_run).await,
        "EcsCluster" => send::<EcsCluster>(env, value, name, dry_run).await,
        "EcsService" => send::<EcsService>(env, value, name, dry_run).await,
        other => return Err(anyhow!("no kind {other} here")),
    };
    result.map_err(anyhow::Error::from)
}

/// `spec` is refused with a message containing `needle`.
async fn refused(
    env: &TestEnv,
    case: &str,
    kind: &str,
    name: &str,
    spec: &Value,
    dry_run: bool,
    needle: &str,
) -> Result<()> {
    let err = apply(env, kind, name, spec, dry_run)
        .await
        .err()
        .ok_or_else(|| anyhow!("{case}: accepted"))?;
    ensure!(
        format!("{err:#}").contains(needle),
        "{case}: refused, but not by {needle:?}: {err:#}"
    );
    Ok(())
}

fn container() -> Value {
    json!({"name": "app", "image": "public.ecr.aws/nginx/nginx:latest", "memory": 128})
}

fn task(extra: Value) -> Value {
    let mut spec = json!({"family": "admission", "containerDefinitions": [container()]});
    if let (Some(spec), Value::Object(extra)) = (spec.as_object_mut(), extra) {
        spec.extend(extra);
    }
    spec
}

fn selection(count_type: &str, unit: Option<&str>) -> Value {
    let mut s = json!({"tagStatus": "any", "countType": count_type, "countNumber": 7});
    if let Some(unit) = unit {
        s["countUnit"] = json!(unit);
    }
    json!({"lifecyclePolicy": {"rules": [{"rulePriority": 1, "selection": s, "action": {"type": "expire"}}]}})
}

#[tokio::test]
async fn cel_rules_refuse_what_they_describe() -> Result<()> {
    let mut env = TestEnv::new("admission").await?;
    env.stop_operator();
    let efs =
        |config: Value| task(json!({"volumes": [{"name": "v", "efsVolumeConfiguration": config}]}));
    let creates: Vec<(&str, &str, Value, &str)> = vec![
        (
            "countUnit with imageCountMoreThan",
            "EcrRepository",
            selection("imageCountMoreThan", Some("days")),
            "countUnit is required",
        ),
        (
            "sinceImagePushed without countUnit",
            "EcrRepository",
            selection("sinceImagePushed", None),
            "countUnit is required",
        ),
        (
            "Fargate without task size",
            "TaskDefinition",
            task(json!({"requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc"})),
            "fargate-task-size",
        ),
        (
            "Fargate without awsvpc",
            "TaskDefinition",
            task(json!({"requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512"})),
            "fargate-network-mode",
        ),
        (
            "two volume types",
            "TaskDefinition",
            task(
                json!({"volumes": [{"name": "v", "host": {"sourcePath": "/d"}, "dockerVolumeConfiguration": {"scope": "task"}}]}),
            ),
            "volume-type",
        ),
        (
            // The schema requires the name (volumes are a list keyed by name), before CEL.
            "EFS volume without a name",
            "TaskDefinition",
            task(json!({"volumes": [{"efsVolumeConfiguration": {"fileSystemId": "fs-1"}}]})),
            "spec.volumes[0].name: Required value",
        ),
        (
            "EFS IAM without transit encryption",
            "TaskDefinition",
            efs(json!({"fileSystemId": "fs-1", "authorizationConfig": {"iam": "ENABLED"}})),
            "efs-transit-encryption",
        ),
        (
            "EFS access point with a root directory",
            "TaskDefinition",
            efs(
                json!({"fileSystemId": "fs-1", "rootDirectory": "/data", "transitEncryption": "ENABLED",
                "authorizationConfig": {"accessPointId": "fsap-1"}}),
            ),
            "efs-root-directory",
        ),
        (
            "two containers of one name",
            "TaskDefinition",
            task(json!({"containerDefinitions": [container(), container()]})),
            "Duplicate value",
        ),
    ];
    for (case, kind, spec, needle) in &creates {
        refused(&env, case, kind, "bad", spec, true, needle).await?;
    }

    // Transition rules: the object exists, then a change to an immutable field is refused.
    let mi = |option: &str| {
        json!({"clusterName": "admission-cluster", "managedInstancesProviders": [{"name": "admission-mi",
            "managedInstancesProvider": {
                "infrastructureRoleArn": "arn:aws:iam::123456789012:role/ecsInfrastructureRole",
                "instanceLaunchTemplate": {
                    "ec2InstanceProfileArn": "arn:aws:iam::123456789012:instance-profile/ecsInstanceRole",
                    "networkConfiguration": {"subnets": ["subnet-0a1b2c3d"]},
                    "capacityOptionType": option}}}]})
    };
    let service = |extra: Value| {
        let mut spec = json!({"cluster": "admission-cluster", "taskDefinition": "admission:1"});
        if let (Some(spec), Value::Object(extra)) = (spec.as_object_mut(), extra) {
            spec.extend(extra);
        }
        spec
    };
    let daemon = service(json!({"schedulingStrategy": "DAEMON"}));
    let updates: Vec<(&str, &str, &str, Value, Value, &str)> = vec![
        (
            "capacityOptionType",
            "EcsCluster",
            "cluster",
            mi("ON_DEMAND"),
            mi("SPOT"),
            "capacity-option-immutable",
        ),
        (
            "serviceName",
            "EcsService",
            "rename",
            service(json!({})),
            service(json!({"serviceName": "other"})),
            "service-name-immutable",
        ),
        (
            "cluster",
            "EcsService",
            "move",
            service(json!({})),
            service(json!({"cluster": "other-cluster"})),
            "cluster-immutable",
        ),
        (
            "schedulingStrategy",
            "EcsService",
            "daemon",
            service(json!({})),
            daemon,
            "schedulingStrategy-immutable",
        ),
    ];
    for (case, kind, name, before, after, needle) in &updates {
        apply(&env, kind, name, before, false)
            .await
            .map_err(|e| anyhow!("{case}: the object itself is refused: {e:#}"))?;
        refused(&env, case, kind, name, after, false, needle).await?;
    }
    env.cleanup_all().await
}
