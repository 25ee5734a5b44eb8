//! EcsService <-> Amazon ECS CreateService / UpdateService / DescribeServices. Pure mapping:
//! `desired` (spec -> resolved desired state), `create_input` / `update_input` (requests),
//! `observed_from` (DescribeServices answer), `diff`, `readiness` and `status_fields`. No I/O here.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_ecs::operation::create_service::CreateServiceInput;
use aws_sdk_ecs::operation::create_service::builders::CreateServiceInputBuilder;
use aws_sdk_ecs::operation::update_service::UpdateServiceInput;
use aws_sdk_ecs::operation::update_service::builders::UpdateServiceInputBuilder;
use aws_sdk_ecs::types as ecs;
use aws_smithy_types::error::operation::BuildError;
use aws_smithy_types::{Document, Number};
use serde::Serialize;
use serde_json::{Map, Value};

use super::errors::AwsError;
use super::sdk_convert::{
    FromSdk, from_enum, from_enum_list, from_list, from_opt, to_enum, to_enum_list,
};
use crate::api::ecs_service::{
    self as api, AwsEnum, DeploymentStatus, EcsServiceSpec, EcsServiceStatus, ServiceEventStatus,
};

const CREATE: &str = "CreateService";
const UPDATE: &str = "UpdateService";
/// How many service events the status keeps.
const EVENTS_KEPT: usize = 5;

/// The service the spec asks for, with references resolved by the caller.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredService {
    /// AWS service name (spec.serviceName, else metadata.name).
    pub service_name: String,
    /// Cluster name or ARN (spec.cluster, or the referenced EcsCluster's ARN).
    pub cluster: String,
    /// `family`, `family:revision` or ARN (or the referenced TaskDefinition's current ARN).
    /// Empty only with the EXTERNAL deployment controller.
    pub task_definition: String,
    /// The spec; its cluster / task definition fields and references are not used.
    pub spec: EcsServiceSpec,
}

/// What DescribeServices reports, as far as diff and status need it. Configuration fields use
/// the API types so they compare with the spec; `serviceConnectConfiguration`,
/// `volumeConfigurations` and `vpcLatticeConfigurations` come from the PRIMARY deployment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedService {
    pub arn: Option<String>,
    pub service_name: Option<String>,
    pub cluster_arn: Option<String>,
    pub status: Option<String>,
    pub desired_count: i32,
    pub running_count: i32,
    pub pending_count: i32,
    pub task_definition: Option<String>,
    pub launch_type: Option<String>,
    pub scheduling_strategy: Option<String>,
    pub spec: EcsServiceSpec,
    /// Tags as reported with `include: TAGS`.
    pub tags: BTreeMap<String, String>,
    pub deployments: Vec<DeploymentStatus>,
    /// Newest first, at most 5.
    pub events: Vec<ServiceEventStatus>,
}

/// One step that brings the service to the spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// UpdateService for the spec fields (AWS JSON names) that differ.
    UpdateService { fields: Vec<&'static str> },
    /// TagResource with these tags.
    AddTags(BTreeMap<String, String>),
    /// UntagResource with these keys.
    RemoveTags(Vec<String>),
}

