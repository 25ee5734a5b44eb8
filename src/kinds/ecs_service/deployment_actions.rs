//! Deployment approval and rollback from Kubernetes. A deployment that waits at a lifecycle hook
//! (a PAUSE hook) is shown in `status.serviceDeployment` and as `Ready=False`, reason
//! `DeploymentPaused`; the annotation `ecs.operator.dev/deployment-action` (`continue` or
//! `rollback`, any `@suffix`) acts on it once:
//!
//! - `continue` at a waiting hook: ContinueServiceDeployment CONTINUE;
//! - `rollback` at a waiting hook: ContinueServiceDeployment ROLLBACK; while the deployment is in
//!   flight without waiting: StopServiceDeployment ROLLBACK;
//! - anything else (nothing in flight, not waiting, an unknown value) is consumed without a call,
//!   with the reason in `status.deploymentAction`.
//!
//! A value is acted on once: the value recorded in `status.deploymentAction` is never acted on
//! again, and the same action is never sent twice to the same deployment and hook. Pure: the
//! calls are in sdk.rs, the wiring in mod.rs. Table-tested below.

use aws_sdk_ecs::types as ecs;

use crate::api::ecs_service::{
    DEPLOYMENT_ACTION_ANNOTATION, DeploymentActionRecord, FailedRollout, PausedHook,
    ServiceDeploymentStatus,
};
use crate::engine::Readiness;
use crate::engine::conditions::NewCondition;
use crate::kinds::ecs_service::mapping::ObservedService;
use crate::kinds::ecs_service::rollout::Memory;

pub use crate::engine::conditions::reason::DEPLOYMENT_PAUSED;

/// The ListServiceDeployments status filter: deployments in flight.
pub const IN_FLIGHT: [&str; 5] = [
    "PENDING",
    "IN_PROGRESS",
    "ROLLBACK_REQUESTED",
    "ROLLBACK_IN_PROGRESS",
    "STOP_REQUESTED",
];

/// Whether a rollout is in flight, so the service deployment is worth reading: not at steady
/// state (that would cost two calls per resync), and only under the ECS deployment controller.
pub fn in_flight(observed: &ObservedService) -> bool {
    let ecs_controller = observed
        .spec
        .deployment_controller
        .as_ref()
        .is_none_or(|c| c.type_ == crate::api::ecs_service::DeploymentControllerType::Ecs);
    let (_, progressing, _, _) = crate::kinds::ecs_service::mapping::readiness(observed);
    ecs_controller && (progressing || observed.deployments.len() > 1)
}

/// A lifecycle hook of the deployment in flight.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hook {
    pub hook_id: String,
    pub target_type: Option<String>,
    /// AWAITING_ACTION, IN_PROGRESS, SUCCEEDED, FAILED or TIMED_OUT.
    pub status: Option<String>,
    pub expires_at: Option<String>,
    pub timeout_action: Option<String>,
}

/// The service deployment in flight, as DescribeServiceDeployments reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Current {
    pub arn: String,
    pub status: Option<String>,
    pub strategy: Option<String>,
    pub lifecycle_stage: Option<String>,
    pub started_at: Option<String>,
    pub hooks: Vec<Hook>,
    /// When the operator read it (RFC 3339): a waiting hook is shown as waiting since then.
    pub seen_at: String,
}

fn rfc3339(t: Option<&aws_smithy_types::DateTime>) -> Option<String> {
    t.and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
}

impl Current {
    /// From a DescribeServiceDeployments answer; `None` without an ARN.
    pub fn from_sdk(d: &ecs::ServiceDeployment, seen_at: &str) -> Option<Self> {
        Some(Self {
            arn: d.service_deployment_arn.clone()?,
            status: d.status.as_ref().map(|s| s.as_str().to_string()),
            strategy: d
                .deployment_configuration
                .as_ref()
                .and_then(|c| c.strategy.as_ref())
                .map(|s| s.as_str().to_string()),
            lifecycle_stage: d.lifecycle_stage.as_ref().map(|s| s.as_str().to_string()),
            started_at: rfc3339(d.started_at.as_ref().or(d.created_at.as_ref())),
            hooks: d
                .lifecycle_hook_details()
                .iter()
                .map(|h| Hook {
                    hook_id: h.hook_id.clone().unwrap_or_default(),
                    target_type: h.target_type.as_ref().map(|t| t.as_str().to_string()),
                    status: h.status.as_ref().map(|s| s.as_str().to_string()),
                    expires_at: rfc3339(h.expires_at.as_ref()),
                    timeout_action: h.timeout_action.as_ref().map(|a| a.as_str().to_string()),
                })
                .collect(),
            seen_at: seen_at.to_string(),
        })
    }

