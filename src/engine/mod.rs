//! The one generic driver every kind uses: finalizer, observe -> create/update/delete, conditions,
//! events, backoff, resync. It knows nothing kind-specific; each kind implements [`External`].

/// Implements [`Managed`] for a kind and [`KindStatus`] for its status type (every kind's
/// status holds `conditions`, `observedGeneration` and `lastRefreshed`). `identity = field`
/// names the status field holding the AWS identity (ARN), when the kind has one.
macro_rules! managed_kind {
    ($kind:ty, $status:ty $(, identity = $id:ident)?) => {
        impl $crate::engine::Managed for $kind {
            type Status = $status;
            fn kind_status(&self) -> Option<&$status> {
                self.status.as_ref()
            }
            fn policies(&self) -> &$crate::api::common::Policies {
                &self.spec.policies
            }
        }

        impl $crate::engine::KindStatus for $status {
            fn conditions(&self) -> &[$crate::api::common::Condition] {
                &self.conditions
            }
            fn observed_generation(&self) -> Option<i64> {
                self.observed_generation
            }
            fn last_refreshed(&self) -> Option<&str> {
                self.last_refreshed.as_deref()
            }
            fn set_last_refreshed(&mut self, value: Option<String>) {
                self.last_refreshed = value;
            }
            fn identity(&self) -> Option<&str> {
                managed_kind!(@identity self $(, $id)?)
            }
        }
    };
    (@identity $self:ident) => {
        None
    };
    (@identity $self:ident, $id:ident) => {
        $self.$id.as_deref()
    };
}

mod backoff;
pub mod conditions;
mod contract;
mod controller;
mod converge;
pub mod create;
#[cfg(test)]
mod driver_tests;
mod error;
mod finalize;
pub mod namespaces;
pub mod ownership;
pub mod references;
pub mod shards;
mod status;
pub mod tolerant;
mod watches;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, Patch, PatchParams};
use kube::core::NamespaceResourceScope;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use tracing::{debug, info, warn};

use crate::api::FINALIZER;
use crate::api::common::{
    Condition, DeletionPolicy, ManagementPolicy, PAUSED_ANNOTATION, Policies, READY, SYNCED,
    find_condition,
};
use crate::aws::tags::{self, TagChanges, TagTarget};
use crate::aws::{AwsClients, AwsError, AwsProvider, ErrorClass};
use conditions::{NewCondition, Progress, reason};
use namespaces::Namespaces;
use ownership::{Claim, Identity, Plan};

pub use create::{
    CREATE_FAILED_ANNOTATION, CREATE_PENDING_ANNOTATION, CREATE_SUCCEEDED_ANNOTATION,
    EXTERNAL_NAME_ANNOTATION, Lookup,
};

pub use backoff::*;
pub use contract::*;
pub use controller::*;
pub use converge::reconcile;
use converge::*;
pub use error::*;
use finalize::*;
pub use status::*;
pub use watches::Watches;

#[cfg(test)]
mod tests {

    #[test]
    fn an_object_without_a_uid_is_not_reconciled_with_an_empty_token() {
        use crate::api::ecs_cluster::{EcsCluster, EcsClusterSpec};
        let mut obj = EcsCluster::new("c", EcsClusterSpec::default());
        assert!(matches!(uid_of(&obj), Err(Error::Environment { .. })));
        obj.metadata.uid = Some("u-1".into());
        assert_eq!(uid_of(&obj).ok().as_deref(), Some("u-1"));
    }
    use super::*;

