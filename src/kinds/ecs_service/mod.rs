//! Wiring: EcsService through the generic driver. References resolve to exact ARNs from the
//! referenced objects' status; a new TaskDefinition revision rolls the service to it.

pub mod autoscaling;
pub mod deployment_actions;
pub mod describe_batch;
pub mod gateway_routes;
pub mod mapping;
pub mod rollout;
pub mod sdk;

use crate::api::ecs_service_status::EcsServiceStatus;
use std::collections::{BTreeMap, HashMap};
use std::ops::Deref;
use std::sync::Mutex;
use std::time::Duration;

use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};

use self::autoscaling::DesiredScaling;
use self::deployment_actions::{Call, Decision};
use self::describe_batch::{BATCH_TTL, BatchCache, DeploymentCache, Fetching};
use self::mapping::{DesiredService, ObservedService};
use self::sdk as io;
use crate::api::ecs_cluster::EcsCluster;
use crate::api::ecs_gateway::EcsGateway;
use crate::api::ecs_service::{DeploymentActionRecord, EcsService, FailedRollout, scale_selector};
use crate::api::task_definition::TaskDefinition;
use crate::aws::AwsClients;
use crate::aws::errors::AwsError;
use crate::aws::tags::{TagService, TagTarget};
use crate::engine::conditions::NewCondition;
use crate::engine::references::resolve_ref;
use crate::engine::{Changes, DeleteOutcome, Error, External, Managed, Readiness};
use crate::kinds::references;

/// Condition type set while a rollout is in flight.
pub const PROGRESSING: &str = "Progressing";

managed_kind!(EcsService, EcsServiceStatus, identity = arn);

/// ECS-backed implementation of the driver's External contract.
pub struct EcsServices {
    pub kube: kube::Client,
    /// The controller's cache of EcsService objects (set once the controller exists): the
    /// source of the other service names batched into one DescribeServices call.
    pub peers: Store<EcsService>,
    /// Recent DescribeServices answers by (cluster, service name).
    batch: Mutex<BatchCache>,
    /// Recent DescribeServiceDeployments answers for peers, by (cluster, service name).
    deployments: Mutex<DeploymentCache>,
    /// The services DescribeServices calls in flight describe for peers (see
    /// `describe_batch::InFlight`).
    fetching: Mutex<Fetching>,
    /// The same for DescribeServiceDeployments calls.
    fetching_deployments: Mutex<Fetching>,
    /// How long a batched answer serves a steady service: the resync period, so that every
    /// service's resync within one period finds the answer a peer's call brought.
    window: Duration,
    /// Events of deployment actions (reason `DeploymentAction`): the driver's `Updated` event
    /// folds later updates into one series, which would hide them.
    recorder: kube::runtime::events::Recorder,
}

/// The kind registry's start (`crate::kinds`).
pub fn start(shared: crate::engine::Shared) -> futures::future::BoxFuture<'static, ()> {
    // A service follows its references: a new TaskDefinition revision or a cluster becoming
    // Ready reconciles the services that point at them.
    let (client, resync) = (shared.client.clone(), shared.settings.resync);
    crate::engine::Start::<EcsService>::new(shared)
        .follows::<TaskDefinition>(dependents)
        .follows::<EcsCluster>(dependents)
        .run(move |peers| EcsServices::new(client, peers).with_resync(resync))
}

