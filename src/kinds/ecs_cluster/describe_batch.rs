//! The DescribeClusters batch: up to 100 clusters per call. A reconcile that has to describe
//! its cluster also describes the other EcsCluster objects' clusters in the same AWS target
//! that have no kept answer, and each of those answers serves that cluster's next observe
//! once: within 1.5 resync periods when the cluster is ACTIVE and settled, within 5 s
//! otherwise. So a resync round of N clusters costs about N / 100 calls instead of N. Every
//! write forgets the written cluster's answer; the refresh annotation skips a kept one.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_ecs::types as ecs;
use kube::runtime::reflector::Store;

use super::sdk::{self, CLUSTERS_PER_CALL};
use crate::api::ecs_cluster::EcsCluster;
use crate::aws::{AwsClients, AwsError};

/// How long a kept answer serves a cluster that is not settled (provisioning, attachments
/// updating): its readiness is polled, so it must see AWS move.
pub const UNSETTLED_TTL: Duration = Duration::from_secs(5);

/// Kept answers by (AWS target, cluster name): objects in other regions or accounts never
/// share answers.
type Key = (String, String);

pub struct Batch {
    peers: Store<EcsCluster>,
    window: Duration,
    kept: Mutex<HashMap<Key, (Instant, ecs::Cluster)>>,
}

/// Whether a described cluster is settled: ACTIVE with no attachment being updated. Pure.
pub fn settled(c: &ecs::Cluster) -> bool {
    c.status.as_deref() == Some("ACTIVE")
        && c.attachments_status
            .as_deref()
            .is_none_or(|s| s == "UPDATE_COMPLETE")
}

impl Batch {
    /// Kept answers of settled clusters serve for 1.5 `resync` (one drift-check period plus
    /// the peer's own reconcile time), at least [`UNSETTLED_TTL`].
    pub fn new(peers: Store<EcsCluster>, resync: Duration) -> Self {
        Self {
            peers,
            window: (resync + resync / 2).max(UNSETTLED_TTL),
            kept: Mutex::new(HashMap::new()),
        }
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, HashMap<Key, (Instant, ecs::Cluster)>> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cluster is about to change: its kept answer (if any) no longer holds.
    pub fn forget(&self, aws: &AwsClients, name: &str) {
        self.kept().remove(&(aws.target(), name.to_string()));
    }

    /// The kept answer for `key`, taken (used once) while within its window. Pure but for the
    /// clock.
    fn take(&self, key: &Key) -> Option<ecs::Cluster> {
        let mut kept = self.kept();
        let window = self.window;
        kept.retain(|_, (at, _)| at.elapsed() < window);
        let (at, cluster) = kept.remove(key)?;
        let max_age = if settled(&cluster) {
            self.window
        } else {
            UNSETTLED_TTL
        };
        (at.elapsed() < max_age).then_some(cluster)
    }

    /// The cluster `name`, from a kept answer (unless `fresh`) or a DescribeClusters call that
    /// also describes up to 99 peers without a kept answer; `None` when it does not exist or
    /// is INACTIVE.
    pub async fn describe(
        &self,
        aws: &AwsClients,
        name: &str,
        fresh: bool,
    ) -> Result<Option<ecs::Cluster>, AwsError> {
        let target = aws.target();
        let key = (target.clone(), name.to_string());
        if fresh {
            self.forget(aws, name);
        } else if let Some(cluster) = self.take(&key) {
            return Ok(Some(cluster));
        }
        let peers: Vec<String> = {
            let kept = self.kept();
            self.peers
                .state()
                .iter()
                .map(|c| c.cluster_name())
                .filter(|n| !kept.contains_key(&(target.clone(), n.clone())))
                .collect()
        };
        let names = batch_names(name, peers);
        tracing::debug!(clusters = names.len(), "DescribeClusters batch");
        let found = sdk::describe_clusters(&aws.ecs, &names).await?;
        let mut mine = None;
        let now = Instant::now();
        let mut kept = self.kept();
        for cluster in found {
            let Some(n) = cluster.cluster_name.clone() else {
                continue;
            };
            if n == name {
                mine = Some(cluster);
            } else {
                kept.insert((target.clone(), n), (now, cluster));
            }
        }
        Ok(mine)
    }
}

/// Cluster names to describe in one call: the requested one first, then peers, without
/// duplicates, at most [`CLUSTERS_PER_CALL`]. Pure.
pub fn batch_names(requested: &str, peers: impl IntoIterator<Item = String>) -> Vec<String> {
    crate::aws::listing::batch_names(requested, peers, CLUSTERS_PER_CALL)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(name: &str, status: &str, attachments: Option<&str>) -> ecs::Cluster {
        ecs::Cluster::builder()
            .cluster_name(name)
            .cluster_arn(format!("arn:aws:ecs:us-east-1:123456789012:cluster/{name}"))
            .status(status)
            .set_attachments_status(attachments.map(str::to_string))
            .build()
    }

    #[test]
    fn batch_names_table() {
        let many: Vec<String> = (0..150).map(|i| format!("c{i}")).collect();
        let cases: Vec<(&str, Vec<String>, usize, Vec<&str>)> = vec![
            ("alone", vec![], 1, vec!["a"]),
            (
                "requested first, no duplicates",
                vec!["b".into(), "a".into(), "b".into()],
                2,
                vec!["a", "b"],
            ),
            ("at most 100", many, 100, vec!["a", "c0"]),
        ];
        for (case, peers, len, first) in cases {
            let got = batch_names("a", peers);
            assert_eq!(got.len(), len, "{case}");
            assert_eq!(&got[..first.len()], first.as_slice(), "{case}");
        }
    }

    /// A kept answer serves once: a settled cluster's within 1.5 resyncs, an unsettled one's
    /// within 5 s; a forgotten one not at all.
    #[test]
    fn kept_answers_serve_once_by_settledness() {
        let secs = Duration::from_secs;
        let batch = Batch::new(kube::runtime::reflector::store::<EcsCluster>().0, secs(60));
        let key = |n: &str| ("t".to_string(), n.to_string());
        let cases = [
            ("settled, recent", cluster("a", "ACTIVE", None), 0, true),
            (
                "settled, within 90 s",
                cluster("a", "ACTIVE", Some("UPDATE_COMPLETE")),
                80,
                true,
            ),
            (
                "settled, past 90 s",
                cluster("a", "ACTIVE", None),
                95,
                false,
            ),
            (
                "provisioning, recent",
                cluster("a", "PROVISIONING", None),
                0,
                true,
            ),
            (
                "provisioning, past 5 s",
                cluster("a", "PROVISIONING", None),
                6,
                false,
            ),
            (
                "attachments updating, past 5 s",
                cluster("a", "ACTIVE", Some("UPDATE_IN_PROGRESS")),
                6,
                false,
            ),
        ];
        for (case, c, age, served) in cases {
            batch
                .kept()
                .insert(key("a"), (Instant::now() - secs(age), c));
            assert_eq!(batch.take(&key("a")).is_some(), served, "{case}");
            assert!(batch.take(&key("a")).is_none(), "{case}: used once");
        }
        assert!(settled(&cluster("a", "ACTIVE", None)));
        assert!(!settled(&cluster("a", "INACTIVE", None)));
    }
}
