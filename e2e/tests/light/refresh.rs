//! Refresh on demand and field selectors. `kubectl get --field-selector` selects EcsServices by
//! cluster, TaskDefinitions by family and EcsTasks by phase (the API server does it, from the
//! CRDs' `selectableFields`). The `ecs.operator.dev/refresh` annotation reconciles at once and
//! reads AWS afresh past every answer the operator keeps; the operators here resync every 300 s,
//! so nothing else looks at AWS during a test, and a plain annotation change (a reconcile that
//! may use kept answers) shows what the refresh adds.

use anyhow::{Result, ensure};
use e2e::{TestEnv, manifest, unique};
use ecs_operator::api::common::REFRESH_ANNOTATION;
use ecs_operator::api::{EcrRepository, EcsCluster, EcsService, EcsTask, TaskDefinition};
use kube::api::{Patch, PatchParams};
use serde_json::json;

/// Operator log lines that contain every one of `needles`.
fn log_lines(env: &TestEnv, needles: &[&str]) -> usize {
    std::fs::read_to_string(&env.log_path)
        .unwrap_or_default()
        .lines()
        .filter(|l| needles.iter().all(|n| l.contains(n)))
        .count()
}

/// Successful reconciles of object `name` logged so far.
fn reconciles(env: &TestEnv, name: &str) -> usize {
    let object = format!("object={}/{name} ", env.namespace);
    log_lines(env, &["reconciled: in sync", &object])
}

