//! A fault-injecting AWS endpoint for tests: an HTTP/1.1 proxy on loopback in front of moto.
//!
//! For every awsJson1_1 call (ECS and ECR; the action is the `X-Amz-Target` header) it can
//! - throttle with per-action-category token buckets sized as AWS publishes them ([`bucket_for`]),
//! - answer a random `ThrottlingException` (HTTP 400, the shape the SDK classifies as throttling),
//! - answer a random HTTP 500 `ServerException` (the SDK retries it as a server error),
//! - add random latency,
//! - "lose" a mutating call's response: forward it to moto (it takes effect), then close the
//!   connection without answering (the client never hears).
//!
//! It counts calls per action (the benchmark reads them). Start it in-process with
//! [`FaultProxy::start`] or as the `aws-fault-proxy` binary; either way `GET /__faults/counts`
//! returns the counts as JSON and `POST /__faults/config` (a [`FaultConfig`] as JSON) changes the
//! faults at run time. Requests without `X-Amz-Target` (e.g. `/moto-api/`, STS's awsQuery calls)
//! pass through untouched; with [`FaultConfig::record_query`] the awsQuery ones are recorded.
//! Application Auto Scaling (awsJson1_1 too) and EventBridge Scheduler (restJson1: the action
//! comes from the method and path, [`scheduler_action`]) are faulted and counted like ECS.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy injects. Rates are probabilities per call, 0.0..=1.0.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct FaultConfig {
    /// Random ThrottlingException on any call (on top of the buckets).
    pub throttle: f64,
    /// Random HTTP 500 ServerException on any call (not forwarded).
    pub server_error: f64,
    /// Lost response on mutating calls: forwarded to moto, then the connection is closed.
    pub lost: f64,
    /// The first this-many calls of every mutating action lose their answer (deterministic,
    /// before any other fault), then `lost` applies.
    pub lose_first: u64,
    /// Uniform random extra latency in 0..=latency_ms before a call is handled.
    pub latency_ms: u64,
    /// Enforce AWS's published token buckets ([`bucket_for`]).
    pub buckets: bool,
    /// Multiplies every bucket's capacity and refill rate (raised quotas); unset: AWS's sizes.
    pub bucket_scale: Option<f64>,
    /// Seed of the fault dice (same seed, same sequence of decisions for the same call order).
    pub seed: u64,
    /// Keep (time, action, body) of every call for [`FaultProxy::recorded`] (the benchmark's
    /// apply-to-first-call latency).
    pub record: bool,
    /// Actions answered with an AWS error code instead of being forwarded, e.g.
    /// `CreateRepository` -> `AccessDeniedException` (a missing IAM permission) or
    /// `UnrecognizedClientException` (a bad credential): HTTP 400, before any other fault.
    pub deny: BTreeMap<String, String>,
    /// Actions every answer of which is lost (forwarded to moto, then the connection closed),
    /// before any other fault but `deny`: the caller never learns what its call did.
    pub lose_always: BTreeSet<String>,
    /// Also record awsQuery calls (STS: the action is the form body's `Action`), which are
    /// otherwise passed through uncounted and unrecorded; read their parameters with
    /// [`form_pairs`].
    pub record_query: bool,
}

/// One recorded call: when the proxy received it (since the proxy started), action, body.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub at: Duration,
    pub action: String,
    pub body: String,
}

/// A token bucket: `capacity` tokens (the burst), refilled at `refill` tokens per second (the
/// sustained rate), as the ECS throttling documentation describes. Time is passed in, so the
/// math is testable without sleeping.
#[derive(Clone, Debug, PartialEq)]
pub struct Bucket {
    pub capacity: f64,
    pub refill: f64,
    tokens: f64,
    /// Time of the last refill, as an offset from any fixed origin.
    at: Duration,
}

impl Bucket {
    /// A full bucket at time `now`.
    pub fn new(capacity: f64, refill: f64, now: Duration) -> Self {
        Self {
            capacity,
            refill,
            tokens: capacity,
            at: now,
        }
    }

    fn refill_to(&mut self, now: Duration) {
        if now > self.at {
            let earned = (now - self.at).as_secs_f64() * self.refill;
            self.tokens = (self.tokens + earned).min(self.capacity);
            self.at = now;
        }
    }