    /// The hook waiting for ContinueServiceDeployment, if any.
    pub fn waiting_hook(&self) -> Option<&Hook> {
        self.hooks
            .iter()
            .find(|h| h.status.as_deref() == Some("AWAITING_ACTION") && !h.hook_id.is_empty())
    }

    /// Still moving forward (not stopping or rolling back already).
    fn forward(&self) -> bool {
        matches!(self.status.as_deref(), Some("PENDING" | "IN_PROGRESS"))
    }
}

/// What the annotation asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Continue,
    Rollback,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Continue => "continue",
            Action::Rollback => "rollback",
        }
    }
}

/// `continue` / `rollback`, with any `@suffix`, case-insensitive; `None` for anything else.
pub fn parse(value: &str) -> Option<Action> {
    let word = value.split('@').next().unwrap_or_default().trim();
    if word.eq_ignore_ascii_case("continue") {
        Some(Action::Continue)
    } else if word.eq_ignore_ascii_case("rollback") {
        Some(Action::Rollback)
    } else {
        None
    }
}

/// The AWS call an action makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    /// ContinueServiceDeployment CONTINUE at a waiting hook.
    Continue { arn: String, hook_id: String },
    /// ContinueServiceDeployment ROLLBACK at a waiting hook.
    RollbackAtHook { arn: String, hook_id: String },
    /// StopServiceDeployment ROLLBACK of a deployment in flight.
    Stop { arn: String },
}

impl Call {
    pub fn arn(&self) -> &str {
        match self {
            Call::Continue { arn, .. } | Call::RollbackAtHook { arn, .. } | Call::Stop { arn } => {
                arn
            }
        }
    }

    pub fn hook_id(&self) -> Option<&str> {
        match self {
            Call::Continue { hook_id, .. } | Call::RollbackAtHook { hook_id, .. } => Some(hook_id),
            Call::Stop { .. } => None,
        }
    }

    pub fn action(&self) -> Action {
        match self {
            Call::Continue { .. } => Action::Continue,
            _ => Action::Rollback,
        }
    }

    /// The operation and its action, e.g. `ContinueServiceDeployment CONTINUE`.
    pub fn operation(&self) -> &'static str {
        match self {
            Call::Continue { .. } => "ContinueServiceDeployment CONTINUE",
            Call::RollbackAtHook { .. } => "ContinueServiceDeployment ROLLBACK",
            Call::Stop { .. } => "StopServiceDeployment ROLLBACK",
        }
    }

    /// For events and logs.
    pub fn describe(&self) -> String {
        let hook = self
            .hook_id()
            .map(|h| format!(" at hook {h}"))
            .unwrap_or_default();
        format!(
            "deployment action {}: {} of {}{hook}",
            self.action().as_str(),
            self.operation(),
            self.arn()
        )
    }
}

/// What to do with the annotation in this reconcile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// No annotation, or its value was acted on already.
    Nothing,
    /// Make this call, then record the value.
    Send(Call),
    /// Record the value without a call; the message says why.
    Consume(String),
}

