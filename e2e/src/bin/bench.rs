//! `make bench`: how long the operator takes, and how many AWS calls it makes, to converge N
//! TaskDefinition + EcsService pairs (in a few clusters) plus ECR repositories, behind the fault
//! proxy with AWS's token buckets on (e2e::fault); throttled calls per action and the operator's
//! own pacing waits (its /metrics); then calls per resync in steady state.
//! Not a test: it prints a table.
//!
//! Knobs: BENCH_N (comma list of pair counts, default "100,1000"), BENCH_REPOS (200),
//! BENCH_CLUSTERS (4), BENCH_RESYNC (seconds, 60), BENCH_STEADY_RESYNCS (2), BENCH_CONCURRENCY
//! (the operator's default when unset). Needs the bed's environment (`eval "$(e2e/env up)"`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use e2e::fault::{Counts, FaultConfig, FaultProxy, bucket_bound, bucket_for, total};
use ecs_operator::api::{EcrRepository, EcsCluster, EcsService, TaskDefinition};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Operator {
    _child: tokio::process::Child,
    pid: u32,
}

impl Operator {
    fn start(ns: &str, endpoint: &str, resync: u64, log: &PathBuf) -> Result<Self> {
        let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/ecs-operator");
        let bin = std::env::var_os("ECS_OPERATOR_BIN")
            .map(PathBuf::from)
            .unwrap_or(bin);
        let mut cmd = tokio::process::Command::new(&bin);
        cmd.args(["run", "--watch-namespace", ns])
            .args(["--resync-seconds", &resync.to_string()])
            .args(["--metrics-bind-address", "127.0.0.1:0"]);
        if let Ok(c) = std::env::var("BENCH_CONCURRENCY") {
            cmd.args(["--concurrency", &c]);
        }
        let child = cmd
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("ECS_OPERATOR_LOG_LEVEL", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(log)?))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawn {}", bin.display()))?;
        let pid = child.id().context("operator pid")?;
        Ok(Self { _child: child, pid })
    }

    /// (RSS now, peak RSS) in MiB.
    fn rss_mib(&self) -> (f64, f64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        let kib = |key: &str| {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        (kib("VmRSS:") / 1024.0, kib("VmHWM:") / 1024.0)
    }

    /// User + system CPU seconds so far (clock ticks of 1/100 s, Linux's USER_HZ).
    fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap_or_default();
        // Fields after the parenthesised command: state is field 3; utime 14, stime 15.
        let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = after.split_whitespace().collect();
        let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        (tick(11) + tick(12)) / 100.0
    }
}

async fn apply<K>(api: &Api<K>, kind: &str, name: &str, spec: Value) -> Result<()>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + serde::Serialize,
{
    let obj = json!({"apiVersion": "ecs.operator.dev/v1alpha1", "kind": kind,
                     "metadata": {"name": name}, "spec": spec});
    api.patch(
        name,
        &PatchParams::apply("bench").force(),
        &Patch::Apply(&obj),
    )
    .await
    .with_context(|| format!("apply {kind} {name}"))?;
    Ok(())
}

async fn not_ready<K>(api: &Api<K>) -> Result<usize>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + serde::Serialize,
{
    let list = api.list(&ListParams::default()).await?;
    let mut n = 0;
    for obj in list.items {
        let v = serde_json::to_value(&obj)?;
        let generation = v["metadata"]["generation"].as_i64();
        let ready = v["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| {
                c["type"] == "Ready"
                    && c["status"] == "True"
                    && c["observedGeneration"].as_i64() == generation
            });
        if !ready {
            n += 1;
        }
    }
    Ok(n)
}

async fn strip_and_delete<K>(api: &Api<K>)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    let Ok(list) = api.list(&ListParams::default()).await else {
        return;
    };
    for obj in list.items {
        let name = obj.name_any();
        let _ = api
            .patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"finalizers": null}})),
            )
            .await;
        let _ = api.delete(&name, &DeleteParams::default()).await;
    }
}

