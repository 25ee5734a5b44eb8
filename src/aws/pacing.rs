//! Client-side pacing: every ECS and ECR call waits for a token of the AWS token bucket it is
//! throttled by, so converging never outruns AWS (no `ThrottlingException`) and still runs at
//! the bucket's rate.
//!
//! AWS throttles per account and Region with one token bucket per API category (ECS: "Request
//! throttling for the Amazon ECS API"; ECR: one bucket per action). [`published`] is that table;
//! `--aws-rate-limits CATEGORY=BURST/REFILL,...` replaces entries for raised quotas.
//!
//! How:
//! - The limiter is [`governor`]'s GCRA, which is a token bucket of `burst` cells refilled one
//!   per `1/refill` seconds, with an async wait. The SDK's own client-side rate limiting
//!   (`RetryConfig::adaptive()`) does not fit: it learns a rate only after being throttled, per
//!   client, and knows neither the buckets nor that categories are shared across clients.
//! - The hook is the HTTP client ([`PacedHttpClient`] wraps the SDK's default one): SDK
//!   interceptors are synchronous, and the connector is where each attempt (the SDK's retries
//!   included, which AWS counts too) is sent. The action is the `X-Amz-Target` header (ECS,
//!   ECR and Application Auto Scaling speak awsJson). Actions without a published bucket
//!   (Application Auto Scaling, EventBridge Scheduler, ECS actions not in the table) are not
//!   paced. The wait happens after signing: SigV4 signatures stay valid for minutes, and a wait
//!   is short because the controllers' concurrency bounds how many calls queue on one bucket.
//! - Buckets are per account + Region: limiters are keyed by [`Scope`] (the client's Region and
//!   the account of its assumed role, or the operator's own identity) and the category, so
//!   clients of two roles in one account share a limiter. The operator does not look up its own
//!   account (no `sts:GetCallerIdentity`): a namespace role in the operator's own account is
//!   paced apart from the operator's identity, and the two together can exceed a bucket (the
//!   SDK's retry then backs off).
//! - Each limiter keeps one token of headroom (`burst - 1`): the limiter's clock and AWS's
//!   bucket see a call at slightly different times, and a paced call that reached AWS a few
//!   milliseconds early would find the bucket a fraction of a token short. The cost is one
//!   refill interval over a whole converge.
//! - A fresh process assumes full buckets; calls by other clients of the account are not seen.
//!   What they cause is retried by the SDK (throttling class) as before.
//!
//! Waiting is counted in `ecs_operator_aws_paced_seconds_total{category}` and
//! `ecs_operator_aws_paced_calls_total{category}` (calls that waited at all).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_types::config_bag::ConfigBag;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::runtime::metrics::Metrics;

/// One AWS token bucket: `burst` tokens, refilled at `refill` tokens per second.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limit {
    pub burst: u32,
    pub refill: f64,
}

