//! The chart's pod killed again and again while it converges a few dozen objects, on the node
//! bed: the kubelet restarts the container each time (SIGKILL: no cleanup, no Lease release),
//! and still every object converges with exactly one AWS resource each — no second service, no
//! extra task-definition revision, no duplicate repository or cluster. Then everything is
//! deleted under the same treatment, and AWS is left empty with no finalizer hanging.
//!
//! The kinds beyond the four original ones get the same treatment in a second test: EcsTask
//! (one task per attempt; a deleted running task stopped exactly once), EcsSchedule (one schedule
//! each, nothing left), EcrRegistry (one owner) and EcsService auto scaling (one scalable target,
//! deregistered). The pod talks to moto directly, so moto's own request recorder counts the
//! calls that reached AWS.
//!
//! Each test installs the release cluster-wide, so they take turns (one lock), and no other
//! module's test may run beside them (`make e2e-node` runs one module at a time).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, ensure};
use e2e::aws::{MotoRecorder, auto_scaling, scan_filters, schedules, task_tag};
use e2e::node::{
    AwsHolds, OneOfEachKind, Release, apply_one_of_each_kind, aws_holds, container_id,
    operator_pods, poll_until, restarts, wait_one_of_each_kind_ready,
};
use e2e::{TestEnv, condition, manifest, unique};
use ecs_operator::api::{
    EcrRegistry, EcrRepository, EcsCluster, EcsSchedule, EcsService, EcsTask, TaskDefinition,
};
use ecs_operator::contract::{ATTEMPT_TAG, OWNER_UID_TAG};
use kube::ResourceExt;
use kube::api::ListParams;
use serde_json::json;

/// The tests of this file take turns: each installs a cluster-wide release.
static TURNS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Convergence (and deletion) of the newer kinds must finish within this.
const NEWER_DEADLINE: Duration = Duration::from_secs(240);

/// Namespaces, each with one object of every kind (4 objects): 24 objects in all.
const SETS: usize = 6;
/// SIGKILLs during convergence, and again during deletion.
const KILLS: usize = 3;

#[tokio::test]
async fn sigkilled_pod_converges_and_deletes_everything_exactly_once() -> Result<()> {
    let _turn = TURNS.lock().await;
    let mut envs = Vec::new();
    for i in 0..SETS {
        let mut env = TestEnv::new(&format!("node-chaos-{i}")).await?;
        env.stop_operator(); // the operator under test is the chart's pod
        envs.push(env);
    }
    let rel = Release::prepare(&envs[0].client, "chaos").await?;
    let result = chaos(&rel, &envs).await;
    rel.finish(result).await?;
    for env in envs {
        env.cleanup_all().await?;
    }
    Ok(())
}

async fn chaos(rel: &Release, envs: &[TestEnv]) -> Result<()> {
    let client = &envs[0].client;
    // Cluster-wide (the chart's default), so one pod serves all the namespaces.
    rel.install(&[]).await?;

    let mut sets: Vec<OneOfEachKind> = Vec::new();
    for (i, env) in envs.iter().enumerate() {
        sets.push(apply_one_of_each_kind(env, &format!("node-chaos-{i}"), json!({})).await?);
    }
    let started = Instant::now();
    kill_repeatedly(rel, client, KILLS).await?;
    for env in envs {
        wait_one_of_each_kind_ready(env)
            .await
            .with_context(|| format!("after {KILLS} SIGKILLs, in {}", env.namespace))?;
    }
    eprintln!(
        "{} objects Ready {:?} after the first SIGKILL",
        4 * SETS,
        started.elapsed()
    );
    for (env, names) in envs.iter().zip(&sets) {
        exactly_one_each(env, names).await?;
    }

    // Delete everything, killing the pod again meanwhile.
    for env in envs {
        env.delete::<EcsService>("web").await?;
        env.delete::<TaskDefinition>("web").await?;
        env.delete::<EcsCluster>("cluster").await?;
        env.delete::<EcrRepository>("repo").await?;
    }
    kill_repeatedly(rel, client, KILLS).await?;
    for env in envs {
        env.wait_gone::<EcsService>("web").await?;
        env.wait_gone::<TaskDefinition>("web").await?;
        env.wait_gone::<EcsCluster>("cluster").await?;
        env.wait_gone::<EcrRepository>("repo").await?;
    }
    for (env, names) in envs.iter().zip(&sets) {
        let left = aws_holds(env, names).await?;
        ensure!(
            left == AwsHolds::NOTHING,
            "after deletion AWS still holds {left:?} of {names:?}"
        );
    }
    Ok(())
}