/// The decision for the annotation's `value`, the last `recorded` action and the service
/// deployment in flight (`None` when no rollout is in progress).
pub fn decide(
    value: Option<&str>,
    recorded: Option<&DeploymentActionRecord>,
    current: Option<&Current>,
) -> Decision {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Decision::Nothing;
    };
    if recorded.is_some_and(|r| r.value == value) {
        return Decision::Nothing;
    }
    let Some(action) = parse(value) else {
        return Decision::Consume(format!(
            "{value:?} is not an action: use continue or rollback (with any @suffix)"
        ));
    };
    let verb = action.as_str();
    let Some(current) = current.filter(|c| c.forward()) else {
        let why = match current {
            Some(c) => format!(
                "deployment {} is {}",
                c.arn,
                c.status.as_deref().unwrap_or("not in progress")
            ),
            None => "no service deployment is in progress".to_string(),
        };
        return Decision::Consume(format!("nothing to {verb}: {why}"));
    };
    let call = match (action, current.waiting_hook()) {
        (Action::Continue, Some(h)) => Call::Continue {
            arn: current.arn.clone(),
            hook_id: h.hook_id.clone(),
        },
        (Action::Continue, None) => {
            return Decision::Consume(format!(
                "nothing to continue: deployment {} is not waiting at a lifecycle hook",
                current.arn
            ));
        }
        (Action::Rollback, Some(h)) => Call::RollbackAtHook {
            arn: current.arn.clone(),
            hook_id: h.hook_id.clone(),
        },
        (Action::Rollback, None) => Call::Stop {
            arn: current.arn.clone(),
        },
    };
    // Exactly once: the same action is never sent twice to one deployment and hook.
    if let Some(r) = recorded.filter(|r| {
        r.call.is_some()
            && r.action == verb
            && r.deployment_arn.as_deref() == Some(call.arn())
            && r.hook_id.as_deref() == call.hook_id()
    }) {
        return Decision::Consume(format!(
            "{verb} was sent to deployment {} already (value {:?})",
            call.arn(),
            r.value
        ));
    }
    Decision::Send(call)
}

/// The record of a call made for `value`.
pub fn sent(value: &str, call: &Call, at: &str) -> DeploymentActionRecord {
    DeploymentActionRecord {
        value: value.to_string(),
        action: call.action().as_str().to_string(),
        deployment_arn: Some(call.arn().to_string()),
        hook_id: call.hook_id().map(str::to_string),
        call: Some(call.operation().to_string()),
        message: format!("sent {}", call.describe()),
        at: Some(at.to_string()),
    }
}

/// The record of a value consumed without a call.
pub fn consumed(
    value: &str,
    why: &str,
    current: Option<&Current>,
    at: &str,
) -> DeploymentActionRecord {
    DeploymentActionRecord {
        value: value.trim().to_string(),
        action: parse(value)
            .map(|a| a.as_str().to_string())
            .unwrap_or_default(),
        deployment_arn: current.map(|c| c.arn.clone()),
        hook_id: None,
        call: None,
        message: why.to_string(),
        at: Some(at.to_string()),
    }
}

/// The failed-rollout record a rollback leaves (see rollout.rs): the revision the deployment
/// brought is not sent again until the spec or the restart annotation changes.
pub fn rollback_record(
    value: &str,
    call: &Call,
    observed: &ObservedService,
    memory: &Memory,
) -> FailedRollout {
    let primary = observed
        .deployments
        .iter()
        .find(|d| d.status.as_deref() == Some("PRIMARY"));
    let previous = observed
        .deployments
        .iter()
        .find(|d| d.status.as_deref() != Some("PRIMARY"));
    FailedRollout {
        deployment_id: call.arn().to_string(),
        task_definition: primary
            .and_then(|d| d.task_definition.clone())
            .or_else(|| observed.task_definition.clone())
            .unwrap_or_default(),
        reason: format!(
            "rolled back by {DEPLOYMENT_ACTION_ANNOTATION}={value} ({})",
            call.operation()
        ),
        generation: memory.generation,
        restart: memory.restart.clone(),
        running_task_definition: previous.and_then(|d| d.task_definition.clone()),
    }
}