    /// What a converged reconcile writes: Synced (the driver's or the kind's override), Ready,
    /// Reconciling/Stalled from the readiness and the mode, the kind's own conditions last;
    /// and the requeue (resync when ready, the not-ready poll otherwise).
    #[test]
    fn settle_table() {
        use crate::api::ConditionStatus::{False, True};
        use crate::api::common::{RECONCILING, STALLED};
        let settings = Settings::default();
        let synced = || NewCondition::new(SYNCED, true, reason::RECONCILE_SUCCESS, "ok");
        let progressing = NewCondition::new("Progressing", true, "Deploying", "rolling");
        let failed = Note::new(reason::ROLLOUT_FAILED, "deployment failed");
        let cases = [
            (
                "ready",
                Readiness::ready("up"),
                Mode::Full,
                [True, True, False, False],
                settings.resync,
            ),
            (
                "not ready: in flight",
                Readiness::not_ready(reason::CREATING, "soon"),
                Mode::Full,
                [True, False, True, False],
                settings.not_ready_poll,
            ),
            (
                "not ready, observe-only: settled",
                Readiness::not_ready(reason::NOT_FOUND, "absent"),
                Mode::ObserveOnly,
                [True, False, False, False],
                settings.not_ready_poll,
            ),
            (
                "stalled and not synced",
                Readiness {
                    stalled: Some(failed.clone()),
                    not_synced: Some(failed.clone()),
                    conditions: vec![progressing.clone()],
                    ..Readiness::not_ready(reason::ROLLOUT_FAILED, "deployment failed")
                },
                Mode::Full,
                [False, False, False, True],
                settings.not_ready_poll,
            ),
        ];
        for (
            case,
            readiness,
            mode,
            [want_synced, want_ready, want_reconciling, want_stalled],
            requeue,
        ) in cases
        {
            let kind_conditions = readiness.conditions.len();
            let (conditions, got) = settle(synced(), readiness, mode, &settings);
            let status = |t: &str| conditions.iter().find(|c| c.type_ == t).map(|c| c.status);
            assert_eq!(status(SYNCED), Some(want_synced), "{case}: Synced");
            assert_eq!(status(READY), Some(want_ready), "{case}: Ready");
            assert_eq!(
                status(RECONCILING),
                Some(want_reconciling),
                "{case}: Reconciling"
            );
            assert_eq!(status(STALLED), Some(want_stalled), "{case}: Stalled");
            assert_eq!(
                conditions.len(),
                4 + kind_conditions,
                "{case}: {conditions:?}"
            );
            assert_eq!(got, requeue, "{case}: requeue");
        }
        let (conditions, _) = settle(
            synced(),
            Readiness {
                stalled: Some(failed.clone()),
                not_synced: Some(failed),
                ..Readiness::not_ready(reason::ROLLOUT_FAILED, "x")
            },
            Mode::Full,
            &settings,
        );
        assert!(
            conditions
                .iter()
                .filter(|c| c.type_ == SYNCED || c.type_ == STALLED)
                .all(|c| c.reason == reason::ROLLOUT_FAILED && c.message == "deployment failed"),
            "{conditions:?}"
        );
    }

    #[test]
    fn backoff_table() {
        let base = Duration::from_secs(2);
        let max = Duration::from_secs(300);
        let cases = [(1, 2), (2, 4), (3, 8), (5, 32), (9, 300), (1000, 300)];
        for (attempt, want) in cases {
            assert_eq!(
                backoff_delay(base, max, attempt),
                Duration::from_secs(want),
                "attempt {attempt}"
            );
        }
    }

    /// The delays the README gives: errors 2 s doubling to 5 min; environment errors (IAM,
    /// credentials, a bad namespace annotation) 30 s doubling to 5 min; throttling 8 s doubling
    /// to 32 s, each spread into 50-100 %.
    #[test]
    fn not_ready_polls_fall_on_shared_ticks() {
        let ms = Duration::from_millis;
        let secs = Duration::from_secs;
        // (period, now since the epoch, wait): the next multiple of the period at least half
        // a period away.
        let cases = [
            (secs(10), ms(1_000_000), secs(10)),
            (secs(10), ms(1_000_001), ms(9_999)),
            (secs(10), ms(1_004_999), ms(5_001)),
            (secs(10), ms(1_005_000), secs(5)),
            (secs(10), ms(1_005_001), ms(14_999)),
            (secs(10), ms(1_009_999), ms(10_001)),
            (secs(3), ms(7_000), ms(2_000)),
            (secs(3), ms(7_600), ms(4_400)),
            (ms(0), ms(123), ms(1)),
        ];
        for (period, now, want) in cases {
            assert_eq!(poll_tick(period, now), want, "period {period:?} at {now:?}");
        }
        // Two objects that finish a reconcile at different moments poll at the same instant.
        let a = ms(1_001_200) + poll_tick(secs(10), ms(1_001_200));
        let b = ms(1_004_900) + poll_tick(secs(10), ms(1_004_900));
        assert_eq!(a, b);
    }

    #[test]
    fn retry_delay_table_per_error_class() {
        let settings = Settings::default();
        let cases: &[(ErrorClass, &[u64])] = &[
            (
                ErrorClass::Retryable,
                &[2, 4, 8, 16, 32, 64, 128, 256, 300, 300],
            ),
            (ErrorClass::Terminal, &[2, 4, 8]),
            (ErrorClass::Environment, &[30, 60, 120, 240, 300, 300]),
        ];
        for (class, delays) in cases {
            for (i, want) in delays.iter().enumerate() {
                let attempt = i as u32 + 1;
                assert_eq!(
                    retry_delay(&settings, *class, "ns/a", attempt),
                    Duration::from_secs(*want),
                    "{class:?} attempt {attempt}"
                );
            }
        }
        for (attempt, full) in [(1, 8), (2, 16), (3, 32), (4, 32), (50, 32)] {
            let got = retry_delay(&settings, ErrorClass::Throttled, "ns/a", attempt);
            let full = Duration::from_secs(full);
            assert!(
                got >= full / 2 && got <= full,
                "throttled attempt {attempt}: {got:?}"
            );
        }
    }