    /// Takes one token if there is one at time `now`.
    pub fn try_take(&mut self, now: Duration) -> bool {
        self.refill_to(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Tokens available at time `now`.
    pub fn available(&mut self, now: Duration) -> f64 {
        self.refill_to(now);
        self.tokens
    }
}

/// Shortest time in which `calls` calls can pass a bucket of `capacity`/`refill` that starts
/// full: the burst is free, the rest comes at the refill rate. Pure (the benchmark's bound).
pub fn bucket_bound(calls: u64, capacity: f64, refill: f64) -> Duration {
    let beyond = (calls as f64 - capacity).max(0.0);
    Duration::from_secs_f64(beyond / refill)
}

/// The token bucket an action draws from: (category, capacity, refill per second); actions of
/// one category share one bucket.
///
/// ECS: "Request throttling for the Amazon ECS API",
/// <https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html> (table
/// "bucket capacity (or burst) and refill rate (or sustained)", per account and Region).
///
/// ECR: the service quotas page (<https://docs.aws.amazon.com/AmazonECR/latest/userguide/service-quotas.html>)
/// publishes rates only for image push/pull actions, none for the repository actions the
/// operator calls; its troubleshooting page
/// (<https://docs.aws.amazon.com/AmazonECR/latest/userguide/common-errors.html>) says every ECR
/// action has its own bucket and gives GetAuthorizationToken's (200 burst, 20 per second) as the
/// example. We use that size for each ECR action (per action, not shared): an assumption, marked
/// `ecr:assumed`.
pub fn bucket_for(service: &str, action: &str) -> Option<(String, f64, f64)> {
    match service {
        "ecs" => ECS_BUCKETS
            .iter()
            .find(|(_, _, _, actions)| actions.contains(&action))
            .map(|(category, capacity, refill, _)| (format!("ecs:{category}"), *capacity, *refill)),
        "ecr" => Some((format!("ecr:assumed:{action}"), ECR_EACH.0, ECR_EACH.1)),
        _ => None,
    }
}

/// [`bucket_for`] with capacity and refill multiplied by `scale` (raised quotas; the benchmark's
/// `BENCH_BUCKET_SCALE`).
pub fn bucket_for_scaled(service: &str, action: &str, scale: f64) -> Option<(String, f64, f64)> {
    bucket_for(service, action).map(|(category, capacity, refill)| {
        (
            category,
            (capacity * scale).round().max(1.0),
            refill * scale,
        )
    })
}

/// ECS's buckets: (category, capacity, refill per second, actions).
const ECS_BUCKETS: &[(&str, f64, f64, &[&str])] = &[
    (
        "cluster-modify",
        20.0,
        1.0,
        &[
            "CreateCluster",
            "DeleteCluster",
            "PutClusterCapacityProviders",
            "UpdateCluster",
            "UpdateClusterSettings",
        ],
    ),
    (
        "cluster-read",
        50.0,
        20.0,
        &["DescribeClusters", "ListClusters"],
    ),
    (
        "task-definition-modify",
        20.0,
        1.0,
        &["DeregisterTaskDefinition", "RegisterTaskDefinition"],
    ),
    (
        "task-definition-read",
        50.0,
        20.0,
        &[
            "DescribeTaskDefinition",
            "ListTaskDefinitions",
            "ListTaskDefinitionFamilies",
        ],
    ),
    (
        "task-definition-delete",
        5.0,
        1.0,
        &["DeleteTaskDefinitions"],
    ),
    (
        "capacity-provider-modify",
        10.0,
        1.0,
        &[
            "CreateCapacityProvider",
            "DeleteCapacityProvider",
            "UpdateCapacityProvider",
        ],
    ),
    (
        "capacity-provider-read",
        50.0,
        20.0,
        &["DescribeCapacityProviders"],
    ),
    ("tag-modify", 20.0, 10.0, &["TagResource", "UntagResource"]),
    ("tag-read", 50.0, 20.0, &["ListTagsForResource"]),
    (
        "service-modify",
        50.0,
        5.0,
        &["CreateService", "DeleteService", "UpdateService"],
    ),
    (
        "service-read",
        100.0,
        20.0,
        &["DescribeServices", "ListServices"],
    ),
    (
        "service-deployment",
        50.0,
        20.0,
        &["DescribeServiceDeployments", "ListServiceDeployments"],
    ),
    (
        "cluster-resource-read",
        100.0,
        20.0,
        &[
            "DescribeTasks",
            "ListTasks",
            "DescribeContainerInstances",
            "ListContainerInstances",
            "ListAttributes",
        ],
    ),
];

/// The size assumed for each ECR action's own bucket (capacity, refill per second).
const ECR_EACH: (f64, f64) = (200.0, 20.0);

/// The ECR actions of EcrRepository (each its own bucket).
const ECR_REPOSITORY_ACTIONS: &[&str] = &[
    "CreateRepository",
    "DeleteRepository",
    "DescribeRepositories",
    "ListTagsForResource",
    "TagResource",
    "UntagResource",
    "GetRepositoryPolicy",
    "SetRepositoryPolicy",
    "DeleteRepositoryPolicy",
    "GetLifecyclePolicy",
    "PutLifecyclePolicy",
    "DeleteLifecyclePolicy",
    "PutImageTagMutability",
    "PutImageScanningConfiguration",
];

/// The operator's `--aws-rate-limits` entries (`CATEGORY=BURST/REFILL`) for the buckets the proxy
/// emulates with [`FaultConfig::bucket_scale`] `scale`: every ECS category and EcrRepository's ECR
/// actions, so the operator paces at the raised rates instead of AWS's published ones.
pub fn operator_rate_limits(scale: f64) -> Vec<String> {
    let ecs = ECS_BUCKETS
        .iter()
        .map(|(category, capacity, refill, _)| (format!("ecs:{category}"), *capacity, *refill));
    let ecr = ECR_REPOSITORY_ACTIONS
        .iter()
        .map(|action| (format!("ecr:{action}"), ECR_EACH.0, ECR_EACH.1));
    ecs.chain(ecr)
        .map(|(category, capacity, refill)| {
            let burst = (capacity * scale).round().max(1.0);
            format!("{category}={burst}/{}", refill * scale)
        })
        .collect()
}

/// Whether an action changes AWS (a lost response is only injected on these).
pub fn is_mutating(action: &str) -> bool {
    !["Describe", "List", "Get", "BatchGet", "BatchCheck"]
        .iter()
        .any(|p| action.starts_with(p))
}

/// (service, action) of an `X-Amz-Target` value.
pub fn parse_target(target: &str) -> Option<(&'static str, String)> {
    let (prefix, action) = target.split_once('.')?;
    let service = if prefix.starts_with("AmazonEC2ContainerServiceV") {
        "ecs"
    } else if prefix.starts_with("AmazonEC2ContainerRegistry") {
        "ecr"
    } else if prefix == "AnyScaleFrontendService" {
        "application-autoscaling"
    } else {
        return None;
    };
    Some((service, action.to_string()))
}

/// (service, action) of an EventBridge Scheduler call: restJson1, so the action is the method
/// and the path (`POST /schedules/{Name}` is CreateSchedule); there is no `X-Amz-Target`.
pub fn scheduler_action(method: &str, path: &str) -> Option<(&'static str, String)> {
    let path = path.split('?').next().unwrap_or(path);
    let (noun, rest) = if let Some(rest) = path.strip_prefix("/schedules") {
        ("Schedule", rest)
    } else if let Some(rest) = path.strip_prefix("/schedule-groups") {
        ("ScheduleGroup", rest)
    } else {
        return None;
    };
    let named = match rest {
        "" | "/" => false,
        r if r.starts_with('/') => true,
        _ => return None,
    };
    let action = match (method, named) {
        ("POST", true) => format!("Create{noun}"),
        ("PUT", true) => format!("Update{noun}"),
        ("DELETE", true) => format!("Delete{noun}"),
        ("GET", true) => format!("Get{noun}"),
        ("GET", false) => format!("List{noun}s"),
        _ => return None,
    };
    Some(("scheduler", action))
}

/// What happened to calls of one action.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionCounts {
    /// Calls received (whatever happened to them).
    pub calls: u64,
    /// Throttled by the emulated bucket.
    pub bucket_throttled: u64,
    /// Random ThrottlingException.
    pub throttled: u64,
    pub server_errors: u64,
    /// Forwarded and answered.
    pub forwarded: u64,
    /// Forwarded, answer dropped.
    pub lost: u64,
    /// Answered with a [`FaultConfig::deny`] error.
    pub denied: u64,
}

/// Counts by "service:Action".
pub type Counts = BTreeMap<String, ActionCounts>;

/// splitmix64: small, deterministic, good enough for dice.
#[derive(Debug)]
struct Dice(u64);

impl Dice {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Debug)]
struct State {
    upstream: SocketAddr,
    origin: Instant,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: FaultConfig,
    dice: Dice,
    buckets: BTreeMap<String, Bucket>,
    counts: Counts,
    recorded: Vec<Recorded>,
}

