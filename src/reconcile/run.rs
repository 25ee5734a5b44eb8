//! Resources that run to completion (an ECS task started by RunTask, issue 14): what observe
//! finds is a phase, not a state to converge. The driver reads it through [`Readiness`]:
//! running is work in flight (polled), succeeded is Ready, failed is Stalled (kstatus Failed,
//! waits for a spec change). Pure.

use super::Readiness;
use super::conditions::{NewCondition, reason};
use crate::api::common::STALLED;

/// Where a run-to-completion resource stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunPhase {
    /// Started and not finished (AWS: PROVISIONING .. RUNNING .. DEPROVISIONING).
    Running { message: String },
    /// Finished as intended.
    Succeeded { message: String },
    /// Finished otherwise; `reason` is AWS's code (e.g. a stop code), `message` its words.
    Failed { reason: String, message: String },
}

impl RunPhase {
    pub fn is_finished(&self) -> bool {
        !matches!(self, RunPhase::Running { .. })
    }

    /// What the driver reports for the phase (`readiness` of a run-to-completion kind).
    pub fn readiness(&self) -> Readiness {
        match self {
            RunPhase::Running { message } => Readiness {
                ready: false,
                reason: reason::RUNNING.into(),
                message: message.clone(),
                extra: Vec::new(),
            },
            RunPhase::Succeeded { message } => Readiness {
                ready: true,
                reason: reason::SUCCEEDED.into(),
                message: message.clone(),
                extra: Vec::new(),
            },
            RunPhase::Failed {
                reason: why,
                message,
            } => {
                let message = format!("{why}: {message}");
                Readiness {
                    ready: false,
                    reason: reason::FAILED.into(),
                    message: message.clone(),
                    extra: vec![NewCondition::new(STALLED, true, reason::FAILED, message)],
                }
            }
        }
    }
}

/// The phase of an ECS task from DescribeTasks: `lastStatus`, `stopCode`, `stoppedReason` and
/// the essential containers' exit codes. A stopped task succeeded when it stopped because its
/// essential containers exited (`EssentialContainerExited`) and all of them exited 0.
pub fn ecs_task_phase(
    last_status: &str,
    stop_code: Option<&str>,
    stopped_reason: Option<&str>,
    essential_exit_codes: &[Option<i32>],
) -> RunPhase {
    if last_status != "STOPPED" {
        return RunPhase::Running {
            message: format!("task is {last_status}"),
        };
    }
    let why = stopped_reason.unwrap_or_default().to_string();
    let exited = stop_code == Some("EssentialContainerExited");
    let all_zero =
        !essential_exit_codes.is_empty() && essential_exit_codes.iter().all(|c| *c == Some(0));
    if exited && all_zero {
        return RunPhase::Succeeded {
            message: "every essential container exited 0".into(),
        };
    }
    let codes: Vec<String> = essential_exit_codes
        .iter()
        .map(|c| c.map_or("none".to_string(), |c| c.to_string()))
        .collect();
    RunPhase::Failed {
        reason: stop_code.unwrap_or("Stopped").to_string(),
        message: format!(
            "{why} (essential container exit codes: {})",
            codes.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecs_task_phase_table() {
        let running = |m: &str| RunPhase::Running { message: m.into() };
        let cases = [
            (
                "pending",
                "PENDING",
                None,
                None,
                vec![],
                running("task is PENDING"),
            ),
            (
                "running",
                "RUNNING",
                None,
                None,
                vec![None],
                running("task is RUNNING"),
            ),
            (
                "stopping is still running",
                "DEPROVISIONING",
                Some("EssentialContainerExited"),
                None,
                vec![Some(0)],
                running("task is DEPROVISIONING"),
            ),
            (
                "exited 0",
                "STOPPED",
                Some("EssentialContainerExited"),
                Some("Essential container in task exited"),
                vec![Some(0), Some(0)],
                RunPhase::Succeeded {
                    message: "every essential container exited 0".into(),
                },
            ),
            (
                "one container failed",
                "STOPPED",
                Some("EssentialContainerExited"),
                Some("Essential container in task exited"),
                vec![Some(0), Some(2)],
                RunPhase::Failed {
                    reason: "EssentialContainerExited".into(),
                    message: "Essential container in task exited (essential container exit \
                              codes: 0, 2)"
                        .into(),
                },
            ),
            (
                "stopped by someone",
                "STOPPED",
                Some("UserInitiated"),
                Some("stopped by user"),
                vec![None],
                RunPhase::Failed {
                    reason: "UserInitiated".into(),
                    message: "stopped by user (essential container exit codes: none)".into(),
                },
            ),
            (
                "never started",
                "STOPPED",
                Some("TaskFailedToStart"),
                Some("CannotPullContainerError"),
                vec![],
                RunPhase::Failed {
                    reason: "TaskFailedToStart".into(),
                    message: "CannotPullContainerError (essential container exit codes: )".into(),
                },
            ),
        ];
        for (name, status, code, why, exits, want) in cases {
            assert_eq!(ecs_task_phase(status, code, why, &exits), want, "{name}");
        }
    }

    #[test]
    fn readiness_per_phase() {
        let running = RunPhase::Running {
            message: "task is RUNNING".into(),
        };
        let r = running.readiness();
        assert!(!r.ready && !running.is_finished());
        assert_eq!(r.reason, reason::RUNNING);
        assert!(r.extra.is_empty(), "running is in flight, not stalled");

        let done = RunPhase::Succeeded {
            message: "ok".into(),
        };
        let r = done.readiness();
        assert!(r.ready && done.is_finished());
        assert_eq!(r.reason, reason::SUCCEEDED);

        let failed = RunPhase::Failed {
            reason: "TaskFailedToStart".into(),
            message: "CannotPullContainerError".into(),
        };
        let r = failed.readiness();
        assert!(!r.ready && failed.is_finished());
        assert_eq!(r.reason, reason::FAILED);
        let stalled = &r.extra[0];
        assert_eq!(stalled.type_, STALLED);
        assert!(
            stalled
                .message
                .contains("TaskFailedToStart: CannotPullContainerError")
        );
    }
}