/// `status.serviceDeployment`: the deployment in flight; a waiting hook keeps the `since` of the
/// `previous` status while it is the same hook of the same deployment. `object` names the
/// EcsService in the kubectl hint.
pub fn status(
    current: Option<&Current>,
    previous: Option<&ServiceDeploymentStatus>,
    object: &str,
) -> Option<ServiceDeploymentStatus> {
    let current = current?;
    let paused = current.waiting_hook().map(|h| {
        let since = previous
            .filter(|p| p.arn == current.arn)
            .and_then(|p| p.paused.as_ref())
            .filter(|p| p.hook_id == h.hook_id)
            .and_then(|p| p.since.clone())
            .unwrap_or_else(|| current.seen_at.clone());
        let annotate = format!(
            "kubectl annotate ecsservice {object} --overwrite {DEPLOYMENT_ACTION_ANNOTATION}="
        );
        let timeout = match (&h.timeout_action, &h.expires_at) {
            (Some(a), Some(at)) => format!("; ECS takes the timeout action {a} at {at}"),
            _ => String::new(),
        };
        PausedHook {
            hook_id: h.hook_id.clone(),
            target_type: h.target_type.clone(),
            lifecycle_stage: current.lifecycle_stage.clone(),
            message: format!(
                "waiting at {} hook {} in stage {} since {since}: continue with `{annotate}continue`, \
                 roll back with `{annotate}rollback` (add @<anything> to repeat an action){timeout}",
                h.target_type.as_deref().unwrap_or("lifecycle"),
                h.hook_id,
                current.lifecycle_stage.as_deref().unwrap_or("unknown"),
            ),
            since: Some(since),
            expires_at: h.expires_at.clone(),
            timeout_action: h.timeout_action.clone(),
        }
    });
    Some(ServiceDeploymentStatus {
        arn: current.arn.clone(),
        status: current.status.clone(),
        strategy: current.strategy.clone(),
        lifecycle_stage: current.lifecycle_stage.clone(),
        started_at: current.started_at.clone(),
        paused,
    })
}

