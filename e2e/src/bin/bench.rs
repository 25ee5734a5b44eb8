//! `make bench`: how long the operator takes, and how many AWS calls it makes, to converge N
//! TaskDefinition + EcsService pairs (in a few clusters) plus ECR repositories, behind the fault
//! proxy with AWS's token buckets on (e2e::fault); throttled calls per action and the operator's
//! own pacing waits (its /metrics); then calls per resync in steady state.
//! Not a test: it prints a table.
//!
//! After all sizes it prints one summary table (Markdown, one column per size), each figure with
//! its target and "met" / "missed".
//!
//! Knobs: BENCH_N (comma list of pair counts, default "100,1000"), BENCH_BUCKET_SCALE (1, or a
//! comma list with one factor per size: multiplies the emulated buckets' capacity and refill
//! rate, and the operator is told the same quotas with `--aws-rate-limits`), BENCH_REPOS (200),
//! BENCH_CLUSTERS (4), BENCH_RESYNC (seconds, 60), BENCH_STEADY_RESYNCS (2), BENCH_CONCURRENCY
//! (the operator's default when unset). The operator is `ECS_OPERATOR_BIN` (`make bench` sets it
//! to the release build), else the debug build. Needs the bed's environment
//! (`eval "$(e2e/env up)"`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use e2e::fault::{
    Counts, FaultConfig, FaultProxy, Recorded, bucket_bound, bucket_for_scaled,
    operator_rate_limits, total,
};
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

/// MiB, from /proc/PID/status.
#[derive(Clone, Copy, Default)]
struct Rss {
    now: f64,
    peak: f64,
    anon: f64,
}

struct Operator {
    _child: tokio::process::Child,
    pid: u32,
}