/// SIGKILLs the operator container `times` times, each time once the kubelet has restarted it
/// and it has run for a moment (so each kill lands mid-work).
async fn kill_repeatedly(rel: &Release, client: &kube::Client, times: usize) -> Result<()> {
    for round in 0..times {
        let pod = poll_until(
            "a running operator container",
            Duration::from_secs(120),
            || async {
                let pods = operator_pods(client, &rel.namespace, &rel.name).await?;
                Ok(pods.into_iter().find(|p| {
                    p.status
                        .as_ref()
                        .and_then(|s| s.container_statuses.as_ref())
                        .and_then(|c| c.first())
                        .is_some_and(|c| c.state.as_ref().is_some_and(|s| s.running.is_some()))
                }))
            },
        )
        .await?;
        // Let it get going: read its objects, start creating.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let before = restarts(&pod);
        let id = container_id(&pod).context("operator pod without a container ID")?;
        rel.bed
            .ctr(&["tasks", "kill", "--signal", "SIGKILL", &id])
            .await
            .with_context(|| format!("SIGKILL #{}", round + 1))?;
        let name = e2e::node::pod_name(&pod);
        poll_until(
            &format!("the kubelet to restart {name} after SIGKILL #{}", round + 1),
            Duration::from_secs(120),
            || async {
                let pods = operator_pods(client, &rel.namespace, &rel.name).await?;
                Ok(pods
                    .iter()
                    .find(|p| e2e::node::pod_name(p) == name)
                    .filter(|p| restarts(p) > before)
                    .map(|_| ()))
            },
        )
        .await?;
    }
    Ok(())
}

