//! The production runtime against the real bed: `/metrics` counts what the test made the
//! operator do, `/readyz` waits for the caches, and two replicas with leader election never
//! both write.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use e2e::{OperatorProcess, TestEnv, http_get, manifest, metric_value, unique};
use ecs_operator::api::EcrRepository;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;

const CREATED: &str = "created AWS resource";

async fn scrape(addr: SocketAddr) -> Result<String> {
    let (status, body) = http_get(addr, "/metrics").await?;
    ensure!(status == 200, "/metrics answered {status}: {body}");
    Ok(body)
}

async fn apply_repository(env: &TestEnv, name: &str, aws_name: &str) -> Result<()> {
    env.apply::<EcrRepository>(&manifest(
        "EcrRepository",
        name,
        &json!({"repositoryName": aws_name}),
    ))
    .await?;
    Ok(())
}

/// Repositories named `aws_name` in moto.
async fn repositories_in_aws(env: &TestEnv, aws_name: &str) -> Result<usize> {
    Ok(usize::from(env.ecr_repository(aws_name).await?.is_some()))
}

#[tokio::test]
async fn metrics_count_the_aws_calls_and_reconciles_of_the_test() -> Result<()> {
    let env = TestEnv::new("rt-metrics").await?;
    let addr = env.metrics_addr().await?;
    // Ready only after the caches synced; until then 503 (or, very early, not listening).
    let body = env
        .wait_for("/readyz to answer 200", || async move {
            match http_get(addr, "/readyz").await {
                Ok((200, body)) => Ok(Some(body)),
                Ok((503, _)) | Err(_) => Ok(None),
                Ok((status, body)) => bail!("/readyz answered {status}: {body}"),
            }
        })
        .await?;
    ensure!(body == "ok", "{body}");
    ensure!(http_get(addr, "/healthz").await?.0 == 200);
    ensure!(http_get(addr, "/nope").await?.0 == 404);

    let aws_name = unique("rt-metrics");
    apply_repository(&env, "repo", &aws_name).await?;
    env.wait_condition::<EcrRepository>("repo", "Ready", "True", None)
        .await?;

    let text = scrape(addr).await?;
    let calls = |op: &str| {
        metric_value(
            &text,
            "ecs_operator_aws_calls_total",
            &[("service", "ecr"), ("operation", op)],
        )
    };
    ensure!(calls("CreateRepository") >= 1.0, "{text}");
    ensure!(calls("DescribeRepositories") > 0.0, "{text}");
    let kind = [("kind", "EcrRepository")];
    ensure!(
        metric_value(&text, "ecs_operator_reconciles_total", &kind) > 0.0,
        "{text}"
    );
    ensure!(
        metric_value(
            &text,
            "ecs_operator_reconcile_duration_seconds_count",
            &kind
        ) > 0.0,
        "{text}"
    );
    ensure!(
        metric_value(
            &text,
            "ecs_operator_objects",
            &[
                ("kind", "EcrRepository"),
                ("condition", "Ready"),
                ("status", "True")
            ],
        ) == 1.0,
        "{text}"
    );
    ensure!(
        metric_value(&text, "ecs_operator_leader", &[]) == 1.0,
        "{text}"
    );
    // Deleted in AWS behind the operator's back, then as an object: the deletion's look-up
    // by name finds nothing, and AWS's error code is recorded.
    env.ecr
        .delete_repository()
        .repository_name(&aws_name)
        .force(true)
        .send()
        .await?;
    env.delete::<EcrRepository>("repo").await?;
    env.wait_gone::<EcrRepository>("repo").await?;
    let text = scrape(addr).await?;
    ensure!(
        metric_value(
            &text,
            "ecs_operator_aws_call_errors_total",
            &[
                ("service", "ecr"),
                ("operation", "DescribeRepositories"),
                ("code", "RepositoryNotFoundException"),
            ],
        ) >= 1.0,
        "{text}"
    );
    env.cleanup::<EcrRepository>().await
}