/// What to do with one call.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// Answered with this AWS error code ([`FaultConfig::deny`]).
    Deny(String),
    BucketThrottle,
    Throttle,
    ServerError,
    Forward {
        lose: bool,
    },
}

impl State {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn record(&self, action: &str, body: &[u8]) {
        self.record_if(action, body, |c| c.record);
    }

    /// Records an awsQuery call while [`FaultConfig::record_query`] is on.
    fn record_query(&self, body: &[u8]) {
        let body_text = String::from_utf8_lossy(body);
        if let Some((_, action)) = form_pairs(&body_text)
            .into_iter()
            .find(|(k, _)| k == "Action")
        {
            self.record_if(&action, body, |c| c.record_query);
        }
    }

    fn record_if(&self, action: &str, body: &[u8], on: impl Fn(&FaultConfig) -> bool) {
        let at = self.origin.elapsed();
        let mut inner = self.inner();
        if on(&inner.config) {
            inner.recorded.push(Recorded {
                at,
                action: action.to_string(),
                body: String::from_utf8_lossy(body).into_owned(),
            });
        }
    }

    /// Decides (and counts) a call; the latency to add comes back too.
    fn decide(&self, service: &str, action: &str) -> (Verdict, Duration) {
        let now = self.origin.elapsed();
        let mut inner = self.inner();
        let Inner {
            config,
            dice,
            buckets,
            counts,
            ..
        } = &mut *inner;
        let counts = counts.entry(format!("{service}:{action}")).or_default();
        counts.calls += 1;
        let latency = if config.latency_ms > 0 {
            Duration::from_millis((dice.unit() * (config.latency_ms + 1) as f64) as u64)
        } else {
            Duration::ZERO
        };
        let verdict = if let Some(code) = config.deny.get(action) {
            counts.denied += 1;
            Verdict::Deny(code.clone())
        } else if config.lose_always.contains(action)
            || (is_mutating(action) && counts.calls <= config.lose_first)
        {
            counts.lost += 1;
            Verdict::Forward { lose: true }
        } else if config.buckets
            && let Some((category, capacity, refill)) =
                bucket_for_scaled(service, action, config.bucket_scale.unwrap_or(1.0))
            && !buckets
                .entry(category)
                .or_insert_with(|| Bucket::new(capacity, refill, now))
                .try_take(now)
        {
            counts.bucket_throttled += 1;
            Verdict::BucketThrottle
        } else if dice.unit() < config.throttle {
            counts.throttled += 1;
            Verdict::Throttle
        } else if dice.unit() < config.server_error {
            counts.server_errors += 1;
            Verdict::ServerError
        } else if is_mutating(action) && dice.unit() < config.lost {
            counts.lost += 1;
            Verdict::Forward { lose: true }
        } else {
            counts.forwarded += 1;
            Verdict::Forward { lose: false }
        };
        (verdict, latency)
    }
}

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    pub addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on `listen` (e.g. `127.0.0.1:0`) and forwards to `upstream` (moto's address).
    pub async fn start(
        upstream: SocketAddr,
        listen: SocketAddr,
        config: FaultConfig,
    ) -> Result<Self> {
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("bind {listen}"))?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            upstream,
            origin: Instant::now(),
            inner: Mutex::new(Inner {
                dice: Dice(config.seed),
                config,
                buckets: BTreeMap::new(),
                counts: Counts::new(),
                recorded: Vec::new(),
            }),
        });
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, state).await;
                });
            }
        });
        Ok(Self { addr, state, task })
    }

    /// In front of the bed's moto (`AWS_ENDPOINT_URL`), on a free loopback port.
    pub async fn in_front_of_bed(config: FaultConfig) -> Result<Self> {
        let url = std::env::var("AWS_ENDPOINT_URL").context("AWS_ENDPOINT_URL is not set")?;
        let upstream = upstream_addr(&url)?;
        Self::start(upstream, SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    /// The endpoint URL to give the operator.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_config(&self, config: FaultConfig) {
        let mut inner = self.state.inner();
        inner.dice = Dice(config.seed);
        inner.config = config;
        inner.buckets.clear();
    }

    pub fn config(&self) -> FaultConfig {
        self.state.inner().config.clone()
    }

    pub fn counts(&self) -> Counts {
        self.state.inner().counts.clone()
    }

    pub fn reset_counts(&self) {
        self.state.inner().counts.clear();
    }

    /// Calls recorded while `record` was on.
    pub fn recorded(&self) -> Vec<Recorded> {
        self.state.inner().recorded.clone()
    }

    /// Time since the proxy started (the clock of [`Recorded::at`]).
    pub fn now(&self) -> Duration {
        self.state.origin.elapsed()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `host:port` of an `http://host:port` URL (loopback moto).
pub fn upstream_addr(url: &str) -> Result<SocketAddr> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("{url}: only http:// upstreams are supported"))?;
    let hostport = rest.split('/').next().unwrap_or(rest);
    let hostport = hostport.replace("localhost", "127.0.0.1");
    hostport
        .parse()
        .with_context(|| format!("{url}: not an ip:port URL"))
}

