//! Prometheus metrics: one process-global registry, served as text on `/metrics`.
//!
//! Series (all prefixed `ecs_operator_`):
//! - `reconciles_total{kind}`, `reconcile_errors_total{kind,reason}`,
//!   `reconcile_duration_seconds{kind}` (histogram)
//! - `aws_calls_total{service,operation}`, `aws_call_errors_total{service,operation,code}`
//! - `aws_paced_seconds_total{category}`, `aws_paced_calls_total{category}`: time AWS calls
//!   waited for their token bucket (`crate::aws::pacing`), and how many calls waited
//! - `objects{kind,condition,status}`: objects in the controllers' caches by condition
//! - `leader`: 1 while this replica runs the controllers, 0 on standby

use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use kube::Resource;
use kube::runtime::reflector::Store;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::api::common::Condition;

/// Content type of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReconcileErrorLabels {
    kind: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AwsCallLabels {
    service: String,
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AwsErrorLabels {
    service: String,
    operation: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AwsCategoryLabels {
    category: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConditionLabels {
    kind: String,
    condition: String,
    status: String,
}

type DurationFamily = Family<KindLabels, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    Histogram::new([0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0])
}

/// (condition type, status) of every condition of every cached object of one kind.
type ConditionSnapshot = Box<dyn Fn() -> Vec<(String, String)> + Send + Sync>;

/// The operator's metrics: one instance per process, reached through [`super::Telemetry`].
pub struct Metrics {
    registry: Registry,
    reconciles: Family<KindLabels, Counter>,
    reconcile_errors: Family<ReconcileErrorLabels, Counter>,
    reconcile_duration: DurationFamily,
    aws_calls: Family<AwsCallLabels, Counter>,
    aws_errors: Family<AwsErrorLabels, Counter>,
    aws_paced_seconds: Family<AwsCategoryLabels, Counter<f64, AtomicU64>>,
    aws_paced_calls: Family<AwsCategoryLabels, Counter>,
    objects: Family<ConditionLabels, Gauge>,
    leader: Gauge,
    /// Per kind, how to read the conditions of the objects in its reflector store. Read at
    /// scrape time, so the gauge is exact without bookkeeping in the reconciler.
    sources: Mutex<Vec<(String, ConditionSnapshot)>>,
    /// Serialises refresh-then-encode so two scrapes never interleave their object counts.
    scrape: Mutex<()>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("ecs_operator");
        let reconciles = Family::<KindLabels, Counter>::default();
        let reconcile_errors = Family::<ReconcileErrorLabels, Counter>::default();
        let reconcile_duration: DurationFamily = Family::new_with_constructor(duration_histogram);
        let aws_calls = Family::<AwsCallLabels, Counter>::default();
        let aws_errors = Family::<AwsErrorLabels, Counter>::default();
        let aws_paced_seconds = Family::<AwsCategoryLabels, Counter<f64, AtomicU64>>::default();
        let aws_paced_calls = Family::<AwsCategoryLabels, Counter>::default();
        let objects = Family::<ConditionLabels, Gauge>::default();
        let leader = Gauge::default();
        registry.register(
            "reconciles",
            "Reconciles started, per kind",
            reconciles.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Reconcile errors, per kind and condition reason",
            reconcile_errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Duration of one reconcile, per kind",
            reconcile_duration.clone(),
        );
        registry.register(
            "aws_calls",
            "AWS API operations called (after the SDK's own retries), per service and operation",
            aws_calls.clone(),
        );
        registry.register(
            "aws_call_errors",
            "AWS API operations that failed, per service, operation and AWS error code",
            aws_errors.clone(),
        );
        registry.register(
            "aws_paced_seconds",
            "Seconds AWS calls waited for their AWS token bucket before being sent, per bucket category",
            aws_paced_seconds.clone(),
        );
        registry.register(
            "aws_paced_calls",
            "AWS calls that waited for their AWS token bucket before being sent, per bucket category",
            aws_paced_calls.clone(),
        );
        registry.register(
            "objects",
            "Objects in the controllers' caches, per kind, condition type and status",
            objects.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica runs the controllers, 0 while it is a standby",
            leader.clone(),
        );
        Self {
            registry,
            reconciles,
            reconcile_errors,
            reconcile_duration,
            aws_calls,
            aws_errors,
            aws_paced_seconds,
            aws_paced_calls,
            objects,
            leader,
            sources: Mutex::new(Vec::new()),
            scrape: Mutex::new(()),
        }
    }
}

/// Measures one reconcile: counted when started, its duration observed when dropped (also when
/// the reconcile returns early with `?` or is cancelled).
#[must_use = "the reconcile is measured until the timer is dropped"]
pub struct ReconcileTimer {
    metrics: Arc<Metrics>,
    labels: KindLabels,
    start: Instant,
}

impl Drop for ReconcileTimer {
    fn drop(&mut self) {
        self.metrics
            .reconcile_duration
            .get_or_create(&self.labels)
            .observe(self.start.elapsed().as_secs_f64());
    }
}

impl Metrics {
    /// Starts measuring one reconcile of `kind`.
    pub fn reconcile_timer(self: &Arc<Self>, kind: &str) -> ReconcileTimer {
        let labels = KindLabels { kind: kind.into() };
        self.reconciles.get_or_create(&labels).inc();
        ReconcileTimer {
            metrics: self.clone(),
            labels,
            start: Instant::now(),
        }
    }

    pub fn count_reconcile_error(&self, kind: &str, reason: &str) {
        self.reconcile_errors
            .get_or_create(&ReconcileErrorLabels {
                kind: kind.into(),
                reason: reason.into(),
            })
            .inc();
    }

    pub fn count_aws_call(&self, service: &str, operation: &str) {
        self.aws_calls
            .get_or_create(&AwsCallLabels {
                service: service.into(),
                operation: operation.into(),
            })
            .inc();
    }

    pub fn count_aws_error(&self, service: &str, operation: &str, code: &str) {
        self.aws_errors
            .get_or_create(&AwsErrorLabels {
                service: service.into(),
                operation: operation.into(),
                code: code.into(),
            })
            .inc();
    }

    /// One AWS call waited `waited` for a token of `category`'s bucket.
    pub fn observe_aws_pacing(&self, category: &str, waited: std::time::Duration) {
        let labels = AwsCategoryLabels {
            category: category.into(),
        };
        self.aws_paced_seconds
            .get_or_create(&labels)
            .inc_by(waited.as_secs_f64());
        self.aws_paced_calls.get_or_create(&labels).inc();
    }

    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// Reports the objects of `store` by condition on every scrape.
    pub fn track_objects<K>(&self, store: Store<K>, conditions: fn(&K) -> &[Condition])
    where
        K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
    {
        let kind = K::kind(&()).into_owned();
        let snapshot: ConditionSnapshot = Box::new(move || {
            store
                .state()
                .iter()
                .flat_map(|obj| {
                    conditions(obj)
                        .iter()
                        // Debug prints the variant name: True, False or Unknown.
                        .map(|c| (c.type_.clone(), format!("{:?}", c.status)))
                        .collect::<Vec<_>>()
                })
                .collect()
        });
        self.sources
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((kind, snapshot));
    }

    /// Recomputes the object gauges from the tracked stores.
    fn refresh_objects(&self) {
        self.objects.clear();
        let sources = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        for (kind, snapshot) in sources.iter() {
            for (condition, status) in snapshot() {
                self.objects
                    .get_or_create(&ConditionLabels {
                        kind: kind.clone(),
                        condition,
                        status,
                    })
                    .inc();
            }
        }
    }

    /// All series in the OpenMetrics text format (which Prometheus scrapes natively).
    pub fn encode(&self) -> Result<String, fmt::Error> {
        let _scrape = self.scrape.lock().unwrap_or_else(|p| p.into_inner());
        self.refresh_objects();
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaked() -> Arc<Metrics> {
        // Each test gets its own registry.
        Arc::new(Metrics::default())
    }

    #[test]
    fn recorded_series_appear_in_the_text() {
        let m = leaked();
        {
            let _timer = m.reconcile_timer("EcrRepository");
        }
        m.count_reconcile_error("EcrRepository", "Throttled");
        m.count_aws_call("ecr", "CreateRepository");
        m.count_aws_call("ecr", "CreateRepository");
        m.count_aws_error("ecr", "DescribeRepositories", "RepositoryNotFoundException");
        m.set_leader(true);
        let text = m.encode().expect("encodes");
        for want in [
            "ecs_operator_reconciles_total{kind=\"EcrRepository\"} 1",
            "ecs_operator_reconcile_errors_total{kind=\"EcrRepository\",reason=\"Throttled\"} 1",
            "ecs_operator_reconcile_duration_seconds_count{kind=\"EcrRepository\"} 1",
            "ecs_operator_reconcile_duration_seconds_bucket{le=\"0.01\",kind=\"EcrRepository\"} 1",
            "ecs_operator_aws_calls_total{service=\"ecr\",operation=\"CreateRepository\"} 2",
            "ecs_operator_aws_call_errors_total{service=\"ecr\",operation=\"DescribeRepositories\",code=\"RepositoryNotFoundException\"} 1",
            "ecs_operator_leader 1",
            "# EOF",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
    }

    #[test]
    fn leader_gauge_follows_the_role() {
        let m = leaked();
        m.set_leader(true);
        m.set_leader(false);
        let text = m.encode().expect("encodes");
        assert!(text.contains("ecs_operator_leader 0"), "{text}");
    }

    #[test]
    fn object_gauges_count_conditions_and_drop_stale_series() {
        let m = leaked();
        let counts = std::sync::Arc::new(Mutex::new(vec![
            ("Ready".to_string(), "True".to_string()),
            ("Ready".to_string(), "True".to_string()),
            ("Synced".to_string(), "False".to_string()),
        ]));
        let source = counts.clone();
        m.sources.lock().expect("lock").push((
            "EcrRepository".into(),
            Box::new(move || source.lock().expect("lock").clone()),
        ));
        let text = m.encode().expect("encodes");
        assert!(
            text.contains(
                "ecs_operator_objects{kind=\"EcrRepository\",condition=\"Ready\",status=\"True\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "ecs_operator_objects{kind=\"EcrRepository\",condition=\"Synced\",status=\"False\"} 1"
            ),
            "{text}"
        );
        // The object became Synced: the False series disappears instead of staying at 1.
        *counts.lock().expect("lock") = vec![("Synced".to_string(), "True".to_string())];
        let text = m.encode().expect("encodes");
        assert!(!text.contains("status=\"False\""), "{text}");
        assert!(!text.contains("condition=\"Ready\""), "{text}");
        assert!(
            text.contains(
                "ecs_operator_objects{kind=\"EcrRepository\",condition=\"Synced\",status=\"True\"} 1"
            ),
            "{text}"
        );
    }
}
