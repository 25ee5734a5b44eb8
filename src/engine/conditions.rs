//! Pure condition bookkeeping: stable reasons and lastTransitionTime handling.

use crate::api::common::{Condition, ConditionStatus, RECONCILING, STALLED};

/// Stable condition reasons. Tools and alerts match on these; do not rename.
pub mod reason {
    pub const RECONCILE_SUCCESS: &str = "ReconcileSuccess";
    pub const RECONCILE_ERROR: &str = "ReconcileError";
    pub const TERMINAL_ERROR: &str = "TerminalError";
    pub const THROTTLED: &str = "Throttled";
    pub const DELETE_BLOCKED: &str = "DeleteBlocked";
    pub const NOT_CONVERGED: &str = "NotConverged";
    pub const REFERENCE_NOT_READY: &str = "ReferenceNotReady";
    /// A referenced object is in another shard (`ecs.operator.dev/shard`), which this process
    /// does not watch.
    pub const REFERENCE_IN_ANOTHER_SHARD: &str = "ReferenceInAnotherShard";
    pub const DELETING: &str = "Deleting";
    pub const AVAILABLE: &str = "Available";
    pub const CREATING: &str = "Creating";
    /// The AWS resource does not exist (observe-only, paused, or Adopt with nothing to adopt).
    pub const NOT_FOUND: &str = "NotFound";
    /// An AWS resource with this name exists and is not this object's (adoption not allowed).
    pub const ALREADY_EXISTS: &str = "AlreadyExists";
    /// Another object (or operator instance) owns the AWS resource.
    pub const OWNED_BY_ANOTHER: &str = "OwnedByAnother";
    /// `ecs.operator.dev/paused` is set: no AWS writes.
    pub const PAUSED: &str = "Paused";
    /// managementPolicy ObserveOnly: status mirrors AWS, nothing is written.
    pub const OBSERVE_ONLY: &str = "ObserveOnly";
    /// AWS refused the operator's identity a permission (retried slowly: an IAM fix heals it).
    pub const ACCESS_DENIED: &str = "AccessDenied";
    /// The operator's AWS credentials are missing, unrecognised or expired (retried slowly).
    pub const CREDENTIALS_ERROR: &str = "CredentialsError";
    /// A service deployment failed (circuit breaker); the revision is not sent again until the
    /// spec or the restart annotation changes.
    pub const ROLLOUT_FAILED: &str = "RolloutFailed";
    /// A service deployment is rolling out.
    pub const ROLLOUT_IN_PROGRESS: &str = "RolloutInProgress";
    /// A service's latest deployment completed with every desired task running.
    pub const ROLLOUT_COMPLETE: &str = "RolloutComplete";
    /// A service is complete at zero desired tasks.
    pub const SCALED_DOWN: &str = "ScaledDown";
    /// A service is not ACTIVE yet, or waits for tasks outside a rollout.
    pub const WAITING: &str = "Waiting";
    /// A service deployment waits at a PAUSE lifecycle hook for the deployment-action
    /// annotation (or the console): in flight, never Ready.
    pub const DEPLOYMENT_PAUSED: &str = "DeploymentPaused";
    /// A namespace annotation (role ARN, deletion policy) is malformed (retried slowly).
    pub const INVALID_NAMESPACE_ANNOTATION: &str = "InvalidNamespaceAnnotation";
    /// The namespace names a role the operator's allow-list (`--role-allow`) does not allow for
    /// it: never assumed (retried slowly).
    pub const ROLE_NOT_ALLOWED: &str = "RoleNotAllowed";
    /// An earlier create's outcome is unknown and its result was not found yet: nothing is
    /// created until it is (retried).
    pub const CREATE_PENDING: &str = "CreatePending";
    /// A run-to-completion resource has started and not finished.
    pub const RUNNING: &str = "Running";
    /// A run-to-completion resource finished as intended.
    pub const SUCCEEDED: &str = "Succeeded";
    /// A run-to-completion resource finished otherwise (Stalled: waits for a spec change).
    pub const FAILED: &str = "Failed";
    /// Reconciling/Stalled are False: the latest generation is reconciled.
    pub const SETTLED: &str = "Settled";
}

/// The condition message for an environment error: what is wrong, that no spec change is
/// needed, then the error itself (which names the call, the code and, from AWS, the permission).
pub fn environment_message(why: &str, error: &str) -> String {
    let what = match why {
        reason::ACCESS_DENIED => "the operator's AWS identity lacks a permission",
        reason::CREDENTIALS_ERROR => {
            "the operator's AWS credentials are missing, unrecognised or expired"
        }
        reason::INVALID_NAMESPACE_ANNOTATION => "the namespace's annotations are invalid",
        reason::ROLE_NOT_ALLOWED => "the namespace names a role the operator may not assume for it",
        reason::REFERENCE_IN_ANOTHER_SHARD => "a reference crosses shards",
        _ => "the operator's environment is not usable",
    };
    format!("{what}: {error}. Retried every few minutes; no spec change is needed once it is fixed")
}

/// Where the latest generation stands, as kstatus (Flux, kpt, cli-utils) reads it from the
/// `Reconciling` and `Stalled` conditions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Reconciled; nothing in flight (Ready then tells whether the resource is usable).
    Settled,
    /// Work in flight or retried by itself: kstatus InProgress.
    InFlight { reason: String, message: String },
    /// Waits for a person (spec change, IAM fix): kstatus Failed.
    Stalled { reason: String, message: String },
}