/// One HTTP request as read from a client.
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

async fn read_head<R: AsyncBufReadExt + Unpin>(r: &mut R) -> Result<Option<Vec<String>>> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        let n = r.read_line(&mut line).await?;
        if n == 0 {
            if lines.is_empty() {
                return Ok(None);
            }
            bail!("connection closed inside a message head");
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        if line.is_empty() {
            if lines.is_empty() {
                continue; // stray CRLF between messages
            }
            return Ok(Some(lines));
        }
        lines.push(line);
        if lines.len() > 200 {
            bail!("message head too long");
        }
    }
}

fn parse_headers(lines: &[String]) -> Vec<(String, String)> {
    lines
        .iter()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

async fn read_request<R: AsyncBufReadExt + Unpin>(r: &mut R) -> Result<Option<Request>> {
    let Some(lines) = read_head(r).await? else {
        return Ok(None);
    };
    let mut first = lines[0].split_whitespace();
    let method = first.next().unwrap_or_default().to_string();
    let path = first.next().unwrap_or("/").to_string();
    let headers = parse_headers(&lines[1..]);
    let mut req = Request {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    if req
        .header("transfer-encoding")
        .is_some_and(|v| v.contains("chunked"))
    {
        req.body = read_chunked(r).await?;
    } else if let Some(len) = req.header("content-length") {
        let len: usize = len.parse().context("bad content-length")?;
        let mut body = vec![0; len];
        r.read_exact(&mut body).await?;
        req.body = body;
    }
    Ok(Some(req))
}

async fn read_chunked<R: AsyncBufReadExt + Unpin>(r: &mut R) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        r.read_line(&mut size).await?;
        let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
            .context("bad chunk size")?;
        if size == 0 {
            // trailers until the empty line
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).await? == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let mut chunk = vec![0; size + 2];
        r.read_exact(&mut chunk).await?;
        chunk.truncate(size);
        body.extend(chunk);
    }
}

