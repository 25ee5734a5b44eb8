//! EcsCluster <-> Amazon ECS, pure: the desired cluster and its capacity providers from the spec,
//! the difference from what ECS reports, and the conversions both need. The calls are in
//! `sdk.rs`. The cluster's Auto Scaling group capacity providers (`autoScalingGroupProviders`)
//! are created, updated and deleted with it.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ecs::types as ecs;
use serde_json::{Value, json};

use crate::api::ecs_cluster::{self as api, EcsClusterSpec, EcsClusterStatus};
use crate::aws::bridge;
use crate::aws::errors::AwsError;
use crate::aws::json;
use crate::aws::tags::ecs::from_sdk_tags;
use crate::engine::ownership::{self, Identity};

/// Value of a cluster setting that ECS does not report (containerInsights off).
pub(super) const DEFAULT_SETTING_VALUE: &str = "disabled";
/// The spec lists of capacity providers the cluster declares.
pub(super) const ASG_FIELD: &str = "autoScalingGroupProviders";
pub(super) const MI_FIELD: &str = "managedInstancesProviders";

/// One item of a capacity provider strategy, with ECS defaults filled in (the AWS JSON shape).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StrategyItem {
    pub capacity_provider: String,
    #[serde(default)]
    pub weight: i32,
    #[serde(default)]
    pub base: i32,
}

/// A capacity provider the spec declares, in comparable form (desired and observed alike): its
/// `autoScalingGroupProvider` as AWS JSON with ECS's defaults filled in, or its
/// `managedInstancesProvider` as AWS JSON (only what the spec sets is compared: ECS fills in
/// defaults for the rest), and its tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provider {
    pub name: String,
    pub provider: Value,
    pub tags: BTreeMap<String, String>,
}

impl Provider {
    /// The Auto Scaling group of an Auto Scaling group provider.
    pub(super) fn group(&self) -> &str {
        self.provider["autoScalingGroupArn"]
            .as_str()
            .unwrap_or_default()
    }
}

/// A declared capacity provider as ECS reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservedProvider {
    pub arn: String,
    /// ACTIVE, PROVISIONING, DEPROVISIONING (INACTIVE ones are reported as absent).
    pub status: String,
    pub provider: Provider,
}

/// A capacity provider associated with the cluster that the spec no longer names.
#[derive(Clone, Debug, PartialEq)]
pub struct StrayProvider {
    /// A Managed Instances provider (deleted with the cluster named), else an ASG one.
    pub managed_instances: bool,
    pub tags: BTreeMap<String, String>,
}

/// What the spec asks for, in comparable form.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredCluster {
    pub cluster_name: String,
    /// Only the settings the spec lists (others keep their current value).
    pub settings: BTreeMap<String, String>,
    /// Canonical `configuration` (AWS defaults pruned); `None` when nothing is set.
    pub configuration: Option<Value>,
    /// `{"namespace": ...}`, or `None`.
    pub service_connect_defaults: Option<Value>,
    /// spec.capacityProviders plus the names of spec.autoScalingGroupProviders.
    pub capacity_providers: BTreeSet<String>,
    /// Sorted by provider name.
    pub default_capacity_provider_strategy: Vec<StrategyItem>,
    pub tags: BTreeMap<String, String>,
    /// Auto Scaling group providers declared in the spec, by name.
    pub asg_providers: BTreeMap<String, Provider>,
    /// Managed Instances providers declared in the spec, by name.
    pub mi_providers: BTreeMap<String, Provider>,
    /// The ownership tags the operator puts on every capacity provider it creates (and reads
    /// back to tell which providers that leave the spec are its own to delete).
    pub owner_tags: BTreeMap<String, String>,
}

/// What ECS reports, in the same comparable form.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservedCluster {
    pub arn: String,
    /// ACTIVE, PROVISIONING, DEPROVISIONING or FAILED (INACTIVE is reported as absent).
    pub status: String,
    pub settings: BTreeMap<String, String>,
    pub configuration: Option<Value>,
    pub service_connect_defaults: Option<Value>,
    pub capacity_providers: BTreeSet<String>,
    pub default_capacity_provider_strategy: Vec<StrategyItem>,
    /// Without AWS-reserved `aws:` tags, which cannot be changed.
    pub tags: BTreeMap<String, String>,
    pub active_services_count: i32,
    pub running_tasks_count: i32,
    pub pending_tasks_count: i32,
    pub registered_container_instances_count: i32,
    /// The spec's Auto Scaling group providers that exist, by name.
    pub asg_providers: BTreeMap<String, ObservedProvider>,
    /// The spec's Managed Instances providers that exist, by name.
    pub mi_providers: BTreeMap<String, ObservedProvider>,
    /// Providers associated with the cluster but not named by the spec (FARGATE ones aside).
    pub strays: BTreeMap<String, StrayProvider>,
}

impl ObservedCluster {
    /// The cluster is usable, and so is every capacity provider the spec declares.
    pub fn is_ready(&self) -> bool {
        self.status == "ACTIVE"
            && self.asg_providers.values().all(|p| p.status == "ACTIVE")
            && self.mi_providers.values().all(|p| p.status == "ACTIVE")
    }