/// Sets annotation `key` on object `name` of kind `resource` with kubectl, as a user would.
async fn annotate(env: &TestEnv, resource: &str, name: &str, key: &str, value: &str) -> Result<()> {
    let set = format!("{key}={value}");
    let out = env
        .kubectl(&["annotate", "--overwrite", resource, name, &set])
        .await?;
    ensure!(
        out.status.success(),
        "kubectl annotate {resource} {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// Changes an unrelated annotation (a reconcile like any watch event brings) and waits until
/// that reconcile of `name` is done.
async fn touch(env: &TestEnv, resource: &str, name: &str, value: &str) -> Result<()> {
    let before = reconciles(env, name);
    annotate(env, resource, name, "e2e.test/touch", value).await?;
    env.wait_for(&format!("{name} reconciled after a touch"), || async {
        Ok((reconciles(env, name) > before).then_some(()))
    })
    .await
}

/// `kubectl get <resource> --field-selector <selector> -o name`, sorted.
async fn select(env: &TestEnv, resource: &str, selector: &str) -> Result<Vec<String>> {
    let out = env
        .kubectl(&["get", resource, "--field-selector", selector, "-o", "name"])
        .await?;
    ensure!(
        out.status.success(),
        "kubectl get {resource} --field-selector {selector}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.rsplit('/').next().map(str::to_string))
        .collect();
    names.sort();
    Ok(names)
}

/// Makes the operator keep an answer for svc-a from svc-b's DescribeServices call: svc-a's
/// reconcile takes any answer kept for it, then svc-b's calls describe svc-a with itself (the
/// first touch of svc-b may use an answer kept for it instead: no call).
async fn keep_answer_of_svc_a(env: &TestEnv) -> Result<()> {
    touch(env, "ecsservice", "svc-a", &unique("t")).await?;
    let b_span = format!(
        "EcsService.v1alpha1.ecs.operator.dev/svc-b.{}",
        env.namespace
    );
    let b_batches = || log_lines(env, &["DescribeServices batch", &b_span, "services=2"]);
    let before = b_batches();
    for _ in 0..3 {
        touch(env, "ecsservice", "svc-b", &unique("t")).await?;
        if b_batches() > before {
            return Ok(());
        }
    }
    anyhow::bail!("svc-b never described svc-a with itself")
}

#[tokio::test]
async fn field_selectors_pick_services_by_cluster_definitions_by_family_tasks_by_phase()
-> Result<()> {
    let mut env = TestEnv::new("select").await?;
    // The API server selects; no operator is needed (nor AWS resources made).
    env.stop_operator();
    let (prod, dev) = (unique("prod"), unique("dev"));
    let services = [
        ("web", json!({"cluster": prod, "taskDefinition": "web"})),
        ("api", json!({"cluster": prod, "taskDefinition": "api"})),
        ("dev-web", json!({"cluster": dev, "taskDefinition": "web"})),
        (
            "by-ref",
            json!({"clusterRef": {"name": "prod"}, "taskDefinition": "web"}),
        ),
    ];
    for (name, spec) in &services {
        env.apply::<EcsService>(&manifest("EcsService", name, spec))
            .await?;
    }
    let (web, api) = (unique("web"), unique("api"));
    for (name, family) in [("web", &web), ("web-too", &web), ("api", &api)] {
        let spec = json!({"family": family, "containerDefinitions": [{"name": "main", "image": "nginx:1", "memory": 128}]});
        env.apply::<TaskDefinition>(&manifest("TaskDefinition", name, &spec))
            .await?;
    }
    let tasks = env.api::<EcsTask>();
    for (name, phase) in [("migrate", "Running"), ("seed", "Succeeded")] {
        let spec = json!({"cluster": prod, "taskDefinition": "web"});
        env.apply::<EcsTask>(&manifest("EcsTask", name, &spec))
            .await?;
        let status = json!({"apiVersion": "ecs.operator.dev/v1alpha1", "kind": "EcsTask",
            "status": {"phase": phase}});
        tasks
            .patch_status(
                name,
                &PatchParams::apply("e2e-test").force(),
                &Patch::Apply(&status),
            )
            .await?;
    }
    let cases = [
        (
            "ecsservices",
            format!("spec.cluster={prod}"),
            vec!["api", "web"],
        ),
        (
            "ecsservices",
            format!("spec.cluster={dev}"),
            vec!["dev-web"],
        ),
        (
            "ecsservices",
            "spec.clusterRef.name=prod".into(),
            vec!["by-ref"],
        ),
        (
            "ecsservices",
            format!("spec.cluster!={prod}"),
            vec!["by-ref", "dev-web"],
        ),
        (
            "taskdefinitions",
            format!("spec.family={web}"),
            vec!["web", "web-too"],
        ),
        ("taskdefinitions", format!("spec.family={api}"), vec!["api"]),
        ("ecstasks", "status.phase=Running".into(), vec!["migrate"]),
        ("ecstasks", "status.phase=Succeeded".into(), vec!["seed"]),
    ];
    for (resource, selector, want) in cases {
        let got = select(&env, resource, &selector).await?;
        ensure!(
            got == want,
            "kubectl get {resource} --field-selector {selector}: {got:?}, want {want:?}"
        );
    }
    env.cleanup_all().await
}

/// A service's DescribeServices answer, kept from a peer's batched call, hides a change made
/// in AWS from a plain reconcile; the refresh annotation reads AWS, corrects the drift and is
/// recorded in status.
#[tokio::test]
async fn refresh_reads_a_service_afresh_past_its_kept_answer() -> Result<()> {
    let mut env = TestEnv::new("refresh-svc").await?;
    env.restart_operator(env.operator().resync(300))?;
    let cluster = unique("refresh");
    env.ecs
        .create_cluster()
        .cluster_name(&cluster)
        .send()
        .await?;
    let family = unique("refresh-web");
    env.ecs
        .register_task_definition()
        .family(&family)
        .network_mode(aws_sdk_ecs::types::NetworkMode::Bridge)
        .requires_compatibilities(aws_sdk_ecs::types::Compatibility::Ec2)
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("web")
                .image("nginx:1")
                .memory(128)
                .build(),
        )
        .send()
        .await?;
    let (a, b) = (unique("svc-a"), unique("svc-b"));
    for (name, service) in [("svc-a", &a), ("svc-b", &b)] {
        let spec = json!({"serviceName": service, "cluster": cluster, "taskDefinition": family,
            "desiredCount": 1});
        env.apply::<EcsService>(&manifest("EcsService", name, &spec))
            .await?;
    }
    for name in ["svc-a", "svc-b"] {
        env.wait_ready::<EcsService>(name).await?;
    }
    let set_count = |n: i32| {
        env.ecs
            .update_service()
            .cluster(&cluster)
            .service(&a)
            .desired_count(n)
            .send()
    };
    // Changed in AWS after svc-a's answer was kept: a plain reconcile uses the kept answer
    // (once) and sees nothing to correct.
    keep_answer_of_svc_a(&env).await?;
    set_count(3).await?;
    touch(&env, "ecsservice", "svc-a", "plain").await?;
    let count = env.aws_desired_count(&cluster, &a).await?;
    ensure!(
        count == 3,
        "a plain reconcile read AWS past the kept answer (desiredCount {count})"
    );
    // Again, and a refresh instead: it skips the kept answer, reads AWS and corrects it.
    set_count(1).await?;
    // Steady again first: an answer kept while tasks move serves for seconds only.
    env.wait_for("svc-a steady at 1 task in AWS", || async {
        let out = env
            .ecs
            .describe_services()
            .cluster(&cluster)
            .services(&a)
            .send()
            .await?;
        let steady = out.services().first().is_some_and(|s| {
            s.desired_count() == 1 && s.running_count() == 1 && s.pending_count() == 0
        });
        Ok(steady.then_some(()))
    })
    .await?;
    keep_answer_of_svc_a(&env).await?;
    set_count(3).await?;
    annotate(&env, "ecsservice", "svc-a", REFRESH_ANNOTATION, "r1").await?;
    env.wait_for(
        "desiredCount corrected in AWS after the refresh",
        || async { Ok((env.aws_desired_count(&cluster, &a).await? == 1).then_some(())) },
    )
    .await?;
    env.wait_for("status.lastRefreshed r1", || async {
        let status = env.status_json::<EcsService>("svc-a").await?;
        Ok((status["lastRefreshed"] == "r1").then_some(()))
    })
    .await?;
    env.wait_condition::<EcsService>("svc-a", "Synced", "True", Some("ReconcileSuccess"))
        .await?;
    for name in ["svc-a", "svc-b"] {
        env.delete::<EcsService>(name).await?;
        env.wait_gone::<EcsService>(name).await?;
    }
    env.cleanup::<EcsService>().await
}

/// A revision deregistered in AWS and a lifecycle policy added there stay unseen by plain
/// reconciles (the revision cache, the absent-policy read schedule); a refresh value reads
/// both afresh once: the revision is registered again, the policy removed, and a second
/// reconcile with the same value reads on schedule again.
#[tokio::test]
async fn refresh_reads_revisions_and_absent_policies_afresh_once_per_value() -> Result<()> {
    let mut env = TestEnv::new("refresh-td").await?;
    env.restart_operator(env.operator().resync(300))?;
    let family = unique("refresh-td");
    let spec = json!({"family": family, "networkMode": "bridge", "requiresCompatibilities": ["EC2"],
        "containerDefinitions": [{"name": "main", "image": "nginx:1", "memory": 128}]});
    env.apply::<TaskDefinition>(&manifest("TaskDefinition", "td", &spec))
        .await?;
    let repository = unique("refresh-repo");
    env.apply::<EcrRepository>(&manifest(
        "EcrRepository",
        "repo",
        &json!({"repositoryName": repository}),
    ))
    .await?;
    let td = env.wait_ready::<TaskDefinition>("td").await?;
    env.wait_ready::<EcrRepository>("repo").await?;
    let first = td.status.and_then(|s| s.arn).unwrap_or_default();
    ensure!(!first.is_empty(), "no revision ARN in status");
    env.ecs
        .deregister_task_definition()
        .task_definition(&first)
        .send()
        .await?;
    let policy = json!({"rules": [{"rulePriority": 1, "description": "keep 5",
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 5},
        "action": {"type": "expire"}}]})
    .to_string();
    let put_policy = || {
        env.ecr
            .put_lifecycle_policy()
            .repository_name(&repository)
            .lifecycle_policy_text(&policy)
            .send()
    };
    let has_policy = || async {
        match env
            .ecr
            .get_lifecycle_policy()
            .repository_name(&repository)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if format!("{e:?}").contains("LifecyclePolicyNotFound") => Ok(false),
            Err(e) => Err(anyhow::Error::from(e)),
        }
    };
    put_policy().await?;
    touch(&env, "taskdefinition", "td", "1").await?;
    touch(&env, "ecrrepository", "repo", "1").await?;
    let arn = env.status_json::<TaskDefinition>("td").await?["arn"].clone();
    ensure!(
        arn == first.as_str(),
        "a plain reconcile saw the deregistration: {arn}"
    );
    ensure!(
        has_policy().await?,
        "a plain reconcile read the absent policy off schedule"
    );
    annotate(&env, "taskdefinition", "td", REFRESH_ANNOTATION, "r1").await?;
    annotate(&env, "ecrrepository", "repo", REFRESH_ANNOTATION, "r1").await?;
    let second = env
        .wait_for("a new revision after the refresh", || async {
            let status = env.status_json::<TaskDefinition>("td").await?;
            let arn = status["arn"].as_str().unwrap_or_default().to_string();
            Ok((arn != first && status["lastRefreshed"] == "r1").then_some(arn))
        })
        .await?;
    let described = env
        .ecs
        .describe_task_definition()
        .task_definition(&second)
        .send()
        .await?;
    let active = described
        .task_definition()
        .and_then(|t| t.status())
        .map(|s| s.as_str().to_string());
    ensure!(
        active.as_deref() == Some("ACTIVE"),
        "{second} is {active:?} in AWS"
    );
    env.wait_for("the lifecycle policy removed after the refresh", || async {
        let status = env.status_json::<EcrRepository>("repo").await?;
        Ok((!has_policy().await? && status["lastRefreshed"] == "r1").then_some(()))
    })
    .await?;
    // The same value again: read on schedule, not afresh.
    put_policy().await?;
    touch(&env, "ecrrepository", "repo", "2").await?;
    ensure!(
        has_policy().await?,
        "a reconcile with a refresh value already honoured read off schedule"
    );
    env.delete::<TaskDefinition>("td").await?;
    env.delete::<EcrRepository>("repo").await?;
    env.wait_gone::<TaskDefinition>("td").await?;
    env.wait_gone::<EcrRepository>("repo").await?;
    env.cleanup_all().await
}