/// Status line, headers and body of an upstream response.
struct Response {
    status: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn json(status: &str, error_type: &str, message: &str) -> Self {
        let body = serde_json::json!({"__type": error_type, "message": message}).to_string();
        Self {
            status: format!("HTTP/1.1 {status}"),
            headers: vec![
                ("Content-Type".into(), "application/x-amz-json-1.1".into()),
                ("x-amzn-RequestId".into(), "fault-proxy".into()),
            ],
            body: body.into_bytes(),
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{}\r\n", self.status);
        for (k, v) in &self.headers {
            let skip = [
                "connection",
                "keep-alive",
                "transfer-encoding",
                "content-length",
            ];
            if !skip.iter().any(|s| k.eq_ignore_ascii_case(s)) {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        out.push_str(&format!("Content-Length: {}\r\n\r\n", self.body.len()));
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// Sends `req` to moto on a fresh connection (`Connection: close`) and reads the whole answer.
async fn forward(upstream: SocketAddr, req: &Request) -> Result<Response> {
    let mut up = TcpStream::connect(upstream)
        .await
        .with_context(|| format!("connect to upstream {upstream}"))?;
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, req.path);
    for (k, v) in &req.headers {
        let skip = [
            "connection",
            "keep-alive",
            "transfer-encoding",
            "content-length",
            "expect",
        ];
        if !skip.iter().any(|s| k.eq_ignore_ascii_case(s)) {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        req.body.len()
    ));
    up.write_all(head.as_bytes()).await?;
    up.write_all(&req.body).await?;
    let mut r = BufReader::new(up);
    let lines = read_head(&mut r)
        .await?
        .ok_or_else(|| anyhow!("upstream closed without answering"))?;
    let headers = parse_headers(&lines[1..]);
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        read_chunked(&mut r).await?
    } else if let Some(len) = header("content-length") {
        let mut body = vec![0; len.parse().context("bad upstream content-length")?];
        r.read_exact(&mut body).await?;
        body
    } else {
        let mut body = Vec::new();
        r.read_to_end(&mut body).await?;
        body
    };
    Ok(Response {
        status: lines[0].clone(),
        headers,
        body,
    })
}

/// Serves one client connection (keep-alive: many requests).
async fn serve(stream: TcpStream, state: Arc<State>) -> Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    loop {
        let Some(req) = read_request(&mut read).await? else {
            return Ok(());
        };
        let response = if req.path.starts_with("/__faults") {
            control(&state, &req)
        } else if let Some((service, action)) = req
            .header("x-amz-target")
            .and_then(parse_target)
            .or_else(|| scheduler_action(&req.method, &req.path))
        {
            let (verdict, latency) = state.decide(service, &action);
            state.record(&action, &req.body);
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            match verdict {
                Verdict::Deny(code) => Response::json(
                    "400 Bad Request",
                    &code,
                    &format!("not authorized to perform {action} (injected)"),
                ),
                Verdict::BucketThrottle => {
                    Response::json("400 Bad Request", "ThrottlingException", "Rate exceeded")
                }
                Verdict::Throttle => Response::json(
                    "400 Bad Request",
                    "ThrottlingException",
                    "Rate exceeded (injected)",
                ),
                Verdict::ServerError => Response::json(
                    "500 Internal Server Error",
                    "ServerException",
                    "injected server error",
                ),
                Verdict::Forward { lose } => {
                    let answer = forward(state.upstream, &req).await;
                    if lose {
                        // The call took effect in moto; the client never hears of it.
                        return Ok(());
                    }
                    answer.unwrap_or_else(|e| {
                        Response::json("502 Bad Gateway", "ProxyError", &format!("{e:#}"))
                    })
                }
            }
        } else {
            if req.method == "POST"
                && req
                    .header("content-type")
                    .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"))
            {
                state.record_query(&req.body);
            }
            forward(state.upstream, &req).await.unwrap_or_else(|e| {
                Response::json("502 Bad Gateway", "ProxyError", &format!("{e:#}"))
            })
        };
        write.write_all(&response.to_bytes()).await?;
        write.flush().await?;
    }
}

/// `GET /__faults/counts`, `GET|POST /__faults/config`.
fn control(state: &State, req: &Request) -> Response {
    let ok = |body: String| Response {
        status: "HTTP/1.1 200 OK".into(),
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.into_bytes(),
    };
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/__faults/counts") => {
            ok(serde_json::to_string(&state.inner().counts).unwrap_or_default())
        }
        ("DELETE", "/__faults/counts") => {
            state.inner().counts.clear();
            ok("{}".into())
        }
        ("GET", "/__faults/config") => {
            ok(serde_json::to_string(&state.inner().config).unwrap_or_default())
        }
        ("POST", "/__faults/config") => match serde_json::from_slice::<FaultConfig>(&req.body) {
            Ok(config) => {
                let mut inner = state.inner();
                inner.dice = Dice(config.seed);
                inner.config = config;
                inner.buckets.clear();
                ok("{}".into())
            }
            Err(e) => Response::json("400 Bad Request", "BadConfig", &e.to_string()),
        },
        _ => Response::json(
            "404 Not Found",
            "NotFound",
            "GET|DELETE /__faults/counts, GET|POST /__faults/config",
        ),
    }
}