/// ECS: (category, burst, refill per second, actions), per account and Region, from
/// <https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html>.
const ECS: &[(&str, u32, f64, &[&str])] = &[
    (
        "cluster-modify",
        20,
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
        50,
        20.0,
        &["DescribeClusters", "ListClusters"],
    ),
    (
        "task-definition-modify",
        20,
        1.0,
        &["DeregisterTaskDefinition", "RegisterTaskDefinition"],
    ),
    (
        "task-definition-read",
        50,
        20.0,
        &[
            "DescribeTaskDefinition",
            "ListTaskDefinitions",
            "ListTaskDefinitionFamilies",
        ],
    ),
    ("task-definition-delete", 5, 1.0, &["DeleteTaskDefinitions"]),
    (
        "capacity-provider-modify",
        10,
        1.0,
        &[
            "CreateCapacityProvider",
            "DeleteCapacityProvider",
            "UpdateCapacityProvider",
        ],
    ),
    (
        "capacity-provider-read",
        50,
        20.0,
        &["DescribeCapacityProviders"],
    ),
    ("tag-modify", 20, 10.0, &["TagResource", "UntagResource"]),
    ("tag-read", 50, 20.0, &["ListTagsForResource"]),
    (
        "service-modify",
        50,
        5.0,
        &["CreateService", "DeleteService", "UpdateService"],
    ),
    (
        "service-read",
        100,
        20.0,
        &["DescribeServices", "ListServices"],
    ),
    (
        "service-deployment",
        50,
        20.0,
        &["DescribeServiceDeployments", "ListServiceDeployments"],
    ),
    (
        "cluster-resource-read",
        100,
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

/// ECR publishes no rates for the repository actions; its troubleshooting page says each action
/// has its own bucket and gives GetAuthorizationToken's (200 burst, 20 per second) as the
/// example. That size is assumed for every ECR action.
const ECR_EACH_ACTION: Limit = Limit {
    burst: 200,
    refill: 20.0,
};

/// The bucket category of an action: `ecs:<category>` (shared by the category's actions) or
/// `ecr:<Action>` (one bucket per action); `None` when AWS publishes no bucket for it.
pub fn category(service: &str, action: &str) -> Option<String> {
    match service {
        "ecs" => ECS
            .iter()
            .find(|(_, _, _, actions)| actions.contains(&action))
            .map(|(category, ..)| format!("ecs:{category}")),
        "ecr" if is_action_name(action) => Some(format!("ecr:{action}")),
        _ => None,
    }
}

/// AWS's published bucket of a category (see [`category`]).
pub fn published(category: &str) -> Option<Limit> {
    match category.split_once(':')? {
        ("ecs", name) => ECS
            .iter()
            .find(|(c, ..)| *c == name)
            .map(|(_, burst, refill, _)| Limit {
                burst: *burst,
                refill: *refill,
            }),
        ("ecr", action) if is_action_name(action) => Some(ECR_EACH_ACTION),
        _ => None,
    }
}

fn is_action_name(action: &str) -> bool {
    action.starts_with(|c: char| c.is_ascii_uppercase())
        && action.chars().all(|c| c.is_ascii_alphanumeric())
}

/// (service, action) of an awsJson `X-Amz-Target` value, e.g.
/// `AmazonEC2ContainerServiceV20141113.RegisterTaskDefinition`.
pub fn parse_target(target: &str) -> Option<(&'static str, &str)> {
    let (prefix, action) = target.split_once('.')?;
    let service = if prefix.starts_with("AmazonEC2ContainerServiceV") {
        "ecs"
    } else if prefix.starts_with("AmazonEC2ContainerRegistry") {
        "ecr"
    } else {
        return None;
    };
    Some((service, action))
}

/// One `--aws-rate-limits` entry: `CATEGORY=BURST/REFILL`, e.g.
/// `ecs:task-definition-modify=40/2` or `ecr:CreateRepository=400/40`.
#[derive(Clone, Debug, PartialEq)]
pub struct RateLimit {
    pub category: String,
    pub limit: Limit,
}

impl FromStr for RateLimit {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let usage = "expected CATEGORY=BURST/REFILL, e.g. ecs:task-definition-modify=40/2";
        let (category, limit) = text
            .split_once('=')
            .ok_or_else(|| format!("rate limit {text:?}: {usage}"))?;
        let category = category.trim();
        if published(category).is_none() {
            let known: Vec<String> = ECS.iter().map(|(c, ..)| format!("ecs:{c}")).collect();
            return Err(format!(
                "rate limit {text:?}: unknown category {category:?}; known: {}, ecr:<Action>",
                known.join(", ")
            ));
        }
        let (burst, refill) = limit
            .split_once('/')
            .ok_or_else(|| format!("rate limit {text:?}: {usage}"))?;
        let burst: u32 = burst
            .trim()
            .parse()
            .ok()
            .filter(|b| *b >= 1)
            .ok_or_else(|| format!("rate limit {text:?}: burst must be a whole number >= 1"))?;
        let refill: f64 = refill
            .trim()
            .parse()
            .ok()
            .filter(|r: &f64| r.is_finite() && *r > 0.0 && *r <= 1e6)
            .ok_or_else(|| {
                format!("rate limit {text:?}: refill must be a number of tokens per second > 0")
            })?;
        Ok(Self {
            category: category.to_string(),
            limit: Limit { burst, refill },
        })
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}={}/{}",
            self.category, self.limit.burst, self.limit.refill
        )
    }
}