/// Makes the operator keep an answer for cl-a from cl-b's DescribeClusters call (as
/// [`keep_answer_of_svc_a`] does for services).
async fn keep_answer_of_cl_a(env: &TestEnv) -> Result<()> {
    touch(env, "ecscluster", "cl-a", &unique("t")).await?;
    let b_span = format!(
        "EcsCluster.v1alpha1.ecs.operator.dev/cl-b.{}",
        env.namespace
    );
    let b_batches = || log_lines(env, &["DescribeClusters batch", &b_span, "clusters=2"]);
    let before = b_batches();
    for _ in 0..3 {
        touch(env, "ecscluster", "cl-b", &unique("t")).await?;
        if b_batches() > before {
            return Ok(());
        }
    }
    anyhow::bail!("cl-b never described cl-a with itself")
}

/// A cluster's DescribeClusters answer, kept from a peer's batched call, hides a setting
/// changed in AWS from a plain reconcile; the refresh annotation reads AWS and corrects it.
#[tokio::test]
async fn refresh_reads_a_cluster_afresh_past_its_kept_answer() -> Result<()> {
    let mut env = TestEnv::new("refresh-cl").await?;
    env.restart_operator(env.operator().resync(300))?;
    let (a, b) = (unique("cl-a"), unique("cl-b"));
    for (name, cluster) in [("cl-a", &a), ("cl-b", &b)] {
        let spec = json!({"clusterName": cluster,
            "settings": [{"name": "containerInsights", "value": "enabled"}]});
        env.apply::<EcsCluster>(&manifest("EcsCluster", name, &spec))
            .await?;
    }
    for name in ["cl-a", "cl-b"] {
        env.wait_ready::<EcsCluster>(name).await?;
    }
    let set_insights = |value: &'static str| {
        env.ecs
            .update_cluster()
            .cluster(&a)
            .settings(
                aws_sdk_ecs::types::ClusterSetting::builder()
                    .name(aws_sdk_ecs::types::ClusterSettingName::ContainerInsights)
                    .value(value)
                    .build(),
            )
            .send()
    };
    let insights = || async {
        let out = env
            .ecs
            .describe_clusters()
            .clusters(&a)
            .include(aws_sdk_ecs::types::ClusterField::Settings)
            .send()
            .await?;
        let value = out
            .clusters()
            .first()
            .and_then(|c| c.settings().first())
            .and_then(|s| s.value())
            .map(str::to_string);
        anyhow::Ok(value.unwrap_or_default())
    };
    // Changed in AWS after cl-a's answer was kept: a plain reconcile uses the kept answer
    // (once) and sees nothing to correct.
    keep_answer_of_cl_a(&env).await?;
    set_insights("disabled").await?;
    touch(&env, "ecscluster", "cl-a", "plain").await?;
    let value = insights().await?;
    ensure!(
        value == "disabled",
        "a plain reconcile read AWS past the kept answer (containerInsights {value})"
    );
    // The refresh skips the kept answer, reads AWS and corrects the setting.
    set_insights("enabled").await?;
    keep_answer_of_cl_a(&env).await?;
    set_insights("disabled").await?;
    annotate(&env, "ecscluster", "cl-a", REFRESH_ANNOTATION, "r1").await?;
    env.wait_for(
        "containerInsights corrected in AWS after the refresh",
        || async { Ok((insights().await? == "enabled").then_some(())) },
    )
    .await?;
    env.wait_for("status.lastRefreshed r1", || async {
        let status = env.status_json::<EcsCluster>("cl-a").await?;
        Ok((status["lastRefreshed"] == "r1").then_some(()))
    })
    .await?;
    env.cleanup::<EcsCluster>().await
}