    /// Writes the AWS-reported fields of the status (conditions and generation are the engine's).
    pub fn fill_status(&self, status: &mut EcsClusterStatus) {
        status.arn = Some(self.arn.clone());
        status.status = Some(self.status.clone());
        status.active_services_count = Some(self.active_services_count);
        status.running_tasks_count = Some(self.running_tasks_count);
        status.pending_tasks_count = Some(self.pending_tasks_count);
        status.registered_container_instances_count =
            Some(self.registered_container_instances_count);
        status.capacity_providers = self.capacity_providers.iter().cloned().collect();
    }
}

/// One update call needed to converge AWS to the spec (the cluster's tags are the driver's:
/// [`crate::aws::tags`]; a capacity provider's are part of its update).
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    UpdateSettings,
    UpdateConfiguration,
    UpdateServiceConnectDefaults,
    /// PutClusterCapacityProviders: the provider list and the default strategy together.
    PutCapacityProviders,
    CreateAsgProvider(String),
    /// UpdateCapacityProvider plus the provider's tags.
    UpdateAsgProvider(String),
    /// CreateCapacityProvider with managedInstancesProvider, in this cluster.
    CreateMiProvider(String),
    /// UpdateCapacityProvider plus the provider's tags.
    UpdateMiProvider(String),
    /// A provider this object created that left the spec: deleted after it is detached.
    DeleteProvider {
        name: String,
        managed_instances: bool,
    },
    /// The provider exists for another Auto Scaling group; ECS cannot move it. Terminal.
    AsgProviderGroupDiffers {
        name: String,
        desired: String,
        observed: String,
    },
}

impl Change {
    /// Short description for events and conditions, named after the spec field.
    pub fn describe(&self) -> String {
        match self {
            Change::UpdateSettings => "settings".into(),
            Change::UpdateConfiguration => "configuration".into(),
            Change::UpdateServiceConnectDefaults => "serviceConnectDefaults".into(),
            Change::PutCapacityProviders => {
                "capacityProviders/defaultCapacityProviderStrategy".into()
            }
            Change::CreateAsgProvider(n) => format!("autoScalingGroupProviders[{n}] (create)"),
            Change::UpdateAsgProvider(n) => format!("autoScalingGroupProviders[{n}] (update)"),
            Change::CreateMiProvider(n) => format!("managedInstancesProviders[{n}] (create)"),
            Change::UpdateMiProvider(n) => format!("managedInstancesProviders[{n}] (update)"),
            Change::DeleteProvider { name, .. } => {
                format!("capacity provider {name} (delete: no longer in the spec)")
            }
            Change::AsgProviderGroupDiffers {
                name,
                desired,
                observed,
            } => format!(
                "autoScalingGroupProviders[{name}].autoScalingGroupProvider.autoScalingGroupArn \
                 ({observed} in AWS, {desired} in spec)"
            ),
        }
    }
}

/// Maps the spec to the desired cluster. Pure.
pub fn desired(spec: &EcsClusterSpec, default_name: &str) -> DesiredCluster {
    let asg_providers: BTreeMap<String, Provider> = spec
        .auto_scaling_group_providers
        .iter()
        .flatten()
        .map(|p| (p.name.clone(), desired_asg_provider(p)))
        .collect();
    let mi_providers: BTreeMap<String, Provider> = spec
        .managed_instances_providers
        .iter()
        .flatten()
        .map(|p| {
            let provider = Provider {
                name: p.name.clone(),
                provider: serde_json::to_value(&p.managed_instances_provider).unwrap_or_default(),
                tags: tag_map(p.tags.as_deref()),
            };
            (p.name.clone(), provider)
        })
        .collect();
    let mut strategy: Vec<StrategyItem> = spec
        .default_capacity_provider_strategy
        .iter()
        .flatten()
        .filter_map(|s| serde_json::from_value(serde_json::to_value(s).ok()?).ok())
        .collect();
    strategy.sort();
    DesiredCluster {
        cluster_name: spec
            .cluster_name
            .clone()
            .unwrap_or_else(|| default_name.to_string()),
        settings: spec
            .settings
            .iter()
            .flatten()
            .map(|s| (s.name.as_str().to_string(), s.value.as_str().to_string()))
            .collect(),
        configuration: spec
            .configuration
            .as_ref()
            .and_then(canonical_configuration),
        service_connect_defaults: spec
            .service_connect_defaults
            .as_ref()
            .map(|s| serde_json::json!({ "namespace": s.namespace })),
        capacity_providers: spec
            .capacity_providers
            .iter()
            .flatten()
            .cloned()
            .chain(asg_providers.keys().cloned())
            .chain(mi_providers.keys().cloned())
            .collect(),
        default_capacity_provider_strategy: strategy,
        tags: tag_map(spec.tags.as_deref()),
        asg_providers,
        mi_providers,
        owner_tags: BTreeMap::new(),
    }
}

pub(super) fn desired_asg_provider(p: &api::AutoScalingGroupCapacityProvider) -> Provider {
    Provider {
        name: p.name.clone(),
        provider: with_asg_defaults(
            serde_json::to_value(&p.auto_scaling_group_provider).unwrap_or_default(),
        ),
        tags: tag_map(p.tags.as_deref()),
    }
}

/// An `autoScalingGroupProvider` with what ECS fills in for unset members.
pub(super) fn with_asg_defaults(mut provider: Value) -> Value {
    fill_missing(
        &mut provider,
        &json!({
            "managedScaling": {"targetCapacity": 100, "minimumScalingStepSize": 1,
                "maximumScalingStepSize": 10000, "instanceWarmupPeriod": 300},
            "managedTerminationProtection": "DISABLED",
            "managedDraining": "ENABLED",
        }),
    );
    provider
}