impl Change {
    /// A human-readable summary, for events and logs.
    pub fn describe(&self) -> String {
        match self {
            Self::UpdateService { fields } => format!("update service: {}", fields.join(", ")),
            Self::AddTags(tags) => format!(
                "add tags: {}",
                tags.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
            Self::RemoveTags(keys) => format!("remove tags: {}", keys.join(", ")),
        }
    }
}

/// The resolved desired state of `spec`; `default_name` is metadata.name.
pub fn desired(
    spec: &EcsServiceSpec,
    default_name: &str,
    cluster: String,
    task_definition: String,
) -> DesiredService {
    DesiredService {
        service_name: spec
            .service_name
            .clone()
            .unwrap_or_else(|| default_name.to_string()),
        cluster,
        task_definition,
        spec: spec.clone(),
    }
}

/// The CreateService request. `client_token` makes a retried create idempotent.
pub fn create_input(
    d: &DesiredService,
    client_token: &str,
) -> Result<CreateServiceInputBuilder, AwsError> {
    let s = &d.spec;
    Ok(CreateServiceInput::builder()
        .cluster(&d.cluster)
        .service_name(&d.service_name)
        .set_task_definition((!d.task_definition.is_empty()).then(|| d.task_definition.clone()))
        .set_availability_zone_rebalancing(to_enum(s.availability_zone_rebalancing))
        .set_load_balancers(to_list(&s.load_balancers, CREATE)?)
        .set_service_registries(to_list(&s.service_registries, CREATE)?)
        .set_desired_count(s.desired_count)
        .client_token(client_token)
        .set_launch_type(to_enum(s.launch_type))
        .set_capacity_provider_strategy(to_list(&s.capacity_provider_strategy, CREATE)?)
        .set_platform_version(s.platform_version.clone())
        .set_role(s.role.clone())
        .set_deployment_configuration(to_opt(&s.deployment_configuration, CREATE)?)
        .set_placement_constraints(to_list(&s.placement_constraints, CREATE)?)
        .set_placement_strategy(to_list(&s.placement_strategy, CREATE)?)
        .set_network_configuration(to_opt(&s.network_configuration, CREATE)?)
        .set_health_check_grace_period_seconds(s.health_check_grace_period_seconds)
        .set_scheduling_strategy(to_enum(s.scheduling_strategy))
        .set_deployment_controller(to_opt(&s.deployment_controller, CREATE)?)
        .set_tags(to_list(&s.tags, CREATE)?.filter(|t| !t.is_empty()))
        .set_enable_ecs_managed_tags(s.enable_ecs_managed_tags)
        .set_propagate_tags(to_enum(s.propagate_tags))
        .set_enable_execute_command(s.enable_execute_command)
        .set_service_connect_configuration(to_opt(&s.service_connect_configuration, CREATE)?)
        .set_volume_configurations(to_list(&s.volume_configurations, CREATE)?)
        .set_vpc_lattice_configurations(to_list(&s.vpc_lattice_configurations, CREATE)?)
        .set_gateway_connectors(to_list(&s.gateway_connectors, CREATE)?)
        .set_monitoring(to_opt(&s.monitoring, CREATE)?))
}

/// The UpdateService request for the fields [`diff`] reports as different; an unset spec field
/// that differs is sent as its AWS default (empty lists, NONE, false, 0, LATEST, ECS).
/// `desiredCount` is sent only when the spec sets it. `gatewayConnectors` and `monitoring` are
/// not reported by DescribeServices, so they ride along with every update when set.
/// Fallible because a spec value may not form a valid SDK value (a required field missing).
pub fn update_input(
    d: &DesiredService,
    observed: &ObservedService,
) -> Result<UpdateServiceInputBuilder, AwsError> {
    let s = &d.spec;
    let fields = changed_fields(d, observed);
    let has = |f: &str| fields.contains(&f);
    let mut b = UpdateServiceInput::builder()
        .cluster(&d.cluster)
        .service(&d.service_name)
        .set_gateway_connectors(to_list(&s.gateway_connectors, UPDATE)?)
        .set_monitoring(to_opt(&s.monitoring, UPDATE)?);
    if has("desiredCount") {
        b = b.set_desired_count(s.desired_count);
    }
    if has("taskDefinition") {
        b = b.task_definition(&d.task_definition);
    }
    if has("capacityProviderStrategy") {
        b = b.set_capacity_provider_strategy(Some(
            to_list(&s.capacity_provider_strategy, UPDATE)?.unwrap_or_default(),
        ));
    }
    if has("deploymentConfiguration") {
        let config = match &s.deployment_configuration {
            Some(c) => c.to_sdk(UPDATE)?,
            None => default_deployment_configuration(d.is_daemon()),
        };
        b = b.deployment_configuration(config);
    }
    if has("availabilityZoneRebalancing") {
        b = b.set_availability_zone_rebalancing(to_enum(s.availability_zone_rebalancing));
    }
    if has("networkConfiguration") {
        b = b.set_network_configuration(to_opt(&s.network_configuration, UPDATE)?);
    }
    if has("placementConstraints") {
        b = b.set_placement_constraints(Some(
            to_list(&s.placement_constraints, UPDATE)?.unwrap_or_default(),
        ));
    }
    if has("placementStrategy") {
        b = b.set_placement_strategy(Some(
            to_list(&s.placement_strategy, UPDATE)?.unwrap_or_default(),
        ));
    }
    if has("platformVersion") {
        b = b.platform_version(s.platform_version.as_deref().unwrap_or("LATEST"));
    }
    if has("healthCheckGracePeriodSeconds") {
        b = b.health_check_grace_period_seconds(s.health_check_grace_period_seconds.unwrap_or(0));
    }
    if has("deploymentController") {
        let controller = match &s.deployment_controller {
            Some(c) => c.to_sdk(UPDATE)?,
            None => built(
                ecs::DeploymentController::builder()
                    .r#type(ecs::DeploymentControllerType::Ecs)
                    .build(),
                UPDATE,
            )?,
        };
        b = b.deployment_controller(controller);
    }
    if has("enableExecuteCommand") {
        b = b.enable_execute_command(s.enable_execute_command.unwrap_or(false));
    }
    if has("enableECSManagedTags") {
        b = b.enable_ecs_managed_tags(s.enable_ecs_managed_tags.unwrap_or(false));
    }
    if has("loadBalancers") {
        b = b.set_load_balancers(Some(
            to_list(&s.load_balancers, UPDATE)?.unwrap_or_default(),
        ));
    }
    if has("propagateTags") {
        b = b.propagate_tags(to_enum(s.propagate_tags).unwrap_or(ecs::PropagateTags::None));
    }
    if has("serviceRegistries") {
        b = b.set_service_registries(Some(
            to_list(&s.service_registries, UPDATE)?.unwrap_or_default(),
        ));
    }
    if has("serviceConnectConfiguration") {
        let config = match &s.service_connect_configuration {
            Some(c) => c.to_sdk(UPDATE)?,
            None => ecs::ServiceConnectConfiguration::builder()
                .enabled(false)
                .build(),
        };
        b = b.service_connect_configuration(config);
    }
    if has("volumeConfigurations") {
        b = b.set_volume_configurations(Some(
            to_list(&s.volume_configurations, UPDATE)?.unwrap_or_default(),
        ));
    }
    if has("vpcLatticeConfigurations") {
        b = b.set_vpc_lattice_configurations(Some(
            to_list(&s.vpc_lattice_configurations, UPDATE)?.unwrap_or_default(),
        ));
    }
    Ok(b)
}

/// UpdateService with forceNewDeployment: the restart requested by the restart annotation.
pub fn restart_input(d: &DesiredService) -> UpdateServiceInputBuilder {
    UpdateServiceInput::builder()
        .cluster(&d.cluster)
        .service(&d.service_name)
        .force_new_deployment(true)
}

impl DesiredService {
    fn is_daemon(&self) -> bool {
        self.spec.scheduling_strategy == Some(api::SchedulingStrategy::Daemon)
    }
}

/// AWS's deployment configuration when none is given (the values DescribeServices reports).
fn default_deployment_configuration(daemon: bool) -> ecs::DeploymentConfiguration {
    let (max, min) = if daemon { (100, 0) } else { (200, 100) };
    ecs::DeploymentConfiguration::builder()
        .maximum_percent(max)
        .minimum_healthy_percent(min)
        .deployment_circuit_breaker(
            ecs::DeploymentCircuitBreaker::builder()
                .enable(false)
                .rollback(false)
                .build(),
        )
        .strategy(ecs::DeploymentStrategy::Rolling)
        .build()
}

/// The state of `svc` (from DescribeServices with `include: TAGS`).
pub fn observed_from(svc: &ecs::Service) -> ObservedService {
    let deployments = svc.deployments.as_deref().unwrap_or_default();
    let primary = deployments
        .iter()
        .find(|d| d.status.as_deref() == Some("PRIMARY"));
    let mut events: Vec<&ecs::ServiceEvent> = svc.events.iter().flatten().collect();
    events.sort_by_key(|e| std::cmp::Reverse(e.created_at));
    let spec = EcsServiceSpec {
        service_name: svc.service_name.clone(),
        capacity_provider_strategy: from_list(&svc.capacity_provider_strategy),
        platform_version: svc.platform_version.clone(),
        role: svc.role_arn.clone(),
        deployment_configuration: from_opt(&svc.deployment_configuration),
        placement_constraints: from_list(&svc.placement_constraints),
        placement_strategy: from_list(&svc.placement_strategy),
        network_configuration: from_opt(&svc.network_configuration),
        health_check_grace_period_seconds: svc.health_check_grace_period_seconds,
        scheduling_strategy: from_enum(svc.scheduling_strategy.as_ref()),
        deployment_controller: from_opt(&svc.deployment_controller),
        load_balancers: from_list(&svc.load_balancers),
        service_registries: from_list(&svc.service_registries),
        service_connect_configuration: primary
            .and_then(|p| from_opt(&p.service_connect_configuration)),
        enable_execute_command: Some(svc.enable_execute_command),
        propagate_tags: from_enum(svc.propagate_tags.as_ref()),
        enable_ecs_managed_tags: Some(svc.enable_ecs_managed_tags),
        availability_zone_rebalancing: from_enum(svc.availability_zone_rebalancing.as_ref()),
        volume_configurations: primary.and_then(|p| from_list(&p.volume_configurations)),
        vpc_lattice_configurations: primary.and_then(|p| from_list(&p.vpc_lattice_configurations)),
        launch_type: from_enum(svc.launch_type.as_ref()),
        desired_count: Some(svc.desired_count),
        ..EcsServiceSpec::default()
    };
    ObservedService {
        arn: svc.service_arn.clone(),
        service_name: svc.service_name.clone(),
        cluster_arn: svc.cluster_arn.clone(),
        status: svc.status.clone(),
        desired_count: svc.desired_count,
        running_count: svc.running_count,
        pending_count: svc.pending_count,
        task_definition: svc.task_definition.clone(),
        launch_type: svc.launch_type.as_ref().map(|l| l.as_str().to_string()),
        scheduling_strategy: svc
            .scheduling_strategy
            .as_ref()
            .map(|s| s.as_str().to_string()),
        spec,
        tags: svc
            .tags
            .iter()
            .flatten()
            .filter_map(|t| Some((t.key.clone()?, t.value.clone().unwrap_or_default())))
            .collect(),
        deployments: deployments.iter().map(deployment_status).collect(),
        events: events
            .into_iter()
            .take(EVENTS_KEPT)
            .map(|e| ServiceEventStatus {
                id: e.id.clone(),
                created_at: e.created_at.as_ref().and_then(rfc3339),
                message: e.message.clone(),
            })
            .collect(),
    }
}

fn deployment_status(d: &ecs::Deployment) -> DeploymentStatus {
    DeploymentStatus {
        id: d.id.clone(),
        status: d.status.clone(),
        task_definition: d.task_definition.clone(),
        rollout_state: d.rollout_state.as_ref().map(|r| r.as_str().to_string()),
        rollout_state_reason: d.rollout_state_reason.clone(),
        desired_count: d.desired_count,
        running_count: d.running_count,
        pending_count: d.pending_count,
        failed_tasks: d.failed_tasks,
        created_at: d.created_at.as_ref().and_then(rfc3339),
        updated_at: d.updated_at.as_ref().and_then(rfc3339),
    }
}

fn rfc3339(t: &aws_smithy_types::DateTime) -> Option<String> {
    t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()
}

/// What must change for the service to match the spec. Create-only fields (serviceName,
/// cluster, launchType, schedulingStrategy, role) are not compared: the API server keeps the
/// first four immutable, and UpdateService cannot change any of them.
pub fn diff(d: &DesiredService, o: &ObservedService) -> Vec<Change> {
    let mut changes = Vec::new();
    let fields = changed_fields(d, o);
    if !fields.is_empty() {
        changes.push(Change::UpdateService { fields });
    }
    let want: BTreeMap<String, String> = d
        .spec
        .tags
        .iter()
        .flatten()
        .filter_map(|t| Some((t.key.clone()?, t.value.clone().unwrap_or_default())))
        .collect();
    let add: BTreeMap<String, String> = want
        .iter()
        .filter(|(k, v)| o.tags.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // `aws:` tags belong to AWS and cannot be removed.
    let remove: Vec<String> = o
        .tags
        .keys()
        .filter(|k| !want.contains_key(*k) && !k.starts_with("aws:"))
        .cloned()
        .collect();
    if !add.is_empty() {
        changes.push(Change::AddTags(add));
    }
    if !remove.is_empty() {
        changes.push(Change::RemoveTags(remove));
    }
    changes
}

/// Spec fields (AWS JSON names) UpdateService can change whose desired and observed values
/// differ once AWS defaults are taken into account.
fn changed_fields(d: &DesiredService, o: &ObservedService) -> Vec<&'static str> {
    let want = &d.spec;
    let have = &o.spec;
    let daemon = d.is_daemon();
    let mut fields = Vec::new();
    if let Some(count) = want.desired_count
        && count != o.desired_count
    {
        fields.push("desiredCount");
    }
    if !d.task_definition.is_empty()
        && !o
            .task_definition
            .as_deref()
            .is_some_and(|arn| task_definition_matches(&d.task_definition, arn))
    {
        fields.push("taskDefinition");
    }
    // Unset means "the cluster's default strategy", which AWS copies into the service.
    if want.capacity_provider_strategy.is_some()
        && canon_capacity(&want.capacity_provider_strategy)
            != canon_capacity(&have.capacity_provider_strategy)
    {
        fields.push("capacityProviderStrategy");
    }
    if canon_deployment(&want.deployment_configuration, daemon)
        != canon_deployment(&have.deployment_configuration, daemon)
    {
        fields.push("deploymentConfiguration");
    }
    // Unset: AWS picks the default at create (ENABLED today) and keeps it on update.
    if want.availability_zone_rebalancing.is_some()
        && want.availability_zone_rebalancing != have.availability_zone_rebalancing
    {
        fields.push("availabilityZoneRebalancing");
    }
    if canon_network(&want.network_configuration, &want.network_configuration)
        != canon_network(&have.network_configuration, &want.network_configuration)
    {
        fields.push("networkConfiguration");
    }
    if canon_set(&want.placement_constraints) != canon_set(&have.placement_constraints) {
        fields.push("placementConstraints");
    }
    if canon_list(&want.placement_strategy) != canon_list(&have.placement_strategy) {
        fields.push("placementStrategy");
    }
    let platform = |v: &Option<String>| v.clone().filter(|p| p != "LATEST");
    if platform(&want.platform_version) != platform(&have.platform_version) {
        fields.push("platformVersion");
    }
    if want.health_check_grace_period_seconds.unwrap_or(0)
        != have.health_check_grace_period_seconds.unwrap_or(0)
    {
        fields.push("healthCheckGracePeriodSeconds");
    }
    let controller = |c: &Option<api::DeploymentController>| {
        c.as_ref()
            .map_or(api::DeploymentControllerType::Ecs, |c| c.type_)
    };
    if controller(&want.deployment_controller) != controller(&have.deployment_controller) {
        fields.push("deploymentController");
    }
    if want.enable_execute_command.unwrap_or(false) != have.enable_execute_command.unwrap_or(false)
    {
        fields.push("enableExecuteCommand");
    }
    if want.enable_ecs_managed_tags.unwrap_or(false)
        != have.enable_ecs_managed_tags.unwrap_or(false)
    {
        fields.push("enableECSManagedTags");
    }
    if canon_set(&want.load_balancers) != canon_set(&have.load_balancers) {
        fields.push("loadBalancers");
    }
    let propagate = |p: Option<api::PropagateTags>| p.unwrap_or(api::PropagateTags::None);
    if propagate(want.propagate_tags) != propagate(have.propagate_tags) {
        fields.push("propagateTags");
    }
    if canon_set(&want.service_registries) != canon_set(&have.service_registries) {
        fields.push("serviceRegistries");
    }
    if canon_service_connect(&want.service_connect_configuration)
        != canon_service_connect(&have.service_connect_configuration)
    {
        fields.push("serviceConnectConfiguration");
    }
    if canon_set(&want.volume_configurations) != canon_set(&have.volume_configurations) {
        fields.push("volumeConfigurations");
    }
    if canon_set(&want.vpc_lattice_configurations) != canon_set(&have.vpc_lattice_configurations) {
        fields.push("vpcLatticeConfigurations");
    }
    fields
}

/// Whether the task definition in use (`observed`, normally an ARN) is the one asked for:
/// an ARN must match exactly; `family:revision` and `family` match the ARN's suffix.
pub fn task_definition_matches(desired: &str, observed: &str) -> bool {
    if desired.starts_with("arn:") {
        return desired == observed;
    }
    let in_use = observed
        .rsplit_once(":task-definition/")
        .map_or(observed, |(_, rest)| rest);
    if desired.contains(':') {
        in_use == desired
    } else {
        in_use.split(':').next() == Some(desired)
    }
}

/// JSON without nulls and empty containers (an empty result is null), so "unset" and
/// "empty" compare equal. Default values are removed by the callers.
fn canon<T: Serialize>(value: &T) -> Value {
    let mut v = serde_json::to_value(value).unwrap_or_default();
    prune(&mut v);
    empty_is_null(v)
}

fn empty_is_null(v: Value) -> Value {
    match &v {
        Value::Object(o) if o.is_empty() => Value::Null,
        Value::Array(a) if a.is_empty() => Value::Null,
        _ => v,
    }
}

fn prune(v: &mut Value) {
    match v {
        Value::Object(obj) => {
            obj.values_mut().for_each(prune);
            obj.retain(|_, child| match child {
                Value::Null => false,
                Value::Array(a) => !a.is_empty(),
                Value::Object(o) => !o.is_empty(),
                _ => true,
            });
        }
        Value::Array(items) => items.iter_mut().for_each(prune),
        _ => {}
    }
}

fn remove_if(obj: &mut Map<String, Value>, key: &str, default: impl Into<Value>) {
    if obj.get(key) == Some(&default.into()) {
        obj.remove(key);
    }
}

/// A list whose order carries no meaning.
fn canon_set<T: Serialize>(items: &Option<Vec<T>>) -> Value {
    let mut v = canon(items);
    if let Value::Array(a) = &mut v {
        a.sort_by_cached_key(Value::to_string);
    }
    if v.as_array().is_some_and(Vec::is_empty) {
        return Value::Null;
    }
    v
}

/// A list whose order matters.
fn canon_list<T: Serialize>(items: &Option<Vec<T>>) -> Value {
    let v = canon(items);
    if v.as_array().is_some_and(Vec::is_empty) {
        return Value::Null;
    }
    v
}

fn canon_capacity(items: &Option<Vec<api::CapacityProviderStrategyItem>>) -> Value {
    let mut v = canon_set(items);
    if let Value::Array(a) = &mut v {
        for item in a.iter_mut().filter_map(Value::as_object_mut) {
            remove_if(item, "weight", 0);
            remove_if(item, "base", 0);
        }
        a.sort_by_cached_key(Value::to_string);
    }
    v
}

fn canon_deployment(config: &Option<api::DeploymentConfiguration>, daemon: bool) -> Value {
    let mut v = canon(config);
    let Some(obj) = v.as_object_mut() else {
        return Value::Null;
    };
    let (max, min) = if daemon { (100, 0) } else { (200, 100) };
    remove_if(obj, "maximumPercent", max);
    remove_if(obj, "minimumHealthyPercent", min);
    remove_if(obj, "strategy", "ROLLING");
    remove_if(obj, "bakeTimeInMinutes", 0);
    if let Some(Value::Object(cb)) = obj.get_mut("deploymentCircuitBreaker") {
        remove_if(cb, "enable", false);
        remove_if(cb, "rollback", false);
    }
    if let Some(Value::Object(alarms)) = obj.get_mut("alarms") {
        remove_if(alarms, "enable", false);
        remove_if(alarms, "rollback", false);
        if let Some(Value::Array(names)) = alarms.get_mut("alarmNames") {
            names.sort_by_cached_key(Value::to_string);
        }
    }
    prune(&mut v);
    empty_is_null(v)
}

/// Security groups are compared only when the spec lists them (AWS fills in the VPC default).
fn canon_network(
    config: &Option<api::NetworkConfiguration>,
    wanted: &Option<api::NetworkConfiguration>,
) -> Value {
    let mut config = config.clone();
    let want_groups = wanted
        .as_ref()
        .and_then(|n| n.awsvpc_configuration.as_ref())
        .is_some_and(|c| c.security_groups.is_some());
    if let Some(vpc) = config
        .as_mut()
        .and_then(|n| n.awsvpc_configuration.as_mut())
    {
        vpc.subnets.sort();
        if let Some(groups) = &mut vpc.security_groups {
            groups.sort();
        }
        if !want_groups {
            vpc.security_groups = None;
        }
        if vpc.assign_public_ip == Some(api::AssignPublicIp::Disabled) {
            vpc.assign_public_ip = None;
        }
    }
    canon(&config)
}

fn canon_service_connect(config: &Option<api::ServiceConnectConfiguration>) -> Value {
    match config {
        Some(c) if c.enabled => canon(c),
        // Disabled Service Connect is the same as none.
        _ => Value::Null,
    }
}

/// Ready, progressing, a stable reason and a message, from the PRIMARY deployment.
pub fn readiness(o: &ObservedService) -> (bool, bool, &'static str, String) {
    if let Some(status) = o.status.as_deref()
        && status != "ACTIVE"
    {
        return (false, false, "Waiting", format!("service is {status}"));
    }
    let primary = o
        .deployments
        .iter()
        .find(|d| d.status.as_deref() == Some("PRIMARY"));
    let rollout = primary.and_then(|p| p.rollout_state.as_deref());
    let reason_text = primary
        .and_then(|p| p.rollout_state_reason.clone())
        .unwrap_or_default();
    let counts = format!(
        "{} running, {} pending, {} desired",
        o.running_count, o.pending_count, o.desired_count
    );
    if rollout == Some("FAILED") {
        return (
            false,
            false,
            "RolloutFailed",
            format!("deployment failed: {reason_text} ({counts})"),
        );
    }
    let several = o.deployments.len() > 1;
    let complete = match rollout {
        Some(state) => state == "COMPLETED",
        None => !several,
    };
    if complete && o.running_count == o.desired_count {
        if o.desired_count == 0 {
            return (
                true,
                false,
                "ScaledDown",
                format!("scaled to zero ({counts})"),
            );
        }
        return (true, false, "RolloutComplete", counts);
    }
    if rollout == Some("IN_PROGRESS") || several {
        let mut message = format!("rollout in progress: {counts}");
        if !reason_text.is_empty() {
            message = format!("{message}; {reason_text}");
        }
        return (false, true, "RolloutInProgress", message);
    }
    (
        false,
        o.pending_count > 0,
        "Waiting",
        format!("waiting for tasks: {counts}"),
    )
}

/// The AWS-derived part of the status, as JSON (camelCase, like [`EcsServiceStatus`]): to be
/// merged with conditions, observedGeneration and restartedAt by the caller.
pub fn status_fields(o: &ObservedService) -> Map<String, Value> {
    let primary = o
        .deployments
        .iter()
        .find(|d| d.status.as_deref() == Some("PRIMARY"));
    let status = EcsServiceStatus {
        arn: o.arn.clone(),
        cluster_arn: o.cluster_arn.clone(),
        status: o.status.clone(),
        desired_count: Some(o.desired_count),
        running_count: Some(o.running_count),
        pending_count: Some(o.pending_count),
        task_definition: o.task_definition.clone(),
        rollout_state: primary.and_then(|p| p.rollout_state.clone()),
        rollout_state_reason: primary.and_then(|p| p.rollout_state_reason.clone()),
        deployments: o.deployments.clone(),
        events: o.events.clone(),
        ..EcsServiceStatus::default()
    };
    let mut map = match serde_json::to_value(status) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    // Owned by the caller.
    map.remove("conditions");
    // Cleared when AWS no longer reports them.
    for key in ["rolloutState", "rolloutStateReason", "taskDefinition"] {
        map.entry(key).or_insert(Value::Null);
    }
    map
}

// ---- spec -> SDK ---------------------------------------------------------------------------

/// An API type with an SDK counterpart in the CreateService / UpdateService request.
trait ToSdk {
    type Sdk;
    fn to_sdk(&self, op: &'static str) -> Result<Self::Sdk, AwsError>;
}

fn built<T>(result: Result<T, BuildError>, op: &'static str) -> Result<T, AwsError> {
    result.map_err(|e| AwsError::terminal(op, "InvalidServiceSpec", e.to_string()))
}

fn to_opt<T: ToSdk>(item: &Option<T>, op: &'static str) -> Result<Option<T::Sdk>, AwsError> {
    item.as_ref().map(|i| i.to_sdk(op)).transpose()
}

fn to_list<T: ToSdk>(
    items: &Option<Vec<T>>,
    op: &'static str,
) -> Result<Option<Vec<T::Sdk>>, AwsError> {
    items
        .as_ref()
        .map(|v| v.iter().map(|i| i.to_sdk(op)).collect())
        .transpose()
}

fn to_document(v: &Value) -> Document {
    match v {
        Value::Null => Document::Null,
        Value::Bool(b) => Document::Bool(*b),
        Value::Number(n) => Document::Number(if let Some(u) = n.as_u64() {
            Number::PosInt(u)
        } else if let Some(i) = n.as_i64() {
            Number::NegInt(i)
        } else {
            Number::Float(n.as_f64().unwrap_or_default())
        }),
        Value::String(s) => Document::String(s.clone()),
        Value::Array(a) => Document::Array(a.iter().map(to_document).collect()),
        Value::Object(o) => {
            Document::Object(o.iter().map(|(k, v)| (k.clone(), to_document(v))).collect())
        }
    }
}

fn from_document(d: &Document) -> Value {
    match d {
        Document::Null => Value::Null,
        Document::Bool(b) => Value::Bool(*b),
        Document::Number(Number::PosInt(u)) => Value::from(*u),
        Document::Number(Number::NegInt(i)) => Value::from(*i),
        Document::Number(Number::Float(f)) => Value::from(*f),
        Document::String(s) => Value::String(s.clone()),
        Document::Array(a) => Value::Array(a.iter().map(from_document).collect()),
        Document::Object(o) => {
            let sorted: BTreeMap<_, _> = o.iter().collect();
            Value::Object(
                sorted
                    .into_iter()
                    .map(|(k, v)| (k.clone(), from_document(v)))
                    .collect(),
            )
        }
    }
}

impl ToSdk for api::Tag {
    type Sdk = ecs::Tag;
    fn to_sdk(&self, _: &'static str) -> Result<Self::Sdk, AwsError> {
        Ok(ecs::Tag::builder()
            .set_key(self.key.clone())
            .set_value(self.value.clone())
            .build())
    }
}

impl FromSdk<ecs::Tag> for api::Tag {
    fn from_sdk(s: &ecs::Tag) -> Option<Self> {
        Some(Self {
            key: s.key.clone(),
            value: s.value.clone(),
        })
    }
}

impl ToSdk for api::CapacityProviderStrategyItem {
    type Sdk = ecs::CapacityProviderStrategyItem;
    fn to_sdk(&self, op: &'static str) -> Result<Self::Sdk, AwsError> {
        built(
            ecs::CapacityProviderStrategyItem::builder()
                .capacity_provider(&self.capacity_provider)
                .set_weight(self.weight)
                .set_base(self.base)
                .build(),
            op,
        )
    }
}

impl FromSdk<ecs::CapacityProviderStrategyItem> for api::CapacityProviderStrategyItem {
    fn from_sdk(s: &ecs::CapacityProviderStrategyItem) -> Option<Self> {
        Some(Self {
            capacity_provider: s.capacity_provider.clone(),
            weight: Some(s.weight),
            base: Some(s.base),
        })
    }
}

impl ToSdk for api::DeploymentConfiguration {
    type Sdk = ecs::DeploymentConfiguration;
    fn to_sdk(&self, op: &'static str) -> Result<Self::Sdk, AwsError> {
        let breaker = self.deployment_circuit_breaker.as_ref().map(|b| {
            Ok::<_, AwsError>(
                ecs::DeploymentCircuitBreaker::builder()
                    .enable(b.enable)
                    .rollback(b.rollback)
                    .set_reset_on_healthy_task(b.reset_on_healthy_task)
                    .set_threshold_configuration(
                        b.threshold_configuration
                            .as_ref()
                            .map(|t| {
                                built(
                                    ecs::ThresholdConfiguration::builder()
                                        .r#type(ecs::ThresholdType::from(t.type_.as_str()))
                                        .value(t.value)
                                        .build(),
                                    op,
                                )
                            })
                            .transpose()?,
                    )
                    .build(),
            )
        });
        let alarms = self
            .alarms
            .as_ref()
            .map(|a| {
                built(
                    ecs::DeploymentAlarms::builder()
                        .set_alarm_names(Some(a.alarm_names.clone()))
                        .enable(a.enable)
                        .rollback(a.rollback)
                        .build(),
                    op,
                )
            })
            .transpose()?;
        let hooks = self.lifecycle_hooks.as_ref().map(|hooks| {
            hooks
                .iter()
                .map(|h| {
                    ecs::DeploymentLifecycleHook::builder()
                        .set_target_type(to_enum(h.target_type))
                        .set_hook_target_arn(h.hook_target_arn.clone())
                        .set_role_arn(h.role_arn.clone())
                        .set_lifecycle_stages(to_enum_list(&h.lifecycle_stages))
                        .set_hook_details(h.hook_details.as_ref().map(to_document))
                        .set_timeout_configuration(h.timeout_configuration.as_ref().map(|t| {
                            ecs::DeploymentLifecycleHookTimeoutConfiguration::builder()
                                .set_timeout_in_minutes(t.timeout_in_minutes)
                                .set_action(to_enum(t.action))
                                .build()
                        }))
                        .build()
                })
                .collect()
        });
        Ok(ecs::DeploymentConfiguration::builder()
            .set_deployment_circuit_breaker(breaker.transpose()?)
            .set_maximum_percent(self.maximum_percent)
            .set_minimum_healthy_percent(self.minimum_healthy_percent)
            .set_alarms(alarms)
            .set_strategy(to_enum(self.strategy))
            .set_bake_time_in_minutes(self.bake_time_in_minutes)
            .set_lifecycle_hooks(hooks)
            .set_linear_configuration(self.linear_configuration.as_ref().map(|l| {
                ecs::LinearConfiguration::builder()
                    .set_step_percent(l.step_percent)
                    .set_step_bake_time_in_minutes(l.step_bake_time_in_minutes)
                    .build()
            }))
            .set_canary_configuration(self.canary_configuration.as_ref().map(|c| {
                ecs::CanaryConfiguration::builder()
                    .set_canary_percent(c.canary_percent)
                    .set_canary_bake_time_in_minutes(c.canary_bake_time_in_minutes)
                    .build()
            }))
            .set_early_success_criteria(self.early_success_criteria.as_ref().map(|e| {
                ecs::DeploymentEarlySuccessCriteria::builder()
                    .enable(e.enable)
                    .set_healthy_percent(e.healthy_percent)
                    .set_source_service_revision_cleanup(to_enum(e.source_service_revision_cleanup))
                    .build()
            }))
            .build())
    }
}

impl FromSdk<ecs::DeploymentConfiguration> for api::DeploymentConfiguration {
    fn from_sdk(s: &ecs::DeploymentConfiguration) -> Option<Self> {
        Some(Self {
            deployment_circuit_breaker: s.deployment_circuit_breaker.as_ref().map(|b| {
                api::DeploymentCircuitBreaker {
                    enable: b.enable,
                    rollback: b.rollback,
                    reset_on_healthy_task: b.reset_on_healthy_task,
                    threshold_configuration: b.threshold_configuration.as_ref().and_then(|t| {
                        Some(api::ThresholdConfiguration {
                            type_: api::ThresholdType::from_aws(t.r#type.as_str())?,
                            value: t.value,
                        })
                    }),
                }
            }),
            maximum_percent: s.maximum_percent,
            minimum_healthy_percent: s.minimum_healthy_percent,
            alarms: s.alarms.as_ref().map(|a| api::DeploymentAlarms {
                alarm_names: a.alarm_names.clone(),
                enable: a.enable,
                rollback: a.rollback,
            }),
            strategy: from_enum(s.strategy.as_ref()),
            bake_time_in_minutes: s.bake_time_in_minutes,
            lifecycle_hooks: s.lifecycle_hooks.as_ref().map(|hooks| {
                hooks
                    .iter()
                    .map(|h| api::DeploymentLifecycleHook {
                        target_type: from_enum(h.target_type.as_ref()),
                        hook_target_arn: h.hook_target_arn.clone(),
                        role_arn: h.role_arn.clone(),
                        lifecycle_stages: from_enum_list(&h.lifecycle_stages),
                        hook_details: h.hook_details.as_ref().map(from_document),
                        timeout_configuration: h.timeout_configuration.as_ref().map(|t| {
                            api::DeploymentLifecycleHookTimeoutConfiguration {
                                timeout_in_minutes: t.timeout_in_minutes,
                                action: from_enum(t.action.as_ref()),
                            }
                        }),
                    })
                    .collect()
            }),
            linear_configuration: s.linear_configuration.as_ref().map(|l| {
                api::LinearConfiguration {
                    step_percent: l.step_percent,
                    step_bake_time_in_minutes: l.step_bake_time_in_minutes,
                }
            }),
            canary_configuration: s.canary_configuration.as_ref().map(|c| {
                api::CanaryConfiguration {
                    canary_percent: c.canary_percent,
                    canary_bake_time_in_minutes: c.canary_bake_time_in_minutes,
                }
            }),
            early_success_criteria: s.early_success_criteria.as_ref().map(|e| {
                api::DeploymentEarlySuccessCriteria {
                    enable: e.enable,
                    healthy_percent: e.healthy_percent,
                    source_service_revision_cleanup: from_enum(
                        e.source_service_revision_cleanup.as_ref(),
                    ),
                }
            }),
        })
    }
}

impl ToSdk for api::DeploymentController {
    type Sdk = ecs::DeploymentController;
    fn to_sdk(&self, op: &'static str) -> Result<Self::Sdk, AwsError> {
        built(
            ecs::DeploymentController::builder()
                .r#type(ecs::DeploymentControllerType::from(self.type_.as_str()))
                .build(),
            op,
        )
    }
}

impl FromSdk<ecs::DeploymentController> for api::DeploymentController {
    fn from_sdk(s: &ecs::DeploymentController) -> Option<Self> {
        Some(Self {
            type_: api::DeploymentControllerType::from_aws(s.r#type.as_str())?,
        })
    }
}

impl ToSdk for api::NetworkConfiguration {
    type Sdk = ecs::NetworkConfiguration;
    fn to_sdk(&self, op: &'static str) -> Result<Self::Sdk, AwsError> {
        let vpc = self
            .awsvpc_configuration
            .as_ref()
            .map(|c| {
                built(
                    ecs::AwsVpcConfiguration::builder()
                        .set_subnets(Some(c.subnets.clone()))
                        .set_security_groups(c.security_groups.clone())
                        .set_assign_public_ip(to_enum(c.assign_public_ip))
                        .build(),
                    op,
                )
            })
            .transpose()?;
        Ok(ecs::NetworkConfiguration::builder()
            .set_awsvpc_configuration(vpc)
            .build())
    }
}

impl FromSdk<ecs::NetworkConfiguration> for api::NetworkConfiguration {
    fn from_sdk(s: &ecs::NetworkConfiguration) -> Option<Self> {
        Some(Self {
            awsvpc_configuration: s.awsvpc_configuration.as_ref().map(|c| {
                api::AwsVpcConfiguration {
                    subnets: c.subnets.clone(),
                    security_groups: c.security_groups.clone(),
                    assign_public_ip: from_enum(c.assign_public_ip.as_ref()),
                }
            }),
        })
    }
}

impl ToSdk for api::LoadBalancer {
    type Sdk = ecs::LoadBalancer;
    fn to_sdk(&self, _: &'static str) -> Result<Self::Sdk, AwsError> {
        Ok(ecs::LoadBalancer::builder()
            .set_target_group_arn(self.target_group_arn.clone())
            .set_load_balancer_name(self.load_balancer_name.clone())
            .set_container_name(self.container_name.clone())
            .set_container_port(self.container_port)
            .set_advanced_configuration(self.advanced_configuration.as_ref().map(|a| {
                ecs::AdvancedConfiguration::builder()
                    .set_alternate_target_group_arn(a.alternate_target_group_arn.clone())
                    .set_production_listener_rule(a.production_listener_rule.clone())
                    .set_test_listener_rule(a.test_listener_rule.clone())
                    .set_role_arn(a.role_arn.clone())
                    .build()
            }))
            .build())
    }
}

impl FromSdk<ecs::LoadBalancer> for api::LoadBalancer {
    fn from_sdk(s: &ecs::LoadBalancer) -> Option<Self> {
        Some(Self {
            target_group_arn: s.target_group_arn.clone(),
            load_balancer_name: s.load_balancer_name.clone(),
            container_name: s.container_name.clone(),
            container_port: s.container_port,
            advanced_configuration: s.advanced_configuration.as_ref().map(|a| {
                api::AdvancedConfiguration {
                    alternate_target_group_arn: a.alternate_target_group_arn.clone(),
                    production_listener_rule: a.production_listener_rule.clone(),
                    test_listener_rule: a.test_listener_rule.clone(),
                    role_arn: a.role_arn.clone(),
                }
            }),
        })
    }
}

impl ToSdk for api::ServiceRegistry {
    type Sdk = ecs::ServiceRegistry;
    fn to_sdk(&self, _: &'static str) -> Result<Self::Sdk, AwsError> {
        Ok(ecs::ServiceRegistry::builder()
            .set_registry_arn(self.registry_arn.clone())
            .set_port(self.port)
            .set_container_name(self.container_name.clone())
            .set_container_port(self.container_port)
            .build())
    }
}

impl FromSdk<ecs::ServiceRegistry> for api::ServiceRegistry {
    fn from_sdk(s: &ecs::ServiceRegistry) -> Option<Self> {
        Some(Self {
            registry_arn: s.registry_arn.clone(),
            port: s.port,
            container_name: s.container_name.clone(),
            container_port: s.container_port,
        })
    }
}

impl ToSdk for api::PlacementConstraint {
    type Sdk = ecs::PlacementConstraint;
    fn to_sdk(&self, _: &'static str) -> Result<Self::Sdk, AwsError> {
        Ok(ecs::PlacementConstraint::builder()
            .set_type(to_enum(self.type_))
            .set_expression(self.expression.clone())
            .build())
    }
}

impl FromSdk<ecs::PlacementConstraint> for api::PlacementConstraint {
    fn from_sdk(s: &ecs::PlacementConstraint) -> Option<Self> {
        Some(Self {
            type_: from_enum(s.r#type.as_ref()),
            expression: s.expression.clone(),
        })
    }
}

impl ToSdk for api::PlacementStrategy {
    type Sdk = ecs::PlacementStrategy;
    fn to_sdk(&self, _: &'static str) -> Result<Self::Sdk, AwsError> {
        Ok(ecs::PlacementStrategy::builder()
            .set_type(to_enum(self.type_))
            .set_field(self.field.clone())
            .build())
    }
}

impl FromSdk<ecs::PlacementStrategy> for api::PlacementStrategy {
    fn from_sdk(s: &ecs::PlacementStrategy) -> Option<Self> {
        Some(Self {
            type_: from_enum(s.r#type.as_ref()),
            field: s.field.clone(),
        })
    }
}

impl ToSdk for api::ServiceConnectConfiguration {
    type Sdk = ecs::ServiceConnectConfiguration;
    fn to_sdk(&self, op: &'static str) -> Result<Self::Sdk, AwsError> {
        let log = self
            .log_configuration
            .as_ref()
            .map(|l| {
                let secrets = l
                    .secret_options
                    .as_ref()
                    .map(|s| {
                        s.iter()
                            .map(|s| {
                                built(
                                    ecs::Secret::builder()
                                        .name(&s.name)
                                        .value_from(&s.value_from)
                                        .build(),
                                    op,
                                )
                            })
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .transpose()?;
                built(
                    ecs::LogConfiguration::builder()
                        .log_driver(ecs::LogDriver::from(l.log_driver.as_str()))
                        .set_options(l.options.as_ref().map(|o| {
                            o.iter()
                                .map(|(k, v)| (k.clone(), v.clone()))
                                .collect::<HashMap<_, _>>()
                        }))
                        .set_secret_options(secrets)
                        .build(),
                    op,
                )
            })
            .transpose()?;
        let access_log = self
            .access_log_configuration
            .as_ref()
            .map(|a| {
                built(
                    ecs::ServiceConnectAccessLogConfiguration::builder()
                        .format(ecs::ServiceConnectAccessLoggingFormat::from(
                            a.format.as_str(),
                        ))
                        .set_include_query_parameters(to_enum(a.include_query_parameters))
                        .build(),
                    op,
                )
            })
            .transpose()?;
        Ok(ecs::ServiceConnectConfiguration::builder()
            .enabled(self.enabled)
            .set_namespace(self.namespace.clone())
            .set_services(to_list(&self.services, op)?)
            .set_log_configuration(log)
            .set_access_log_configuration(access_log)
            .set_container_configurations(self.container_configurations.as_ref().map(|c| {
                c.iter()
                    .filter_map(|c| {
                        c.log_level.map(|l| {
                            ecs::ServiceConnectContainerConfiguration::LogLevel(
                                ecs::ServiceConnectContainerLogLevel::from(l.as_str()),
                            )
                        })
                    })
                    .collect()
            }))
            .build())
    }
}

impl FromSdk<ecs::ServiceConnectConfiguration> for api::ServiceConnectConfiguration {
    fn from_sdk(s: &ecs::ServiceConnectConfiguration) -> Option<Self> {
        Some(Self {
            enabled: s.enabled,
            namespace: s.namespace.clone(),
            services: from_list(&s.services),
            log_configuration: s.log_configuration.as_ref().and_then(|l| {
                Some(api::LogConfiguration {
                    log_driver: AwsEnum::from_aws(l.log_driver.as_str())?,
                    options: l
                        .options
                        .as_ref()
                        .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
                    secret_options: l.secret_options.as_ref().map(|s| {
                        s.iter()
                            .map(|s| crate::api::task_definition::Secret {
                                name: s.name.clone(),
                                value_from: s.value_from.clone(),
                            })
                            .collect()
                    }),
                })
            }),
            access_log_configuration: s.access_log_configuration.as_ref().and_then(|a| {
                Some(api::ServiceConnectAccessLogConfiguration {
                    format: AwsEnum::from_aws(a.format.as_str())?,
                    include_query_parameters: from_enum(a.include_query_parameters.as_ref()),
                })
            }),
            container_configurations: s.container_configurations.as_ref().map(|c| {
                c.iter()
                    .filter_map(|c| match c {
                        ecs::ServiceConnectContainerConfiguration::LogLevel(l) => {
                            Some(api::ServiceConnectContainerConfiguration {
                                log_level: AwsEnum::from_aws(l.as_str()),
                            })
                        }
                        _ => None,
                    })
                    .collect()
            }),
        })
    }
}

impl ToSdk for api::ServiceConnectService {
    type Sdk = ecs::ServiceConnectService;
    fn to_sdk(&self, op: &'static str) -> Result<Self::Sdk, AwsError> {
        let aliases = self
            .client_aliases
            .as_ref()
            .map(|aliases| {
                aliases
                    .iter()
                    .map(|a| {
                        let header = a
                            .test_traffic_rules
                            .as_ref()
                            .and_then(|r| r.header.as_ref())
                            .map(|h| {
                                let value = h
                                    .value
                                    .as_ref()
                                    .map(|v| {
                                        built(
                                            ecs::ServiceConnectTestTrafficHeaderMatchRules::builder()
                                                .exact(&v.exact)
                                                .build(),
                                            op,
                                        )
                                    })
                                    .transpose()?;
                                built(
                                    ecs::ServiceConnectTestTrafficHeaderRules::builder()
                                        .name(&h.name)
                                        .set_value(value)
                                        .build(),
                                    op,
                                )
                            })
                            .transpose()?;
                        built(
                            ecs::ServiceConnectClientAlias::builder()
                                .port(a.port)
                                .set_dns_name(a.dns_name.clone())
                                .set_test_traffic_rules(a.test_traffic_rules.as_ref().map(|_| {
                                    ecs::ServiceConnectTestTrafficRules::builder()
                                        .set_header(header)
                                        .build()
                                }))
                                .build(),
                            op,
                        )
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        built(
            ecs::ServiceConnectService::builder()
                .port_name(&self.port_name)
                .set_discovery_name(self.discovery_name.clone())
                .set_client_aliases(aliases)
                .set_ingress_port_override(self.ingress_port_override)
                .set_timeout(self.timeout.as_ref().map(|t| {
                    ecs::TimeoutConfiguration::builder()
                        .set_idle_timeout_seconds(t.idle_timeout_seconds)
                        .set_per_request_timeout_seconds(t.per_request_timeout_seconds)
                        .build()
                }))
                .set_tls(self.tls.as_ref().map(|t| {
                    ecs::ServiceConnectTlsConfiguration::builder()
                        .set_issuer_certificate_authority(
                            t.issuer_certificate_authority.as_ref().map(|ca| {
                                ecs::ServiceConnectTlsCertificateAuthority::builder()
                                    .set_aws_pca_authority_arn(ca.aws_pca_authority_arn.clone())
                                    .build()
                            }),
                        )
                        .set_kms_key(t.kms_key.clone())
                        .set_role_arn(t.role_arn.clone())
                        .build()
                }))
                .build(),
            op,
        )
    }
}

impl FromSdk<ecs::ServiceConnectService> for api::ServiceConnectService {
    fn from_sdk(s: &ecs::ServiceConnectService) -> Option<Self> {
        Some(Self {
            port_name: s.port_name.clone(),
            discovery_name: s.discovery_name.clone(),
            client_aliases: s.client_aliases.as_ref().map(|aliases| {
                aliases
                    .iter()
                    .map(|a| api::ServiceConnectClientAlias {
                        port: a.port,
                        dns_name: a.dns_name.clone(),
                        test_traffic_rules: a.test_traffic_rules.as_ref().map(|r| {
                            api::ServiceConnectTestTrafficRules {
                                header: r.header.as_ref().map(|h| {
                                    api::ServiceConnectTestTrafficHeaderRules {
                                        name: h.name.clone(),
                                        value: h.value.as_ref().map(|v| {
                                            api::ServiceConnectTestTrafficHeaderMatchRules {
                                                exact: v.exact.clone(),
                                            }
                                        }),
                                    }
                                }),
                            }
                        }),
                    })
                    .collect()
            }),
            ingress_port_override: s.ingress_port_override,
            timeout: s.timeout.as_ref().map(|t| api::TimeoutConfiguration {
                idle_timeout_seconds: t.idle_timeout_seconds,
                per_request_timeout_seconds: t.per_request_timeout_seconds,
            }),
            tls: s.tls.as_ref().map(|t| api::ServiceConnectTlsConfiguration {
                issuer_certificate_authority: t.issuer_certificate_authority.as_ref().map(|ca| {
                    api::ServiceConnectTlsCertificateAuthority {
                        aws_pca_authority_arn: ca.aws_pca_authority_arn.clone(),
                    }
                }),
                kms_key: t.kms_key.clone(),
                role_arn: t.role_arn.clone(),
            }),
        })
    }
}

impl ToSdk for api::ServiceVolumeConfiguration {
    type Sdk = ecs::ServiceVolumeConfiguration;
    fn to_sdk(&self, op: &'static str) -> Result<Self::Sdk, AwsError> {
        let ebs = self
            .managed_ebs_volume
            .as_ref()
            .map(|e| {
                let specs = e
                    .tag_specifications
                    .as_ref()
                    .map(|specs| {
                        specs
                            .iter()
                            .map(|t| {
                                built(
                                    ecs::EbsTagSpecification::builder()
                                        .resource_type(ecs::EbsResourceType::from(
                                            t.resource_type.as_str(),
                                        ))
                                        .set_tags(to_list(&t.tags, op)?)
                                        .set_propagate_tags(to_enum(t.propagate_tags))
                                        .build(),
                                    op,
                                )
                            })
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .transpose()?;
                built(
                    ecs::ServiceManagedEbsVolumeConfiguration::builder()
                        .set_encrypted(e.encrypted)
                        .set_kms_key_id(e.kms_key_id.clone())
                        .set_volume_type(e.volume_type.clone())
                        .set_size_in_gib(e.size_in_gib)
                        .set_snapshot_id(e.snapshot_id.clone())
                        .set_volume_initialization_rate(e.volume_initialization_rate)
                        .set_iops(e.iops)
                        .set_throughput(e.throughput)
                        .set_tag_specifications(specs)
                        .role_arn(&e.role_arn)
                        .set_filesystem_type(to_enum(e.filesystem_type))
                        .build(),
                    op,
                )
            })
            .transpose()?;
        built(
            ecs::ServiceVolumeConfiguration::builder()
                .name(&self.name)
                .set_managed_ebs_volume(ebs)
                .build(),
            op,
        )
    }
}

impl FromSdk<ecs::ServiceVolumeConfiguration> for api::ServiceVolumeConfiguration {
    fn from_sdk(s: &ecs::ServiceVolumeConfiguration) -> Option<Self> {
        Some(Self {
            name: s.name.clone(),
            managed_ebs_volume: s.managed_ebs_volume.as_ref().map(|e| {
                api::ServiceManagedEbsVolumeConfiguration {
                    encrypted: e.encrypted,
                    kms_key_id: e.kms_key_id.clone(),
                    volume_type: e.volume_type.clone(),
                    size_in_gib: e.size_in_gib,
                    snapshot_id: e.snapshot_id.clone(),
                    volume_initialization_rate: e.volume_initialization_rate,
                    iops: e.iops,
                    throughput: e.throughput,
                    tag_specifications: e.tag_specifications.as_ref().map(|specs| {
                        specs
                            .iter()
                            .filter_map(|t| {
                                Some(api::EbsTagSpecification {
                                    resource_type: AwsEnum::from_aws(t.resource_type.as_str())?,
                                    tags: from_list(&t.tags),
                                    propagate_tags: from_enum(t.propagate_tags.as_ref()),
                                })
                            })
                            .collect()
                    }),
                    role_arn: e.role_arn.clone(),
                    filesystem_type: from_enum(e.filesystem_type.as_ref()),
                }
            }),
        })
    }
}

impl ToSdk for api::VpcLatticeConfiguration {
    type Sdk = ecs::VpcLatticeConfiguration;
    fn to_sdk(&self, op: &'static str) -> Result<Self::Sdk, AwsError> {
        built(
            ecs::VpcLatticeConfiguration::builder()
                .role_arn(&self.role_arn)
                .target_group_arn(&self.target_group_arn)
                .port_name(&self.port_name)
                .set_advanced_configuration(self.advanced_configuration.as_ref().map(|a| {
                    ecs::VpcLatticeAdvancedConfiguration::builder()
                        .set_alternate_target_group_arn(a.alternate_target_group_arn.clone())
                        .set_production_listener_rule(a.production_listener_rule.clone())
                        .set_test_listener_rule(a.test_listener_rule.clone())
                        .build()
                }))
                .build(),
            op,
        )
    }
}

impl FromSdk<ecs::VpcLatticeConfiguration> for api::VpcLatticeConfiguration {
    fn from_sdk(s: &ecs::VpcLatticeConfiguration) -> Option<Self> {
        Some(Self {
            role_arn: s.role_arn.clone(),
            target_group_arn: s.target_group_arn.clone(),
            port_name: s.port_name.clone(),
            advanced_configuration: s.advanced_configuration.as_ref().map(|a| {
                api::VpcLatticeAdvancedConfiguration {
                    alternate_target_group_arn: a.alternate_target_group_arn.clone(),
                    production_listener_rule: a.production_listener_rule.clone(),
                    test_listener_rule: a.test_listener_rule.clone(),
                }
            }),
        })
    }
}

impl ToSdk for api::GatewayConnector {
    type Sdk = ecs::GatewayConnector;
    fn to_sdk(&self, op: &'static str) -> Result<Self::Sdk, AwsError> {
        built(
            ecs::GatewayConnector::builder()
                .port_name(&self.port_name)
                .set_health_check(self.health_check.as_ref().map(|h| {
                    ecs::GatewayConnectorHealthCheck::builder()
                        .set_health_check_protocol(to_enum(h.health_check_protocol))
                        .set_health_check_port(h.health_check_port)
                        .set_health_check_path(h.health_check_path.clone())
                        .set_health_check_timeout_seconds(h.health_check_timeout_seconds)
                        .set_health_check_interval_seconds(h.health_check_interval_seconds)
                        .set_healthy_threshold_count(h.healthy_threshold_count)
                        .set_unhealthy_threshold_count(h.unhealthy_threshold_count)
                        .set_matcher(h.matcher.as_ref().map(|m| {
                            ecs::GatewayConnectorHealthCheckMatcher::builder()
                                .set_http_code(m.http_code.clone())
                                .set_grpc_code(m.grpc_code.clone())
                                .build()
                        }))
                        .build()
                }))
                .set_filters(self.filters.as_ref().map(|f| {
                    ecs::GatewayConnectorFilters::builder()
                        .set_access_types(to_enum_list(&f.access_types))
                        .build()
                }))
                .build(),
            op,
        )
    }
}

impl ToSdk for api::MonitoringConfiguration {
    type Sdk = ecs::MonitoringConfiguration;
    fn to_sdk(&self, op: &'static str) -> Result<Self::Sdk, AwsError> {
        let metrics = self
            .metric_configurations
            .as_ref()
            .map(|m| {
                m.iter()
                    .map(|m| {
                        built(
                            ecs::MetricConfiguration::builder()
                                .set_metric_names(Some(m.metric_names.clone()))
                                .resolution_seconds(m.resolution_seconds)
                                .build(),
                            op,
                        )
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        Ok(ecs::MonitoringConfiguration::builder()
            .set_metric_configurations(metrics)
            .build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ecs_service::{
        AwsVpcConfiguration, DeploymentCircuitBreaker, DeploymentConfiguration, LaunchType,
        NetworkConfiguration, PropagateTags, Tag,
    };

    const TD_ARN: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:3";

    fn spec() -> EcsServiceSpec {
        serde_json::from_value(serde_json::json!({
            "cluster": "prod",
            "taskDefinition": "web:3",
            "desiredCount": 2,
            "launchType": "FARGATE",
            "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-b", "subnet-a"]}},
            "tags": [{"key": "team", "value": "web"}]
        }))
        .expect("spec deserialises")
    }

    fn desired_of(spec: &EcsServiceSpec) -> DesiredService {
        let td = spec.task_definition.clone().unwrap_or_default();
        desired(spec, "web", "prod".into(), td)
    }

    /// What DescribeServices reports for `spec()` right after a completed rollout.
    fn aws_service() -> ecs::Service {
        ecs::Service::builder()
            .service_arn("arn:aws:ecs:eu-west-1:123456789012:service/prod/web")
            .service_name("web")
            .cluster_arn("arn:aws:ecs:eu-west-1:123456789012:cluster/prod")
            .status("ACTIVE")
            .desired_count(2)
            .running_count(2)
            .pending_count(0)
            .launch_type(ecs::LaunchType::Fargate)
            .platform_version("LATEST")
            .task_definition(TD_ARN)
            .scheduling_strategy(ecs::SchedulingStrategy::Replica)
            .propagate_tags(ecs::PropagateTags::None)
            .availability_zone_rebalancing(ecs::AvailabilityZoneRebalancing::Enabled)
            .deployment_controller(
                ecs::DeploymentController::builder()
                    .r#type(ecs::DeploymentControllerType::Ecs)
                    .build()
                    .expect("builds"),
            )
            .deployment_configuration(default_deployment_configuration(false))
            .network_configuration(
                ecs::NetworkConfiguration::builder()
                    .awsvpc_configuration(
                        ecs::AwsVpcConfiguration::builder()
                            .subnets("subnet-a")
                            .subnets("subnet-b")
                            .security_groups("sg-default")
                            .assign_public_ip(ecs::AssignPublicIp::Disabled)
                            .build()
                            .expect("builds"),
                    )
                    .build(),
            )
            .health_check_grace_period_seconds(0)
            .tags(ecs::Tag::builder().key("team").value("web").build())
            .tags(
                ecs::Tag::builder()
                    .key("aws:cloudformation:stack")
                    .value("x")
                    .build(),
            )
            .deployments(deployment("ecs-svc/1", "PRIMARY", Some("COMPLETED"), 2, 2))
            .events(
                ecs::ServiceEvent::builder()
                    .id("e1")
                    .message("(service web) has reached a steady state.")
                    .created_at(aws_smithy_types::DateTime::from_secs(1_700_000_000))
                    .build(),
            )
            .build()
    }

    fn deployment(
        id: &str,
        status: &str,
        rollout: Option<&str>,
        desired: i32,
        running: i32,
    ) -> ecs::Deployment {
        ecs::Deployment::builder()
            .id(id)
            .status(status)
            .task_definition(TD_ARN)
            .set_rollout_state(rollout.map(ecs::DeploymentRolloutState::from))
            .rollout_state_reason("because")
            .desired_count(desired)
            .running_count(running)
            .created_at(aws_smithy_types::DateTime::from_secs(1_700_000_000))
            .build()
    }

    #[test]
    fn desired_defaults_service_name() {
        let mut s = spec();
        assert_eq!(desired_of(&s).service_name, "web");
        s.service_name = Some("web-prod".into());
        let d = desired(&s, "web", "arn:cluster".into(), TD_ARN.into());
        assert_eq!(d.service_name, "web-prod");
        assert_eq!(d.cluster, "arn:cluster");
        assert_eq!(d.task_definition, TD_ARN);
    }

    #[test]
    fn create_input_maps_fields() {
        let mut s = spec();
        s.deployment_configuration = Some(DeploymentConfiguration {
            deployment_circuit_breaker: Some(DeploymentCircuitBreaker {
                enable: true,
                rollback: true,
                ..Default::default()
            }),
            maximum_percent: Some(150),
            ..Default::default()
        });
        s.enable_ecs_managed_tags = Some(true);
        s.propagate_tags = Some(PropagateTags::Service);
        let input = create_input(&desired_of(&s), "token-1")
            .expect("maps")
            .build()
            .expect("builds");
        assert_eq!(input.cluster(), Some("prod"));
        assert_eq!(input.service_name(), Some("web"));
        assert_eq!(input.task_definition(), Some("web:3"));
        assert_eq!(input.desired_count(), Some(2));
        assert_eq!(input.client_token(), Some("token-1"));
        assert_eq!(input.launch_type(), Some(&ecs::LaunchType::Fargate));
        assert_eq!(input.enable_ecs_managed_tags(), Some(true));
        assert_eq!(input.propagate_tags(), Some(&ecs::PropagateTags::Service));
        let dc = input.deployment_configuration().expect("set");
        assert_eq!(dc.maximum_percent(), Some(150));
        assert!(dc.deployment_circuit_breaker().expect("set").rollback());
        let vpc = input
            .network_configuration()
            .and_then(|n| n.awsvpc_configuration())
            .expect("set");
        assert_eq!(vpc.subnets(), ["subnet-b", "subnet-a"]);
        assert_eq!(input.tags().len(), 1);
        assert!(input.capacity_provider_strategy().is_empty());
    }

    #[test]
    fn create_input_without_desired_count_leaves_it_to_aws() {
        let mut s = spec();
        s.desired_count = None;
        let input = create_input(&desired_of(&s), "t")
            .expect("maps")
            .build()
            .expect("builds");
        assert_eq!(input.desired_count(), None);
    }

    #[test]
    fn task_definition_matching() {
        let cases = [
            (TD_ARN, TD_ARN, true),
            (
                "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:2",
                TD_ARN,
                false,
            ),
            ("web:3", TD_ARN, true),
            ("web:2", TD_ARN, false),
            ("web", TD_ARN, true),
            ("we", TD_ARN, false),
            ("api", TD_ARN, false),
            // moto stores the string UpdateService was given.
            ("web:3", "web:3", true),
            ("web", "web:3", true),
        ];
        for (want, have, matches) in cases {
            assert_eq!(
                task_definition_matches(want, have),
                matches,
                "{want} vs {have}"
            );
        }
    }

    #[test]
    fn aws_defaults_compare_equal() {
        let o = observed_from(&aws_service());
        assert_eq!(diff(&desired_of(&spec()), &o), vec![]);
    }

    #[test]
    fn diff_reports_changed_fields() {
        type Edit = fn(&mut EcsServiceSpec, &mut ecs::Service);
        let cases: &[(&str, Edit, &[&str])] = &[
            ("nothing", |_, _| {}, &[]),
            ("scale", |s, _| s.desired_count = Some(3), &["desiredCount"]),
            (
                "autoscaled",
                |s, o| {
                    s.desired_count = None;
                    o.desired_count = 7;
                },
                &[],
            ),
            (
                "new revision",
                |s, _| s.task_definition = Some("web:4".into()),
                &["taskDefinition"],
            ),
            (
                "platform",
                |s, _| s.platform_version = Some("1.4.0".into()),
                &["platformVersion"],
            ),
            (
                "explicit LATEST",
                |s, _| s.platform_version = Some("LATEST".into()),
                &[],
            ),
            (
                "explicit defaults",
                |s, _| {
                    s.propagate_tags = Some(PropagateTags::None);
                    s.enable_execute_command = Some(false);
                    s.deployment_configuration = Some(DeploymentConfiguration {
                        maximum_percent: Some(200),
                        minimum_healthy_percent: Some(100),
                        ..Default::default()
                    });
                },
                &[],
            ),
            (
                "circuit breaker",
                |s, _| {
                    s.deployment_configuration = Some(DeploymentConfiguration {
                        deployment_circuit_breaker: Some(DeploymentCircuitBreaker {
                            enable: true,
                            rollback: true,
                            ..Default::default()
                        }),
                        ..Default::default()
                    });
                },
                &["deploymentConfiguration"],
            ),
            (
                "exec",
                |s, _| s.enable_execute_command = Some(true),
                &["enableExecuteCommand"],
            ),
            (
                "public ip",
                |s, _| {
                    s.network_configuration = Some(NetworkConfiguration {
                        awsvpc_configuration: Some(AwsVpcConfiguration {
                            subnets: vec!["subnet-a".into(), "subnet-b".into()],
                            security_groups: Some(vec!["sg-default".into()]),
                            assign_public_ip: Some(
                                crate::api::ecs_service::AssignPublicIp::Enabled,
                            ),
                        }),
                    });
                },
                &["networkConfiguration"],
            ),
            (
                "grace",
                |s, _| s.health_check_grace_period_seconds = Some(60),
                &["healthCheckGracePeriodSeconds"],
            ),
            (
                "az rebalancing",
                |s, _| {
                    s.availability_zone_rebalancing =
                        Some(crate::api::ecs_service::AvailabilityZoneRebalancing::Disabled);
                },
                &["availabilityZoneRebalancing"],
            ),
            (
                "launch type is create-only",
                |s, _| s.launch_type = Some(LaunchType::Ec2),
                &[],
            ),
            (
                "several",
                |s, _| {
                    s.desired_count = Some(0);
                    s.propagate_tags = Some(PropagateTags::Service);
                },
                &["desiredCount", "propagateTags"],
            ),
        ];
        for (name, edit, want) in cases {
            let mut s = spec();
            let mut svc = aws_service();
            edit(&mut s, &mut svc);
            let changes = diff(&desired_of(&s), &observed_from(&svc));
            let fields: Vec<&str> = changes
                .iter()
                .find_map(|c| match c {
                    Change::UpdateService { fields } => Some(fields.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            assert_eq!(fields, *want, "{name}");
        }
    }

    #[test]
    fn diff_reports_tags_but_leaves_aws_tags_alone() {
        let mut s = spec();
        s.tags = Some(vec![Tag {
            key: Some("env".into()),
            value: Some("prod".into()),
        }]);
        let changes = diff(&desired_of(&s), &observed_from(&aws_service()));
        assert_eq!(
            changes,
            vec![
                Change::AddTags([("env".to_string(), "prod".to_string())].into()),
                Change::RemoveTags(vec!["team".into()]),
            ]
        );
        assert_eq!(changes[0].describe(), "add tags: env");
        assert_eq!(changes[1].describe(), "remove tags: team");
        assert_eq!(
            Change::UpdateService {
                fields: vec!["desiredCount", "taskDefinition"]
            }
            .describe(),
            "update service: desiredCount, taskDefinition"
        );
    }

    #[test]
    fn update_input_sends_only_changed_fields() {
        let mut s = spec();
        s.task_definition = Some("web:4".into());
        s.propagate_tags = None;
        let mut svc = aws_service();
        svc.propagate_tags = Some(ecs::PropagateTags::Service);
        let d = desired(&s, "web", "prod".into(), "web:4".into());
        let input = update_input(&d, &observed_from(&svc))
            .expect("maps")
            .build()
            .expect("builds");
        assert_eq!(input.cluster(), Some("prod"));
        assert_eq!(input.service(), Some("web"));
        assert_eq!(input.task_definition(), Some("web:4"));
        // Unset in the spec: sent as the AWS default to undo the drift.
        assert_eq!(input.propagate_tags(), Some(&ecs::PropagateTags::None));
        assert_eq!(input.desired_count(), None);
        assert_eq!(input.deployment_configuration(), None);
        assert_eq!(input.network_configuration(), None);
        assert_eq!(input.force_new_deployment(), None);

        let mut s = spec();
        s.desired_count = Some(5);
        let input = update_input(&desired_of(&s), &observed_from(&aws_service()))
            .expect("maps")
            .build()
            .expect("builds");
        assert_eq!(input.desired_count(), Some(5));
        assert_eq!(input.task_definition(), None);

        let restart = restart_input(&desired_of(&s)).build().expect("builds");
        assert_eq!(restart.force_new_deployment(), Some(true));
    }

    #[test]
    fn readiness_follows_the_primary_deployment() {
        type Edit = fn(&mut ecs::Service);
        let cases: &[(&str, Edit, bool, bool, &str)] = &[
            ("completed", |_| {}, true, false, "RolloutComplete"),
            (
                "rolling",
                |s| {
                    s.deployments = Some(vec![
                        deployment("ecs-svc/2", "PRIMARY", Some("IN_PROGRESS"), 2, 1),
                        deployment("ecs-svc/1", "ACTIVE", Some("COMPLETED"), 2, 2),
                    ]);
                    s.running_count = 3;
                },
                false,
                true,
                "RolloutInProgress",
            ),
            (
                "failed",
                |s| {
                    s.deployments = Some(vec![deployment(
                        "ecs-svc/2",
                        "PRIMARY",
                        Some("FAILED"),
                        2,
                        0,
                    )]);
                },
                false,
                false,
                "RolloutFailed",
            ),
            (
                "no rollout state, one deployment",
                |s| {
                    s.deployments = Some(vec![deployment("ecs-svc/1", "PRIMARY", None, 2, 2)]);
                },
                true,
                false,
                "RolloutComplete",
            ),
            (
                "no rollout state, two deployments",
                |s| {
                    s.deployments = Some(vec![
                        deployment("ecs-svc/2", "PRIMARY", None, 2, 2),
                        deployment("ecs-svc/1", "ACTIVE", None, 2, 0),
                    ]);
                },
                false,
                true,
                "RolloutInProgress",
            ),
            (
                "scaled to zero",
                |s| {
                    s.desired_count = 0;
                    s.running_count = 0;
                },
                true,
                false,
                "ScaledDown",
            ),
            (
                "tasks still starting",
                |s| {
                    s.running_count = 1;
                    s.pending_count = 1;
                },
                false,
                true,
                "Waiting",
            ),
            (
                "draining",
                |s| s.status = Some("DRAINING".into()),
                false,
                false,
                "Waiting",
            ),
        ];
        for (name, edit, ready, progressing, reason) in cases {
            let mut svc = aws_service();
            edit(&mut svc);
            let (r, p, why, message) = readiness(&observed_from(&svc));
            assert_eq!(
                (r, p, why),
                (*ready, *progressing, *reason),
                "{name}: {message}"
            );
        }
        let mut svc = aws_service();
        svc.deployments = Some(vec![deployment(
            "ecs-svc/2",
            "PRIMARY",
            Some("FAILED"),
            2,
            0,
        )]);
        let (_, _, _, message) = readiness(&observed_from(&svc));
        assert!(message.contains("because"), "{message}");
    }

    #[test]
    fn status_fields_are_camel_case() {
        let fields = status_fields(&observed_from(&aws_service()));
        let v = Value::Object(fields);
        assert_eq!(
            v["arn"],
            "arn:aws:ecs:eu-west-1:123456789012:service/prod/web"
        );
        assert_eq!(
            v["clusterArn"],
            "arn:aws:ecs:eu-west-1:123456789012:cluster/prod"
        );
        assert_eq!(v["runningCount"], 2);
        assert_eq!(v["taskDefinition"], TD_ARN);
        assert_eq!(v["rolloutState"], "COMPLETED");
        assert_eq!(v["deployments"][0]["id"], "ecs-svc/1");
        assert_eq!(v["deployments"][0]["createdAt"], "2023-11-14T22:13:20Z");
        assert_eq!(
            v["events"][0]["message"],
            "(service web) has reached a steady state."
        );
        assert!(v.get("conditions").is_none());
        let status: EcsServiceStatus = serde_json::from_value(v).expect("matches the status type");
        assert_eq!(status.desired_count, Some(2));
    }

    #[test]
    fn events_keep_the_newest_five() {
        let mut svc = aws_service();
        svc.events = Some(
            (0..8)
                .map(|i| {
                    ecs::ServiceEvent::builder()
                        .id(format!("e{i}"))
                        .created_at(aws_smithy_types::DateTime::from_secs(1_700_000_000 + i))
                        .build()
                })
                .collect(),
        );
        let o = observed_from(&svc);
        let ids: Vec<_> = o.events.iter().filter_map(|e| e.id.clone()).collect();
        assert_eq!(ids, ["e7", "e6", "e5", "e4", "e3"]);
    }

    #[test]
    fn hook_details_round_trip() {
        let v = serde_json::json!({"a": [1, -2, 1.5, "x", true, null]});
        assert_eq!(from_document(&to_document(&v)), v);
    }
}