impl Progress {
    /// `Reconciling` and `Stalled`; at most one of them True.
    pub fn conditions(&self) -> [NewCondition; 2] {
        match self {
            Progress::Settled => [
                NewCondition::new(RECONCILING, false, reason::SETTLED, ""),
                NewCondition::new(STALLED, false, reason::SETTLED, ""),
            ],
            Progress::InFlight { reason, message } => [
                NewCondition::new(RECONCILING, true, reason.clone(), message.clone()),
                NewCondition::new(STALLED, false, reason.clone(), "retried automatically"),
            ],
            Progress::Stalled { reason, message } => [
                NewCondition::new(
                    RECONCILING,
                    false,
                    reason.clone(),
                    "not retried until fixed",
                ),
                NewCondition::new(STALLED, true, reason.clone(), message.clone()),
            ],
        }
    }
}

/// A condition before it is stamped with time and generation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCondition {
    pub type_: &'static str,
    pub status: ConditionStatus,
    pub reason: String,
    pub message: String,
}

impl NewCondition {
    pub fn new(
        type_: &'static str,
        ok: bool,
        reason: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            type_,
            status: if ok {
                ConditionStatus::True
            } else {
                ConditionStatus::False
            },
            reason: reason.into(),
            message: message.into(),
        }
    }
}

/// Merges `updates` into `existing`: lastTransitionTime changes only when the status changes;
/// conditions of other types are kept.
pub fn merge(
    existing: &[Condition],
    updates: &[NewCondition],
    generation: Option<i64>,
    now: &str,
) -> Vec<Condition> {
    let mut out: Vec<Condition> = existing
        .iter()
        .filter(|c| !updates.iter().any(|u| u.type_ == c.type_))
        .cloned()
        .collect();
    for u in updates {
        let previous = existing.iter().find(|c| c.type_ == u.type_);
        let last_transition_time = match previous {
            Some(p) if p.status == u.status => p.last_transition_time.clone(),
            _ => now.to_string(),
        };
        out.push(Condition {
            type_: u.type_.to_string(),
            status: u.status,
            reason: u.reason.clone(),
            message: truncate(&u.message, 4096),
            last_transition_time,
            observed_generation: generation,
        });
    }
    out.sort_by(|a, b| a.type_.cmp(&b.type_));
    out
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_table() {
        let flight = Progress::InFlight {
            reason: "ReconcileError".into(),
            message: "m".into(),
        };
        let stalled = Progress::Stalled {
            reason: "TerminalError".into(),
            message: "bad".into(),
        };
        let cases = [
            (Progress::Settled, false, false),
            (flight, true, false),
            (stalled, false, true),
        ];
        for (p, reconciling, stall) in cases {
            let [r, s] = p.conditions();
            assert_eq!((r.type_, s.type_), (RECONCILING, STALLED));
            assert_eq!(r.status == ConditionStatus::True, reconciling, "{p:?}");
            assert_eq!(s.status == ConditionStatus::True, stall, "{p:?}");
        }
    }

    fn cond(type_: &str, status: ConditionStatus, time: &str) -> Condition {
        Condition {
            type_: type_.into(),
            status,
            reason: "R".into(),
            message: String::new(),
            last_transition_time: time.into(),
            observed_generation: Some(1),
        }
    }

    #[test]
    fn transition_time_table() {
        let t0 = "2026-01-01T00:00:00Z";
        let now = "2026-01-02T00:00:00Z";
        let cases = [
            ("new condition gets now", vec![], ConditionStatus::True, now),
            (
                "same status keeps old time",
                vec![cond("Ready", ConditionStatus::True, t0)],
                ConditionStatus::True,
                t0,
            ),
            (
                "status change gets now",
                vec![cond("Ready", ConditionStatus::False, t0)],
                ConditionStatus::True,
                now,
            ),
        ];
        for (name, existing, status, want) in cases {
            let update = NewCondition {
                type_: "Ready",
                status,
                reason: "X".into(),
                message: "m".into(),
            };
            let merged = merge(&existing, &[update], Some(2), now);
            assert_eq!(merged.len(), 1, "{name}");
            assert_eq!(merged[0].last_transition_time, want, "{name}");
            assert_eq!(merged[0].observed_generation, Some(2), "{name}");
            assert_eq!(merged[0].reason, "X", "{name}");
        }
    }

    #[test]
    fn other_types_are_kept_and_sorted() {
        let existing = vec![cond("Synced", ConditionStatus::True, "t")];
        let merged = merge(
            &existing,
            &[NewCondition::new("Ready", true, "A", "")],
            None,
            "n",
        );
        let types: Vec<_> = merged.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(types, ["Ready", "Synced"]);
    }

    #[test]
    fn long_messages_are_truncated_on_char_boundary() {
        let msg = "é".repeat(3000);
        let merged = merge(
            &[],
            &[NewCondition::new("Synced", false, "E", msg)],
            None,
            "n",
        );
        assert!(merged[0].message.len() <= 4096 + 3);
        assert!(merged[0].message.ends_with("..."));
    }
}