pub(super) fn fill_missing(v: &mut Value, defaults: &Value) {
    if let (Value::Object(have), Value::Object(want)) = (v, defaults) {
        for (k, d) in want {
            let slot = have.entry(k.clone()).or_insert_with(|| json!({}));
            if d.is_object() {
                fill_missing(slot, d);
            } else if slot == &json!({}) {
                *slot = d.clone();
            }
        }
    }
}

pub(super) fn tag_map(tags: Option<&[api::Tag]>) -> BTreeMap<String, String> {
    tags.into_iter()
        .flatten()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect()
}

/// The configuration as JSON without what equals the AWS default (false flags, logging
/// DEFAULT, empty objects), so spec and AWS compare equal when they mean the same. Pure.
pub fn canonical_configuration(c: &api::ClusterConfiguration) -> Option<Value> {
    let mut v = serde_json::to_value(c).ok()?;
    prune(&mut v);
    match &v {
        Value::Object(m) if m.is_empty() => None,
        _ => Some(v),
    }
}

/// Drops nulls, `false`, empty objects and `logging: DEFAULT` (ECS's defaults) from objects
/// nested in objects; lists are compared as they are.
pub(super) fn prune(v: &mut Value) {
    json::prune(v, json::Depth::Objects, &|key, child| match child {
        Value::Null | Value::Bool(false) => false,
        Value::Object(m) => !m.is_empty(),
        Value::String(s) => !(key == "logging" && s == "DEFAULT"),
        _ => true,
    });
}

/// The calls needed to converge `observed` to `desired`, in a stable order: capacity providers
/// first (the cluster can only use providers that exist), then the cluster, then tags. Pure.
pub fn diff(desired: &DesiredCluster, observed: &ObservedCluster) -> Vec<Change> {
    let mut changes = Vec::new();
    for (name, want) in &desired.asg_providers {
        match observed.asg_providers.get(name) {
            None => changes.push(Change::CreateAsgProvider(name.clone())),
            Some(have) if !asg_matches(want.group(), have.provider.group()) => {
                changes.push(Change::AsgProviderGroupDiffers {
                    name: name.clone(),
                    desired: want.group().to_string(),
                    observed: have.provider.group().to_string(),
                })
            }
            Some(have) if !asg_provider_matches(want, &have.provider) => {
                changes.push(Change::UpdateAsgProvider(name.clone()))
            }
            Some(_) => {}
        }
    }
    // Managed Instances providers live in the cluster: after it exists, before it lists them.
    for (name, want) in &desired.mi_providers {
        match observed.mi_providers.get(name) {
            None => changes.push(Change::CreateMiProvider(name.clone())),
            Some(have)
                if !covers(&want.provider, &have.provider.provider)
                    || want.tags != have.provider.tags =>
            {
                changes.push(Change::UpdateMiProvider(name.clone()))
            }
            Some(_) => {}
        }
    }
    if desired.settings.iter().any(|(k, v)| {
        observed
            .settings
            .get(k)
            .map(String::as_str)
            .unwrap_or(DEFAULT_SETTING_VALUE)
            != v
    }) {
        changes.push(Change::UpdateSettings);
    }
    if desired.configuration != comparable_observed_configuration(desired, observed) {
        changes.push(Change::UpdateConfiguration);
    }
    if !namespace_matches(
        namespace(desired.service_connect_defaults.as_ref()),
        namespace(observed.service_connect_defaults.as_ref()),
    ) {
        changes.push(Change::UpdateServiceConnectDefaults);
    }
    if desired.capacity_providers != observed.capacity_providers
        || desired.default_capacity_provider_strategy != observed.default_capacity_provider_strategy
    {
        changes.push(Change::PutCapacityProviders);
    }
    // Detached by the PutCapacityProviders above, then deleted: only providers this object's
    // ownership tags mark as its own; others are only detached.
    for (name, stray) in &observed.strays {
        if owned_by(&stray.tags, &desired.owner_tags) {
            changes.push(Change::DeleteProvider {
                name: name.clone(),
                managed_instances: stray.managed_instances,
            });
        }
    }
    changes
}

/// True when `tags` name the owner `owner_tags` name, by the driver's ownership rule
/// ([`ownership::claim`]: same uid or namespace/name, and the same operator instance). An
/// object without ownership tags (observe-only) owns nothing.
pub(super) fn owned_by(
    tags: &BTreeMap<String, String>,
    owner_tags: &BTreeMap<String, String>,
) -> bool {
    Identity::from_tags(owner_tags).is_some_and(|me| ownership::is_ours(tags, &me))
}

/// True when every value `want` sets is what `have` holds (lists of scalars compared as sets):
/// ECS fills in defaults for what the spec leaves out, and those are not drift. Pure.
pub fn covers(want: &Value, have: &Value) -> bool {
    match (want, have) {
        (Value::Object(w), Value::Object(h)) => w
            .iter()
            .all(|(k, v)| v.is_null() || h.get(k).is_some_and(|hv| covers(v, hv))),
        (Value::Array(w), Value::Array(h)) => {
            let sorted = |items: &Vec<Value>| {
                let mut out: Vec<String> = items.iter().map(Value::to_string).collect();
                out.sort();
                out
            };
            if w.iter().all(|v| !v.is_object()) {
                sorted(w) == sorted(h)
            } else {
                w.len() == h.len() && w.iter().zip(h).all(|(a, b)| covers(a, b))
            }
        }
        (Value::Number(w), Value::Number(h)) => w.as_f64() == h.as_f64(),
        _ => want == have,
    }
}