/// Ready=False, reason DeploymentPaused (Progressing=True with it: kstatus InProgress, never
/// Current) while the deployment waits at a hook.
pub fn readiness(status: Option<&ServiceDeploymentStatus>) -> Option<Readiness> {
    let status = status?;
    let paused = status.paused.as_ref()?;
    let message = format!("deployment {} is {}", status.arn, paused.message);
    Some(Readiness {
        ready: false,
        reason: DEPLOYMENT_PAUSED.into(),
        message: message.clone(),
        stalled: None,
        not_synced: None,
        conditions: vec![NewCondition::new(
            crate::kinds::ecs_service::PROGRESSING,
            true,
            DEPLOYMENT_PAUSED,
            message,
        )],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:ecs:us-east-1:123456789012:service-deployment/c/web/abc";

    fn current(status: &str, hook: Option<&str>) -> Current {
        Current {
            arn: ARN.into(),
            status: Some(status.into()),
            strategy: Some("BLUE_GREEN".into()),
            lifecycle_stage: Some("POST_SCALE_UP".into()),
            started_at: Some("2024-01-01T00:00:00Z".into()),
            hooks: hook
                .map(|s| Hook {
                    hook_id: "hook-1".into(),
                    target_type: Some("PAUSE".into()),
                    status: Some(s.into()),
                    ..Default::default()
                })
                .into_iter()
                .collect(),
            seen_at: "2024-01-01T00:01:00Z".into(),
        }
    }

    fn recorded(value: &str, action: &str, hook: Option<&str>) -> DeploymentActionRecord {
        DeploymentActionRecord {
            value: value.into(),
            action: action.into(),
            deployment_arn: Some(ARN.into()),
            hook_id: hook.map(str::to_string),
            call: Some("ContinueServiceDeployment CONTINUE".into()),
            ..Default::default()
        }
    }

    fn cont() -> Call {
        Call::Continue {
            arn: ARN.into(),
            hook_id: "hook-1".into(),
        }
    }

    #[test]
    fn decision_table() {
        let waiting = current("IN_PROGRESS", Some("AWAITING_ACTION"));
        let running_hook = current("IN_PROGRESS", Some("IN_PROGRESS"));
        let moving = current("IN_PROGRESS", None);
        let rolling_back = current("ROLLBACK_IN_PROGRESS", None);
        let done = recorded("continue", "continue", Some("hook-1"));
        let stop = Call::Stop { arn: ARN.into() };
        let at_hook = Call::RollbackAtHook {
            arn: ARN.into(),
            hook_id: "hook-1".into(),
        };
        let stopped = DeploymentActionRecord {
            value: "rollback".into(),
            action: "rollback".into(),
            deployment_arn: Some(ARN.into()),
            call: Some("StopServiceDeployment ROLLBACK".into()),
            ..Default::default()
        };
        type Case<'a> = (
            &'a str,
            Option<&'a str>,
            Option<&'a DeploymentActionRecord>,
            Option<&'a Current>,
            Option<Call>,
            bool,
        );
        // (case, annotation, recorded, in flight, call, consumed without a call)
        let cases: Vec<Case> = vec![
            ("no annotation", None, None, Some(&waiting), None, false),
            (
                "blank annotation",
                Some("  "),
                None,
                Some(&waiting),
                None,
                false,
            ),
            (
                "continue at a waiting hook",
                Some("continue"),
                None,
                Some(&waiting),
                Some(cont()),
                false,
            ),
            (
                "suffix and case",
                Some("Continue@2024-05-01"),
                None,
                Some(&waiting),
                Some(cont()),
                false,
            ),
            (
                "value already acted on",
                Some("continue"),
                Some(&done),
                Some(&waiting),
                None,
                false,
            ),
            (
                "new value, same deployment and hook: never sent twice",
                Some("continue@2"),
                Some(&done),
                Some(&waiting),
                None,
                true,
            ),
            (
                "continue, hook still running (lambda)",
                Some("continue"),
                None,
                Some(&running_hook),
                None,
                true,
            ),
            (
                "continue, not at a hook",
                Some("continue"),
                None,
                Some(&moving),
                None,
                true,
            ),
            (
                "continue, nothing in flight",
                Some("continue"),
                None,
                None,
                None,
                true,
            ),
            (
                "rollback at a waiting hook",
                Some("rollback"),
                None,
                Some(&waiting),
                Some(at_hook.clone()),
                false,
            ),
            (
                "rollback after a continue of the same hook",
                Some("rollback"),
                Some(&done),
                Some(&waiting),
                Some(at_hook),
                false,
            ),
            (
                "rollback in flight, no hook: stop",
                Some("rollback"),
                None,
                Some(&moving),
                Some(stop.clone()),
                false,
            ),
            (
                "rollback while rolling back already",
                Some("rollback"),
                None,
                Some(&rolling_back),
                None,
                true,
            ),
            (
                "rollback, nothing in flight",
                Some("rollback@x"),
                None,
                None,
                None,
                true,
            ),
            (
                "unknown value",
                Some("approve"),
                None,
                Some(&waiting),
                None,
                true,
            ),
            (
                "stop recorded for this deployment",
                Some("rollback@2"),
                Some(&stopped),
                Some(&moving),
                None,
                true,
            ),
        ];
        for (case, value, rec, cur, call, consumed) in cases {
            let got = decide(value, rec, cur);
            match (&got, &call) {
                (Decision::Send(c), Some(want)) => assert_eq!(c, want, "{case}"),
                (Decision::Consume(why), None) => {
                    assert!(consumed, "{case}: consumed ({why})");
                    assert!(!why.is_empty(), "{case}");
                }
                (Decision::Nothing, None) => assert!(!consumed, "{case}: nothing"),
                _ => panic!("{case}: got {got:?}, want call {call:?} / consumed {consumed}"),
            }
        }
    }

    #[test]
    fn records_name_the_value_the_call_and_the_deployment() {
        let r = sent("continue@1", &cont(), "t");
        assert_eq!(r.value, "continue@1");
        assert_eq!(r.action, "continue");
        assert_eq!(r.deployment_arn.as_deref(), Some(ARN));
        assert_eq!(r.hook_id.as_deref(), Some("hook-1"));
        assert_eq!(
            r.call.as_deref(),
            Some("ContinueServiceDeployment CONTINUE")
        );
        // A sent record consumes its value.
        let waiting = current("IN_PROGRESS", Some("AWAITING_ACTION"));
        assert_eq!(
            decide(Some("continue@1"), Some(&r), Some(&waiting)),
            Decision::Nothing
        );
        let c = consumed(" approve ", "why", None, "t");
        assert_eq!((c.value.as_str(), c.action.as_str()), ("approve", ""));
        assert_eq!(c.call, None);
        assert_eq!(decide(Some("approve"), Some(&c), None), Decision::Nothing);
    }

    #[test]
    fn a_waiting_hook_shows_since_when_and_how_to_continue() {
        let waiting = current("IN_PROGRESS", Some("AWAITING_ACTION"));
        let s = status(Some(&waiting), None, "web").unwrap_or_default();
        let paused = s.paused.clone().unwrap_or_default();
        assert_eq!(paused.hook_id, "hook-1");
        assert_eq!(paused.since.as_deref(), Some("2024-01-01T00:01:00Z"));
        assert!(
            paused
                .message
                .contains("ecs.operator.dev/deployment-action=continue"),
            "{}",
            paused.message
        );
        // Seen again later: since is kept for the same hook, reset for another deployment.
        let mut later = waiting.clone();
        later.seen_at = "2024-01-01T00:05:00Z".into();
        let kept = status(Some(&later), Some(&s), "web").and_then(|s| s.paused);
        assert_eq!(
            kept.and_then(|p| p.since).as_deref(),
            Some("2024-01-01T00:01:00Z")
        );
        later.arn = "other".into();
        let reset = status(Some(&later), Some(&s), "web").and_then(|s| s.paused);
        assert_eq!(
            reset.and_then(|p| p.since).as_deref(),
            Some("2024-01-01T00:05:00Z")
        );
        // Readiness: DeploymentPaused, Progressing=True; nothing when not waiting or not in flight.
        let r = readiness(Some(&s)).unwrap_or_else(|| Readiness::ready(""));
        assert!(!r.ready);
        assert_eq!(r.reason, DEPLOYMENT_PAUSED);
        assert!(
            r.conditions
                .iter()
                .any(|c| c.type_ == crate::kinds::ecs_service::PROGRESSING)
        );
        let moving = status(Some(&current("IN_PROGRESS", None)), None, "web");
        assert!(moving.as_ref().is_some_and(|m| m.paused.is_none()));
        assert_eq!(readiness(moving.as_ref()), None);
        assert_eq!(status(None, Some(&s), "web"), None);
    }

    #[test]
    fn a_rollback_is_remembered_like_a_failed_rollout() {
        use crate::api::ecs_service::DeploymentStatus;
        let d = |status: &str, td: &str| DeploymentStatus {
            status: Some(status.into()),
            task_definition: Some(td.into()),
            ..Default::default()
        };
        let observed = ObservedService {
            task_definition: Some("web:2".into()),
            deployments: vec![d("PRIMARY", "web:2"), d("ACTIVE", "web:1")],
            ..Default::default()
        };
        let memory = Memory {
            previous: None,
            generation: 4,
            restart: Some("r".into()),
        };
        let r = rollback_record(
            "rollback",
            &Call::Stop { arn: ARN.into() },
            &observed,
            &memory,
        );
        assert_eq!(r.deployment_id, ARN);
        assert_eq!(r.task_definition, "web:2");
        assert_eq!(r.running_task_definition.as_deref(), Some("web:1"));
        assert_eq!((r.generation, r.restart.as_deref()), (4, Some("r")));
        assert!(
            r.reason.contains("deployment-action=rollback"),
            "{}",
            r.reason
        );
    }

    #[test]
    fn parse_table() {
        for (value, want) in [
            ("continue", Some(Action::Continue)),
            ("continue@2024-01-01T00:00:00Z", Some(Action::Continue)),
            ("ROLLBACK", Some(Action::Rollback)),
            ("rollback@1", Some(Action::Rollback)),
            ("continued", None),
            ("", None),
            ("@continue", None),
        ] {
            assert_eq!(parse(value), want, "{value}");
        }
    }
}
