//! Resources that run to completion (an ECS task started by RunTask, issue 14): what observe
//! finds is a phase, not a state to converge. The driver reads it through [`Readiness`]:
//! running is work in flight (polled), succeeded is Ready, failed is Stalled (kstatus Failed,
//! waits for a spec change). Pure.

use crate::api::ecs_task::TaskState;
use crate::engine::Note;
use crate::engine::Readiness;
use crate::engine::conditions::reason;

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
            RunPhase::Running { message } => Readiness::not_ready(reason::RUNNING, message.clone()),
            RunPhase::Succeeded { message } => Readiness {
                ready: true,
                reason: reason::SUCCEEDED.into(),
                ..Readiness::not_ready("", message.clone())
            },
            RunPhase::Failed {
                reason: why,
                message,
            } => {
                let message = format!("{why}: {message}");
                Readiness {
                    stalled: Some(Note::new(reason::FAILED, message.clone())),
                    ..Readiness::not_ready(reason::FAILED, message)
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

/// The phase of a whole run (one or more tasks, from DescribeTasks): running while any task
/// runs, succeeded when every task succeeded, else the first failure. Each task's essential
/// containers are those named in `essential` (all of them when it is empty).
pub fn run_phase(tasks: &[TaskState], essential: &[String]) -> RunPhase {
    if tasks.is_empty() {
        return RunPhase::Running {
            message: "no task reported yet".into(),
        };
    }
    let phases: Vec<RunPhase> = tasks
        .iter()
        .map(|t| {
            let exits: Vec<Option<i32>> = t
                .containers
                .iter()
                .filter(|c| {
                    essential.is_empty() || c.name.as_ref().is_some_and(|n| essential.contains(n))
                })
                .map(|c| c.exit_code)
                .collect();
            ecs_task_phase(
                t.last_status.as_deref().unwrap_or("PROVISIONING"),
                t.stop_code.as_deref(),
                t.stopped_reason.as_deref(),
                &exits,
            )
        })
        .collect();
    let running = phases.iter().filter(|p| !p.is_finished()).count();
    if running > 0 {
        return match (tasks.len(), phases.into_iter().find(|p| !p.is_finished())) {
            (1, Some(p)) => p,
            (n, _) => RunPhase::Running {
                message: format!("{running} of {n} tasks not stopped yet"),
            },
        };
    }
    let n = phases.len();
    match phases
        .into_iter()
        .find(|p| matches!(p, RunPhase::Failed { .. }))
    {
        Some(failed) => failed,
        None if n == 1 => RunPhase::Succeeded {
            message: "every essential container exited 0".into(),
        },
        None => RunPhase::Succeeded {
            message: format!("{n} tasks: every essential container exited 0"),
        },
    }
}

/// `to - from` of two RFC 3339 times, as kubectl shows a Job's duration (`45s`, `3m5s`,
/// `2h3m`); `None` when either does not parse or `to` is earlier.
pub fn duration(from: &str, to: &str) -> Option<String> {
    let from = chrono::DateTime::parse_from_rfc3339(from).ok()?;
    let to = chrono::DateTime::parse_from_rfc3339(to).ok()?;
    let secs = (to - from).num_seconds();
    if secs < 0 {
        return None;
    }
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    Some(match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ecs_task::ContainerState;

    fn task(status: &str, code: Option<&str>, containers: &[(&str, Option<i32>)]) -> TaskState {
        TaskState {
            task_arn: "arn:task/1".into(),
            last_status: Some(status.into()),
            stop_code: code.map(str::to_string),
            stopped_reason: code.map(|_| "Essential container in task exited".into()),
            containers: containers
                .iter()
                .map(|(n, e)| ContainerState {
                    name: Some(n.to_string()),
                    exit_code: *e,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    /// DescribeTasks answers (moto cannot produce exit codes other than 0, nor stop codes)
    /// mapped to the run's phase.
    #[test]
    fn run_phase_table() {
        let essential = vec!["main".to_string()];
        let exited = Some("EssentialContainerExited");
        let succeeded = |m: &str| RunPhase::Succeeded { message: m.into() };
        let cases: Vec<(&str, Vec<TaskState>, RunPhase)> = vec![
            (
                "main exited 0, sidecar killed",
                vec![task(
                    "STOPPED",
                    exited,
                    &[("main", Some(0)), ("log", Some(137))],
                )],
                succeeded("every essential container exited 0"),
            ),
            (
                "main exited 1",
                vec![task(
                    "STOPPED",
                    exited,
                    &[("main", Some(1)), ("log", Some(0))],
                )],
                RunPhase::Failed {
                    reason: "EssentialContainerExited".into(),
                    message: "Essential container in task exited (essential container exit \
                              codes: 1)"
                        .into(),
                },
            ),
            (
                "out of memory: no exit code",
                vec![task("STOPPED", exited, &[("main", None)])],
                RunPhase::Failed {
                    reason: "EssentialContainerExited".into(),
                    message: "Essential container in task exited (essential container exit \
                              codes: none)"
                        .into(),
                },
            ),
            (
                "one of two still running",
                vec![
                    task("STOPPED", exited, &[("main", Some(0))]),
                    task("RUNNING", None, &[("main", None)]),
                ],
                RunPhase::Running {
                    message: "1 of 2 tasks not stopped yet".into(),
                },
            ),
            (
                "two succeeded",
                vec![
                    task("STOPPED", exited, &[("main", Some(0))]),
                    task("STOPPED", exited, &[("main", Some(0))]),
                ],
                succeeded("2 tasks: every essential container exited 0"),
            ),
            (
                "one of two failed",
                vec![
                    task("STOPPED", exited, &[("main", Some(0))]),
                    task("STOPPED", exited, &[("main", Some(3))]),
                ],
                RunPhase::Failed {
                    reason: "EssentialContainerExited".into(),
                    message: "Essential container in task exited (essential container exit \
                              codes: 3)"
                        .into(),
                },
            ),
            (
                "spot interruption",
                vec![task("STOPPED", Some("SpotInterruption"), &[("main", None)])],
                RunPhase::Failed {
                    reason: "SpotInterruption".into(),
                    message: "Essential container in task exited (essential container exit \
                              codes: none)"
                        .into(),
                },
            ),
            (
                "provisioning",
                vec![task("PROVISIONING", None, &[])],
                RunPhase::Running {
                    message: "task is PROVISIONING".into(),
                },
            ),
        ];
        for (name, tasks, want) in cases {
            assert_eq!(run_phase(&tasks, &essential), want, "{name}");
        }
        // No essential names known: every container counts.
        let t = vec![task("STOPPED", exited, &[("a", Some(0)), ("b", Some(2))])];
        assert!(matches!(run_phase(&t, &[]), RunPhase::Failed { .. }));
    }

    #[test]
    fn duration_table() {
        let cases = [
            ("2026-01-01T00:00:00Z", "2026-01-01T00:00:45Z", Some("45s")),
            ("2026-01-01T00:00:00Z", "2026-01-01T00:03:05Z", Some("3m5s")),
            ("2026-01-01T00:00:00Z", "2026-01-01T02:03:59Z", Some("2h3m")),
            ("2026-01-01T00:01:00Z", "2026-01-01T00:00:00Z", None),
            ("nonsense", "2026-01-01T00:00:00Z", None),
        ];
        for (from, to, want) in cases {
            assert_eq!(duration(from, to).as_deref(), want, "{from} {to}");
        }
    }

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
        assert!(r.stalled.is_none(), "running is in flight, not stalled");

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
        let stalled = r
            .stalled
            .as_ref()
            .map(|n| n.message.clone())
            .unwrap_or_default();
        assert!(stalled.contains("TaskFailedToStart: CannotPullContainerError"));
    }
}