/// managedStorageConfiguration is only compared when the spec sets it: its keys stay on the
/// cluster once set.
pub(super) fn comparable_observed_configuration(
    desired: &DesiredCluster,
    observed: &ObservedCluster,
) -> Option<Value> {
    let mut have = observed.configuration.clone()?;
    let spec_sets_storage = desired
        .configuration
        .as_ref()
        .is_some_and(|c| c.get("managedStorageConfiguration").is_some());
    if !spec_sets_storage && let Value::Object(m) = &mut have {
        m.remove("managedStorageConfiguration");
    }
    prune(&mut have);
    match &have {
        Value::Object(m) if m.is_empty() => None,
        _ => Some(have),
    }
}

pub(super) fn namespace(v: Option<&Value>) -> Option<&str> {
    v.and_then(|v| v.get("namespace"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// ECS reports the namespace as a Cloud Map ARN, which does not contain the namespace name: a
/// name in the spec can only be checked for presence.
pub(super) fn namespace_matches(desired: Option<&str>, observed: Option<&str>) -> bool {
    match (desired, observed) {
        (None, None) => true,
        (Some(d), Some(o)) => d == o || !d.starts_with("arn:"),
        _ => false,
    }
}

/// A group given by name matches the ARN ECS reports when the ARN ends with its name.
pub(super) fn asg_matches(desired: &str, observed: &str) -> bool {
    desired == observed || observed.ends_with(&format!(":autoScalingGroupName/{desired}"))
}

/// Equal modulo the group's spelling (name or ARN) and, when the spec leaves it unset, the
/// managed scaling status ECS chose.
pub(super) fn asg_provider_matches(want: &Provider, have: &Provider) -> bool {
    let mut have_provider = have.provider.clone();
    have_provider["autoScalingGroupArn"] = want.provider["autoScalingGroupArn"].clone();
    if want.provider["managedScaling"].get("status").is_none()
        && let Some(m) = have_provider["managedScaling"].as_object_mut()
    {
        m.remove("status");
    }
    want.provider == have_provider && want.tags == have.tags
}

// ---- SDK conversions ----

pub(super) fn settings(d: &DesiredCluster) -> Vec<ecs::ClusterSetting> {
    let items: Vec<Value> = d
        .settings
        .iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    bridge::to_sdk_list(&items, ecs::ClusterSetting::deserialize).unwrap_or_default()
}

pub(super) fn strategy(
    d: &DesiredCluster,
) -> Result<Vec<ecs::CapacityProviderStrategyItem>, AwsError> {
    bridge::to_sdk_list(
        &d.default_capacity_provider_strategy,
        ecs::CapacityProviderStrategyItem::deserialize,
    )
    .map_err(|e| invalid("InvalidCapacityProviderStrategy", e))
}

pub(super) fn strategy_from_sdk(items: &[ecs::CapacityProviderStrategyItem]) -> Vec<StrategyItem> {
    let mut out: Vec<StrategyItem> = items
        .iter()
        .filter_map(|s| bridge::from_sdk(s).ok())
        .collect();
    out.sort();
    out
}

/// A desired value that does not form the SDK shape (the spec's schema allows what the
/// request does not): a terminal error naming the shape.
pub(super) fn invalid(code: &str, e: bridge::BridgeError) -> AwsError {
    AwsError::terminal("ECS request", code, e.to_string())
}

/// The desired configuration, or one that resets ECS Exec to its defaults when the spec has none.
pub(super) fn configuration(d: &DesiredCluster) -> ecs::ClusterConfiguration {
    let mut v = d.configuration.clone().unwrap_or_else(|| json!({}));
    if let Some(obj) = v.as_object_mut() {
        let exec = obj
            .entry("executeCommandConfiguration")
            .or_insert_with(|| json!({}));
        if let Some(exec) = exec.as_object_mut() {
            exec.entry("logging").or_insert_with(|| json!("DEFAULT"));
        }
    }
    bridge::to_sdk(&v, ecs::ClusterConfiguration::deserialize).unwrap_or_else(|e| {
        // `d.configuration` is a parsed spec value, so this does not happen; sending the reset
        // is the safe answer if it ever does (UpdateCluster then shows the spec not applied).
        tracing::warn!(error = %e, "cluster configuration does not form an SDK value");
        ecs::ClusterConfiguration::builder().build()
    })
}

pub(super) fn configuration_from_sdk(c: &ecs::ClusterConfiguration) -> Option<Value> {
    let config: api::ClusterConfiguration = bridge::from_sdk(c).ok()?;
    canonical_configuration(&config)
}

pub(super) fn service_connect_defaults(
    d: &DesiredCluster,
) -> Result<ecs::ClusterServiceConnectDefaultsRequest, AwsError> {
    // An empty namespace clears the cluster's Service Connect defaults.
    ecs::ClusterServiceConnectDefaultsRequest::builder()
        .namespace(namespace(d.service_connect_defaults.as_ref()).unwrap_or_default())
        .build()
        .map_err(|e| {
            AwsError::terminal(
                "UpdateCluster",
                "InvalidServiceConnectDefaults",
                e.to_string(),
            )
        })
}

pub(super) fn asg_provider_from_sdk(
    name: String,
    asg: &ecs::AutoScalingGroupProvider,
    tags: Option<&[ecs::Tag]>,
) -> Provider {
    Provider {
        name,
        provider: with_asg_defaults(bridge::to_json(asg).unwrap_or_default()),
        tags: from_sdk_tags(tags),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ecs_cluster::*;
    use crate::kinds::ecs_cluster::sdk::*;
    use serde_json::json;

    fn spec(v: Value) -> EcsClusterSpec {
        serde_json::from_value(v).expect("valid spec")
    }

    /// What ECS reports for `create-cluster --cluster-name <name>` and nothing else.
    fn observed_default(name: &str) -> ObservedCluster {
        ObservedCluster {
            arn: format!("arn:aws:ecs:us-east-1:123456789012:cluster/{name}"),
            status: "ACTIVE".into(),
            settings: [("containerInsights".to_string(), "disabled".to_string())].into(),
            configuration: None,
            service_connect_defaults: None,
            capacity_providers: BTreeSet::new(),
            default_capacity_provider_strategy: vec![],
            tags: BTreeMap::new(),
            active_services_count: 0,
            running_tasks_count: 0,
            pending_tasks_count: 0,
            registered_container_instances_count: 0,
            asg_providers: BTreeMap::new(),
            mi_providers: BTreeMap::new(),
            strays: BTreeMap::new(),
        }
    }

    fn mi_spec() -> Value {
        json!({
            "clusterName": "mi",
            "managedInstancesProviders": [{
                "name": "mi-general",
                "managedInstancesProvider": {
                    "infrastructureRoleArn": "arn:aws:iam::123456789012:role/ecsInfrastructureRole",
                    "propagateTags": "CAPACITY_PROVIDER",
                    "instanceLaunchTemplate": {
                        "ec2InstanceProfileArn": "arn:aws:iam::123456789012:instance-profile/ecsInstanceRole",
                        "networkConfiguration": {"subnets": ["subnet-b", "subnet-a"], "securityGroups": ["sg-1"]},
                        "storageConfiguration": {"storageSizeGiB": 50},
                        "monitoring": "DETAILED",
                        "capacityOptionType": "SPOT",
                        "instanceRequirements": {
                            "vCpuCount": {"min": 2, "max": 8},
                            "memoryMiB": {"min": 4096},
                            "cpuManufacturers": ["intel", "amd"],
                            "memoryGiBPerVCpu": {"min": 2.0},
                            "burstablePerformance": "excluded",
                        },
                    },
                },
                "tags": [{"key": "pool", "value": "general"}],
            }],
        })
    }

    #[test]
    fn managed_instances_request_carries_every_field() {
        let d = desired(&spec(mi_spec()), "ignored");
        let conf = aws_sdk_ecs::Config::builder()
            .behavior_version(aws_sdk_ecs::config::BehaviorVersion::latest())
            .region(aws_sdk_ecs::config::Region::new("us-east-1"))
            .build();
        let client = aws_sdk_ecs::Client::from_conf(conf);
        let p = &d.mi_providers["mi-general"];
        let create = create_mi_provider_request(&client, "mi", p).expect("maps");
        let input = create.as_input();
        assert_eq!(input.get_name().as_deref(), Some("mi-general"));
        assert_eq!(input.get_cluster().as_deref(), Some("mi"));
        assert_eq!(input.get_tags().as_ref().map(Vec::len), Some(1));
        // Every member of the spec reaches the request, as the same AWS JSON.
        let declared =
            mi_spec()["managedInstancesProviders"][0]["managedInstancesProvider"].clone();
        let sent = |mi: Option<&dyn aws_smithy_schema::serde::SerializableStruct>| {
            bridge::to_json(mi.expect("provider")).expect("json")
        };
        assert_eq!(
            sent(
                input
                    .get_managed_instances_provider()
                    .as_ref()
                    .map(|m| m as _)
            ),
            declared
        );
        // The update carries the same, minus capacityOptionType (no such update member).
        let update = update_mi_provider_request(&client, "mi", p).expect("maps");
        let input = update.as_input();
        assert_eq!(input.get_cluster().as_deref(), Some("mi"));
        let mut without_option = declared;
        if let Some(t) = without_option["instanceLaunchTemplate"].as_object_mut() {
            t.remove("capacityOptionType");
        }
        assert_eq!(
            sent(
                input
                    .get_managed_instances_provider()
                    .as_ref()
                    .map(|m| m as _)
            ),
            without_option
        );
    }

    #[test]
    fn managed_instances_providers_are_created_after_the_cluster_and_compared_by_what_the_spec_sets()
     {
        let d = desired(&spec(mi_spec()), "ignored");
        assert!(d.capacity_providers.contains("mi-general"));
        // CreateCluster cannot name a provider of a cluster that does not exist yet.
        let create = without_mi_providers(&d);
        assert!(create.capacity_providers.is_empty() && create.mi_providers.is_empty());
        let mut o = observed_default("mi");
        assert_eq!(
            diff(&d, &o),
            vec![
                Change::CreateMiProvider("mi-general".into()),
                Change::PutCapacityProviders
            ]
        );
        // ECS reports its defaults and other list orders: not a difference.
        let mut reported = d.mi_providers["mi-general"].clone();
        reported.provider["instanceLaunchTemplate"]["networkConfiguration"]["subnets"] =
            json!(["subnet-a", "subnet-b"]);
        reported.provider["infrastructureOptimization"] = json!({"scaleInAfter": 300});
        reported.provider["instanceLaunchTemplate"]["instanceMetadataTagsPropagation"] =
            json!(false);
        o.capacity_providers = d.capacity_providers.clone();
        o.mi_providers.insert(
            "mi-general".into(),
            ObservedProvider {
                arn: "arn".into(),
                status: "ACTIVE".into(),
                provider: reported.clone(),
            },
        );
        assert_eq!(diff(&d, &o), vec![]);
        // A changed value is.
        let mut changed = reported;
        changed.provider["instanceLaunchTemplate"]["storageConfiguration"]["storageSizeGiB"] =
            json!(30);
        o.mi_providers
            .get_mut("mi-general")
            .expect("present")
            .provider = changed;
        assert_eq!(
            diff(&d, &o),
            vec![Change::UpdateMiProvider("mi-general".into())]
        );
    }

    #[test]
    fn providers_that_leave_the_spec_are_deleted_only_when_ours() {
        let mut d = desired(
            &spec(json!({"clusterName": "c", "capacityProviders": ["FARGATE"]})),
            "c",
        );
        let owner = |uid: &str| -> BTreeMap<String, String> {
            [
                (crate::aws::tags::OWNER_TAG.to_string(), format!("ns/{uid}")),
                (crate::aws::tags::OWNER_UID_TAG.to_string(), uid.to_string()),
            ]
            .into()
        };
        d.owner_tags = owner("me");
        let mut o = observed_default("c");
        o.capacity_providers = ["FARGATE", "old-asg", "old-mi", "theirs"]
            .map(String::from)
            .into();
        o.strays.insert(
            "old-asg".into(),
            StrayProvider {
                managed_instances: false,
                tags: owner("me"),
            },
        );
        o.strays.insert(
            "old-mi".into(),
            StrayProvider {
                managed_instances: true,
                tags: owner("me"),
            },
        );
        o.strays.insert(
            "theirs".into(),
            StrayProvider {
                managed_instances: false,
                tags: owner("other"),
            },
        );
        // Same owner tags, written by another operator instance: not this one's to delete.
        let mut other_instance = owner("me");
        other_instance.insert(crate::aws::tags::INSTANCE_TAG.to_string(), "b".into());
        o.capacity_providers.insert("other-instance".into());
        o.strays.insert(
            "other-instance".into(),
            StrayProvider {
                managed_instances: false,
                tags: other_instance,
            },
        );
        assert_eq!(
            diff(&d, &o),
            vec![
                Change::PutCapacityProviders,
                Change::DeleteProvider {
                    name: "old-asg".into(),
                    managed_instances: false
                },
                Change::DeleteProvider {
                    name: "old-mi".into(),
                    managed_instances: true
                },
            ]
        );
        // Observe-only (no ownership tags) deletes nothing.
        d.owner_tags.clear();
        assert_eq!(diff(&d, &o), vec![Change::PutCapacityProviders]);
    }

    fn observed_asg(d: &DesiredCluster, name: &str) -> ObservedProvider {
        let mut provider = d.asg_providers[name].clone();
        provider.provider["managedScaling"]["status"] = json!("DISABLED");
        ObservedProvider {
            arn: format!("arn:aws:ecs:us-east-1:123456789012:capacity-provider/{name}"),
            status: "ACTIVE".into(),
            provider,
        }
    }

    fn asg_spec() -> Value {
        json!({
            "capacityProviders": ["FARGATE"],
            "autoScalingGroupProviders": [{
                "name": "workers",
                "autoScalingGroupProvider": {"autoScalingGroupArn": "workers-asg"},
            }],
            "defaultCapacityProviderStrategy": [
                {"capacityProvider": "workers", "weight": 1},
                {"capacityProvider": "FARGATE", "base": 1, "weight": 0},
            ],
        })
    }

    #[test]
    fn empty_spec_matches_aws_defaults() {
        let d = desired(&EcsClusterSpec::default(), "app");
        assert_eq!(d.cluster_name, "app");
        assert_eq!(diff(&d, &observed_default("app")), vec![]);
        // Some endpoints report no settings at all.
        let mut o = observed_default("app");
        o.settings.clear();
        assert_eq!(diff(&d, &o), vec![]);
    }

    #[test]
    fn desired_defaults_name_from_metadata_and_merges_providers() {
        let d = desired(&spec(asg_spec()), "from-metadata");
        assert_eq!(d.cluster_name, "from-metadata");
        assert_eq!(
            d.capacity_providers,
            ["FARGATE".to_string(), "workers".to_string()].into()
        );
        assert_eq!(
            d.default_capacity_provider_strategy,
            vec![
                StrategyItem {
                    capacity_provider: "FARGATE".into(),
                    weight: 0,
                    base: 1
                },
                StrategyItem {
                    capacity_provider: "workers".into(),
                    weight: 1,
                    base: 0
                },
            ]
        );
        let p = &d.asg_providers["workers"];
        assert_eq!(p.provider["managedScaling"]["targetCapacity"], 100);
        assert_eq!(p.provider["managedDraining"], "ENABLED");
        assert_eq!(p.provider["managedTerminationProtection"], "DISABLED");
        let named = desired(&spec(json!({"clusterName": "prod"})), "from-metadata");
        assert_eq!(named.cluster_name, "prod");
    }

    #[test]
    fn configuration_is_canonical() {
        let c: ClusterConfiguration = serde_json::from_value(json!({
            "executeCommandConfiguration": {
                "logging": "DEFAULT",
                "logConfiguration": {"cloudWatchEncryptionEnabled": false}
            }
        }))
        .expect("valid configuration");
        assert_eq!(canonical_configuration(&c), None);
        let c: ClusterConfiguration = serde_json::from_value(json!({
            "executeCommandConfiguration": {"kmsKeyId": "k", "logging": "OVERRIDE",
                "logConfiguration": {"s3BucketName": "b", "s3EncryptionEnabled": false}}
        }))
        .expect("valid configuration");
        assert_eq!(
            canonical_configuration(&c),
            Some(
                json!({"executeCommandConfiguration": {"kmsKeyId": "k", "logging": "OVERRIDE",
                "logConfiguration": {"s3BucketName": "b"}}})
            )
        );
    }

    #[test]
    fn diff_table() {
        let with = |v: Value| desired(&spec(v), "app");
        let obs = |f: &dyn Fn(&mut ObservedCluster)| {
            let mut o = observed_default("app");
            f(&mut o);
            o
        };
        let asg = with(asg_spec());
        let asg_in_sync = {
            let d = asg.clone();
            obs(&move |o| {
                o.capacity_providers = d.capacity_providers.clone();
                o.default_capacity_provider_strategy = d.default_capacity_provider_strategy.clone();
                o.asg_providers = [("workers".to_string(), observed_asg(&d, "workers"))].into();
            })
        };
        let exec = json!({"configuration": {"executeCommandConfiguration": {"logging": "NONE"}}});
        let cases: Vec<(&str, DesiredCluster, ObservedCluster, Vec<Change>)> = vec![
            (
                "container insights enabled",
                with(json!({"settings": [{"name": "containerInsights", "value": "enhanced"}]})),
                obs(&|_| {}),
                vec![Change::UpdateSettings],
            ),
            (
                "explicit disabled equals the default",
                with(json!({"settings": [{"name": "containerInsights", "value": "disabled"}]})),
                obs(&|o| o.settings.clear()),
                vec![],
            ),
            (
                "unlisted setting keeps the account default",
                with(json!({})),
                obs(&|o| {
                    o.settings
                        .insert("containerInsights".into(), "enabled".into());
                }),
                vec![],
            ),
            (
                "fargate providers added",
                with(json!({"capacityProviders": ["FARGATE_SPOT", "FARGATE"]})),
                obs(&|_| {}),
                vec![Change::PutCapacityProviders],
            ),
            (
                "providers in another order are equal",
                with(json!({"capacityProviders": ["FARGATE_SPOT", "FARGATE"]})),
                obs(&|o| {
                    o.capacity_providers =
                        ["FARGATE".to_string(), "FARGATE_SPOT".to_string()].into()
                }),
                vec![],
            ),
            (
                "strategy weight changed",
                with(json!({"capacityProviders": ["FARGATE"],
                    "defaultCapacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 2}]})),
                obs(&|o| {
                    o.capacity_providers = ["FARGATE".to_string()].into();
                    o.default_capacity_provider_strategy = vec![StrategyItem {
                        capacity_provider: "FARGATE".into(),
                        weight: 1,
                        base: 0,
                    }];
                }),
                vec![Change::PutCapacityProviders],
            ),
            (
                "strategy removed from spec",
                with(json!({"capacityProviders": ["FARGATE"]})),
                obs(&|o| {
                    o.capacity_providers = ["FARGATE".to_string()].into();
                    o.default_capacity_provider_strategy = vec![StrategyItem {
                        capacity_provider: "FARGATE".into(),
                        weight: 1,
                        base: 0,
                    }];
                }),
                vec![Change::PutCapacityProviders],
            ),
            (
                "configuration set",
                with(exec.clone()),
                obs(&|_| {}),
                vec![Change::UpdateConfiguration],
            ),
            (
                "configuration equal",
                with(exec.clone()),
                obs(&|o| {
                    o.configuration =
                        Some(json!({"executeCommandConfiguration": {"logging": "NONE"}}))
                }),
                vec![],
            ),
            (
                "configuration removed from spec",
                with(json!({})),
                obs(&|o| {
                    o.configuration =
                        Some(json!({"executeCommandConfiguration": {"logging": "NONE"}}))
                }),
                vec![Change::UpdateConfiguration],
            ),
            (
                "managed storage left in AWS is not fought",
                with(exec.clone()),
                obs(&|o| {
                    o.configuration = Some(json!({
                        "executeCommandConfiguration": {"logging": "NONE"},
                        "managedStorageConfiguration": {"kmsKeyId": "k"}
                    }))
                }),
                vec![],
            ),
            (
                "service connect namespace set",
                with(json!({"serviceConnectDefaults": {"namespace": "apps"}})),
                obs(&|_| {}),
                vec![Change::UpdateServiceConnectDefaults],
            ),
            (
                "service connect namespace name vs reported ARN",
                with(json!({"serviceConnectDefaults": {"namespace": "apps"}})),
                obs(&|o| {
                    o.service_connect_defaults = Some(json!({"namespace":
                        "arn:aws:servicediscovery:us-east-1:123456789012:namespace/ns-abc"}))
                }),
                vec![],
            ),
            (
                "service connect removed from spec",
                with(json!({})),
                obs(&|o| o.service_connect_defaults = Some(json!({"namespace": "apps"}))),
                vec![Change::UpdateServiceConnectDefaults],
            ),
            (
                "asg provider missing: create it first, then attach",
                asg.clone(),
                obs(&|_| {}),
                vec![
                    Change::CreateAsgProvider("workers".into()),
                    Change::PutCapacityProviders,
                ],
            ),
            (
                "asg provider in sync (unset scaling status accepts ECS's)",
                asg.clone(),
                asg_in_sync.clone(),
                vec![],
            ),
            (
                "asg provider target capacity changed",
                {
                    let mut v = asg_spec();
                    v["autoScalingGroupProviders"][0]["autoScalingGroupProvider"]["managedScaling"] =
                        json!({"status": "ENABLED", "targetCapacity": 90});
                    with(v)
                },
                asg_in_sync.clone(),
                vec![Change::UpdateAsgProvider("workers".into())],
            ),
            (
                "asg provider tag added",
                {
                    let mut v = asg_spec();
                    v["autoScalingGroupProviders"][0]["tags"] = json!([{"key": "k", "value": "v"}]);
                    with(v)
                },
                asg_in_sync.clone(),
                vec![Change::UpdateAsgProvider("workers".into())],
            ),
            (
                "asg name matches the reported ARN",
                asg.clone(),
                {
                    let mut o = asg_in_sync.clone();
                    if let Some(p) = o.asg_providers.get_mut("workers") {
                        p.provider.provider["autoScalingGroupArn"] = json!(
                            "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:uuid:autoScalingGroupName/workers-asg"
                        );
                    }
                    o
                },
                vec![],
            ),
            (
                "asg provider bound to another group",
                asg.clone(),
                {
                    let mut o = asg_in_sync.clone();
                    if let Some(p) = o.asg_providers.get_mut("workers") {
                        p.provider.provider["autoScalingGroupArn"] = json!("other-asg");
                    }
                    o
                },
                vec![Change::AsgProviderGroupDiffers {
                    name: "workers".into(),
                    desired: "workers-asg".into(),
                    observed: "other-asg".into(),
                }],
            ),
        ];
        for (name, d, o, want) in cases {
            assert_eq!(diff(&d, &o), want, "{name}");
        }
    }

    #[test]
    fn configuration_round_trips_through_the_sdk_types() {
        let d = desired(
            &spec(json!({"configuration": {
                "executeCommandConfiguration": {"kmsKeyId": "k", "logging": "OVERRIDE",
                    "logConfiguration": {"cloudWatchLogGroupName": "g", "cloudWatchEncryptionEnabled": true}},
                "managedStorageConfiguration": {"fargateEphemeralStorageKmsKeyId": "f"}
            }})),
            "app",
        );
        assert_eq!(configuration_from_sdk(&configuration(&d)), d.configuration);
        // No configuration in the spec resets ECS Exec to its defaults, which compares as none.
        let empty = desired(&EcsClusterSpec::default(), "app");
        assert_eq!(configuration_from_sdk(&configuration(&empty)), None);
    }

    #[test]
    fn asg_provider_round_trips_through_the_sdk_types() {
        let mut v = asg_spec();
        v["autoScalingGroupProviders"][0]["autoScalingGroupProvider"] = json!({
            "autoScalingGroupArn": "workers-asg", "managedDraining": "DISABLED",
            "managedTerminationProtection": "ENABLED",
            "managedScaling": {"status": "ENABLED", "targetCapacity": 90, "instanceWarmupPeriod": 0},
        });
        let d = desired(&spec(v), "app");
        let want = &d.asg_providers["workers"];
        let sdk = bridge::to_sdk(&want.provider, ecs::AutoScalingGroupProvider::deserialize)
            .expect("create shape");
        assert_eq!(
            sdk.managed_scaling.as_ref().and_then(|m| m.target_capacity),
            Some(90)
        );
        let back = asg_provider_from_sdk("workers".into(), &sdk, None);
        assert!(asg_provider_matches(want, &back), "{want:?} vs {back:?}");
        let update = bridge::to_sdk(
            &want.provider,
            ecs::AutoScalingGroupProviderUpdate::deserialize,
        )
        .expect("update shape");
        assert_eq!(
            update.managed_draining,
            Some(ecs::ManagedDraining::Disabled)
        );
        assert_eq!(
            update
                .managed_scaling
                .and_then(|m| m.instance_warmup_period),
            Some(0)
        );
        let items = strategy(&d).expect("strategy shape");
        assert_eq!(
            strategy_from_sdk(&items),
            d.default_capacity_provider_strategy
        );
    }

    #[test]
    fn status_fields_come_from_the_observed_cluster() {
        let mut o = observed_default("app");
        o.active_services_count = 2;
        o.capacity_providers = ["FARGATE".to_string()].into();
        let mut s = EcsClusterStatus::default();
        o.fill_status(&mut s);
        assert_eq!(s.active_services_count, Some(2));
        assert_eq!(s.status.as_deref(), Some("ACTIVE"));
        assert_eq!(s.capacity_providers, vec!["FARGATE".to_string()]);
        assert!(o.is_ready());
    }
}