    #[test]
    fn spread_stays_within_half_and_whole_and_differs_by_object() {
        let d = Duration::from_secs(32);
        let all: Vec<Duration> = (0..50)
            .map(|i| spread(d, &format!("ns/obj{i}"), 3))
            .collect();
        assert!(all.iter().all(|s| *s >= d / 2 && *s <= d), "{all:?}");
        assert_eq!(spread(d, "ns/a", 1), spread(d, "ns/a", 1), "deterministic");
        let distinct: std::collections::BTreeSet<_> = all.iter().collect();
        assert!(
            distinct.len() > 25,
            "objects throttled together must spread: {all:?}"
        );
    }

    #[test]
    fn deletion_policy_precedence() {
        use DeletionPolicy::{Delete, Retain};
        let spec = |p| Policies {
            deletion_policy: p,
            ..Default::default()
        };
        let cases = [
            ("nothing set: operator default", None, None, Delete, Delete),
            ("operator default Retain", None, None, Retain, Retain),
            (
                "namespace over operator",
                None,
                Some(Retain),
                Delete,
                Retain,
            ),
            (
                "spec over namespace",
                Some(Delete),
                Some(Retain),
                Retain,
                Delete,
            ),
            ("spec Retain", Some(Retain), None, Delete, Retain),
        ];
        for (name, in_spec, namespace, default, want) in cases {
            assert_eq!(
                deletion_policy(&spec(in_spec), namespace, default),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn mode_from_policy_and_annotation() {
        use crate::api::EcrRepository;
        let obj = |policy: Option<ManagementPolicy>, paused: Option<&str>| {
            let mut o = EcrRepository::new("r", Default::default());
            o.spec.policies.management_policy = policy;
            if let Some(v) = paused {
                o.metadata.annotations = Some(
                    [(PAUSED_ANNOTATION.to_string(), v.to_string())]
                        .into_iter()
                        .collect(),
                );
            }
            o
        };
        let cases = [
            (None, None, Mode::Full),
            (Some(ManagementPolicy::Full), Some("false"), Mode::Full),
            (None, Some("true"), Mode::Paused),
            (None, Some(" True "), Mode::Paused),
            (Some(ManagementPolicy::ObserveOnly), None, Mode::ObserveOnly),
            // Observe-only never writes anyway; it wins over pause.
            (
                Some(ManagementPolicy::ObserveOnly),
                Some("true"),
                Mode::ObserveOnly,
            ),
        ];
        for (policy, paused, want) in cases {
            assert_eq!(
                Mode::of(&obj(policy, paused)),
                want,
                "{policy:?} {paused:?}"
            );
        }
    }

    #[test]
    fn error_classes_and_reasons() {
        let aws = |class| {
            Error::Aws(AwsError {
                operation: "Op",
                code: None,
                message: "m".into(),
                class,
            })
        };
        let cases = [
            (
                aws(ErrorClass::Terminal),
                ErrorClass::Terminal,
                reason::TERMINAL_ERROR,
            ),
            (
                aws(ErrorClass::Throttled),
                ErrorClass::Throttled,
                reason::THROTTLED,
            ),
            (
                aws(ErrorClass::Retryable),
                ErrorClass::Retryable,
                reason::RECONCILE_ERROR,
            ),
            (
                aws(ErrorClass::NotFound),
                ErrorClass::Retryable,
                reason::RECONCILE_ERROR,
            ),
            (
                Error::InvalidSpec("x".into()),
                ErrorClass::Terminal,
                reason::TERMINAL_ERROR,
            ),
            (
                Error::NotConverged("tags".into()),
                ErrorClass::Retryable,
                reason::NOT_CONVERGED,
            ),
            (
                Error::ReferenceInAnotherShard("x".into()),
                ErrorClass::Environment,
                reason::REFERENCE_IN_ANOTHER_SHARD,
            ),
        ];
        let denied = |code: &str| {
            Error::Aws(AwsError {
                operation: "CreateCluster",
                code: Some(code.into()),
                message: "not authorized to perform: ecs:CreateCluster".into(),
                class: crate::aws::errors::classify_code(Some(code), Some(400)),
            })
        };
        let environment = [
            (denied("AccessDeniedException"), reason::ACCESS_DENIED),
            (
                denied("UnrecognizedClientException"),
                reason::CREDENTIALS_ERROR,
            ),
            (denied("ExpiredTokenException"), reason::CREDENTIALS_ERROR),
            (
                Error::Environment {
                    reason: reason::INVALID_NAMESPACE_ANNOTATION,
                    message: "m".into(),
                },
                reason::INVALID_NAMESPACE_ANNOTATION,
            ),
        ];
        let cases = cases
            .into_iter()
            .chain(environment.map(|(e, r)| (e, ErrorClass::Environment, r)));
        for (err, class, reason) in cases {
            assert_eq!(err.class(), class, "{err}");
            assert_eq!(err.reason(), reason, "{err}");
        }
    }
}