impl EcsServices {
    pub fn new(kube: kube::Client, peers: Store<EcsService>) -> Self {
        let reporter = kube::runtime::events::Reporter {
            controller: crate::engine::FIELD_MANAGER.into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Self {
            recorder: kube::runtime::events::Recorder::new(kube.clone(), reporter),
            kube,
            peers,
            batch: Mutex::new(HashMap::new()),
            deployments: Mutex::new(HashMap::new()),
            fetching: Mutex::new(HashMap::new()),
            fetching_deployments: Mutex::new(HashMap::new()),
            window: BATCH_TTL,
        }
    }
}

/// CreateService's client token: the object's UID, so a create retried after a crash or a lost
/// answer is the same request to ECS (idempotent), while a new object of the same name is not.
pub fn create_token(obj: &EcsService) -> String {
    obj.uid().unwrap_or_else(|| obj.name_any())
}

/// The resolved service plus a pending restart request.
pub struct Desired {
    pub service: DesiredService,
    /// The restart annotation's value when it differs from the one last acted on; cleared by
    /// `update` once the restart is sent.
    pub restart: Option<String>,
    /// Failed rollouts not to deploy again.
    pub rollout: rollout::Memory,
    /// `spec.autoScaling`, with what the object manages.
    pub scaling: DesiredScaling,
    /// The deployment action annotation's value, and the last one acted on.
    pub action: Option<String>,
    pub recorded_action: Option<DeploymentActionRecord>,
    /// The deployment action sent in this reconcile (so it is not asked for again), and the
    /// failed-rollout record a rollback leaves.
    pub action_sent: Option<DeploymentActionRecord>,
    pub rolled_back: Option<FailedRollout>,
    /// The ARN `gatewayRef` resolved to.
    pub gateway: Option<String>,
}

/// What observe reports: DescribeServices' view plus the service deployment in flight.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    pub service: ObservedService,
    /// The service deployment in flight: read only while a rollout is in progress.
    pub deployment: Option<deployment_actions::Current>,
    /// When observed (RFC 3339).
    pub seen_at: String,
    /// Carried from `Desired`: a deployment action sent in this reconcile and its rollback.
    pub action_sent: Option<DeploymentActionRecord>,
    pub rolled_back: Option<FailedRollout>,
    /// The gateway routes, when read in this reconcile (`gateway_routes::should_read`).
    pub gateway_routes: Option<Vec<crate::api::ecs_service::GatewayRouteStatus>>,
}

impl Deref for Observed {
    type Target = ObservedService;
    fn deref(&self) -> &ObservedService {
        &self.service
    }
}

/// The failed-rollout memory, including a rollback sent in this reconcile.
fn memory(obj: &EcsService, observed: &Observed) -> rollout::Memory {
    let mut memory = rollout::Memory::of(obj);
    if let Some(r) = &observed.rolled_back {
        memory.previous = Some(r.clone());
    }
    memory
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// What `diff` finds for a service: the mapping's changes plus a pending restart.
#[derive(Debug, PartialEq)]
pub struct ServiceChanges {
    /// Spec fields UpdateService must send.
    pub fields: mapping::Fields,
    pub restart: Option<String>,
    /// Application Auto Scaling calls.
    pub scaling: Vec<autoscaling::Change>,
    /// A deployment action to send.
    pub action: Option<Call>,
}

impl Changes for ServiceChanges {
    fn is_empty(&self) -> bool {
        self.fields.is_empty()
            && self.restart.is_none()
            && self.scaling.is_empty()
            && self.action.is_none()
    }
    fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.fields.is_empty() {
            out.push(mapping::describe(&self.fields));
        }
        if let Some(r) = &self.restart {
            out.push(format!("restart requested ({r})"));
        }
        out.extend(self.scaling.iter().map(autoscaling::Change::describe));
        out.extend(self.action.iter().map(Call::describe));
        out
    }
}

/// EcsServices in the object's namespace that refer to it (for watches).
pub fn dependents<K: Managed>(
    store: &Store<EcsService>,
    changed: &K,
) -> Vec<ObjectRef<EcsService>> {
    let ns = changed.namespace();
    let name = changed.name_any();
    let is_cluster = K::kind(&()) == EcsCluster::kind(&());
    store
        .state()
        .iter()
        .filter(|svc| svc.namespace() == ns)
        .filter(|svc| {
            if is_cluster {
                svc.spec
                    .cluster_ref
                    .as_ref()
                    .is_some_and(|r| r.name == name)
            } else {
                svc.spec
                    .task_definition_ref
                    .as_ref()
                    .is_some_and(|r| r.name == name)
            }
        })
        .map(|svc| ObjectRef::from_obj(svc.as_ref()))
        .collect()
}