/// Whether to pace, and the buckets that differ from AWS's published sizes.
#[derive(Clone, Debug, PartialEq)]
pub struct PacingConfig {
    pub enabled: bool,
    pub overrides: Vec<RateLimit>,
}

impl Default for PacingConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            overrides: Vec::new(),
        }
    }
}

/// Where AWS keeps a set of buckets: the Region and the account.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct Scope {
    pub region: String,
    /// The account of the assumed role (from its ARN); empty for the operator's own identity.
    pub account: String,
}

impl Scope {
    pub fn new(region: &str, role_arn: Option<&str>) -> Self {
        let account = role_arn
            .map(|arn| match arn.split(':').nth(4) {
                Some(account) if !account.is_empty() => account.to_string(),
                // Not an ARN with an account: pace it on its own.
                _ => arn.to_string(),
            })
            .unwrap_or_default();
        Self {
            region: region.to_string(),
            account,
        }
    }
}

/// The quota of a limiter for an AWS bucket: one token of headroom (see the module doc), one
/// token every `1/refill` seconds. `None` when the refill is too fast to express.
pub fn quota(limit: Limit) -> Option<Quota> {
    let burst = NonZeroU32::new(limit.burst.saturating_sub(1).max(1))?;
    let period = Duration::try_from_secs_f64(1.0 / limit.refill).ok()?;
    Quota::with_period(period).map(|q| q.allow_burst(burst))
}

/// The limiters of one process, by scope and category.
pub struct Pacer {
    overrides: BTreeMap<String, Limit>,
    limiters: Mutex<HashMap<(Scope, String), Arc<DefaultDirectRateLimiter>>>,
    metrics: Arc<Metrics>,
}

impl fmt::Debug for Pacer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pacer")
            .field("overrides", &self.overrides)
            .finish_non_exhaustive()
    }
}

impl Pacer {
    pub fn new(overrides: &[RateLimit], metrics: Arc<Metrics>) -> Self {
        Self {
            overrides: overrides
                .iter()
                .map(|o| (o.category.clone(), o.limit))
                .collect(),
            limiters: Mutex::new(HashMap::new()),
            metrics,
        }
    }

    /// The bucket of `category`: the override, else AWS's published size.
    pub fn limit(&self, category: &str) -> Option<Limit> {
        self.overrides
            .get(category)
            .copied()
            .or_else(|| published(category))
    }

    fn limiter(&self, scope: &Scope, category: &str) -> Option<Arc<DefaultDirectRateLimiter>> {
        let quota = quota(self.limit(category)?)?;
        let mut limiters = self.limiters.lock().unwrap_or_else(|p| p.into_inner());
        Some(
            limiters
                .entry((scope.clone(), category.to_string()))
                .or_insert_with(|| Arc::new(RateLimiter::direct(quota)))
                .clone(),
        )
    }

    /// Waits until a call to `target` (an `X-Amz-Target` value) may go to AWS.
    async fn pace(&self, scope: &Scope, target: &str) {
        let Some((service, action)) = parse_target(target) else {
            return;
        };
        let Some(category) = category(service, action) else {
            return;
        };
        let Some(limiter) = self.limiter(scope, &category) else {
            return;
        };
        if limiter.check().is_ok() {
            return;
        }
        let start = Instant::now();
        limiter.until_ready().await;
        let waited = start.elapsed();
        tracing::debug!(%category, action, waited_ms = waited.as_millis() as u64, "AWS call paced");
        self.metrics.observe_aws_pacing(&category, waited);
    }