/// Shortest time AWS's buckets allow for the writes convergence needs at minimum (one create or
/// register per object), with the bucket that binds.
fn write_bound(pairs: u64, clusters: u64, repos: u64) -> (Duration, String) {
    let mut per_category: BTreeMap<String, (u64, f64, f64)> = BTreeMap::new();
    for (service, action, calls) in [
        ("ecs", "RegisterTaskDefinition", pairs),
        ("ecs", "CreateService", pairs),
        ("ecs", "CreateCluster", clusters),
        ("ecr", "CreateRepository", repos),
    ] {
        if let Some((category, capacity, refill)) = bucket_for(service, action) {
            let e = per_category
                .entry(category)
                .or_insert((0, capacity, refill));
            e.0 += calls;
        }
    }
    per_category
        .into_iter()
        .map(|(c, (calls, cap, refill))| {
            (
                bucket_bound(calls, cap, refill),
                format!("{c}: {calls} calls, {cap} burst, {refill}/s"),
            )
        })
        .max_by_key(|(d, _)| *d)
        .unwrap_or_default()
}

fn print_counts(title: &str, counts: &Counts, divide: f64, per: &str) {
    println!("  {title}");
    println!(
        "    {:<36} {:>8} {:>10} {:>12}",
        "action", "calls", "throttled", per
    );
    for (action, c) in counts {
        println!(
            "    {:<36} {:>8} {:>10} {:>12.2}",
            action,
            c.calls,
            c.bucket_throttled + c.throttled,
            c.calls as f64 / divide
        );
    }
    let all = total(counts, |c| c.calls);
    let throttled = total(counts, |c| c.bucket_throttled + c.throttled);
    println!(
        "    {:<36} {:>8} {:>10} {:>12.2}",
        "all",
        all,
        throttled,
        all as f64 / divide
    );
    println!(
        "    throttled: {:.2} % of calls",
        if all == 0 {
            0.0
        } else {
            100.0 * throttled as f64 / all as f64
        }
    );
}

