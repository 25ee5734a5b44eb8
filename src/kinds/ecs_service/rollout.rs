//! A failed rollout is not redeployed in a loop. When the deployment circuit breaker fails a
//! deployment (and rolls back), the spec still names the failed task definition; sending it
//! again would start tasks that fail, forever. The failure is remembered in
//! `status.failedRollout` and holds until the spec (generation) or the restart annotation
//! changes. Pure: unit-tested below.

use std::borrow::Cow;

use crate::api::ecs_service::{EcsService, FailedRollout, RESTART_ANNOTATION};
use crate::engine::conditions::{NewCondition, reason};
use crate::engine::{Note, Readiness};
use crate::kinds::ecs_service::mapping::{
    DesiredService, ObservedService, task_definition_matches,
};

/// What the operator knew about failed rollouts when the reconcile started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Memory {
    pub previous: Option<FailedRollout>,
    pub generation: i64,
    /// The restart annotation's current value.
    pub restart: Option<String>,
}

impl Memory {
    pub fn of(obj: &EcsService) -> Self {
        Self {
            previous: obj.status.as_ref().and_then(|s| s.failed_rollout.clone()),
            generation: obj.metadata.generation.unwrap_or_default(),
            restart: obj.restart_requested().map(str::to_string),
        }
    }

    /// The failure to remember after observing `observed`: a FAILED deployment visible now
    /// (the record of the same deployment is kept as it was), else the previous record while
    /// it still applies and the service still runs what it ran then.
    pub fn record(&self, observed: &ObservedService) -> Option<FailedRollout> {
        let failed = observed
            .deployments
            .iter()
            .find(|d| d.rollout_state.as_deref() == Some("FAILED"));
        if let Some(failed) = failed {
            let id = failed.id.clone().unwrap_or_default();
            if let Some(p) = self.previous.as_ref().filter(|p| p.deployment_id == id) {
                return Some(p.clone());
            }
            return Some(FailedRollout {
                deployment_id: id,
                task_definition: failed.task_definition.clone().unwrap_or_default(),
                reason: failed.rollout_state_reason.clone().unwrap_or_default(),
                generation: self.generation,
                restart: self.restart.clone(),
                running_task_definition: observed.task_definition.clone(),
            });
        }
        self.previous
            .as_ref()
            .filter(|p| self.in_force(p) && p.running_task_definition == observed.task_definition)
            .cloned()
    }

    /// A record holds while neither the spec nor the restart annotation changed since.
    fn in_force(&self, record: &FailedRollout) -> bool {
        record.generation == self.generation && record.restart == self.restart
    }