    /// `inner` with every call paced in `scope`.
    pub fn http_client(self: &Arc<Self>, inner: SharedHttpClient, scope: Scope) -> PacedHttpClient {
        PacedHttpClient {
            inner,
            pacer: self.clone(),
            scope,
        }
    }
}

/// The SDK's HTTP client with each request paced before it is sent.
#[derive(Clone, Debug)]
pub struct PacedHttpClient {
    inner: SharedHttpClient,
    pacer: Arc<Pacer>,
    scope: Scope,
}

impl HttpClient for PacedHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(PacedConnector {
            inner: self.inner.http_connector(settings, components),
            pacer: self.pacer.clone(),
            scope: self.scope.clone(),
        })
    }

    fn validate_base_client_config(
        &self,
        runtime_components: &RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner
            .validate_base_client_config(runtime_components, cfg)
    }

    fn validate_final_config(
        &self,
        runtime_components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner.validate_final_config(runtime_components, cfg)
    }

    fn connector_metadata(
        &self,
    ) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

#[derive(Debug)]
struct PacedConnector {
    inner: SharedHttpConnector,
    pacer: Arc<Pacer>,
    scope: Scope,
}

impl HttpConnector for PacedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let target = request.headers().get("x-amz-target").map(str::to_string);
        let (inner, pacer, scope) = (self.inner.clone(), self.pacer.clone(), self.scope.clone());
        HttpConnectorFuture::new(async move {
            if let Some(target) = target {
                pacer.pace(&scope, &target).await;
            }
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::{Clock, FakeRelativeClock, Reference};

    /// (service, action, Some((category, burst, refill))) or None when not paced.
    type CategoryCase = (&'static str, &'static str, Option<(&'static str, u32, f64)>);

    #[test]
    fn categories_and_published_buckets() {
        let cases: &[CategoryCase] = &[
            (
                "ecs",
                "CreateCluster",
                Some(("ecs:cluster-modify", 20, 1.0)),
            ),
            (
                "ecs",
                "DeleteCluster",
                Some(("ecs:cluster-modify", 20, 1.0)),
            ),
            (
                "ecs",
                "DescribeClusters",
                Some(("ecs:cluster-read", 50, 20.0)),
            ),
            (
                "ecs",
                "RegisterTaskDefinition",
                Some(("ecs:task-definition-modify", 20, 1.0)),
            ),
            (
                "ecs",
                "DeregisterTaskDefinition",
                Some(("ecs:task-definition-modify", 20, 1.0)),
            ),
            (
                "ecs",
                "DescribeTaskDefinition",
                Some(("ecs:task-definition-read", 50, 20.0)),
            ),
            (
                "ecs",
                "DeleteTaskDefinitions",
                Some(("ecs:task-definition-delete", 5, 1.0)),
            ),
            (
                "ecs",
                "CreateCapacityProvider",
                Some(("ecs:capacity-provider-modify", 10, 1.0)),
            ),
            ("ecs", "TagResource", Some(("ecs:tag-modify", 20, 10.0))),
            (
                "ecs",
                "ListTagsForResource",
                Some(("ecs:tag-read", 50, 20.0)),
            ),
            (
                "ecs",
                "CreateService",
                Some(("ecs:service-modify", 50, 5.0)),
            ),
            (
                "ecs",
                "UpdateService",
                Some(("ecs:service-modify", 50, 5.0)),
            ),
            (
                "ecs",
                "DescribeServices",
                Some(("ecs:service-read", 100, 20.0)),
            ),
            (
                "ecs",
                "ListServiceDeployments",
                Some(("ecs:service-deployment", 50, 20.0)),
            ),
            (
                "ecs",
                "DescribeTasks",
                Some(("ecs:cluster-resource-read", 100, 20.0)),
            ),
            (
                "ecr",
                "CreateRepository",
                Some(("ecr:CreateRepository", 200, 20.0)),
            ),
            (
                "ecr",
                "DescribeRepositories",
                Some(("ecr:DescribeRepositories", 200, 20.0)),
            ),
            ("ecs", "RunTask", None),
            ("ecs", "NoSuchAction", None),
            ("ecr", "not-an-action", None),
            ("application-autoscaling", "RegisterScalableTarget", None),
        ];
        for (service, action, want) in cases {
            let got = category(service, action).map(|c| {
                let limit = published(&c).expect("a category has a published bucket");
                (c, limit.burst, limit.refill)
            });
            let want = want.map(|(c, b, r)| (c.to_string(), b, r));
            assert_eq!(got, want, "{service}:{action}");
        }
        // Every action is in one category only.
        let mut seen = std::collections::BTreeSet::new();
        for (_, _, _, actions) in ECS {
            for action in *actions {
                assert!(seen.insert(*action), "{action} in two categories");
            }
        }
    }

    #[test]
    fn targets() {
        for (target, want) in [
            (
                "AmazonEC2ContainerServiceV20141113.RegisterTaskDefinition",
                Some(("ecs", "RegisterTaskDefinition")),
            ),
            (
                "AmazonEC2ContainerRegistry_V20150921.CreateRepository",
                Some(("ecr", "CreateRepository")),
            ),
            ("AnyScaleFrontendService.RegisterScalableTarget", None),
            ("no-dot", None),
        ] {
            assert_eq!(parse_target(target), want, "{target}");
        }
    }

    #[test]
    fn rate_limit_flags() {
        let ok = |text: &str, category: &str, burst: u32, refill: f64| {
            assert_eq!(
                text.parse::<RateLimit>(),
                Ok(RateLimit {
                    category: category.into(),
                    limit: Limit { burst, refill }
                }),
                "{text}"
            );
        };
        ok(
            "ecs:task-definition-modify=40/2",
            "ecs:task-definition-modify",
            40,
            2.0,
        );
        ok(
            " ecs:service-read = 200 / 40 ",
            "ecs:service-read",
            200,
            40.0,
        );
        ok(
            "ecr:CreateRepository=400/0.5",
            "ecr:CreateRepository",
            400,
            0.5,
        );
        for bad in [
            "task-definition-modify=40/2",
            "ecs:nope=1/1",
            "ecs:service-read",
            "ecs:service-read=10",
            "ecs:service-read=0/1",
            "ecs:service-read=1.5/1",
            "ecs:service-read=10/0",
            "ecs:service-read=10/-1",
            "ecs:service-read=10/inf",
            "ecr:lower=1/1",
        ] {
            assert!(bad.parse::<RateLimit>().is_err(), "{bad} accepted");
        }
        let pacer = Pacer::new(
            &["ecs:service-read=200/40".parse().expect("valid")],
            Default::default(),
        );
        assert_eq!(
            pacer.limit("ecs:service-read"),
            Some(Limit {
                burst: 200,
                refill: 40.0
            })
        );
        assert_eq!(
            pacer.limit("ecs:service-modify"),
            Some(Limit {
                burst: 50,
                refill: 5.0
            }),
            "the others keep the published size"
        );
    }

    #[test]
    fn scopes_are_region_and_account() {
        let a = Scope::new("eu-west-1", Some("arn:aws:iam::111111111111:role/team-a"));
        let b = Scope::new("eu-west-1", Some("arn:aws:iam::111111111111:role/team-b"));
        let other_account = Scope::new("eu-west-1", Some("arn:aws:iam::222222222222:role/a"));
        let other_region = Scope::new("us-east-1", Some("arn:aws:iam::111111111111:role/a"));
        let own = Scope::new("eu-west-1", None);
        assert_eq!(a, b, "two roles of one account share the buckets");
        assert_ne!(a, other_account);
        assert_ne!(a, other_region);
        assert_ne!(a, own);
        assert_eq!(own.account, "");
    }

    /// The limiter's arithmetic on a fake clock: a burst (less the one token of headroom), then
    /// one call per refill interval.
    #[test]
    fn limiter_bursts_then_refills() {
        // (burst, refill per s, calls admitted at once, wait for the next, admitted 1 s later)
        let cases = [
            (20, 1.0, 19, Duration::from_secs(1), 1),
            (50, 5.0, 49, Duration::from_millis(200), 5),
            (100, 20.0, 99, Duration::from_millis(50), 20),
            (200, 20.0, 199, Duration::from_millis(50), 20),
            (5, 1.0, 4, Duration::from_secs(1), 1),
            (1, 0.5, 1, Duration::from_secs(2), 0),
        ];
        for (burst, refill, at_once, wait, after_1s) in cases {
            let clock = FakeRelativeClock::default();
            let limit = Limit { burst, refill };
            let quota = quota(limit).expect("expressible");
            let limiter = RateLimiter::direct_with_clock(quota, clock.clone());
            let admitted = (0..1000).take_while(|_| limiter.check().is_ok()).count();
            assert_eq!(admitted, at_once, "{limit:?}: burst");
            let next = limiter.check().expect_err("bucket empty");
            assert_eq!(next.wait_time_from(clock.now()), wait, "{limit:?}: wait");
            clock.advance(Duration::from_secs(1));
            let refilled = (0..1000).take_while(|_| limiter.check().is_ok()).count();
            assert_eq!(refilled, after_1s, "{limit:?}: refill");
            // Idle time never fills past the burst.
            clock.advance(Duration::from_secs(3600));
            let again = (0..1000).take_while(|_| limiter.check().is_ok()).count();
            assert_eq!(again, at_once, "{limit:?}: refilled to the burst only");
        }
    }

    /// N calls through a limiter take (N - burst + 1) / refill seconds: the bucket bound plus
    /// one refill interval of headroom.
    #[test]
    fn paced_calls_finish_at_the_bucket_bound() {
        for (calls, burst, refill) in [(40u32, 20, 1.0), (1000, 50, 5.0), (150, 100, 20.0)] {
            let clock = FakeRelativeClock::default();
            let limiter = RateLimiter::direct_with_clock(
                quota(Limit { burst, refill }).expect("q"),
                clock.clone(),
            );
            let start = clock.now();
            for _ in 0..calls {
                while let Err(next) = limiter.check() {
                    clock.advance(next.wait_time_from(clock.now()));
                }
            }
            let took = Duration::from(clock.now().duration_since(start)).as_secs_f64();
            let bound = f64::from(calls - burst) / refill;
            assert!(
                (took - (bound + 1.0 / refill)).abs() < 1e-6,
                "{calls} calls through {burst}/{refill}: {took} s, bound {bound} s"
            );
        }
    }

    #[tokio::test]
    async fn pace_waits_and_counts_by_category() {
        let metrics = Arc::new(Metrics::default());
        let pacer = Pacer::new(
            &["ecs:task-definition-modify=2/20".parse().expect("valid")],
            metrics.clone(),
        );
        let scope = Scope::new("eu-west-1", None);
        let target = "AmazonEC2ContainerServiceV20141113.RegisterTaskDefinition";
        let start = Instant::now();
        // Headroom leaves one token at once, then one per 50 ms.
        for _ in 0..3 {
            pacer.pace(&scope, target).await;
        }
        assert!(
            start.elapsed() >= Duration::from_millis(90),
            "{:?}",
            start.elapsed()
        );
        // Unknown actions and other scopes are not held up.
        pacer
            .pace(&scope, "AnyScaleFrontendService.RegisterScalableTarget")
            .await;
        let text = metrics.encode().expect("encodes");
        assert!(
            text.contains(
                "ecs_operator_aws_paced_calls_total{category=\"ecs:task-definition-modify\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "ecs_operator_aws_paced_seconds_total{category=\"ecs:task-definition-modify\"}"
            ),
            "{text}"
        );
    }
}
