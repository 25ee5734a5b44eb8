//! Wiring: EcsSchedule (an EventBridge Scheduler schedule with an ECS target) through the
//! generic driver.
//!
//! Ownership: EventBridge Scheduler schedules carry no tags (only schedule groups do), so the
//! ownership tags cannot live on the schedule. A schedule is this object's when the object
//! recorded it: its create record names the schedule's ARN, or its status does (written only
//! after a create or an adoption converged). Anything else is unowned, and the adoption policy
//! decides (`Never`: AlreadyExists). Another object's schedule of the same name and group looks
//! unowned too, so `Adopt` would take it: that cannot be told apart without tags.

pub mod mapping;
pub mod sdk;

use crate::api::ecs_schedule::EcsScheduleStatus;
use std::collections::BTreeMap;
use std::sync::Mutex;

use kube::ResourceExt;

use self::mapping::{self as scheduler, Change, DesiredSchedule, ObservedSchedule};
use crate::api::ecs_schedule::EcsSchedule;
use crate::api::{EcsCluster, TaskDefinition};
use crate::aws::AwsClients;
use crate::engine::create;
use crate::engine::references::resolve_ref;
use crate::engine::{DeleteOutcome, Describe, EXTERNAL_NAME_ANNOTATION, Error, External};

managed_kind!(EcsSchedule, EcsScheduleStatus, identity = arn);

/// EventBridge Scheduler-backed implementation of the driver's External contract.
pub struct EcsSchedules {
    kube: kube::Client,
}

/// The kind registry's start (`crate::kinds`).
pub fn start(shared: crate::engine::Shared) -> futures::future::BoxFuture<'static, ()> {
    let kube = shared.client.clone();
    crate::engine::start::<EcsSchedule, _>(shared, EcsSchedules { kube })
}

/// The desired schedule plus who may own it.
pub struct Desired {
    pub schedule: DesiredSchedule,
    owner_tags: BTreeMap<String, String>,
    /// The ARN create returned in this reconcile (the object does not show it yet).
    created: Mutex<Option<String>>,
}

/// A schedule and whether this object recorded it.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    pub schedule: ObservedSchedule,
    tags: BTreeMap<String, String>,
}

/// The schedule ARNs this object recorded: its create record and its status.
fn recorded(obj: &EcsSchedule) -> Vec<String> {
    let mut arns: Vec<String> = obj
        .annotations()
        .get(EXTERNAL_NAME_ANNOTATION)
        .cloned()
        .into_iter()
        .collect();
    arns.extend(obj.status.as_ref().and_then(|s| s.arn.clone()));
    arns
}

fn name_and_group(obj: &EcsSchedule) -> (String, String) {
    (
        obj.spec.name.clone().unwrap_or_else(|| obj.name_any()),
        obj.spec
            .group_name
            .clone()
            .unwrap_or_else(|| "default".into()),
    )
}

impl External<EcsSchedule> for EcsSchedules {
    type Desired = Desired;
    type Observed = Observed;
    type Changes = Vec<Change>;

    fn aws_name(&self, obj: &EcsSchedule) -> String {
        let (name, group) = name_and_group(obj);
        format!("schedule {group}/{name}")
    }

    async fn resolve(
        &self,
        obj: &EcsSchedule,
        aws: &AwsClients,
        owner_tags: &BTreeMap<String, String>,
    ) -> Result<Desired, Error> {
        let ns = obj.namespace().unwrap_or_default();
        let cluster = match (&obj.spec.cluster, &obj.spec.cluster_ref) {
            (Some(c), _) => sdk::cluster_arn(&aws.ecs, c).await?,
            (None, Some(r)) => resolve_ref::<EcsCluster>(&self.kube, &ns, &r.name).await?,
            (None, None) => sdk::cluster_arn(&aws.ecs, "default").await?,
        };
        let named = match (&obj.spec.task_definition, &obj.spec.task_definition_ref) {
            (Some(t), _) => t.clone(),
            (None, Some(r)) => resolve_ref::<TaskDefinition>(&self.kube, &ns, &r.name).await?,
            (None, None) => {
                return Err(Error::InvalidSpec(
                    "set taskDefinition or taskDefinitionRef".into(),
                ));
            }
        };
        let (revision, _) =
            crate::kinds::ecs_task::sdk::describe_task_definition(&aws.ecs, &named).await?;
        let schedule = scheduler::desired(&obj.spec, &obj.name_any(), &cluster, &revision)?;
        Ok(Desired {
            schedule,
            owner_tags: owner_tags.clone(),
            created: Mutex::new(None),
        })
    }