    /// The service to converge to: the spec's, except that a task definition whose rollout
    /// failed (record in force) is replaced by the one the service runs, so it is not sent again.
    pub fn service<'a>(
        &self,
        desired: &'a DesiredService,
        observed: &ObservedService,
    ) -> Cow<'a, DesiredService> {
        let Some(record) = self.record(observed).filter(|r| self.in_force(r)) else {
            return Cow::Borrowed(desired);
        };
        let (Some(running), true) = (
            record.running_task_definition.as_ref(),
            task_definition_matches(&desired.task_definition, &record.task_definition),
        ) else {
            return Cow::Borrowed(desired);
        };
        let mut held = desired.clone();
        held.task_definition = running.clone();
        Cow::Owned(held)
    }

    /// Ready=False, reason RolloutFailed (with Stalled and Synced to match) while a failure is
    /// in force and the service runs what it ran when the deployment failed.
    pub fn readiness(&self, observed: &ObservedService) -> Option<Readiness> {
        let record = self.record(observed).filter(|r| self.in_force(r))?;
        if record.running_task_definition != observed.task_definition {
            return None;
        }
        let running = match record.running_task_definition.as_deref() {
            Some(r) if r != record.task_definition => format!("the service runs {r}"),
            _ => "the service keeps it".to_string(),
        };
        let message = format!(
            "deployment {} of {} failed: {}; {running}. It is not deployed again until the spec \
             or the {RESTART_ANNOTATION} annotation changes",
            record.deployment_id, record.task_definition, record.reason
        );
        let why = reason::ROLLOUT_FAILED;
        Some(Readiness {
            ready: false,
            reason: why.into(),
            message: message.clone(),
            stalled: Some(Note::new(why, message.clone())),
            not_synced: Some(Note::new(why, message.clone())),
            conditions: vec![NewCondition::new(
                crate::kinds::ecs_service::PROGRESSING,
                false,
                why,
                message,
            )],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ecs_service::DeploymentStatus;

    const TD1: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1";
    const TD2: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2";
    const TD3: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3";

    fn deployment(id: &str, status: &str, state: &str, td: &str) -> DeploymentStatus {
        DeploymentStatus {
            id: Some(id.into()),
            status: Some(status.into()),
            task_definition: Some(td.into()),
            rollout_state: Some(state.into()),
            rollout_state_reason: Some(format!("{state} reason")),
            ..Default::default()
        }
    }

    fn observed(td: &str, deployments: Vec<DeploymentStatus>) -> ObservedService {
        ObservedService {
            task_definition: Some(td.into()),
            deployments,
            ..Default::default()
        }
    }

    fn record(generation: i64, restart: Option<&str>) -> FailedRollout {
        FailedRollout {
            deployment_id: "d2".into(),
            task_definition: TD2.into(),
            reason: "FAILED reason".into(),
            generation,
            restart: restart.map(str::to_string),
            running_task_definition: Some(TD1.into()),
        }
    }

    fn memory(previous: Option<FailedRollout>, generation: i64, restart: Option<&str>) -> Memory {
        Memory {
            previous,
            generation,
            restart: restart.map(str::to_string),
        }
    }

    #[test]
    fn what_is_deployed_table() {
        let desired = |td: &str| DesiredService {
            service_name: "s".into(),
            cluster: "c".into(),
            task_definition: td.into(),
            spec: Default::default(),
        };
        let rolling_back = observed(
            TD1,
            vec![
                deployment("d3", "PRIMARY", "IN_PROGRESS", TD1),
                deployment("d2", "ACTIVE", "FAILED", TD2),
            ],
        );
        let rolled_back = observed(TD1, vec![deployment("d3", "PRIMARY", "COMPLETED", TD1)]);
        let cases: Vec<(&str, Memory, &str, &ObservedService, &str, bool)> = vec![
            // (case, memory, spec td, observed, td to deploy, RolloutFailed)
            (
                "fresh failure: not sent again",
                memory(None, 2, None),
                TD2,
                &rolling_back,
                TD1,
                true,
            ),
            (
                "remembered after the failed deployment is gone",
                memory(Some(record(2, None)), 2, None),
                TD2,
                &rolled_back,
                TD1,
                true,
            ),
            (
                "family:revision in the spec",
                memory(Some(record(2, None)), 2, None),
                "web:2",
                &rolled_back,
                TD1,
                true,
            ),
            (
                "spec changed (new generation): deployed again",
                memory(Some(record(2, None)), 3, None),
                TD2,
                &rolled_back,
                TD2,
                false,
            ),
            (
                "spec changed while the failed deployment is still listed",
                memory(Some(record(2, None)), 3, None),
                TD2,
                &rolling_back,
                TD2,
                false,
            ),
            (
                "new restart value: deployed again",
                memory(Some(record(2, None)), 2, Some("now")),
                TD2,
                &rolled_back,
                TD2,
                false,
            ),
            (
                "another revision (a fixed TaskDefinition) is deployed",
                memory(Some(record(2, None)), 2, None),
                TD3,
                &rolled_back,
                TD3,
                true,
            ),
            (
                "no failure at all",
                memory(None, 2, None),
                TD2,
                &rolled_back,
                TD2,
                false,
            ),
        ];
        for (case, m, spec_td, obs, want_td, failed) in cases {
            let d = desired(spec_td);
            assert_eq!(m.service(&d, obs).task_definition, want_td, "{case}");
            let readiness = m.readiness(obs);
            assert_eq!(readiness.is_some(), failed, "{case}: {readiness:?}");
            if let Some(r) = readiness {
                assert_eq!(r.reason, "RolloutFailed", "{case}");
                assert!(r.message.contains(TD2) && r.message.contains("FAILED reason"));
                assert!(r.stalled.is_some() && r.not_synced.is_some());
            }
        }
    }

    #[test]
    fn records_are_kept_replaced_or_dropped() {
        let failing = observed(TD1, vec![deployment("d2", "ACTIVE", "FAILED", TD2)]);
        // The same failed deployment keeps the generation it was first seen in.
        let kept = memory(Some(record(2, None)), 3, None).record(&failing);
        assert_eq!(kept.map(|r| r.generation), Some(2));
        // A different failed deployment starts a new record.
        let newer = observed(TD1, vec![deployment("d9", "ACTIVE", "FAILED", TD2)]);
        let replaced = memory(Some(record(2, None)), 3, None).record(&newer);
        assert_eq!(
            replaced.map(|r| (r.deployment_id, r.generation)),
            Some(("d9".into(), 3))
        );
        // Gone once the service moved on, or the record no longer applies.
        let moved = observed(TD3, vec![deployment("d4", "PRIMARY", "COMPLETED", TD3)]);
        assert_eq!(memory(Some(record(2, None)), 2, None).record(&moved), None);
        let back = observed(TD1, vec![]);
        assert_eq!(memory(Some(record(2, None)), 3, None).record(&back), None);
    }
}