/// AWS holds exactly one resource per object: one repository, one revision of the family (of
/// any status: a duplicate registered and then deregistered would show as INACTIVE), one
/// cluster, one service in it.
async fn exactly_one_each(env: &TestEnv, names: &OneOfEachKind) -> Result<()> {
    let holds = aws_holds(env, names).await?;
    ensure!(holds == AwsHolds::ALL, "{names:?}: {holds:?}");
    let mut revisions = 0;
    for status in [
        aws_sdk_ecs::types::TaskDefinitionStatus::Active,
        aws_sdk_ecs::types::TaskDefinitionStatus::Inactive,
    ] {
        revisions += env
            .ecs
            .list_task_definitions()
            .family_prefix(&names.family)
            .status(status)
            .send()
            .await?
            .task_definition_arns()
            .iter()
            .filter(|arn| arn.contains(&format!("/{}:", names.family)))
            .count();
    }
    ensure!(
        revisions == 1,
        "{revisions} revisions of {} in AWS",
        names.family
    );
    let services = env
        .ecs
        .list_services()
        .cluster(&names.cluster)
        .send()
        .await?;
    ensure!(
        services.service_arns().len() == 1,
        "services in {}: {:?}",
        names.cluster,
        services.service_arns()
    );
    let clusters = env
        .ecs
        .describe_clusters()
        .clusters(&names.cluster)
        .send()
        .await?;
    ensure!(
        clusters.clusters().len() == 1,
        "clusters named {}: {:?}",
        names.cluster,
        clusters.clusters()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The newer kinds

/// One EcsTask object and what it must end as.
struct Run {
    name: &'static str,
    attempts: usize,
    phase: &'static str,
}

const RUNS: [Run; 4] = [
    Run {
        name: "fail",
        attempts: 2,
        phase: "Failed",
    },
    Run {
        name: "pass-0",
        attempts: 1,
        phase: "Succeeded",
    },
    Run {
        name: "pass-1",
        attempts: 1,
        phase: "Succeeded",
    },
    Run {
        name: "long",
        attempts: 1,
        phase: "Running",
    },
];

/// EcrRegistry objects for one registry (its region is this test's own).
const REGISTRIES: [&str; 3] = ["reg-0", "reg-1", "reg-2"];
const REGISTRY_REGION: &str = "sa-east-1";

fn filter_of(name: &str) -> String {
    format!("{name}-*")
}

/// (Synced status, reason) of every EcrRegistry object.
async fn registry_synced(env: &TestEnv) -> Result<BTreeMap<String, (String, String)>> {
    let list = env
        .api::<EcrRegistry>()
        .list(&ListParams::default())
        .await?;
    let mut out = BTreeMap::new();
    for o in list.items {
        let s = serde_json::to_value(&o)?["status"].clone();
        out.insert(o.name_any(), condition(&s, "Synced"));
    }
    Ok(out)
}

/// The owner, once exactly one object is Synced and every other is OwnedByAnother.
async fn one_registry_owner(env: &TestEnv) -> Result<Option<String>> {
    let all = registry_synced(env).await?;
    let owners: Vec<&String> = all
        .iter()
        .filter(|(_, (s, _))| s == "True")
        .map(|(n, _)| n)
        .collect();
    let refused = all
        .values()
        .filter(|(s, r)| s == "False" && r == "OwnedByAnother")
        .count();
    Ok((owners.len() == 1 && refused + 1 == all.len()).then(|| owners[0].clone()))
}

/// Names of objects of kind `K` that are not Ready.
async fn not_ready<K>(env: &TestEnv) -> Result<Vec<String>>
where
    K: kube::Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
{
    let list = env.api::<K>().list(&ListParams::default()).await?;
    let mut out = Vec::new();
    for o in list.items {
        let s = serde_json::to_value(&o)?["status"].clone();
        if condition(&s, "Ready").0 != "True" {
            out.push(o.name_any());
        }
    }
    Ok(out)
}

async fn names_of<K>(env: &TestEnv) -> Result<Vec<String>>
where
    K: kube::Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let list = env.api::<K>().list(&ListParams::default()).await?;
    Ok(list.items.iter().map(|o| o.name_any()).collect())
}

/// The chart's pod SIGKILLed while it converges EcsTasks, EcsSchedules, EcrRegistries and
/// EcsServices with auto scaling, and again while it deletes them: every task run attempt
/// starts exactly one task (one RunTask per client token reached moto), the deleted running
/// task is stopped exactly once; one schedule per object, none left; one registry owner, the
/// others refused, the registry back to its defaults; one scalable target per service with the
/// declared policy, deregistered.
#[tokio::test]
async fn sigkilled_pod_runs_the_newer_kinds_exactly_once() -> Result<()> {
    let _turn = TURNS.lock().await;
    let mut env = TestEnv::new("node-chaos-newer").await?;
    env.stop_operator(); // the operator under test is the chart's pod
    let rel = Release::prepare(&env.client, "chaosnew").await?;
    let result = newer_kinds(&rel, &env).await;
    rel.finish(result).await?;
    env.cleanup_all().await
}

async fn newer_kinds(rel: &Release, env: &TestEnv) -> Result<()> {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let scheduler = aws_sdk_scheduler::Client::new(&config);
    let aas = aws_sdk_applicationautoscaling::Client::new(&config);
    let ecr = aws_sdk_ecr::Client::new(
        &aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGISTRY_REGION))
            .load()
            .await,
    );
    // A bed that ran this before may hold what it left: start from ECR's default.
    ecr.put_registry_scanning_configuration()
        .scan_type(aws_sdk_ecr::types::ScanType::Basic)
        .set_rules(Some(vec![]))
        .send()
        .await?;

    // What the objects point at, made directly in moto.
    let awsvpc = e2e::fargate_network().await?;
    let (failing, failing_family, _) = env.aws_run_target(2, 2).await?;
    let (passing, passing_family, _) = env.aws_run_target(2, 0).await?;
    let (long, long_family, _) = env.aws_run_target(600, 0).await?;
    let cluster = unique("node-newer");
    env.ecs
        .create_cluster()
        .cluster_name(&cluster)
        .send()
        .await?;
    let family = unique("node-newer-web");
    let revision = env.register_revision(&family, "nginx:1").await?;
    let prefix = unique("nn");
    let schedule_names: Vec<String> = (0..2).map(|i| format!("{prefix}-{i}")).collect();
    let services: Vec<String> = (0..2).map(|i| unique(&format!("node-aas-{i}"))).collect();
    let rids: Vec<String> = services
        .iter()
        .map(|s| format!("service/{cluster}/{s}"))
        .collect();

    rel.install(&[]).await?;
    let recorder = MotoRecorder::start().await?;
    for run in &RUNS {
        let (target, family) = match run.name {
            "fail" => (&failing, &failing_family),
            "long" => (&long, &long_family),
            _ => (&passing, &passing_family),
        };
        let spec = json!({"cluster": target, "taskDefinition": family, "launchType": "FARGATE",
            "backoffLimit": run.attempts - 1,
            "networkConfiguration": {"awsvpcConfiguration": awsvpc}});
        env.apply::<EcsTask>(&manifest("EcsTask", run.name, &spec))
            .await?;
    }
    for (i, name) in schedule_names.iter().enumerate() {
        let spec = json!({"name": name, "scheduleExpression": "rate(1 hour)",
            "flexibleTimeWindow": {"mode": "OFF"},
            "roleArn": "arn:aws:iam::123456789012:role/scheduler",
            "cluster": cluster, "taskDefinition": family, "launchType": "EC2"});
        env.apply::<EcsSchedule>(&manifest("EcsSchedule", &format!("sched-{i}"), &spec))
            .await?;
    }
    for name in REGISTRIES {
        let spec = json!({"region": REGISTRY_REGION, "deletionPolicy": "Delete",
            "scanningConfiguration": {"scanType": "BASIC", "rules": [{"scanFrequency": "SCAN_ON_PUSH",
                "repositoryFilters": [{"filter": filter_of(name), "filterType": "WILDCARD"}]}]}});
        env.apply::<EcrRegistry>(&manifest("EcrRegistry", name, &spec))
            .await?;
    }
    for (i, name) in services.iter().enumerate() {
        let spec = json!({"serviceName": name, "cluster": cluster, "taskDefinition": family,
            "launchType": "EC2", "autoScaling": {"MinCapacity": 1, "MaxCapacity": 4,
                "ScalingPolicies": [{"PolicyName": "cpu", "PolicyType": "TargetTrackingScaling",
                    "TargetTrackingScalingPolicyConfiguration": {"TargetValue": 60.0,
                        "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}}}]}});
        env.apply::<EcsService>(&manifest("EcsService", &format!("svc-{i}"), &spec))
            .await?;
    }
    let started = Instant::now();
    kill_repeatedly(rel, &env.client, KILLS).await?;

    // Every run in its final phase with its attempts.
    poll_until("every run in its final phase", NEWER_DEADLINE, || async {
        for run in &RUNS {
            let s = env.status_json::<EcsTask>(run.name).await?;
            let settled = s["phase"] == run.phase
                && (run.phase == "Running" || s["attempts"] == run.attempts as u64);
            if !settled {
                return Ok(None);
            }
        }
        Ok(Some(()))
    })
    .await?;
    poll_until(
        "every schedule and service Ready",
        NEWER_DEADLINE,
        || async {
            let mut left = not_ready::<EcsSchedule>(env).await?;
            left.extend(not_ready::<EcsService>(env).await?);
            Ok(left.is_empty().then_some(()))
        },
    )
    .await?;
    let owner = poll_until("one registry owner", NEWER_DEADLINE, || {
        one_registry_owner(env)
    })
    .await?;
    eprintln!(
        "newer kinds converged {:?} after the first SIGKILL",
        started.elapsed()
    );

    // EcsTask: one task per attempt, one RunTask per attempt (per client token).
    let mut by_uid: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for target in [&failing, &passing, &long] {
        for t in env.tasks_in(target).await? {
            let owner = task_tag(&t, OWNER_UID_TAG).unwrap_or_default().to_string();
            let attempt = task_tag(&t, ATTEMPT_TAG).unwrap_or_default().to_string();
            by_uid.entry(owner).or_default().push(attempt);
        }
    }
    let mut long_arn = String::new();
    for run in &RUNS {
        let uid = env
            .api::<EcsTask>()
            .get(run.name)
            .await?
            .uid()
            .unwrap_or_default();
        let mut have = by_uid.remove(&uid).unwrap_or_default();
        have.sort();
        let want: Vec<String> = (1..=run.attempts).map(|a| a.to_string()).collect();
        ensure!(
            have == want,
            "{}: tasks by attempt tag {have:?}, want {want:?}",
            run.name
        );
        if run.phase == "Running" {
            let s = env.status_json::<EcsTask>(run.name).await?;
            long_arn = s["taskArns"][0].as_str().unwrap_or_default().to_string();
        }
    }
    ensure!(by_uid.is_empty(), "tasks of no run: {by_uid:?}");
    ensure!(!long_arn.is_empty(), "the long run recorded no task");
    let mut tokens: BTreeMap<String, usize> = BTreeMap::new();
    for body in recorder.calls("RunTask").await? {
        let token = body["clientToken"].as_str().unwrap_or_default().to_string();
        *tokens.entry(token).or_default() += 1;
    }
    let attempts: usize = RUNS.iter().map(|r| r.attempts).sum();
    ensure!(
        tokens.len() == attempts && tokens.values().all(|n| *n == 1),
        "RunTask calls per client token (want {attempts} tokens, once each): {tokens:?}"
    );

    // EcsSchedule: exactly the declared schedules, each the one its object recorded.
    let created = schedules(&scheduler, &prefix).await?;
    ensure!(
        created.keys().cloned().collect::<Vec<_>>() == schedule_names,
        "schedules in AWS: {created:?}, want {schedule_names:?}"
    );
    for (i, name) in schedule_names.iter().enumerate() {
        let (arn, _, target) = &created[name];
        let s = env
            .status_json::<EcsSchedule>(&format!("sched-{i}"))
            .await?;
        ensure!(
            s["arn"] == arn.as_str() && target == &revision,
            "{name}: {s} vs {arn} {target}"
        );
    }

    // EcrRegistry: the owner's settings only.
    let owners = vec![filter_of(&owner)];
    poll_until("the owner's registry settings", NEWER_DEADLINE, || async {
        Ok((scan_filters(&ecr).await? == owners).then_some(()))
    })
    .await?;

    // Auto scaling: one target per service, with the declared policy.
    let declared = (vec![(1, 4)], BTreeMap::from([("cpu".to_string(), 60.0)]));
    for rid in &rids {
        let have = auto_scaling(&aas, rid).await?;
        ensure!(have == declared, "{rid}: {have:?}");
    }

    // Everything deleted while the pod is killed again.
    let stops_before = recorder.calls("StopTask").await?.len();
    for run in &RUNS {
        env.delete::<EcsTask>(run.name).await?;
    }
    for i in 0..schedule_names.len() {
        env.delete::<EcsSchedule>(&format!("sched-{i}")).await?;
    }
    for name in REGISTRIES {
        env.delete::<EcrRegistry>(name).await?;
    }
    for i in 0..services.len() {
        env.delete::<EcsService>(&format!("svc-{i}")).await?;
    }
    kill_repeatedly(rel, &env.client, 2).await?;
    poll_until(
        "every object deleted (finalizers done)",
        NEWER_DEADLINE,
        || async {
            let mut left = names_of::<EcsTask>(env).await?;
            left.extend(names_of::<EcsSchedule>(env).await?);
            left.extend(names_of::<EcrRegistry>(env).await?);
            left.extend(names_of::<EcsService>(env).await?);
            Ok(left.is_empty().then_some(()))
        },
    )
    .await?;
    let mut stopped: BTreeMap<String, usize> = BTreeMap::new();
    for body in recorder
        .calls("StopTask")
        .await?
        .into_iter()
        .skip(stops_before)
    {
        let task = body["task"].as_str().unwrap_or_default().to_string();
        *stopped.entry(task).or_default() += 1;
    }
    ensure!(
        stopped == BTreeMap::from([(long_arn.clone(), 1)]),
        "StopTask calls per task: {stopped:?}, want once for {long_arn}"
    );
    for t in env.tasks_in(&long).await? {
        ensure!(
            t.last_status() == Some("STOPPED")
                && t.stop_code().map(|c| c.as_str()) == Some("UserInitiated"),
            "{t:?}"
        );
    }
    recorder.stop().await?;
    let left = schedules(&scheduler, &prefix).await?;
    ensure!(left.is_empty(), "schedules left: {left:?}");
    let filters = scan_filters(&ecr).await?;
    ensure!(filters.is_empty(), "registry settings left: {filters:?}");
    for rid in &rids {
        let (targets, _) = auto_scaling(&aas, rid).await?;
        ensure!(targets.is_empty(), "{rid} still registered: {targets:?}");
    }
    Ok(())
}