    async fn observe(
        &self,
        obj: &EcsSchedule,
        aws: &AwsClients,
        d: &Desired,
    ) -> Result<Option<Observed>, Error> {
        let Some(schedule) = sdk::get(&aws.scheduler, &d.schedule).await? else {
            return Ok(None);
        };
        let created = d.created.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut ours =
            recorded(obj).contains(&schedule.arn) || created.as_ref() == Some(&schedule.arn);
        if !ours && create::record(obj.annotations()) == create::CreateRecord::Incomplete {
            // An earlier create's answer was lost (a crash, or every retry throttled), and
            // schedules carry no tags to say whose this one is. CreateSchedule is idempotent by
            // client token (this object's UID): asked again, it answers with the schedule that
            // token made, and refuses (Conflict) one someone else made.
            let token = crate::engine::uid_of(obj)?;
            match sdk::create(&aws.scheduler, &d.schedule, &token).await {
                Ok(arn) if arn == schedule.arn => {
                    *d.created.lock().unwrap_or_else(|p| p.into_inner()) = Some(arn);
                    ours = true;
                }
                Ok(_) => {}
                // Another token's schedule: not ours (the driver then refuses it).
                Err(e)
                    if e.is("ConflictException") || e.class == crate::aws::ErrorClass::Terminal => {
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Some(Observed {
            tags: if ours {
                d.owner_tags.clone()
            } else {
                BTreeMap::new()
            },
            schedule,
        }))
    }

    fn observed_tags(&self, o: &Observed) -> BTreeMap<String, String> {
        o.tags.clone()
    }

    async fn current_tags(
        &self,
        obj: &EcsSchedule,
        aws: &AwsClients,
    ) -> Result<Option<BTreeMap<String, String>>, Error> {
        let (name, group) = name_and_group(obj);
        let out = aws
            .scheduler
            .get_schedule()
            .name(&name)
            .group_name(&group)
            .send()
            .await;
        let arn = match out {
            Ok(out) => crate::aws::errors::required(out.arn(), "GetSchedule", "Arn")?.to_string(),
            Err(e) => {
                let e = crate::aws::errors::from_sdk("GetSchedule", e);
                if e.is_not_found() {
                    return Ok(None);
                }
                return Err(e.into());
            }
        };
        if !recorded(obj).contains(&arn) {
            return Ok(Some(BTreeMap::new()));
        }
        // Recorded by this object: its ownership tags, as if the schedule carried them.
        let ns = obj.namespace().unwrap_or_default();
        let me = crate::engine::ownership::Identity::new(
            &ns,
            &obj.name_any(),
            &crate::engine::uid_of(obj)?,
            "",
        );
        let mut tags = me.tags();
        tags.remove(crate::aws::tags::INSTANCE_TAG);
        Ok(Some(tags))
    }

    fn diff(&self, d: &Desired, o: &Observed) -> Vec<Change> {
        scheduler::diff(&d.schedule, &o.schedule)
    }

    async fn create(
        &self,
        obj: &EcsSchedule,
        aws: &AwsClients,
        d: &Desired,
    ) -> Result<String, Error> {
        let token = crate::engine::uid_of(obj)?;
        let arn = sdk::create(&aws.scheduler, &d.schedule, &token).await?;
        *d.created.lock().unwrap_or_else(|p| p.into_inner()) = Some(arn.clone());
        Ok(arn)
    }

    async fn update(
        &self,
        _obj: &EcsSchedule,
        aws: &AwsClients,
        d: &mut Desired,
        _o: &Observed,
        _changes: &Vec<Change>,
    ) -> Result<(), Error> {
        Ok(sdk::update(&aws.scheduler, &d.schedule).await?)
    }

    async fn delete(&self, obj: &EcsSchedule, aws: &AwsClients) -> Result<DeleteOutcome, Error> {
        let (name, group) = name_and_group(obj);
        sdk::delete(&aws.scheduler, &name, &group).await?;
        Ok(DeleteOutcome::Deleted)
    }

    fn status_fields(&self, _obj: &EcsSchedule, o: &Observed) -> EcsScheduleStatus {
        let s = &o.schedule;
        EcsScheduleStatus {
            arn: Some(s.arn.clone()),
            state: Some(s.settings.state.clone()),
            group_name: Some(s.group.clone()),
            cluster_arn: Some(s.settings.target.arn().to_string()),
            task_definition_arn: s
                .settings
                .target
                .ecs_parameters()
                .map(|e| e.task_definition_arn().to_string()),
            creation_date: s.creation_date.clone(),
            last_modification_date: s.last_modification_date.clone(),
            ..Default::default()
        }
    }
}

impl Describe for Change {
    fn describe(&self) -> String {
        Change::describe(self)
    }
}
