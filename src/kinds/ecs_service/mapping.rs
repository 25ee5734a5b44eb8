//! EcsService <-> Amazon ECS CreateService / UpdateService / DescribeServices. Pure mapping:
//! `desired` (spec -> resolved desired state), `create_input` / `update_input` (requests),
//! `observed_from` (DescribeServices answer), `diff`, `readiness` and `status_fields`. No I/O here.

use std::collections::BTreeMap;

use aws_sdk_ecs::operation::create_service::CreateServiceInput;
use aws_sdk_ecs::operation::create_service::builders::CreateServiceInputBuilder;
use aws_sdk_ecs::operation::update_service::UpdateServiceInput;
use aws_sdk_ecs::operation::update_service::builders::UpdateServiceInputBuilder;
use aws_sdk_ecs::types as ecs;
use aws_smithy_schema::serde::{SerdeError, ShapeDeserializer};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::api::ecs_service::{
    self as api, DeploymentStatus, EcsServiceSpec, EcsServiceStatus, ServiceEventStatus,
};
use crate::aws::bridge;
use crate::aws::errors::AwsError;
use crate::aws::json::{self, remove_if};
use crate::engine::conditions::reason;

const CREATE: &str = "CreateService";
const UPDATE: &str = "UpdateService";
/// How many service events the status keeps.
pub const EVENTS_KEPT: usize = 5;

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
    /// The ARN of the service deployment ECS calls current (`currentServiceDeployment`).
    pub current_service_deployment: Option<String>,
    /// Newest first, at most 5.
    pub events: Vec<ServiceEventStatus>,
    /// Application Auto Scaling, read only when the spec has (or had) `autoScaling`.
    pub auto_scaling: crate::kinds::ecs_service::autoscaling::ObservedScaling,
}

/// What UpdateService must change: the spec fields (AWS JSON names) that differ. Tags are the
/// driver's (`crate::aws::tags`), so they are not here.
pub type Fields = Vec<&'static str>;

/// A human-readable summary of `fields`, for events and logs.
pub fn describe(fields: &[&str]) -> String {
    format!("update service: {}", fields.join(", "))
}

/// The tags the service must carry (spec tags, and the ownership tags `resolve` added). Pure.
pub fn desired_tags(d: &DesiredService) -> BTreeMap<String, String> {
    d.spec
        .tags
        .iter()
        .flatten()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect()
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
    let mut request = request_json(&d.spec, CREATE)?;
    // Resolved by the caller (references); the spec's own values are not sent.
    request.remove("cluster");
    request.remove("taskDefinition");
    let i = to_sdk(request, CreateServiceInput::deserialize, CREATE)?;
    // The SDK builds the fluent request only member by member; these are the top-level ones.
    Ok(CreateServiceInput::builder()
        .cluster(&d.cluster)
        .service_name(&d.service_name)
        .set_task_definition((!d.task_definition.is_empty()).then(|| d.task_definition.clone()))
        .client_token(client_token)
        .set_availability_zone_rebalancing(i.availability_zone_rebalancing)
        .set_load_balancers(i.load_balancers)
        .set_service_registries(i.service_registries)
        // With auto scaling, the service starts at its minimum; auto scaling owns it afterwards.
        .set_desired_count(
            i.desired_count
                .or(d.spec.auto_scaling.as_ref().map(|a| a.min_capacity)),
        )
        .set_launch_type(i.launch_type)
        .set_capacity_provider_strategy(i.capacity_provider_strategy)
        .set_platform_version(i.platform_version)
        .set_role(i.role)
        .set_deployment_configuration(i.deployment_configuration)
        .set_placement_constraints(i.placement_constraints)
        .set_placement_strategy(i.placement_strategy)
        .set_network_configuration(i.network_configuration)
        .set_health_check_grace_period_seconds(i.health_check_grace_period_seconds)
        .set_scheduling_strategy(i.scheduling_strategy)
        .set_deployment_controller(i.deployment_controller)
        .set_tags(i.tags.filter(|t| !t.is_empty()))
        .set_enable_ecs_managed_tags(i.enable_ecs_managed_tags)
        .set_propagate_tags(i.propagate_tags)
        .set_enable_execute_command(i.enable_execute_command)
        .set_service_connect_configuration(i.service_connect_configuration)
        .set_volume_configurations(i.volume_configurations)
        .set_vpc_lattice_configurations(i.vpc_lattice_configurations)
        .set_gateway_connectors(i.gateway_connectors)
        .set_monitoring(i.monitoring))
}