/// The operator's own account of pacing (`ecs_operator_aws_paced_*` on its /metrics):
/// (category, seconds waited, calls that waited).
async fn paced(log: &PathBuf) -> Result<Vec<(String, f64, f64)>> {
    let text = std::fs::read_to_string(log)?;
    let addr = e2e::operator::metrics_addr_in(&text).context("no metrics address in the log")?;
    let (_, metrics) = e2e::operator::http_get(addr, "/metrics").await?;
    let series = |name: &str| -> BTreeMap<String, f64> {
        metrics
            .lines()
            .filter_map(|l| l.strip_prefix(name)?.strip_prefix("{category=\""))
            .filter_map(|l| {
                let (category, value) = l.split_once("\"} ")?;
                Some((category.to_string(), value.parse().ok()?))
            })
            .collect()
    };
    let seconds = series("ecs_operator_aws_paced_seconds_total");
    let calls = series("ecs_operator_aws_paced_calls_total");
    Ok(seconds
        .into_iter()
        .map(|(c, s)| {
            let n = calls.get(&c).copied().unwrap_or(0.0);
            (c, s, n)
        })
        .collect())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

async fn run(
    client: &Client,
    pairs: u64,
    repos: u64,
    clusters: u64,
    resync: u64,
    steady_resyncs: u64,
) -> Result<()> {
    let ns = format!("bench-{pairs}-{}", std::process::id());
    let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": ns}}))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await?;
    let proxy = FaultProxy::in_front_of_bed(FaultConfig {
        record: true,
        ..FaultConfig::default()
    })
    .await?;
    let log = std::env::temp_dir().join(format!("{ns}-operator.log"));
    let op = Operator::start(&ns, &proxy.url(), resync, &log)?;
    let ecr: Api<EcrRepository> = Api::namespaced(client.clone(), &ns);
    let clu: Api<EcsCluster> = Api::namespaced(client.clone(), &ns);
    let tds: Api<TaskDefinition> = Api::namespaced(client.clone(), &ns);
    let svcs: Api<EcsService> = Api::namespaced(client.clone(), &ns);
    let tag = format!("b{}", std::process::id());

    // Apply-to-first-AWS-call latency, unthrottled: a few repositories applied one at a time.
    tokio::time::sleep(Duration::from_secs(2)).await; // the operator's caches sync (pacing)
    let mut probes = Vec::new();
    for i in 0..20 {
        let name = format!("{tag}-probe-{pairs}-{i}");
        let at = proxy.now();
        apply(
            &ecr,
            "EcrRepository",
            &format!("probe{i}"),
            json!({"repositoryName": name}),
        )
        .await?;
        probes.push((name, at));
        tokio::time::sleep(Duration::from_millis(150)).await; // spacing the probes (pacing)
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let recorded = proxy.recorded();
    let mut latencies: Vec<Duration> = probes
        .iter()
        .filter_map(|(name, at)| {
            recorded
                .iter()
                .find(|r| r.at >= *at && r.body.contains(&format!("\"{name}\"")))
                .map(|r| r.at - *at)
        })
        .collect();
    latencies.sort();
    let probed = latencies.len();

    // Converge with AWS's buckets.
    proxy.set_config(FaultConfig {
        buckets: true,
        ..FaultConfig::default()
    });
    proxy.reset_counts();
    let cpu0 = op.cpu_seconds();
    let start = Instant::now();
    for c in 0..clusters {
        apply(
            &clu,
            "EcsCluster",
            &format!("c{c}"),
            json!({"clusterName": format!("{tag}-{pairs}-c{c}")}),
        )
        .await?;
    }
    for i in 0..pairs {
        apply(
            &tds,
            "TaskDefinition",
            &format!("f{i}"),
            json!({"family": format!("{tag}-{pairs}-f{i}"),
            "networkMode": "bridge", "requiresCompatibilities": ["EC2"],
            "containerDefinitions": [{"name": "web", "image": "nginx:1", "memory": 64}]}),
        )
        .await?;
        apply(&svcs, "EcsService", &format!("s{i}"), json!({"serviceName": format!("{tag}-{pairs}-s{i}"),
            "clusterRef": {"name": format!("c{}", i % clusters)}, "taskDefinitionRef": {"name": format!("f{i}")},
            "desiredCount": 1, "launchType": "EC2"})).await?;
    }
    for r in 0..repos {
        apply(
            &ecr,
            "EcrRepository",
            &format!("r{r}"),
            json!({"repositoryName": format!("{tag}-{pairs}-r{r}")}),
        )
        .await?;
    }
    let applied = start.elapsed();
    let (bound, binding) = write_bound(pairs, clusters, repos);
    let deadline = Duration::from_secs(600) + bound * 3;
    loop {
        let left = not_ready(&ecr).await?
            + not_ready(&clu).await?
            + not_ready(&tds).await?
            + not_ready(&svcs).await?;
        if left == 0 {
            break;
        }
        if start.elapsed() > deadline {
            bail!(
                "{left} objects not Ready after {:?}; operator log {}",
                start.elapsed(),
                log.display()
            );
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let wall = start.elapsed();
    let converge_counts = proxy.counts();
    let paced = paced(&log).await.unwrap_or_else(|e| {
        eprintln!("reading the operator's pacing metrics: {e:#}");
        Vec::new()
    });
    let converge_cpu = op.cpu_seconds() - cpu0;
    let (rss_converged, _) = op.rss_mib();

    // Steady state: calls per resync.
    proxy.reset_counts();
    let cpu1 = op.cpu_seconds();
    let steady = Duration::from_secs(resync * steady_resyncs);
    tokio::time::sleep(steady).await; // the measurement window itself
    let steady_counts = proxy.counts();
    let steady_cpu = op.cpu_seconds() - cpu1;
    let (rss, peak) = op.rss_mib();

    let objects = clusters + 2 * pairs + repos + 20;
    println!();
    println!(
        "== {pairs} TaskDefinition + EcsService pairs in {clusters} clusters, {repos} ECR repositories (+20 latency probes): {objects} objects"
    );
    println!(
        "  applied in {:.1} s; all Ready after {:.1} s",
        applied.as_secs_f64(),
        wall.as_secs_f64()
    );
    println!(
        "  bucket bound (one write per object): {:.1} s, set by {binding}; ratio wall/bound = {}",
        bound.as_secs_f64(),
        if bound.is_zero() {
            "n/a (within the burst)".to_string()
        } else {
            format!("{:.2}", wall.as_secs_f64() / bound.as_secs_f64())
        }
    );
    println!(
        "  apply-to-first-AWS-call latency (unthrottled, {probed} of 20 probes seen): p50 {} ms, p99 {} ms",
        percentile(&latencies, 0.5).as_millis(),
        percentile(&latencies, 0.99).as_millis()
    );
    println!(
        "  operator RSS {rss_converged:.1} MiB converged, {rss:.1} MiB after steady state (peak {peak:.1} MiB); CPU {converge_cpu:.1} s converging, {steady_cpu:.1} s in steady state"
    );
    println!("  paced by the operator (waiting for AWS's buckets), by category:");
    for (category, seconds, calls) in &paced {
        println!("    {category:<36} {calls:>8} calls waited {seconds:>10.1} s");
    }
    let converged_objects = (objects - 20) as f64;
    print_counts(
        "converging: AWS calls (as AWS sees them, throttled ones included)",
        &converge_counts,
        converged_objects,
        "per object",
    );
    print_counts(
        &format!(
            "steady state: {} s = {steady_resyncs} resyncs of {resync} s",
            steady.as_secs()
        ),
        &steady_counts,
        steady_resyncs as f64,
        "per resync",
    );
    let describe_services = steady_counts
        .get("ecs:DescribeServices")
        .map(|c| c.calls)
        .unwrap_or(0) as f64
        / steady_resyncs as f64;
    let ecr_reads: u64 = steady_counts
        .iter()
        .filter(|(k, _)| k.starts_with("ecr:"))
        .map(|(_, c)| c.calls)
        .sum();
    println!(
        "  steady: DescribeServices {:.1} per resync for {pairs} services ({:.2} per 10 services); ECR {:.2} calls per repository per resync",
        describe_services,
        describe_services * 10.0 / pairs as f64,
        ecr_reads as f64 / steady_resyncs as f64 / (repos + 20) as f64
    );

    // Leave the API server clean (moto keeps its resources: make bench uses its own bed).
    drop(op);
    strip_and_delete(&svcs).await;
    strip_and_delete(&tds).await;
    strip_and_delete(&clu).await;
    strip_and_delete(&ecr).await;
    let _ = Api::<Namespace>::all(client.clone())
        .delete(&ns, &DeleteParams::default())
        .await;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    for var in ["KUBECONFIG", "AWS_ENDPOINT_URL"] {
        if std::env::var_os(var).is_none() {
            bail!(
                "{var} is not set: start the bed first with `eval \"$(e2e/env up)\"` (make bench does this)"
            );
        }
    }
    let client = Client::try_default().await?;
    let sizes: Vec<u64> = std::env::var("BENCH_N")
        .unwrap_or_else(|_| "100,1000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let repos = knob("BENCH_REPOS", 200);
    let clusters = knob("BENCH_CLUSTERS", 4).max(1);
    let resync = knob("BENCH_RESYNC", 60);
    let steady = knob("BENCH_STEADY_RESYNCS", 2).max(1);
    println!(
        "ecs-operator benchmark {} on {} ({} cores): emulated AWS token buckets on, resync {resync} s",
        chrono_like_now(),
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(
                |c| c.lines().find(|l| l.starts_with("model name")).map(|l| l
                    .split(':')
                    .nth(1)
                    .unwrap_or("")
                    .trim()
                    .to_string())
            )
            .unwrap_or_default(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    for n in sizes {
        run(&client, n, repos, clusters, resync, steady).await?;
    }
    Ok(())
}

/// UTC date and time from the system clock, without a date crate.
fn chrono_like_now() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