impl Operator {
    fn start(ns: &str, endpoint: &str, resync: u64, scale: f64, log: &PathBuf) -> Result<Self> {
        let bin = e2e::operator::operator_binary();
        let mut cmd = tokio::process::Command::new(&bin);
        cmd.args(["run", "--watch-namespace", ns])
            .args(["--resync-seconds", &resync.to_string()])
            .args(["--metrics-bind-address", "127.0.0.1:0"]);
        if scale != 1.0 {
            // The proxy's buckets are raised: the operator paces by the same raised quotas.
            cmd.args(["--aws-rate-limits", &operator_rate_limits(scale).join(",")]);
        }
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

    /// RSS in MiB: now, its peak, and now's anonymous part (the heap; the rest is file-backed,
    /// almost all of it the binary's own code pages).
    fn rss_mib(&self) -> Rss {
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
        Rss {
            now: kib("VmRSS:") / 1024.0,
            peak: kib("VmHWM:") / 1024.0,
            anon: kib("RssAnon:") / 1024.0,
        }
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

/// Bytes of `api`'s objects as JSON without what the operator's caches drop (`managedFields`,
/// kubectl's last-applied annotation): about what a reflector store holds, before Rust's own
/// layout.
async fn json_bytes<K>(api: &Api<K>) -> Result<u64>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + serde::Serialize,
{
    let mut bytes = 0;
    for obj in api.list(&ListParams::default()).await?.items {
        let mut v = serde_json::to_value(&obj)?;
        if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
            if let Some(a) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
                a.remove("kubectl.kubernetes.io/last-applied-configuration");
            }
        }
        bytes += serde_json::to_vec(&v)?.len() as u64;
    }
    Ok(bytes)
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

/// Shortest time AWS's buckets (multiplied by `scale`) allow for the writes convergence needs at
/// minimum (one create or register per object), with the bucket that binds.
fn write_bound(pairs: u64, clusters: u64, repos: u64, scale: f64) -> (Duration, String) {
    let mut per_category: BTreeMap<String, (u64, f64, f64)> = BTreeMap::new();
    for (service, action, calls) in [
        ("ecs", "RegisterTaskDefinition", pairs),
        ("ecs", "CreateService", pairs),
        ("ecs", "CreateCluster", clusters),
        ("ecr", "CreateRepository", repos),
    ] {
        if let Some((category, capacity, refill)) = bucket_for_scaled(service, action, scale) {
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

/// The kind an AWS call works for: by action, and for the tag actions ECS and ECR share, by the
/// ARN in the request.
fn kind_of(action: &str, body: &str) -> &'static str {
    match action {
        "DescribeServices"
        | "ListServices"
        | "CreateService"
        | "UpdateService"
        | "DeleteService"
        | "DescribeServiceDeployments"
        | "ListServiceDeployments" => "EcsService",
        "DescribeClusters"
        | "ListClusters"
        | "CreateCluster"
        | "DeleteCluster"
        | "UpdateCluster"
        | "UpdateClusterSettings"
        | "PutClusterCapacityProviders" => "EcsCluster",
        "DescribeTaskDefinition"
        | "ListTaskDefinitions"
        | "ListTaskDefinitionFamilies"
        | "RegisterTaskDefinition"
        | "DeregisterTaskDefinition"
        | "DeleteTaskDefinitions" => "TaskDefinition",
        "TagResource" | "UntagResource" | "ListTagsForResource" => {
            if body.contains(":ecr:") {
                "EcrRepository"
            } else if body.contains(":service/") {
                "EcsService"
            } else if body.contains(":cluster/") {
                "EcsCluster"
            } else if body.contains(":task-definition/") {
                "TaskDefinition"
            } else {
                "other"
            }
        }
        a if a.contains("Repository")
            || a.contains("Repositories")
            || a.contains("LifecyclePolicy")
            || a.starts_with("PutImage") =>
        {
            "EcrRepository"
        }
        _ => "other",
    }
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

/// Everything one size measured.
struct Figures {
    pairs: u64,
    clusters: u64,
    repos: u64,
    scale: f64,
    /// Objects that converge with the buckets on (pairs, clusters, repositories).
    converging: u64,
    /// Objects in the namespace: the converging ones and the 20 latency probes.
    objects: u64,
    wall: Duration,
    bound: Duration,
    binding: String,
    p50: Duration,
    p99: Duration,
    probed: usize,
    rss_idle: f64,
    rss_converged: f64,
    rss_steady: f64,
    rss_peak: f64,
    /// Anonymous RSS (the heap) idle and after steady state.
    anon_idle: f64,
    anon_steady: f64,
    /// The namespace's objects as JSON, as [`json_bytes`] counts them.
    json_bytes: u64,
    cpu_converging: f64,
    cpu_steady: f64,
    converge_counts: Counts,
    steady_counts: Counts,
    /// Steady calls by kind (all resyncs together).
    steady_by_kind: BTreeMap<&'static str, u64>,
    steady_resyncs: u64,
    paced: Vec<(String, f64, f64)>,
}

impl Figures {
    fn kind_objects(&self, kind: &str) -> u64 {
        match kind {
            "EcsService" | "TaskDefinition" => self.pairs,
            "EcsCluster" => self.clusters,
            "EcrRepository" => self.repos + 20,
            _ => 0,
        }
    }

    fn converge_calls(&self) -> u64 {
        total(&self.converge_counts, |c| c.calls)
    }

    fn throttled_share(&self) -> f64 {
        let all = self.converge_calls();
        let throttled = total(&self.converge_counts, |c| c.bucket_throttled + c.throttled);
        if all == 0 {
            0.0
        } else {
            throttled as f64 / all as f64
        }
    }

    fn ratio(&self) -> Option<f64> {
        (!self.bound.is_zero()).then(|| self.wall.as_secs_f64() / self.bound.as_secs_f64())
    }

    fn steady_per_object(&self) -> f64 {
        total(&self.steady_counts, |c| c.calls) as f64
            / self.steady_resyncs as f64
            / self.objects as f64
    }
}

const KINDS: [&str; 5] = [
    "EcsService",
    "TaskDefinition",
    "EcsCluster",
    "EcrRepository",
    "other",
];

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "missed" }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One Markdown table, one column per size, each figure with its target and met / missed.
fn print_summary(runs: &[Figures], date: &str, binary: &str) {
    let mut rows: Vec<(String, Vec<String>, String)> = Vec::new();
    let mut row = |name: &str, f: &dyn Fn(usize, &Figures) -> String, target: &str| {
        rows.push((
            name.to_string(),
            runs.iter().enumerate().map(|(i, r)| f(i, r)).collect(),
            target.to_string(),
        ));
    };
    row("measured", &|_, _| date.to_string(), "");
    row("operator binary", &|_, _| binary.to_string(), "");
    row("bucket scale", &|_, r| format!("×{}", r.scale), "");
    row(
        "objects (converging + latency probes)",
        &|_, r| format!("{} + 20", thousands(r.converging)),
        "",
    );
    row(
        "all Ready",
        &|_, r| format!("{:.1} s", r.wall.as_secs_f64()),
        "",
    );
    row(
        "bucket bound (binding bucket)",
        &|_, r| format!("{:.0} s ({})", r.bound.as_secs_f64(), r.binding),
        "",
    );
    row(
        "ratio to the bucket bound",
        &|_, r| match r.ratio() {
            Some(x) => format!("{x:.2} {}", verdict(x <= 1.05)),
            None => "n/a (within the burst)".into(),
        },
        "≤ 1.05",
    );
    row(
        "AWS calls converging (per object)",
        &|_, r| {
            let per = r.converge_calls() as f64 / r.converging as f64;
            format!(
                "{} ({per:.2}) {}",
                thousands(r.converge_calls()),
                verdict(per <= 1.3)
            )
        },
        "≤ 1.3 per object",
    );
    row(
        "throttled share of converging calls",
        &|_, r| {
            let t = r.throttled_share();
            format!("{:.2} % {}", 100.0 * t, verdict(t <= 0.01))
        },
        "≤ 1 %",
    );
    let mut actions: Vec<String> = runs
        .iter()
        .flat_map(|r| r.converge_counts.keys().cloned())
        .collect();
    actions.sort();
    actions.dedup();
    for action in &actions {
        row(
            &format!("converging {action} per object"),
            &|_, r| {
                let c = r.converge_counts.get(action).cloned().unwrap_or_default();
                let throttled = c.bucket_throttled + c.throttled;
                let per = c.calls as f64 / r.converging as f64;
                if throttled > 0 {
                    format!("{per:.3} ({throttled} throttled)")
                } else {
                    format!("{per:.3}")
                }
            },
            "",
        );
    }
    row(
        "steady calls per object per resync (all kinds)",
        &|_, r| {
            let per = r.steady_per_object();
            format!("{per:.3} {}", verdict(per <= 0.12))
        },
        "≤ 0.12",
    );
    for kind in KINDS {
        if runs.iter().all(|r| !r.steady_by_kind.contains_key(kind)) {
            continue;
        }
        row(
            &format!("steady {kind} calls per resync (per object)"),
            &|_, r| {
                let calls = r.steady_by_kind.get(kind).copied().unwrap_or(0) as f64
                    / r.steady_resyncs as f64;
                match r.kind_objects(kind) {
                    0 => format!("{calls:.1}"),
                    n => format!("{calls:.1} ({:.3})", calls / n as f64),
                }
            },
            "",
        );
    }
    row(
        "apply-to-first-call p50 / p99 (unthrottled)",
        &|_, r| {
            format!(
                "{} / {} ms ({} of 20 probes) {}",
                r.p50.as_millis(),
                r.p99.as_millis(),
                r.probed,
                verdict(r.p99 <= Duration::from_millis(200) && r.probed == 20)
            )
        },
        "p99 ≤ 200 ms",
    );
    row(
        "RSS idle (caches synced, no objects)",
        &|_, r| format!("{:.1} MiB", r.rss_idle),
        "",
    );
    row(
        "RSS converged / after steady (peak)",
        &|_, r| {
            let at_target = r.pairs == 1000 && r.repos == 200;
            format!(
                "{:.1} / {:.1} MiB ({:.1}){}",
                r.rss_converged,
                r.rss_steady,
                r.rss_peak,
                if at_target {
                    format!(" {}", verdict(r.rss_steady <= 50.0))
                } else {
                    String::new()
                }
            )
        },
        "≤ 50 MiB at 1,000 pairs + 200 repositories",
    );
    row(
        "anonymous RSS idle / after steady (the rest is file-backed: the binary's pages)",
        &|_, r| format!("{:.1} / {:.1} MiB", r.anon_idle, r.anon_steady),
        "",
    );
    row(
        "RSS per object above idle (after steady)",
        &|_, r| {
            format!(
                "{:.1} KiB",
                (r.rss_steady - r.rss_idle) * 1024.0 / r.objects as f64
            )
        },
        "",
    );
    row(
        "RSS per additional object (from the previous column)",
        &|i, r| match i.checked_sub(1).and_then(|p| runs.get(p)) {
            Some(prev) if r.objects > prev.objects => {
                let kib =
                    (r.rss_steady - prev.rss_steady) * 1024.0 / (r.objects - prev.objects) as f64;
                if prev.pairs >= 1000 {
                    format!("{kib:.1} KiB {}", verdict(kib <= 20.0))
                } else {
                    format!("{kib:.1} KiB")
                }
            }
            _ => "—".into(),
        },
        "≤ 20 KiB from N=1,000 to N=5,000",
    );
    row(
        "objects as JSON per object (no managedFields)",
        &|_, r| format!("{:.1} KiB", r.json_bytes as f64 / 1024.0 / r.objects as f64),
        "",
    );
    row(
        "paced calls (seconds waited)",
        &|_, r| {
            let calls = r.paced.iter().fold(0.0, |sum, p| sum + p.2);
            let seconds = r.paced.iter().fold(0.0, |sum, p| sum + p.1);
            format!("{calls:.0} ({seconds:.0} s)")
        },
        "",
    );
    row(
        "CPU converging / steady",
        &|_, r| format!("{:.1} s / {:.1} s", r.cpu_converging, r.cpu_steady),
        "",
    );

    println!();
    println!("== summary");
    let header: Vec<String> = runs.iter().map(|r| format!("N={}", r.pairs)).collect();
    println!("| | {} | target |", header.join(" | "));
    println!("| --- |{} --- |", " --- |".repeat(runs.len()));
    for (name, cells, target) in rows {
        println!("| {name} | {} | {target} |", cells.join(" | "));
    }
}

/// What the API server shows of readiness: objects whose Ready is True for their generation,
/// polled until all are.
async fn wait_ready(
    apis: (
        &Api<EcrRepository>,
        &Api<EcsCluster>,
        &Api<TaskDefinition>,
        &Api<EcsService>,
    ),
    start: Instant,
    deadline: Duration,
    log: &std::path::Path,
) -> Result<Duration> {
    loop {
        let left = not_ready(apis.0).await?
            + not_ready(apis.1).await?
            + not_ready(apis.2).await?
            + not_ready(apis.3).await?;
        if left == 0 {
            return Ok(start.elapsed());
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
}

/// Waits until the operator's /readyz answers 200 (every controller's cache synced).
async fn wait_synced(log: &std::path::Path) -> Result<()> {
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(addr) = e2e::operator::metrics_addr_in(&text)
            && let Ok((200, _)) = e2e::operator::http_get(addr, "/readyz").await
        {
            return Ok(());
        }
        if Instant::now() > until {
            bail!(
                "the operator's caches did not sync in 120 s; log {}",
                log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[allow(clippy::too_many_arguments)]
async fn run(
    client: &Client,
    pairs: u64,
    repos: u64,
    clusters: u64,
    resync: u64,
    steady_resyncs: u64,
    scale: f64,
) -> Result<Figures> {
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
    let op = Operator::start(&ns, &proxy.url(), resync, scale, &log)?;
    let ecr: Api<EcrRepository> = Api::namespaced(client.clone(), &ns);
    let clu: Api<EcsCluster> = Api::namespaced(client.clone(), &ns);
    let tds: Api<TaskDefinition> = Api::namespaced(client.clone(), &ns);
    let svcs: Api<EcsService> = Api::namespaced(client.clone(), &ns);
    let tag = format!("b{}", std::process::id());

    // Idle: caches synced, no objects.
    wait_synced(&log).await?;
    tokio::time::sleep(Duration::from_secs(2)).await; // settle after the initial lists
    let idle = op.rss_mib();
    let rss_idle = idle.now;

    // Apply-to-first-AWS-call latency, unthrottled: a few repositories applied one at a time.
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
    let in_order: Vec<String> = latencies
        .iter()
        .map(|l| l.as_millis().to_string())
        .collect();
    latencies.sort();
    let probed = latencies.len();

    // Converge with AWS's buckets (scaled).
    let bucket_scale = (scale != 1.0).then_some(scale);
    proxy.set_config(FaultConfig {
        buckets: true,
        bucket_scale,
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
    let (bound, binding) = write_bound(pairs, clusters, repos, scale);
    let deadline = Duration::from_secs(600) + bound * 3;
    let wall = wait_ready((&ecr, &clu, &tds, &svcs), start, deadline, &log).await?;
    let converge_counts = proxy.counts();
    let paced = paced(&log).await.unwrap_or_else(|e| {
        eprintln!("reading the operator's pacing metrics: {e:#}");
        Vec::new()
    });
    let converge_cpu = op.cpu_seconds() - cpu0;
    let rss_converged = op.rss_mib().now;

    // Steady state: calls per resync, recorded so that each call can be put to its kind.
    proxy.set_config(FaultConfig {
        buckets: true,
        bucket_scale,
        record: true,
        ..FaultConfig::default()
    });
    proxy.reset_counts();
    let steady_from = proxy.now();
    let cpu1 = op.cpu_seconds();
    let steady = Duration::from_secs(resync * steady_resyncs);
    tokio::time::sleep(steady).await; // the measurement window itself
    let steady_counts = proxy.counts();
    let steady_cpu = op.cpu_seconds() - cpu1;
    let after = op.rss_mib();
    let (rss, peak) = (after.now, after.peak);
    let json_bytes = json_bytes(&ecr).await?
        + json_bytes(&clu).await?
        + json_bytes(&tds).await?
        + json_bytes(&svcs).await?;
    let mut steady_by_kind: BTreeMap<&'static str, u64> = BTreeMap::new();
    for Recorded { action, body, .. } in
        proxy.recorded().into_iter().filter(|r| r.at >= steady_from)
    {
        *steady_by_kind.entry(kind_of(&action, &body)).or_default() += 1;
    }

    let converging = clusters + 2 * pairs + repos;
    let objects = converging + 20;
    println!();
    println!(
        "== {pairs} TaskDefinition + EcsService pairs in {clusters} clusters, {repos} ECR repositories (+20 latency probes): {objects} objects; buckets ×{scale}"
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
    println!("    each probe, in order (ms): {}", in_order.join(" "));
    println!(
        "  operator RSS {rss_idle:.1} MiB idle ({:.1} anonymous), {rss_converged:.1} MiB converged, {rss:.1} MiB after steady state ({:.1} anonymous; peak {peak:.1} MiB); CPU {converge_cpu:.1} s converging, {steady_cpu:.1} s in steady state",
        idle.anon, after.anon
    );
    println!(
        "  the namespace's objects as JSON (without managedFields): {:.0} KiB, {:.1} KiB per object",
        json_bytes as f64 / 1024.0,
        json_bytes as f64 / 1024.0 / objects as f64
    );
    println!("  paced by the operator (waiting for AWS's buckets), by category:");
    for (category, seconds, calls) in &paced {
        println!("    {category:<36} {calls:>8} calls waited {seconds:>10.1} s");
    }
    print_counts(
        "converging: AWS calls (as AWS sees them, throttled ones included)",
        &converge_counts,
        converging as f64,
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
    println!("  steady state by kind:");
    for (kind, calls) in &steady_by_kind {
        println!(
            "    {kind:<36} {:>8.1} per resync",
            *calls as f64 / steady_resyncs as f64
        );
    }

    // Leave the API server clean (moto keeps its resources: make bench uses its own bed).
    drop(op);
    strip_and_delete(&svcs).await;
    strip_and_delete(&tds).await;
    strip_and_delete(&clu).await;
    strip_and_delete(&ecr).await;
    let _ = Api::<Namespace>::all(client.clone())
        .delete(&ns, &DeleteParams::default())
        .await;
    Ok(Figures {
        pairs,
        clusters,
        repos,
        scale,
        converging,
        objects,
        wall,
        bound,
        binding,
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        probed,
        rss_idle,
        rss_converged,
        rss_steady: rss,
        rss_peak: peak,
        anon_idle: idle.anon,
        anon_steady: after.anon,
        json_bytes,
        cpu_converging: converge_cpu,
        cpu_steady: steady_cpu,
        converge_counts,
        steady_counts,
        steady_by_kind,
        steady_resyncs,
        paced,
    })
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
    let scales: Vec<f64> = std::env::var("BENCH_BUCKET_SCALE")
        .unwrap_or_else(|_| "1".into())
        .split(',')
        .map(|s| s.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .context("BENCH_BUCKET_SCALE: a number, or one per BENCH_N size")?;
    if scales.iter().any(|s| !s.is_finite() || *s <= 0.0) {
        bail!("BENCH_BUCKET_SCALE must be > 0");
    }
    let scale_of = |i: usize| {
        if scales.len() == sizes.len() {
            Ok(scales[i])
        } else if scales.len() == 1 {
            Ok(scales[0])
        } else {
            bail!("BENCH_BUCKET_SCALE: one factor, or one per BENCH_N size")
        }
    };
    let repos = knob("BENCH_REPOS", 200);
    let clusters = knob("BENCH_CLUSTERS", 4).max(1);
    let resync = knob("BENCH_RESYNC", 60);
    let steady = knob("BENCH_STEADY_RESYNCS", 2).max(1);
    let date = chrono_like_now();
    let binary = e2e::operator::operator_binary();
    println!(
        "ecs-operator benchmark {date} on {} ({} cores): operator {}; emulated AWS token buckets on, resync {resync} s",
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
            .unwrap_or(0),
        binary.display()
    );
    warm_moto().await?;
    let mut runs = Vec::new();
    for (i, n) in sizes.iter().enumerate() {
        runs.push(run(&client, *n, repos, clusters, resync, steady, scale_of(i)?).await?);
    }
    let build = if binary.components().any(|c| c.as_os_str() == "release") {
        "release"
    } else if binary.components().any(|c| c.as_os_str() == "debug") {
        "debug"
    } else {
        "ECS_OPERATOR_BIN"
    };
    print_summary(&runs, &date, build);
    Ok(())
}

/// moto builds a service's backend on its first call, which AWS does not; one read of each
/// service the bench uses, straight to moto (not through the counting proxy), so that the first
/// latency probe does not wait for it.
async fn warm_moto() -> Result<()> {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    aws_sdk_ecr::Client::new(&config)
        .describe_repositories()
        .send()
        .await
        .context("warming moto: DescribeRepositories")?;
    let ecs = aws_sdk_ecs::Client::new(&config);
    ecs.list_clusters()
        .send()
        .await
        .context("warming moto: ListClusters")?;
    ecs.list_task_definitions()
        .send()
        .await
        .context("warming moto: ListTaskDefinitions")?;
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