/// The UpdateService request for the fields [`diff`] reports as different; an unset spec field
/// that differs is sent as its AWS default (empty lists, NONE, false, 0, LATEST, ECS).
/// `desiredCount` is sent only when the spec sets it. `gatewayConnectors` and `monitoring` are
/// not reported by DescribeServices, so they ride along with every update when set.
/// Fallible because a spec value may not form a valid SDK value (a required field missing).
/// The driver sends [`update_request`] with the fields it found; tests call this.
#[cfg(test)]
pub fn update_input(
    d: &DesiredService,
    observed: &ObservedService,
) -> Result<UpdateServiceInputBuilder, AwsError> {
    update_request(d, &changed_fields(d, observed))
}

/// The UpdateService request that sends `fields` (what [`diff`] found).
pub fn update_request(
    d: &DesiredService,
    fields: &[&'static str],
) -> Result<UpdateServiceInputBuilder, AwsError> {
    let spec = request_json(&d.spec, UPDATE)?;
    let mut request = Map::new();
    for key in ["gatewayConnectors", "monitoring"]
        .into_iter()
        .chain(fields.iter().copied())
    {
        let value = match key {
            "taskDefinition" => Some(Value::from(d.task_definition.clone())),
            _ => spec
                .get(key)
                .cloned()
                .or_else(|| unset_default(key, d.is_daemon())),
        };
        if let Some(value) = value {
            request.insert(key.to_string(), value);
        }
    }
    let i = to_sdk(request, UpdateServiceInput::deserialize, UPDATE)?;
    Ok(UpdateServiceInput::builder()
        .cluster(&d.cluster)
        .service(&d.service_name)
        .set_desired_count(i.desired_count)
        .set_task_definition(i.task_definition)
        .set_capacity_provider_strategy(i.capacity_provider_strategy)
        .set_deployment_configuration(i.deployment_configuration)
        .set_availability_zone_rebalancing(i.availability_zone_rebalancing)
        .set_network_configuration(i.network_configuration)
        .set_placement_constraints(i.placement_constraints)
        .set_placement_strategy(i.placement_strategy)
        .set_platform_version(i.platform_version)
        .set_health_check_grace_period_seconds(i.health_check_grace_period_seconds)
        .set_deployment_controller(i.deployment_controller)
        .set_enable_execute_command(i.enable_execute_command)
        .set_enable_ecs_managed_tags(i.enable_ecs_managed_tags)
        .set_load_balancers(i.load_balancers)
        .set_propagate_tags(i.propagate_tags)
        .set_service_registries(i.service_registries)
        .set_service_connect_configuration(i.service_connect_configuration)
        .set_volume_configurations(i.volume_configurations)
        .set_vpc_lattice_configurations(i.vpc_lattice_configurations)
        .set_gateway_connectors(i.gateway_connectors)
        .set_monitoring(i.monitoring))
}

/// What UpdateService is sent for a field the spec leaves unset (AWS's own default), or
/// nothing when leaving it out keeps the current value.
pub(crate) fn unset_default(key: &str, daemon: bool) -> Option<Value> {
    let (max, min) = if daemon { (100, 0) } else { (200, 100) };
    Some(match key {
        "capacityProviderStrategy"
        | "placementConstraints"
        | "placementStrategy"
        | "loadBalancers"
        | "serviceRegistries"
        | "volumeConfigurations"
        | "vpcLatticeConfigurations" => json!([]),
        // What DescribeServices reports when none was given.
        "deploymentConfiguration" => json!({
            "maximumPercent": max,
            "minimumHealthyPercent": min,
            "deploymentCircuitBreaker": {"enable": false, "rollback": false},
            "strategy": "ROLLING",
        }),
        "platformVersion" => json!("LATEST"),
        "healthCheckGracePeriodSeconds" => json!(0),
        "deploymentController" => json!({"type": "ECS"}),
        "enableExecuteCommand" | "enableECSManagedTags" => json!(false),
        "propagateTags" => json!("NONE"),
        "serviceConnectConfiguration" => json!({"enabled": false}),
        _ => return None,
    })
}

/// What DescribeServices reports for a deployment configuration member nobody set: what
/// UpdateService sends for an unset configuration, and a few more.
pub(crate) fn deployment_default(key: &str, daemon: bool) -> Option<Value> {
    match key {
        "bakeTimeInMinutes" => Some(json!(0)),
        "alarms" => Some(json!({"alarmNames": [], "enable": false, "rollback": false})),
        "lifecycleHooks" => Some(json!([])),
        _ => unset_default("deploymentConfiguration", daemon)?
            .get(key)
            .cloned(),
    }
}

/// The spec as request JSON: entries of `containerConfigurations` that set nothing are
/// dropped (the SDK shape is a union, which needs a member).
fn request_json(spec: &EcsServiceSpec, op: &'static str) -> Result<Map<String, Value>, AwsError> {
    let mut v = serde_json::to_value(spec)
        .map_err(|e| AwsError::terminal(op, "InvalidServiceSpec", e.to_string()))?;
    // Application Auto Scaling's, not ECS's.
    if let Some(map) = v.as_object_mut() {
        map.remove("autoScaling");
    }
    if let Some(Value::Array(items)) =
        v.pointer_mut("/serviceConnectConfiguration/containerConfigurations")
    {
        items.retain(|c| c.as_object().is_some_and(|o| !o.is_empty()));
    }
    match v {
        Value::Object(map) => Ok(map),
        _ => Ok(Map::new()),
    }
}

fn to_sdk<T>(
    request: Map<String, Value>,
    read: fn(&mut dyn ShapeDeserializer) -> Result<T, SerdeError>,
    op: &'static str,
) -> Result<T, AwsError> {
    bridge::to_sdk(&request, read)
        .map_err(|e| AwsError::terminal(op, "InvalidServiceSpec", e.to_string()))
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

/// The state of `svc` (from DescribeServices with `include: TAGS`).
pub fn observed_from(svc: &ecs::Service) -> ObservedService {
    let deployments = svc.deployments.as_deref().unwrap_or_default();
    let primary = deployments
        .iter()
        .find(|d| d.status.as_deref() == Some("PRIMARY"));
    let mut events: Vec<&ecs::ServiceEvent> = svc.events.iter().flatten().collect();
    events.sort_by_key(|e| std::cmp::Reverse(e.created_at));
    let spec = match observed_spec(svc, primary) {
        Ok(spec) => spec,
        Err(e) => {
            // Never seen: the SDK wrote this JSON itself. An empty spec differs from any
            // desired one, so the next update resends the spec rather than trusting a guess.
            tracing::warn!(error = %e, "service does not read back as a spec");
            EcsServiceSpec::default()
        }
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
        tags: crate::aws::tags::ecs::map(svc.tags.iter().flatten()),
        deployments: deployments.iter().map(deployment_status).collect(),
        current_service_deployment: svc.current_service_deployment.clone(),
        events: events
            .into_iter()
            .take(EVENTS_KEPT)
            .map(|e| ServiceEventStatus {
                id: e.id.clone(),
                created_at: e.created_at.as_ref().and_then(rfc3339),
                message: e.message.clone(),
            })
            .collect(),
        auto_scaling: Default::default(),
    }
}

/// The spec fields DescribeServices reports, in the request's names. Service Connect, volume
/// and VPC Lattice configurations live on the PRIMARY deployment.
fn observed_spec(
    svc: &ecs::Service,
    primary: Option<&ecs::Deployment>,
) -> Result<EcsServiceSpec, bridge::BridgeError> {
    const FROM_SERVICE: &[&str] = &[
        "serviceName",
        "capacityProviderStrategy",
        "platformVersion",
        "deploymentConfiguration",
        "placementConstraints",
        "placementStrategy",
        "networkConfiguration",
        "healthCheckGracePeriodSeconds",
        "schedulingStrategy",
        "deploymentController",
        "loadBalancers",
        "serviceRegistries",
        "enableExecuteCommand",
        "propagateTags",
        "enableECSManagedTags",
        "availabilityZoneRebalancing",
        "launchType",
        "desiredCount",
    ];
    const FROM_DEPLOYMENT: &[&str] = &[
        "serviceConnectConfiguration",
        "volumeConfigurations",
        "vpcLatticeConfigurations",
    ];
    let service = bridge::to_json(svc)?;
    let mut spec = Map::new();
    for key in FROM_SERVICE {
        if let Some(v) = service.get(*key) {
            spec.insert((*key).to_string(), v.clone());
        }
    }
    // The response says roleArn for the request's role.
    if let Some(role) = service.get("roleArn") {
        spec.insert("role".into(), role.clone());
    }
    if let Some(primary) = primary {
        let deployment = bridge::to_json(primary)?;
        for key in FROM_DEPLOYMENT {
            if let Some(v) = deployment.get(*key) {
                spec.insert((*key).to_string(), v.clone());
            }
        }
    }
    bridge::from_json(Value::Object(spec))
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

/// The spec fields [`changed_fields`] compares as plain JSON, in the order it reports them.
const COMPARED: &[&str] = &[
    "placementConstraints",
    "placementStrategy",
    "platformVersion",
    "healthCheckGracePeriodSeconds",
    "deploymentController",
    "enableExecuteCommand",
    "enableECSManagedTags",
    "loadBalancers",
    "propagateTags",
    "serviceRegistries",
    "serviceConnectConfiguration",
    "volumeConfigurations",
    "vpcLatticeConfigurations",
];

/// What must change for the service to match the spec. Create-only fields (serviceName,
/// cluster, launchType, schedulingStrategy, role) are not compared: the API server keeps the
/// first four immutable, and UpdateService cannot change any of them.
pub fn diff(d: &DesiredService, o: &ObservedService) -> Fields {
    changed_fields(d, o)
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
    // The rest compare as JSON, AWS's value for an unset field (`unset_default`) counting as
    // unset; lists other than placementStrategy are sets.
    let (want_json, have_json) = (canon(want), canon(have));
    for key in COMPARED {
        let comparable = |spec: &Value| {
            let mut v = spec.get(*key).cloned().unwrap_or(Value::Null);
            if let Value::Array(items) = &mut v
                && *key != "placementStrategy"
            {
                items.sort_by_cached_key(Value::to_string);
            }
            // Disabled Service Connect is the same as none.
            let disabled = *key == "serviceConnectConfiguration" && v["enabled"] != json!(true);
            if disabled || unset_default(key, daemon).is_some_and(|d| canon(&d) == v) {
                Value::Null
            } else {
                v
            }
        };
        if comparable(&want_json) != comparable(&have_json) {
            fields.push(key);
        }
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

/// Drops nulls and empty lists and objects, at every depth.
fn prune(v: &mut Value) {
    json::prune(v, json::Depth::ObjectsAndArrays, &|_, child| {
        json::is_set(child)
    });
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

/// The deployment configuration without the members that hold what AWS reports when unset.
fn canon_deployment(config: &Option<api::DeploymentConfiguration>, daemon: bool) -> Value {
    let mut v = serde_json::to_value(config).unwrap_or_default();
    let Some(obj) = v.as_object_mut() else {
        return Value::Null;
    };
    obj.retain(|key, member| deployment_default(key, daemon).as_ref() != Some(member));
    if let Some(Value::Array(names)) = obj.get_mut("alarms").and_then(|a| a.get_mut("alarmNames")) {
        names.sort_by_cached_key(Value::to_string);
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

/// Ready, progressing, a stable reason and a message, from the PRIMARY deployment.
pub fn readiness(o: &ObservedService) -> (bool, bool, &'static str, String) {
    if let Some(status) = o.status.as_deref()
        && status != "ACTIVE"
    {
        return (
            false,
            false,
            reason::WAITING,
            format!("service is {status}"),
        );
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
            reason::ROLLOUT_FAILED,
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
                reason::SCALED_DOWN,
                format!("scaled to zero ({counts})"),
            );
        }
        return (true, false, reason::ROLLOUT_COMPLETE, counts);
    }
    if rollout == Some("IN_PROGRESS") || several {
        let mut message = format!("rollout in progress: {counts}");
        if !reason_text.is_empty() {
            message = format!("{message}; {reason_text}");
        }
        return (false, true, reason::ROLLOUT_IN_PROGRESS, message);
    }
    (
        false,
        o.pending_count > 0,
        reason::WAITING,
        format!("waiting for tasks: {counts}"),
    )
}

/// The AWS-derived part of the status; the caller adds the Kubernetes-side fields (restarts,
/// the failed-rollout record, auto scaling, deployment actions).
pub fn status_fields(o: &ObservedService) -> EcsServiceStatus {
    let primary = o
        .deployments
        .iter()
        .find(|d| d.status.as_deref() == Some("PRIMARY"));
    EcsServiceStatus {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ecs_service::{LaunchType, PropagateTags, Tag};

    const TD_ARN: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:3";

    fn spec() -> EcsServiceSpec {
        spec_with(json!({}))
    }

    /// `spec()` with the members of `patch` set.
    fn spec_with(patch: Value) -> EcsServiceSpec {
        let mut spec = json!({
            "cluster": "prod",
            "taskDefinition": "web:3",
            "desiredCount": 2,
            "launchType": "FARGATE",
            "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-b", "subnet-a"]}},
            "tags": [{"key": "team", "value": "web"}]
        });
        for (key, value) in patch.as_object().into_iter().flatten() {
            spec[key.as_str()] = value.clone();
        }
        serde_json::from_value(spec).expect("spec deserialises")
    }

    fn desired_of(spec: &EcsServiceSpec) -> DesiredService {
        let td = spec.task_definition.clone().unwrap_or_default();
        desired(spec, "web", "prod".into(), td)
    }

    /// What DescribeServices reports for `spec()` right after a completed rollout.
    fn aws_service() -> ecs::Service {
        let mut svc = bridge::shape(
            json!({
                "serviceArn": "arn:aws:ecs:eu-west-1:123456789012:service/prod/web",
                "serviceName": "web",
                "clusterArn": "arn:aws:ecs:eu-west-1:123456789012:cluster/prod",
                "status": "ACTIVE",
                "desiredCount": 2, "runningCount": 2, "pendingCount": 0,
                "launchType": "FARGATE", "platformVersion": "LATEST",
                "taskDefinition": TD_ARN,
                "schedulingStrategy": "REPLICA", "propagateTags": "NONE",
                "availabilityZoneRebalancing": "ENABLED",
                "deploymentController": {"type": "ECS"},
                "deploymentConfiguration": unset_default("deploymentConfiguration", false),
                "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-a", "subnet-b"],
                    "securityGroups": ["sg-default"], "assignPublicIp": "DISABLED"}},
                "healthCheckGracePeriodSeconds": 0,
                "tags": [{"key": "team", "value": "web"}, {"key": "aws:cloudformation:stack", "value": "x"}],
                "events": [{"id": "e1", "message": "(service web) has reached a steady state.",
                    "createdAt": 1_700_000_000}],
            }),
            ecs::Service::deserialize,
        );
        svc.deployments = Some(vec![deployment(
            "ecs-svc/1",
            "PRIMARY",
            Some("COMPLETED"),
            2,
            2,
        )]);
        svc
    }

    fn deployment(
        id: &str,
        status: &str,
        rollout: Option<&str>,
        desired: i32,
        running: i32,
    ) -> ecs::Deployment {
        bridge::shape(
            json!({"id": id, "status": status, "taskDefinition": TD_ARN, "rolloutState": rollout,
                   "rolloutStateReason": "because", "desiredCount": desired,
                   "runningCount": running, "createdAt": 1_700_000_000}),
            ecs::Deployment::deserialize,
        )
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
        let s = spec_with(json!({
            "deploymentConfiguration": {"maximumPercent": 150,
                "deploymentCircuitBreaker": {"enable": true, "rollback": true}},
            "enableECSManagedTags": true,
            "propagateTags": "SERVICE",
        }));
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
        assert_eq!(diff(&desired_of(&spec()), &o), Fields::new());
    }

    fn target_groups(names: &[&str]) -> Value {
        let arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup";
        names
            .iter()
            .map(|n| json!({"targetGroupArn": format!("{arn}/{n}/1"), "containerName": "web", "containerPort": 8080}))
            .collect()
    }

    fn strategies(reversed: bool) -> Value {
        let mut items = vec![
            json!({"type": "spread", "field": "attribute:ecs.availability-zone"}),
            json!({"type": "binpack", "field": "memory"}),
        ];
        if reversed {
            items.reverse();
        }
        Value::Array(items)
    }

    /// Each item of a JSON list as an SDK shape.
    fn sdk_list<T>(
        items: Value,
        read: fn(&mut dyn ShapeDeserializer) -> Result<T, SerdeError>,
    ) -> Vec<T> {
        let items = items.as_array().cloned().unwrap_or_default();
        items.into_iter().map(|i| bridge::shape(i, read)).collect()
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
                    *s = spec_with(
                        json!({"propagateTags": "NONE", "enableExecuteCommand": false,
                        "deploymentConfiguration": {"maximumPercent": 200, "minimumHealthyPercent": 100}}),
                    );
                },
                &[],
            ),
            (
                "circuit breaker",
                |s, _| {
                    *s = spec_with(json!({"deploymentConfiguration":
                        {"deploymentCircuitBreaker": {"enable": true, "rollback": true}}}));
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
                    *s = spec_with(json!({"networkConfiguration": {"awsvpcConfiguration": {
                        "subnets": ["subnet-a", "subnet-b"], "securityGroups": ["sg-default"],
                        "assignPublicIp": "ENABLED"}}}));
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
                |s, _| *s = spec_with(json!({"availabilityZoneRebalancing": "DISABLED"})),
                &["availabilityZoneRebalancing"],
            ),
            (
                "launch type is create-only",
                |s, _| s.launch_type = Some(LaunchType::Ec2),
                &[],
            ),
            (
                "load balancer added",
                |s, _| *s = spec_with(json!({"loadBalancers": target_groups(&["a"])})),
                &["loadBalancers"],
            ),
            (
                "load balancers in another order",
                |s, o| {
                    *s = spec_with(json!({"loadBalancers": target_groups(&["a", "b"])}));
                    o.load_balancers = Some(sdk_list(
                        target_groups(&["b", "a"]),
                        ecs::LoadBalancer::deserialize,
                    ));
                },
                &[],
            ),
            (
                "placement strategy order matters",
                |s, o| {
                    *s = spec_with(json!({"placementStrategy": strategies(false)}));
                    o.placement_strategy = Some(sdk_list(
                        strategies(true),
                        ecs::PlacementStrategy::deserialize,
                    ));
                },
                &["placementStrategy"],
            ),
            (
                "disabled service connect is none",
                |s, _| {
                    *s = spec_with(
                        json!({"serviceConnectConfiguration": {"enabled": false, "namespace": "x"}}),
                    )
                },
                &[],
            ),
            (
                "service connect enabled",
                |s, _| {
                    *s = spec_with(
                        json!({"serviceConnectConfiguration": {"enabled": true, "namespace": "x"}}),
                    )
                },
                &["serviceConnectConfiguration"],
            ),
            (
                "explicit ECS controller, managed tags on",
                |s, _| {
                    *s = spec_with(json!({"deploymentController": {"type": "ECS"},
                        "enableECSManagedTags": true}))
                },
                &["enableECSManagedTags"],
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
            let fields = diff(&desired_of(&s), &observed_from(&svc));
            assert_eq!(fields, *want, "{name}");
        }
    }

    #[test]
    fn tags_are_left_to_the_driver() {
        let mut s = spec();
        s.tags = Some(vec![Tag {
            key: "env".into(),
            value: "prod".into(),
        }]);
        // The service carries team=web; the spec wants env=prod only: no UpdateService for it.
        assert_eq!(
            diff(&desired_of(&s), &observed_from(&aws_service())),
            Fields::new()
        );
        assert_eq!(
            desired_tags(&desired_of(&s)),
            [("env".to_string(), "prod".to_string())].into()
        );
        assert_eq!(
            describe(&["desiredCount", "taskDefinition"]),
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
            // A failed rollout says why.
            if *reason == "RolloutFailed" {
                assert!(message.contains("because"), "{name}: {message}");
            }
        }
    }

    #[test]
    fn status_fields_are_camel_case() {
        let v = serde_json::to_value(status_fields(&observed_from(&aws_service())))
            .expect("status serialises");
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
        let status: EcsServiceStatus = serde_json::from_value(v).expect("matches the status type");
        assert_eq!(status.desired_count, Some(2));
    }

    #[test]
    fn events_keep_the_newest_five() {
        let mut svc = aws_service();
        svc.events = Some(
            (0..8)
                .map(|i| {
                    let event = json!({"id": format!("e{i}"), "createdAt": 1_700_000_000 + i});
                    bridge::shape(event, ecs::ServiceEvent::deserialize)
                })
                .collect(),
        );
        let o = observed_from(&svc);
        let ids: Vec<_> = o.events.iter().filter_map(|e| e.id.clone()).collect();
        assert_eq!(ids, ["e7", "e6", "e5", "e4", "e3"]);
    }

    #[test]
    fn hook_details_round_trip() {
        // hookDetails is a Smithy document: the bridge carries it both ways unchanged.
        let v = serde_json::json!({"a": [1, -2, 1.5, "x", true, null]});
        let hook = bridge::to_sdk(
            &serde_json::json!({"hookTargetArn": "arn:h", "hookDetails": v}),
            ecs::DeploymentLifecycleHook::deserialize,
        )
        .expect("to SDK");
        assert!(hook.hook_details.is_some());
        assert_eq!(bridge::to_json(&hook).expect("to JSON")["hookDetails"], v);
    }
}