#[tokio::test]
async fn readyz_waits_until_every_cache_has_synced() -> Result<()> {
    let mut env = TestEnv::new("rt-ready").await?;
    env.stop_operator();
    // A ServiceAccount that may not list EcsServices yet: that controller's cache cannot sync.
    let sa = "operator";
    let rules = |kinds: &[&str]| {
        let mut resources: Vec<String> = kinds.iter().map(|k| k.to_string()).collect();
        resources.extend(kinds.iter().map(|k| format!("{k}/status")));
        json!([
            {"apiGroups": ["ecs.operator.dev"], "resources": resources,
             "verbs": ["get", "list", "watch", "patch", "update"]},
            {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
        ])
    };
    let role = |kinds: &[&str]| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
               "metadata": {"name": "operator"}, "rules": rules(kinds)})
        .to_string()
    };
    let partial = ["ecrrepositories", "taskdefinitions", "ecsclusters"];
    let manifests = [
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa}}).to_string(),
        role(&partial),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "operator"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "operator"},
               "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": env.namespace}]})
        .to_string(),
    ];
    let dir = std::env::temp_dir().join(format!("{}-rbac", env.namespace));
    std::fs::create_dir_all(&dir)?;
    for (i, m) in manifests.iter().enumerate() {
        let path = dir.join(format!("{i}.json"));
        std::fs::write(&path, m)?;
        let out = env
            .kubectl(&["apply", "-f", &path.to_string_lossy()])
            .await?;
        ensure!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = env.kubectl(&["create", "token", sa]).await?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kubeconfig = dir.join("kubeconfig");
    e2e::token_kubeconfig(&String::from_utf8_lossy(&out.stdout), &kubeconfig)?;
    let mut op = env.spawn_operator(
        "limited",
        &[],
        &[("KUBECONFIG", &kubeconfig.to_string_lossy())],
    )?;
    let addr = op.metrics_addr().await?;

    // While EcsServices cannot be listed, /readyz stays 503 and names that cache.
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        let (status, body) = http_get(addr, "/readyz").await?;
        ensure!(
            status == 503 && body.contains("EcsService"),
            "/readyz answered {status} {body:?} before the EcsService cache could sync\n{}",
            op.log_tail()
        );
        ensure!(http_get(addr, "/healthz").await?.0 == 200);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Grant it (every kind of the registry): the watch retries, the cache syncs, /readyz flips.
    let path = dir.join("role-full.json");
    let every = ecs_operator::kinds::plurals();
    std::fs::write(
        &path,
        role(&every.iter().map(String::as_str).collect::<Vec<_>>()),
    )?;
    let out = env
        .kubectl(&["apply", "-f", &path.to_string_lossy()])
        .await?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let started = Instant::now();
    loop {
        let (status, body) = http_get(addr, "/readyz").await?;
        if status == 200 {
            ensure!(body == "ok", "{body}");
            break;
        }
        ensure!(status == 503, "/readyz answered {status}: {body}");
        if started.elapsed() > e2e::DEADLINE {
            bail!(
                "/readyz still {status} {body:?} after RBAC was granted\n{}",
                op.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    op.kill();
    let _ = std::fs::remove_dir_all(&dir);
    env.cleanup::<EcrRepository>().await
}

/// Waits until `op` logs `needle` (bounded), failing early if it exits.
async fn wait_log(op: &mut OperatorProcess, needle: &str, within: Duration) -> Result<Duration> {
    let start = Instant::now();
    loop {
        if op.log_count(needle) > 0 {
            return Ok(start.elapsed());
        }
        if let Some(status) = op.exited() {
            bail!(
                "operator exited ({status}) before logging {needle:?}\n{}",
                op.log_tail()
            );
        }
        if start.elapsed() > within {
            bail!("no {needle:?} within {within:?}\n{}", op.log_tail());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const ACQUIRED: &str = "acquired the leader lease";
const STANDBY: &str = "standby: waiting to acquire the leader lease";

#[tokio::test]
async fn two_replicas_one_leader_standby_takes_over_without_double_writes() -> Result<()> {
    let mut env = TestEnv::new("rt-leader").await?;
    env.stop_operator();
    let lease_name = unique("lease");
    let lease_seconds = 4u64;
    let lease_secs = lease_seconds.to_string();
    let args = [
        "--leader-election",
        "--leader-election-namespace",
        &env.namespace,
        "--leader-election-lease-name",
        &lease_name,
        "--leader-election-lease-seconds",
        &lease_secs,
    ];
    let mut a = env.spawn_operator("replica-a", &args, &[])?;
    let mut b = env.spawn_operator("replica-b", &args, &[])?;
    let (addr_a, addr_b) = (a.metrics_addr().await?, b.metrics_addr().await?);

    // Exactly one leads.
    let start = Instant::now();
    let (mut leader, mut standby, leader_addr, standby_addr) = loop {
        match (a.log_count(ACQUIRED), b.log_count(ACQUIRED)) {
            (1, 0) => break (a, b, addr_a, addr_b),
            (0, 1) => break (b, a, addr_b, addr_a),
            (0, 0) if start.elapsed() < e2e::DEADLINE => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            counts => bail!(
                "leaders {counts:?}\n--- a ---\n{}\n--- b ---\n{}",
                a.log_tail(),
                b.log_tail()
            ),
        }
    };
    wait_log(&mut standby, STANDBY, e2e::DEADLINE).await?;
    let (status, body) = http_get(standby_addr, "/readyz").await?;
    ensure!(status == 200 && body == "standby", "{status} {body}");
    let lease: Api<Lease> = env.api();
    let holder = lease
        .get(&lease_name)
        .await?
        .spec
        .and_then(|s| s.holder_identity)
        .context("lease without holder")?;
    ensure!(
        ecs_operator::runtime::leader::pod_of_identity(&holder)
            .ends_with(&format!("-{}", leader.pid().context("leader pid")?)),
        "lease held by {holder}"
    );

    // The leader reconciles; the standby does nothing.
    let first = unique("rt-leader-1");
    apply_repository(&env, "first", &first).await?;
    env.wait_condition::<EcrRepository>("first", "Ready", "True", None)
        .await?;
    ensure!(leader.log_count(CREATED) == 1, "{}", leader.log_tail());
    ensure!(standby.log_count(CREATED) == 0, "{}", standby.log_tail());
    let leader_metrics = scrape(leader_addr).await?;
    let standby_metrics = scrape(standby_addr).await?;
    ensure!(metric_value(&leader_metrics, "ecs_operator_leader", &[]) == 1.0);
    ensure!(metric_value(&standby_metrics, "ecs_operator_leader", &[]) == 0.0);
    ensure!(
        metric_value(&standby_metrics, "ecs_operator_aws_calls_total", &[]) == 0.0,
        "the standby called AWS:\n{standby_metrics}"
    );

    // Kill the leader without a chance to release the lease; a new object waits for the standby.
    leader.kill();
    leader.wait_exit(Duration::from_secs(10)).await?;
    let killed = Instant::now();
    let second = unique("rt-leader-2");
    apply_repository(&env, "second", &second).await?;
    wait_log(&mut standby, ACQUIRED, e2e::DEADLINE).await?;
    let takeover = killed.elapsed();
    eprintln!("standby took over {takeover:?} after the leader was killed");
    // About one lease duration (plus the jitter before taking an expired lease and slack for
    // a loaded machine).
    ensure!(
        takeover <= Duration::from_secs(lease_seconds + 5),
        "takeover took {takeover:?} with a {lease_seconds} s lease"
    );
    env.wait_condition::<EcrRepository>("second", "Ready", "True", None)
        .await?;
    // /readyz of the new leader flips from standby to ok once its caches synced.
    env.wait_for("the new leader's /readyz to answer ok", || async move {
        Ok((http_get(standby_addr, "/readyz").await? == (200, "ok".to_string())).then_some(()))
    })
    .await?;

    // No write made twice: each object created once across both logs, one repository each.
    let ns = &env.namespace;
    for (object, aws_name) in [("first", &first), ("second", &second)] {
        let needle = format!("object={ns}/{object}");
        let count = |op: &OperatorProcess| {
            op.log()
                .lines()
                .filter(|l| l.contains(CREATED) && l.contains(&needle))
                .count()
        };
        ensure!(
            count(&leader) + count(&standby) == 1,
            "{object} created {} + {} times\n--- old leader ---\n{}\n--- new leader ---\n{}",
            count(&leader),
            count(&standby),
            leader.log_tail(),
            standby.log_tail()
        );
        ensure!(repositories_in_aws(&env, aws_name).await? == 1);
    }
    let new_leader_metrics = scrape(standby_addr).await?;
    ensure!(
        metric_value(
            &new_leader_metrics,
            "ecs_operator_aws_calls_total",
            &[("service", "ecr"), ("operation", "CreateRepository")],
        ) == 1.0,
        "the new leader should create only the second repository:\n{new_leader_metrics}"
    );

    // SIGTERM: the leader finishes, releases the lease and exits 0.
    standby.terminate()?;
    let status = standby.wait_exit(Duration::from_secs(30)).await?;
    ensure!(status.success(), "{status}\n{}", standby.log_tail());
    let holder = lease
        .get(&lease_name)
        .await?
        .spec
        .and_then(|s| s.holder_identity);
    ensure!(holder.is_none(), "lease still held by {holder:?}");
    env.cleanup::<EcrRepository>().await
}

#[tokio::test]
async fn a_taken_port_is_a_startup_error_and_a_standby_stops_on_sigterm() -> Result<()> {
    let mut env = TestEnv::new("rt-standby").await?;
    env.stop_operator();
    // The metrics port is taken: startup fails, naming the flag.
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let taken = listener.local_addr()?.to_string();
    let mut op = env.spawn_operator("bad-bind", &["--metrics-bind-address", &taken], &[])?;
    let status = op.wait_exit(Duration::from_secs(60)).await?;
    ensure!(!status.success(), "{}", op.log_tail());
    let log = op.log();
    ensure!(
        log.contains(&format!("cannot serve metrics and health on {taken}"))
            && log.contains("--metrics-bind-address"),
        "{log}"
    );
    drop(listener);

    // A standby (another identity holds a fresh lease) stops at once on SIGTERM with code 0.
    let lease_name = unique("lease");
    let lease: Api<Lease> = env.api();
    let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
    let held = Lease {
        metadata: ObjectMeta {
            name: Some(lease_name.clone()),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some("someone-else".into()),
            lease_duration_seconds: Some(3600),
            acquire_time: Some(now.clone()),
            renew_time: Some(now),
            ..Default::default()
        }),
    };
    lease.create(&PostParams::default(), &held).await?;
    let namespace = env.namespace.clone();
    let mut standby = env.spawn_operator(
        "standby",
        &[
            "--leader-election",
            "--leader-election-namespace",
            &namespace,
            "--leader-election-lease-name",
            &lease_name,
        ],
        &[],
    )?;
    let addr = standby.metrics_addr().await?;
    wait_log(&mut standby, STANDBY, e2e::DEADLINE).await?;
    ensure!(http_get(addr, "/readyz").await? == (200, "standby".to_string()));
    standby.terminate()?;
    let status = standby.wait_exit(Duration::from_secs(10)).await?;
    ensure!(status.success(), "{status}\n{}", standby.log_tail());
    ensure!(standby.log_count(ACQUIRED) == 0, "{}", standby.log_tail());
    let holder = lease
        .get(&lease_name)
        .await?
        .spec
        .and_then(|s| s.holder_identity);
    ensure!(holder.as_deref() == Some("someone-else"), "{holder:?}");
    env.cleanup::<EcrRepository>().await
}

#[tokio::test]
async fn a_leader_that_loses_its_lease_stops_and_exits_non_zero() -> Result<()> {
    let mut env = TestEnv::new("rt-lost").await?;
    env.stop_operator();
    let lease_name = unique("lease");
    let namespace = env.namespace.clone();
    let mut op = env.spawn_operator(
        "leader",
        &[
            "--leader-election",
            "--leader-election-namespace",
            &namespace,
            "--leader-election-lease-name",
            &lease_name,
            "--leader-election-lease-seconds",
            "4",
        ],
        &[],
    )?;
    wait_log(&mut op, ACQUIRED, e2e::DEADLINE).await?;
    // Another identity takes the lease (as after a network partition): at its next renewal the
    // leader sees it and must stop at once rather than keep writing.
    let lease: Api<Lease> = env.api();
    let now = serde_json::to_value(MicroTime(k8s_openapi::jiff::Timestamp::now()))?;
    lease
        .patch(
            &lease_name,
            &PatchParams::default(),
            &Patch::Merge(
                json!({"spec": {"holderIdentity": "intruder", "renewTime": now,
                                          "leaseDurationSeconds": 3600}}),
            ),
        )
        .await?;
    let status = op.wait_exit(Duration::from_secs(15)).await?;
    ensure!(!status.success(), "exited {status}\n{}", op.log_tail());
    ensure!(op.log().contains("lost leadership"), "{}", op.log_tail());
    env.cleanup::<EcrRepository>().await
}