impl EcsServices {
    /// (cluster, service name) this object stands for, without needing its task definition; a
    /// deleted cluster reference, or one into another shard, falls back to the cluster recorded
    /// in status (`None` when there is none: nothing was ever created). Deleting never waits
    /// for a shard: it needs no watch of the cluster.
    async fn locate(&self, obj: &EcsService) -> Result<Option<(String, String)>, Error> {
        let ns = obj.namespace().unwrap_or_default();
        let spec = &obj.spec;
        let named = references::cluster(
            &self.kube,
            &ns,
            spec.cluster.as_ref(),
            spec.cluster_ref.as_ref(),
        );
        let cluster = match named.await {
            Ok(cluster) => cluster,
            Err(Error::ReferenceNotReady(_) | Error::ReferenceInAnotherShard(_)) => {
                match obj.status.as_ref().and_then(|s| s.cluster_arn.clone()) {
                    Some(arn) if !arn.is_empty() => arn,
                    _ => return Ok(None),
                }
            }
            Err(e) => return Err(e),
        };
        Ok(Some((cluster, obj.service_name())))
    }

    /// The service deployment in flight (ListServiceDeployments, then DescribeServiceDeployments
    /// of the newest). Missing permissions for these calls leave it unknown (logged), so a
    /// role without them keeps working as before.
    /// The service deployment in flight: the one DescribeServices names current (one call),
    /// else the newest ListServiceDeployments finds in flight (two calls).
    async fn current_deployment(
        &self,
        aws: &AwsClients,
        d: &Desired,
        seen_at: &str,
        current: Option<&str>,
        fresh: bool,
    ) -> Result<Option<deployment_actions::Current>, Error> {
        let (cluster, service) = (&d.service.cluster, &d.service.service_name);
        let read = async {
            let found = match current {
                // Named by DescribeServices: read with the peers' deployments in flight.
                Some(arn) => self
                    .describe_deployment(aws, cluster, service, arn, fresh)
                    .await?
                    .into_iter()
                    .collect(),
                None => {
                    let arns = io::list_deployments(
                        &aws.ecs,
                        &d.service.cluster,
                        &d.service.service_name,
                        &deployment_actions::IN_FLIGHT,
                    )
                    .await?;
                    let Some(newest) = arns.into_iter().next() else {
                        return Ok(None);
                    };
                    io::describe_deployments(&aws.ecs, &[newest]).await?
                }
            };
            Ok::<_, AwsError>(
                found
                    .first()
                    .filter(|sd| {
                        sd.status()
                            .is_some_and(|s| deployment_actions::IN_FLIGHT.contains(&s.as_str()))
                    })
                    .and_then(|sd| deployment_actions::Current::from_sdk(sd, seen_at)),
            )
        };
        match read.await {
            Ok(current) => Ok(current),
            Err(e) if e.class == crate::aws::ErrorClass::Environment => {
                tracing::warn!(service = %d.service.service_name, error = %e, "cannot read service deployments; deployment actions need ecs:ListServiceDeployments and ecs:DescribeServiceDeployments");
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Sends a deployment action and records it in `d` (for the status and the rollout memory).
    async fn send_action(
        &self,
        aws: &AwsClients,
        d: &mut Desired,
        observed: &Observed,
        call: &Call,
    ) -> Result<(), Error> {
        match call {
            Call::Continue { arn, hook_id } => {
                io::continue_deployment(&aws.ecs, arn, hook_id, false).await?
            }
            Call::RollbackAtHook { arn, hook_id } => {
                io::continue_deployment(&aws.ecs, arn, hook_id, true).await?
            }
            Call::Stop { arn } => io::stop_deployment(&aws.ecs, arn).await?,
        }
        let value = d.action.clone().unwrap_or_default();
        tracing::info!(service = %d.service.service_name, %value, action = %call.describe(), "deployment action sent");
        d.action_sent = Some(deployment_actions::sent(&value, call, &now_rfc3339()));
        if call.action() == deployment_actions::Action::Rollback {
            let record = deployment_actions::rollback_record(&value, call, observed, &d.rollout);
            d.rollout.previous = Some(record.clone());
            d.rolled_back = Some(record);
        }
        Ok(())
    }
}

impl External<EcsService> for EcsServices {
    type Desired = Desired;
    type Observed = Observed;
    type Changes = ServiceChanges;

    fn aws_name(&self, obj: &EcsService) -> String {
        format!("service {}", obj.service_name())
    }

    async fn resolve(
        &self,
        obj: &EcsService,
        _aws: &AwsClients,
        owner_tags: &BTreeMap<String, String>,
    ) -> Result<Desired, Error> {
        let ns = obj.namespace().unwrap_or_default();
        let spec = &obj.spec;
        let cluster = references::cluster(
            &self.kube,
            &ns,
            spec.cluster.as_ref(),
            spec.cluster_ref.as_ref(),
        )
        .await?;
        let task_definition = match (&obj.spec.task_definition, &obj.spec.task_definition_ref) {
            (Some(t), _) => t.clone(),
            (None, Some(r)) => resolve_ref::<TaskDefinition>(&self.kube, &ns, &r.name).await?,
            (None, None) => String::new(),
        };
        let gateway = match &obj.spec.gateway_ref {
            Some(r) => Some(resolve_ref::<EcsGateway>(&self.kube, &ns, &r.name).await?),
            None => None,
        };
        let acted_on = obj.status.as_ref().and_then(|s| s.restarted_at.clone());
        let restart = obj
            .restart_requested()
            .map(str::to_string)
            .filter(|r| Some(r) != acted_on.as_ref());
        let mut service =
            mapping::desired(&obj.spec, &obj.service_name(), cluster, task_definition);
        if !owner_tags.is_empty() {
            service
                .spec
                .tags
                .get_or_insert_with(Vec::new)
                .extend(
                    owner_tags
                        .iter()
                        .map(|(k, v)| crate::api::task_definition::Tag {
                            key: k.clone(),
                            value: v.clone(),
                        }),
                );
        }
        let scaling = DesiredScaling::new(
            autoscaling::resource_id(&service.cluster, &service.service_name),
            obj.spec.auto_scaling.as_ref(),
            obj.status.as_ref().and_then(|s| s.auto_scaling.as_ref()),
        );
        Ok(Desired {
            service,
            restart,
            rollout: rollout::Memory::of(obj),
            scaling,
            action: obj.deployment_action_requested().map(str::to_string),
            recorded_action: obj
                .status
                .as_ref()
                .and_then(|s| s.deployment_action.clone()),
            action_sent: None,
            rolled_back: None,
            gateway,
        })
    }

    async fn observe(
        &self,
        obj: &EcsService,
        aws: &AwsClients,
        d: &Desired,
    ) -> Result<Option<Observed>, Error> {
        let fresh = crate::engine::Managed::refresh_requested(obj);
        let (svc, created) = self
            .describe_first(
                aws,
                &d.service.cluster,
                &d.service.service_name,
                fresh,
                describe_batch::never_created(obj),
            )
            .await?;
        let Some(mut observed) = svc.as_ref().map(mapping::observed_from) else {
            return Ok(None);
        };
        if d.scaling.wanted() {
            observed.auto_scaling = autoscaling::observe(&aws.autoscaling, &d.scaling).await?;
        }
        let seen_at = now_rfc3339();
        // Service deployments cost a call: read only while a rollout is in flight, and not in
        // the reconcile that created the service (its first rollout has just started; the
        // first poll reads it, with its peers').
        let in_flight = deployment_actions::in_flight(&observed);
        let deployment = if in_flight && !created {
            let current = observed.current_service_deployment.clone();
            self.current_deployment(aws, d, &seen_at, current.as_deref(), fresh)
                .await?
        } else {
            None
        };
        let gateway_routes = gateway_routes::observe(
            &aws.ecs,
            obj,
            observed.arn.as_deref(),
            d.gateway.as_deref(),
            in_flight,
        )
        .await?;
        Ok(Some(Observed {
            service: observed,
            deployment,
            seen_at,
            action_sent: d.action_sent.clone(),
            rolled_back: d.rolled_back.clone(),
            gateway_routes,
        }))
    }

    fn observed_tags(&self, observed: &Observed) -> BTreeMap<String, String> {
        observed.tags.clone()
    }

    fn tag_target(&self, observed: &Observed) -> Option<TagTarget> {
        Some(TagTarget {
            service: TagService::Ecs,
            arn: observed.arn.clone()?,
        })
    }

    fn desired_tags(&self, d: &Desired) -> BTreeMap<String, String> {
        mapping::desired_tags(&d.service)
    }

    async fn current_tags(
        &self,
        obj: &EcsService,
        aws: &AwsClients,
    ) -> Result<Option<BTreeMap<String, String>>, Error> {
        let Some((cluster, name)) = self.locate(obj).await? else {
            return Ok(None);
        };
        let svc = self.describe(aws, &cluster, &name, true, false).await?;
        Ok(svc.as_ref().map(|s| mapping::observed_from(s).tags))
    }

    fn diff(&self, d: &Desired, observed: &Observed) -> ServiceChanges {
        let action = match d.action_sent {
            Some(_) => None,
            None => match deployment_actions::decide(
                d.action.as_deref(),
                d.recorded_action.as_ref(),
                observed.deployment.as_ref(),
            ) {
                Decision::Send(call) => Some(call),
                Decision::Nothing | Decision::Consume(_) => None,
            },
        };
        ServiceChanges {
            fields: mapping::diff(&d.rollout.service(&d.service, observed), observed),
            scaling: autoscaling::diff(&d.scaling, &observed.auto_scaling),
            restart: d.restart.clone(),
            action,
        }
    }

    async fn create(
        &self,
        obj: &EcsService,
        aws: &AwsClients,
        d: &Desired,
    ) -> Result<String, Error> {
        let token = create_token(obj);
        self.forget(aws, &d.service.cluster, &d.service.service_name);
        let input = mapping::create_input(&d.service, &token)?;
        let sent_tags = input.get_tags().clone();
        let mut created = io::create(&aws.ecs, input).await?;
        let arn = crate::aws::errors::required(
            created.service_arn.clone(),
            "CreateService",
            "service.serviceArn",
        )?;
        // The answer is the first observation (the observe right after reads it, not AWS).
        // Tags are what was sent when the answer leaves them out.
        if created.tags.as_ref().is_none_or(|t| t.is_empty()) {
            created.tags = sent_tags;
        }
        self.keep_created(aws, &d.service.cluster, created);
        Ok(arn)
    }

    async fn update(
        &self,
        obj: &EcsService,
        aws: &AwsClients,
        d: &mut Desired,
        observed: &Observed,
        changes: &ServiceChanges,
    ) -> Result<(), Error> {
        // A remembered failed rollout keeps the running revision: never send the failed one again.
        let service = d.rollout.service(&d.service, observed).into_owned();
        d.service = service;
        self.forget(aws, &d.service.cluster, &d.service.service_name);
        // First: it acts on the deployment observed, which a new deployment would replace.
        if let Some(call) = &changes.action {
            self.send_action(aws, d, observed, call).await?;
            let event = kube::runtime::events::Event {
                type_: kube::runtime::events::EventType::Normal,
                reason: "DeploymentAction".into(),
                note: d.action_sent.as_ref().map(|r| r.message.clone()),
                action: "DeploymentAction".into(),
                secondary: None,
            };
            if let Err(e) = self.recorder.publish(&event, &obj.object_ref(&())).await {
                tracing::debug!(error = %e, "could not publish event");
            }
        }
        if !changes.fields.is_empty() {
            io::update(
                &aws.ecs,
                mapping::update_request(&d.service, &changes.fields)?,
            )
            .await?;
        }
        for change in &changes.scaling {
            autoscaling::apply(&aws.autoscaling, &d.scaling, change).await?;
        }
        if changes.restart.is_some() {
            io::update(&aws.ecs, mapping::restart_input(&d.service)).await?;
            d.restart = None;
        }
        // A peer's batch may have kept an answer from before these writes.
        self.forget(aws, &d.service.cluster, &d.service.service_name);
        Ok(())
    }

    /// Scales to zero, deletes, and waits through DRAINING until the service is INACTIVE.
    async fn delete(&self, obj: &EcsService, aws: &AwsClients) -> Result<DeleteOutcome, Error> {
        let Some((cluster, name)) = self.locate(obj).await? else {
            return Ok(DeleteOutcome::Deleted);
        };
        let (cluster, name) = (&cluster, &name);
        // The scalable target outlives its service otherwise (and would scale a new one). The
        // spec counts too: a crash between registering and the status write leaves no record.
        if obj.spec.auto_scaling.is_some()
            || obj
                .status
                .as_ref()
                .is_some_and(|s| s.auto_scaling.is_some())
        {
            autoscaling::deregister(&aws.autoscaling, &autoscaling::resource_id(cluster, name))
                .await?;
        }
        let Some(svc) = self.describe(aws, cluster, name, true, false).await? else {
            return Ok(DeleteOutcome::Deleted);
        };
        if svc.status() == Some("DRAINING") {
            return Ok(DeleteOutcome::InProgress(format!(
                "service {name} is draining"
            )));
        }
        let daemon = svc
            .scheduling_strategy()
            .is_some_and(|s| s.as_str() == "DAEMON");
        if !daemon && svc.desired_count() > 0 {
            io::scale_to_zero(&aws.ecs, cluster, name).await?;
        }
        io::delete(&aws.ecs, cluster, name, daemon).await?;
        Ok(
            match self.describe(aws, cluster, name, true, false).await? {
                None => DeleteOutcome::Deleted,
                Some(_) => DeleteOutcome::InProgress(format!("service {name} is draining")),
            },
        )
    }

    fn status_fields(&self, obj: &EcsService, observed: &Observed) -> EcsServiceStatus {
        let acted_on = obj.status.as_ref().and_then(|s| s.restarted_at.clone());
        let name = obj.metadata.name.as_deref().unwrap_or_default();
        let (gateway_routes, gateway_url) =
            gateway_routes::status_fields(obj, observed.gateway_routes.as_ref());
        EcsServiceStatus {
            gateway_routes,
            gateway_url,
            restarted_at: obj.restart_requested().map(str::to_string).or(acted_on),
            failed_rollout: memory(obj, observed).record(observed),
            selector: Some(scale_selector(name)),
            // None when there is no scalable target: the field (and the calls it causes) go
            // away.
            auto_scaling: autoscaling::status(
                obj.spec.auto_scaling.as_ref(),
                &observed.auto_scaling,
            ),
            // None when no rollout is in flight: the field goes away.
            service_deployment: deployment_status(obj, observed),
            deployment_action: deployment_action_record(obj, observed),
            ..mapping::status_fields(observed)
        }
    }

    fn readiness(&self, obj: &EcsService, observed: &Observed) -> Readiness {
        if let Some(failed) = memory(obj, observed).readiness(observed) {
            return failed;
        }
        if let Some(paused) =
            deployment_actions::readiness(deployment_status(obj, observed).as_ref())
        {
            return paused;
        }
        let (ready, progressing, why, message) = mapping::readiness(observed);
        Readiness {
            ready,
            reason: why.to_string(),
            message: message.clone(),
            stalled: None,
            not_synced: None,
            conditions: vec![NewCondition::new(PROGRESSING, progressing, why, message)],
        }
    }
}

/// `status.serviceDeployment`, keeping when a waiting hook was first seen.
fn deployment_status(
    obj: &EcsService,
    observed: &Observed,
) -> Option<crate::api::ecs_service::ServiceDeploymentStatus> {
    let previous = obj
        .status
        .as_ref()
        .and_then(|s| s.service_deployment.as_ref());
    let name = obj.metadata.name.as_deref().unwrap_or_default();
    deployment_actions::status(observed.deployment.as_ref(), previous, name)
}

/// `status.deploymentAction`: the action sent in this reconcile, else a value consumed without a
/// call, else the last record.
fn deployment_action_record(
    obj: &EcsService,
    observed: &Observed,
) -> Option<DeploymentActionRecord> {
    if let Some(sent) = &observed.action_sent {
        return Some(sent.clone());
    }
    let previous = obj
        .status
        .as_ref()
        .and_then(|s| s.deployment_action.as_ref());
    let value = obj.deployment_action_requested();
    match deployment_actions::decide(value, previous, observed.deployment.as_ref()) {
        Decision::Consume(why) => {
            let value = value.unwrap_or_default();
            tracing::info!(object = %obj.name_any(), %value, %why, "deployment action consumed without a call");
            Some(deployment_actions::consumed(
                value,
                &why,
                observed.deployment.as_ref(),
                &observed.seen_at,
            ))
        }
        Decision::Nothing | Decision::Send(_) => previous.cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_token_is_the_uid() {
        let obj = |uid: Option<&str>| {
            let mut obj = EcsService::new("web", Default::default());
            obj.metadata.uid = uid.map(str::to_string);
            obj
        };
        let uid = "0b5e3c1e-7f0a-4c55-9d2e-2f1c9b8a7d61";
        assert_eq!(create_token(&obj(Some(uid))), uid);
        assert_ne!(
            create_token(&obj(Some("other-uid"))),
            uid,
            "another object, another token"
        );
        assert_eq!(
            create_token(&obj(None)),
            "web",
            "no uid (never from the API server)"
        );
    }
}