/// The decoded `key=value` pairs of an `application/x-www-form-urlencoded` body (an awsQuery
/// call such as STS AssumeRole: `Action=AssumeRole&RoleArn=...&Tags.member.1.Key=...`).
pub fn form_pairs(body: &str) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let hex = |b: u8| (b as char).to_digit(16);
        let mut out = Vec::with_capacity(s.len());
        let mut bytes = s.bytes();
        while let Some(b) = bytes.next() {
            match b {
                b'+' => out.push(b' '),
                b'%' => {
                    let (hi, lo) = (bytes.next(), bytes.next());
                    match (hi.and_then(hex), lo.and_then(hex)) {
                        (Some(h), Some(l)) => out.push((h * 16 + l) as u8),
                        // Not an escape: keep it as it came.
                        _ => out.extend([Some(b'%'), hi, lo].into_iter().flatten()),
                    }
                }
                b => out.push(b),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    body.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Sum over actions of a field of [`ActionCounts`].
pub fn total(counts: &Counts, field: impl Fn(&ActionCounts) -> u64) -> u64 {
    counts.values().map(field).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_pairs_decode_an_aws_query_body() {
        let body = "Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fa&RoleSessionName=ecs-operator-ns\
                    &Tags.member.1.Key=ecs-operator-namespace&Tags.member.1.Value=ns&Bad=%zz+1%4";
        let pairs = form_pairs(body);
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("Action"), Some("AssumeRole"));
        assert_eq!(get("RoleArn"), Some("arn:aws:iam::1:role/a"));
        assert_eq!(get("Tags.member.1.Key"), Some("ecs-operator-namespace"));
        assert_eq!(get("Tags.member.1.Value"), Some("ns"));
        assert_eq!(get("Bad"), Some("%zz 1%4"));
    }

    fn s(secs: f64) -> Duration {
        Duration::from_secs_f64(secs)
    }

    #[test]
    fn bucket_burst_then_sustained() {
        // ECS service modify actions: 50 burst, 5 per second.
        let mut b = Bucket::new(50.0, 5.0, s(0.0));
        let burst = (0..100).filter(|_| b.try_take(s(0.0))).count();
        assert_eq!(
            burst, 50,
            "a full bucket gives exactly its capacity at once"
        );
        assert!(!b.try_take(s(0.1)), "0.1 s earns half a token: not enough");
        assert!(b.try_take(s(0.2)), "0.2 s earns one token");
        assert!(!b.try_take(s(0.2)));
        // One second earns five.
        let next = (0..10).filter(|_| b.try_take(s(1.2))).count();
        assert_eq!(next, 5);
    }

    #[test]
    fn bucket_never_exceeds_capacity() {
        let mut b = Bucket::new(20.0, 1.0, s(0.0));
        assert_eq!(b.available(s(1000.0)), 20.0, "idle time does not overfill");
        for _ in 0..20 {
            assert!(b.try_take(s(1000.0)));
        }
        assert!(!b.try_take(s(1000.0)));
        assert!((b.available(s(1003.5)) - 3.5).abs() < 1e-9);
    }

    #[test]
    fn bucket_time_going_backwards_earns_nothing() {
        let mut b = Bucket::new(2.0, 1.0, s(10.0));
        assert!(b.try_take(s(10.0)));
        assert!(b.try_take(s(10.0)));
        assert!(!b.try_take(s(5.0)));
    }

    #[test]
    fn bound_table() {
        let cases = [
            // (calls, capacity, refill, seconds)
            (0, 20.0, 1.0, 0.0),
            (20, 20.0, 1.0, 0.0),
            (21, 20.0, 1.0, 1.0),
            (1000, 20.0, 1.0, 980.0),
            (1000, 50.0, 5.0, 190.0),
            (150, 100.0, 20.0, 2.5),
        ];
        for (calls, capacity, refill, want) in cases {
            assert_eq!(
                bucket_bound(calls, capacity, refill),
                s(want),
                "{calls} calls through {capacity}/{refill}"
            );
        }
    }

    #[test]
    fn categories_share_buckets_as_documented() {
        let cat = |svc: &str, a: &str| bucket_for(svc, a);
        assert_eq!(cat("ecs", "DescribeServices"), cat("ecs", "ListServices"));
        assert_eq!(
            cat("ecs", "RegisterTaskDefinition"),
            Some(("ecs:task-definition-modify".into(), 20.0, 1.0))
        );
        assert_eq!(
            cat("ecs", "DescribeTaskDefinition").map(|c| (c.1, c.2)),
            Some((50.0, 20.0))
        );
        assert_eq!(
            cat("ecs", "CreateService").map(|c| (c.1, c.2)),
            Some((50.0, 5.0))
        );
        assert_ne!(
            cat("ecr", "CreateRepository").map(|c| c.0),
            cat("ecr", "DescribeRepositories").map(|c| c.0)
        );
        assert_eq!(cat("ecs", "NoSuchAction"), None);
    }

    #[test]
    fn scaled_buckets_multiply_burst_and_refill() {
        assert_eq!(
            bucket_for_scaled("ecs", "RegisterTaskDefinition", 10.0),
            Some(("ecs:task-definition-modify".into(), 200.0, 10.0))
        );
        assert_eq!(
            bucket_for_scaled("ecr", "CreateRepository", 1.0),
            bucket_for("ecr", "CreateRepository")
        );
    }

    #[test]
    fn operator_rate_limits_are_flags_the_operator_takes_and_match_the_proxy() {
        use std::str::FromStr as _;
        let limits = operator_rate_limits(10.0);
        for entry in &limits {
            let parsed = ecs_operator::RateLimit::from_str(entry)
                .unwrap_or_else(|e| panic!("the operator refuses {entry}: {e}"));
            let (service, name) = parsed.category.split_once(':').unwrap_or(("", ""));
            // The proxy's bucket of an action of the category has the same size.
            let action = match service {
                "ecs" => ECS_BUCKETS
                    .iter()
                    .find(|(c, ..)| *c == name)
                    .map(|(_, _, _, actions)| actions[0])
                    .unwrap_or(""),
                _ => name,
            };
            let (_, capacity, refill) =
                bucket_for_scaled(service, action, 10.0).unwrap_or_default();
            assert_eq!(
                (f64::from(parsed.limit.burst), parsed.limit.refill),
                (capacity, refill),
                "{entry}"
            );
        }
        assert!(limits.contains(&"ecs:task-definition-modify=200/10".to_string()));
        assert!(limits.contains(&"ecr:CreateRepository=2000/200".to_string()));
    }

    #[test]
    fn targets_and_mutating_actions() {
        assert_eq!(
            parse_target("AmazonEC2ContainerServiceV20141113.CreateService"),
            Some(("ecs", "CreateService".to_string()))
        );
        assert_eq!(
            parse_target("AmazonEC2ContainerRegistry_V20150921.DescribeRepositories"),
            Some(("ecr", "DescribeRepositories".to_string()))
        );
        assert_eq!(
            parse_target("AWSSecurityTokenServiceV20110615.GetCallerIdentity"),
            None
        );
        assert_eq!(
            parse_target("AnyScaleFrontendService.RegisterScalableTarget"),
            Some((
                "application-autoscaling",
                "RegisterScalableTarget".to_string()
            ))
        );
        for (method, path, action) in [
            ("POST", "/schedules/nightly", Some("CreateSchedule")),
            ("PUT", "/schedules/nightly", Some("UpdateSchedule")),
            (
                "DELETE",
                "/schedules/nightly?clientToken=x&groupName=default",
                Some("DeleteSchedule"),
            ),
            ("GET", "/schedules/nightly?groupName=g", Some("GetSchedule")),
            ("GET", "/schedules?NamePrefix=n", Some("ListSchedules")),
            ("POST", "/schedule-groups/g", Some("CreateScheduleGroup")),
            ("GET", "/moto-api/", None),
            ("POST", "/", None),
        ] {
            assert_eq!(
                scheduler_action(method, path),
                action.map(|a| ("scheduler", a.to_string())),
                "{method} {path}"
            );
        }
        for (action, mutating) in [
            ("CreateService", true),
            ("RegisterTaskDefinition", true),
            ("PutLifecyclePolicy", true),
            ("TagResource", true),
            ("DescribeServices", false),
            ("ListTagsForResource", false),
            ("GetRepositoryPolicy", false),
        ] {
            assert_eq!(is_mutating(action), mutating, "{action}");
        }
    }

    #[test]
    fn dice_rates_are_roughly_right_and_deterministic() {
        let roll = |seed| {
            let state = State {
                upstream: SocketAddr::from(([127, 0, 0, 1], 1)),
                origin: Instant::now(),
                inner: Mutex::new(Inner {
                    config: FaultConfig {
                        throttle: 0.3,
                        server_error: 0.05,
                        lost: 0.03,
                        seed,
                        ..FaultConfig::default()
                    },
                    dice: Dice(seed),
                    buckets: BTreeMap::new(),
                    counts: Counts::new(),
                    recorded: Vec::new(),
                }),
            };
            let verdicts: Vec<Verdict> = (0..10_000)
                .map(|_| state.decide("ecs", "CreateService").0)
                .collect();
            let c = state.inner().counts["ecs:CreateService"].clone();
            (verdicts, c)
        };
        let (a, counts) = roll(7);
        let (b, _) = roll(7);
        assert_eq!(a, b, "same seed, same decisions");
        assert_eq!(counts.calls, 10_000);
        let frac = |n: u64| n as f64 / 10_000.0;
        assert!((frac(counts.throttled) - 0.3).abs() < 0.02, "{counts:?}");
        // 5 % of the 70 % not throttled, 3 % of what is left.
        assert!(
            (frac(counts.server_errors) - 0.035).abs() < 0.01,
            "{counts:?}"
        );
        assert!((frac(counts.lost) - 0.02).abs() < 0.008, "{counts:?}");
    }

    #[test]
    fn lose_first_loses_the_first_answers_of_each_mutating_action() {
        let state = State {
            upstream: SocketAddr::from(([127, 0, 0, 1], 1)),
            origin: Instant::now(),
            inner: Mutex::new(Inner {
                config: FaultConfig {
                    lose_first: 2,
                    ..FaultConfig::default()
                },
                dice: Dice(1),
                buckets: BTreeMap::new(),
                counts: Counts::new(),
                recorded: Vec::new(),
            }),
        };
        let lost = |action: &str| {
            matches!(
                state.decide("ecs", action).0,
                Verdict::Forward { lose: true }
            )
        };
        assert!(lost("CreateService") && lost("CreateService") && !lost("CreateService"));
        assert!(lost("RegisterTaskDefinition"), "counted per action");
        assert!(!lost("DescribeServices"), "reads never lose their answer");
        state.inner().config = FaultConfig {
            lose_always: ["RegisterScalableTarget".to_string()].into(),
            ..FaultConfig::default()
        };
        assert!(
            (0..5).all(|_| lost("RegisterScalableTarget")),
            "every answer"
        );
        assert!(!lost("PutScalingPolicy"), "only the named actions");
    }

    #[test]
    fn emulated_bucket_throttles_past_the_burst() {
        let state = State {
            upstream: SocketAddr::from(([127, 0, 0, 1], 1)),
            origin: Instant::now(),
            inner: Mutex::new(Inner {
                config: FaultConfig {
                    buckets: true,
                    ..FaultConfig::default()
                },
                dice: Dice(1),
                buckets: BTreeMap::new(),
                counts: Counts::new(),
                recorded: Vec::new(),
            }),
        };
        // 20 RegisterTaskDefinition go through at once; the rest of a quick burst is throttled
        // (at most a token or two refills while the loop runs).
        let passed = (0..40)
            .filter(|_| {
                matches!(
                    state.decide("ecs", "RegisterTaskDefinition").0,
                    Verdict::Forward { .. }
                )
            })
            .count();
        assert!((20..=21).contains(&passed), "{passed}");
    }

    #[tokio::test]
    async fn proxies_counts_and_injects() {
        // A fake upstream answering every request with a fixed JSON body.
        let upstream = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let up_addr = upstream.local_addr().expect("addr");
        let hits = Arc::new(Mutex::new(0u32));
        let seen = hits.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = upstream.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut r = BufReader::new(s);
                    if let Ok(Some(_)) = read_request(&mut r).await {
                        *seen.lock().expect("lock") += 1;
                        let _ = r
                            .get_mut()
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"ok\":1}")
                            .await;
                    }
                });
            }
        });
        let proxy = FaultProxy::start(
            up_addr,
            "127.0.0.1:0".parse().expect("addr"),
            FaultConfig::default(),
        )
        .await
        .expect("start");
        let call = |target: &'static str| {
            let addr = proxy.addr;
            async move {
                let mut s = TcpStream::connect(addr).await.expect("connect");
                let req = format!(
                    "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: {target}\r\nContent-Length: 2\r\n\r\n{{}}"
                );
                s.write_all(req.as_bytes()).await.expect("write");
                let mut r = BufReader::new(s);
                match read_head(&mut r).await {
                    Ok(Some(lines)) => {
                        let headers = parse_headers(&lines[1..]);
                        let len: usize = headers
                            .iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                            .map(|(_, v)| v.parse().expect("len"))
                            .unwrap_or(0);
                        let mut body = vec![0; len];
                        r.read_exact(&mut body).await.expect("body");
                        Some((
                            lines[0].clone(),
                            String::from_utf8_lossy(&body).into_owned(),
                        ))
                    }
                    _ => None,
                }
            }
        };
        let (status, body) = call("AmazonEC2ContainerServiceV20141113.DescribeServices")
            .await
            .expect("answer");
        assert!(status.contains("200"), "{status}");
        assert_eq!(body, "{\"ok\":1}");

        proxy.set_config(FaultConfig {
            throttle: 1.0,
            ..FaultConfig::default()
        });
        let (status, body) = call("AmazonEC2ContainerServiceV20141113.DescribeServices")
            .await
            .expect("answer");
        assert!(status.contains("400"), "{status}");
        assert!(body.contains("ThrottlingException"), "{body}");

        proxy.set_config(FaultConfig {
            lost: 1.0,
            ..FaultConfig::default()
        });
        assert_eq!(
            call("AmazonEC2ContainerServiceV20141113.CreateService").await,
            None,
            "a lost response closes the connection"
        );
        let counts = proxy.counts();
        assert_eq!(counts["ecs:DescribeServices"].calls, 2);
        assert_eq!(counts["ecs:DescribeServices"].throttled, 1);
        assert_eq!(counts["ecs:CreateService"].lost, 1);
        assert_eq!(
            *hits.lock().expect("lock"),
            2,
            "the lost call reached upstream; the throttled one did not"
        );
    }
}
