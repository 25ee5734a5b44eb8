//! Reading an existing estate back as specs, for `ecs-operator export`.
//!
//! The read-back functions are pure (SDK answers -> spec): each kind's spec, fed through that
//! kind's `desired` and `diff` against the same AWS answers, asks AWS for nothing, so applying an
//! export with `adoptionPolicy: Adopt` writes nothing but ownership tags. The `*_differences`
//! functions check exactly that, for the unit tests and for `export` itself (which warns when a
//! resource holds something the spec cannot express). The list/describe calls sit at the end.

use std::collections::BTreeMap;

use aws_sdk_ecr::types as ecr;
use aws_sdk_ecs::types as ecs;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::api::ecr_repository::{
    self as repo_api, EcrRepositorySpec, EncryptionType, ImageTagMutability,
};
use crate::api::ecs_cluster::{self as cluster_api, EcsClusterSpec};
use crate::api::ecs_express_service::EcsExpressServiceSpec;
use crate::api::ecs_gateway::{self as gateway_api, EcsGatewaySpec};
use crate::api::ecs_service::{
    self as service_api, AvailabilityZoneRebalancing, DeploymentControllerType, EcsServiceSpec,
    SchedulingStrategy,
};
use crate::api::task_definition::TaskDefinitionSpec;
use crate::aws::errors::{AwsError, from_sdk};
use crate::aws::policy;
use crate::kinds::ecr_repository::mapping as ecr_mapping;
use crate::kinds::ecs_cluster::mapping as ecs_cluster;
use crate::kinds::ecs_cluster::sdk as ecs_cluster_sdk;
use crate::kinds::ecs_express_service::mapping as express_mapping;
use crate::kinds::ecs_gateway::mapping as ecs_gateway;
use crate::kinds::ecs_service::mapping as ecs_service;
use crate::kinds::task_definition::mapping as task_definition;
use crate::kinds::task_definition::sdk::{self as td_io, Revision};

use crate::aws::tags::{OPERATOR_TAG_PREFIX, is_user_tag};

/// A spec read back from AWS, with notes on anything the spec could not hold.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadBack<T> {
    pub spec: T,
    pub notes: Vec<String>,
}

/// Parses an AWS enum string into the API enum (they share the AWS spelling).
fn from_aws<T: DeserializeOwned>(value: &str) -> Option<T> {
    serde_json::from_value(Value::String(value.to_string())).ok()
}

fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}

/// The user's tags among `(key, value)` pairs (see [`is_user_tag`]) as spec tags; `None` when
/// there are none.
fn user_tags<'a, T>(
    tags: impl Iterator<Item = (&'a str, &'a str)>,
    tag: fn(String, String) -> T,
) -> Option<Vec<T>> {
    non_empty(
        tags.filter(|(key, _)| is_user_tag(key))
            .map(|(key, value)| tag(key.to_string(), value.to_string()))
            .collect(),
    )
}

// ---- EcrRepository ----------------------------------------------------------------------------

/// Everything the spec of one repository is read from.
#[derive(Clone, Debug)]
pub struct RepositoryState {
    pub repository: ecr::Repository,
    pub tags: Vec<ecr::Tag>,
    pub lifecycle_policy_text: Option<String>,
    pub repository_policy_text: Option<String>,
}

impl RepositoryState {
    pub fn name(&self) -> &str {
        self.repository
            .repository_name
            .as_deref()
            .unwrap_or_default()
    }

    fn observed(&self) -> Result<ecr_mapping::ObservedRepository, AwsError> {
        ecr_mapping::observed_from(
            &self.repository,
            &self.tags,
            self.lifecycle_policy_text.as_deref(),
            self.repository_policy_text.as_deref(),
        )
    }
}

/// The EcrRepository spec that matches the repository as it is. Pure.
pub fn repository_spec(state: &RepositoryState) -> ReadBack<EcrRepositorySpec> {
    let repo = &state.repository;
    let mut notes = Vec::new();
    let mut spec = EcrRepositorySpec {
        repository_name: repo.repository_name.clone(),
        ..Default::default()
    };
    spec.image_tag_mutability = repo
        .image_tag_mutability
        .as_ref()
        .and_then(|m| from_aws::<ImageTagMutability>(m.as_str()))
        .filter(|m| *m != ImageTagMutability::Mutable);
    spec.image_tag_mutability_exclusion_filters = non_empty(
        repo.image_tag_mutability_exclusion_filters
            .iter()
            .flatten()
            .filter_map(|f| {
                Some(repo_api::ImageTagMutabilityExclusionFilter {
                    filter_type: from_aws(f.filter_type.as_str())?,
                    filter: f.filter.clone(),
                })
            })
            .collect(),
    );
    spec.image_scanning_configuration = repo
        .image_scanning_configuration
        .as_ref()
        .filter(|c| c.scan_on_push)
        .map(|_| repo_api::ImageScanningConfiguration { scan_on_push: true });
    spec.encryption_configuration = repo.encryption_configuration.as_ref().and_then(|e| {
        let encryption_type = from_aws::<EncryptionType>(e.encryption_type.as_str())?;
        (encryption_type != EncryptionType::Aes256 || e.kms_key.is_some()).then(|| {
            repo_api::EncryptionConfiguration {
                encryption_type,
                kms_key: e.kms_key.clone(),
            }
        })
    });
    let tags = state
        .tags
        .iter()
        .map(|t| (t.key.as_str(), t.value.as_str()));
    spec.tags = user_tags(tags, |key, value| repo_api::Tag { key, value }).map(|mut tags| {
        tags.sort();
        tags
    });
    if let Some(text) = &state.lifecycle_policy_text {
        match serde_json::from_str::<repo_api::LifecyclePolicy>(text) {
            Ok(p) => {
                let kept = serde_json::to_value(&p).map(|v| policy::normalize(&v));
                if kept.ok() != Some(policy::normalize_text(text)) {
                    notes.push(
                        "the lifecycle policy has fields lifecyclePolicy cannot hold".to_string(),
                    );
                }
                spec.lifecycle_policy = Some(p);
            }
            Err(e) => notes.push(format!(
                "the lifecycle policy is not one lifecyclePolicy can hold ({e}); left out"
            )),
        }
    }
    if let Some(text) = &state.repository_policy_text {
        match serde_json::from_str::<Value>(text) {
            Ok(p) => spec.repository_policy = Some(p),
            Err(e) => notes.push(format!("the repository policy is not JSON ({e}); left out")),
        }
    }
    ReadBack { spec, notes }
}

/// What applying `spec` to this repository would change, apart from the operator's own tags.
pub fn repository_differences(
    spec: &EcrRepositorySpec,
    state: &RepositoryState,
) -> Result<Vec<String>, AwsError> {
    let desired = ecr_mapping::desired(spec, state.name());
    let observed = state.observed()?;
    let mut out: Vec<String> = ecr_mapping::diff(&desired, &observed)
        .iter()
        .map(|c| c.describe())
        .collect();
    out.extend(tag_differences(&desired.tags, &observed.tags));
    Ok(out)
}

/// The driver's tag comparison, apart from the operator's own tags (it writes those when it
/// adopts).
fn tag_differences(
    desired: &BTreeMap<String, String>,
    observed: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut changes = crate::aws::tags::diff(desired, observed);
    changes.remove = operator_tags_left_out(changes.remove);
    changes.describe()
}

/// Tag keys to remove, without the operator's own (it writes those when it adopts).
fn operator_tags_left_out(keys: Vec<String>) -> Vec<String> {
    keys.into_iter()
        .filter(|k| !k.starts_with(OPERATOR_TAG_PREFIX))
        .collect()
}

// ---- EcsCluster -------------------------------------------------------------------------------

/// The EcsCluster spec that matches the cluster as it is (from DescribeClusters with settings,
/// configurations and tags). Auto Scaling group capacity providers are associated by name in
/// `capacityProviders`; they are not declared, so the operator never changes or deletes them. Pure.
pub fn cluster_spec(cluster: &ecs::Cluster) -> Result<ReadBack<EcsClusterSpec>, AwsError> {
    let observed = ecs_cluster_sdk::observed_from(cluster, BTreeMap::new())?;
    let mut notes = Vec::new();
    let mut spec = EcsClusterSpec {
        cluster_name: cluster.cluster_name.clone(),
        ..Default::default()
    };
    let mut settings = Vec::new();
    for (name, value) in &observed.settings {
        match serde_json::from_value::<cluster_api::ClusterSetting>(
            json!({"name": name, "value": value}),
        ) {
            Ok(s) => settings.push(s),
            // Unlisted settings are left alone by the operator, so leaving it out is safe.
            Err(_) => notes.push(format!(
                "cluster setting {name}={value} is not one settings can hold; left out (unchanged)"
            )),
        }
    }
    spec.settings = non_empty(settings);
    if let Some(c) = &observed.configuration {
        match serde_json::from_value::<cluster_api::ClusterConfiguration>(c.clone()) {
            Ok(c) => spec.configuration = Some(c),
            Err(e) => notes.push(format!(
                "the configuration is not one configuration can hold ({e}); left out"
            )),
        }
    }
    spec.service_connect_defaults = observed
        .service_connect_defaults
        .as_ref()
        .and_then(|v| v.get("namespace"))
        .and_then(Value::as_str)
        .map(|namespace| cluster_api::ClusterServiceConnectDefaults {
            namespace: namespace.to_string(),
        });
    spec.capacity_providers = non_empty(observed.capacity_providers.iter().cloned().collect());
    spec.default_capacity_provider_strategy = non_empty(
        observed
            .default_capacity_provider_strategy
            .iter()
            .map(|s| cluster_api::CapacityProviderStrategyItem {
                capacity_provider: s.capacity_provider.clone(),
                weight: (s.weight != 0).then_some(s.weight),
                base: (s.base != 0).then_some(s.base),
            })
            .collect(),
    );
    let tags = observed.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    spec.tags = user_tags(tags, |key, value| cluster_api::Tag { key, value });
    Ok(ReadBack { spec, notes })
}

/// What applying `spec` to this cluster would change, apart from the operator's own tags.
pub fn cluster_differences(
    spec: &EcsClusterSpec,
    cluster: &ecs::Cluster,
) -> Result<Vec<String>, AwsError> {
    let name = cluster.cluster_name.as_deref().unwrap_or_default();
    let desired = ecs_cluster::desired(spec, name);
    let observed = ecs_cluster_sdk::observed_from(cluster, BTreeMap::new())?;
    let mut out: Vec<String> = ecs_cluster::diff(&desired, &observed)
        .iter()
        .map(|c| c.describe())
        .collect();
    out.extend(tag_differences(&desired.tags, &observed.tags));
    Ok(out)
}

// ---- EcsGateway -------------------------------------------------------------------------------

/// One gateway (DescribeGateway) and its cluster associations.
#[derive(Clone, Debug)]
pub struct GatewayState {
    pub gateway: ecs::Gateway,
    pub associations: Vec<ecs::GatewayClusterAssociationSummary>,
}

impl GatewayState {
    /// ARNs of the clusters the gateway is ACTIVE-associated with, sorted.
    pub fn clusters(&self) -> Vec<String> {
        let mut arns: Vec<String> = self
            .associations
            .iter()
            .filter(|a| a.status.as_ref().map(|s| s.as_str()) == Some("ACTIVE"))
            .filter_map(|a| a.cluster_arn.clone())
            .collect();
        arns.sort();
        arns.dedup();
        arns
    }
}

/// The EcsGateway spec that matches the gateway as it is, without `clusterRefs` / `clusters`
/// (the caller wires those). `deletionProtection` is always written out: whether the object
/// may delete the gateway should be visible in the manifest. Pure.
pub fn gateway_spec(state: &GatewayState) -> ReadBack<EcsGatewaySpec> {
    let g = &state.gateway;
    let mut notes = Vec::new();
    let observed = ecs_gateway::observed(g, &state.associations).unwrap_or_default();
    let mut alb = Value::Object(observed.alb.clone());
    if let Some(m) = alb.as_object_mut() {
        // Reported, not requested.
        m.remove("currentAlbCount");
    }
    let host_shared_alb =
        match serde_json::from_value::<gateway_api::HostSharedAlbConfiguration>(alb) {
            Ok(c) => Some(c),
            Err(e) => {
                notes.push(format!(
                "the configuration is not one configuration.hostSharedAlb can hold ({e}); left out"
            ));
                None
            }
        };
    let tags = observed.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    let spec = EcsGatewaySpec {
        name: g.name.clone(),
        infrastructure_role_arn: g.infrastructure_role_arn.clone().unwrap_or_default(),
        deletion_protection: g.deletion_protection,
        configuration: host_shared_alb.map(|c| gateway_api::GatewayConfiguration {
            host_shared_alb: Some(c),
        }),
        propagate_tags: observed.propagate_tags.as_deref().and_then(from_aws),
        tags: user_tags(tags, |key, value| gateway_api::Tag { key, value }),
        ..Default::default()
    };
    ReadBack { spec, notes }
}

/// What applying `spec` (with `refs`: the ARNs its clusterRefs resolve to) to this gateway would
/// change, apart from the operator's own tags.
pub fn gateway_differences(
    spec: &EcsGatewaySpec,
    refs: Vec<String>,
    state: &GatewayState,
) -> Vec<String> {
    let name = state.gateway.name.clone().unwrap_or_default();
    let Ok(desired) = ecs_gateway::desired(spec, name, refs, &BTreeMap::new()) else {
        return vec!["the spec does not form a request".into()];
    };
    let Some(observed) = ecs_gateway::observed(&state.gateway, &state.associations) else {
        return vec!["DescribeGateway answered without an ARN".into()];
    };
    let mut out: Vec<String> = ecs_gateway::diff(&desired, &observed)
        .iter()
        .map(|c| c.describe())
        .collect();
    out.extend(tag_differences(&desired.tags, &observed.tags));
    out
}

// ---- EcsService -------------------------------------------------------------------------------

/// AWS's service-linked role, which DescribeServices reports for services created without a role.
const SERVICE_LINKED_ROLE: &str = "/aws-service-role/ecs.amazonaws.com/";

/// The EcsService spec that matches the service as it is (from DescribeServices with tags),
/// without `cluster`/`clusterRef` and `taskDefinition`/`taskDefinitionRef`: the caller wires
/// those. AWS defaults are left out. Pure.
pub fn service_spec(svc: &ecs::Service) -> ReadBack<EcsServiceSpec> {
    let mut notes = Vec::new();
    let observed = ecs_service::observed_from(svc).spec;
    let daemon = observed.scheduling_strategy == Some(SchedulingStrategy::Daemon);
    // What AWS reports for an unset field is what UpdateService sends to unset it.
    let mut s = without_defaults(&observed, |key| ecs_service::unset_default(key, daemon));
    if daemon {
        // One task per instance: AWS computes the count, and the API server forbids setting it.
        s.desired_count = None;
    } else {
        s.scheduling_strategy = None;
    }
    for item in s.capacity_provider_strategy.iter_mut().flatten() {
        item.weight = item.weight.filter(|w| *w != 0);
        item.base = item.base.filter(|b| *b != 0);
    }
    if s.capacity_provider_strategy.is_some() {
        s.launch_type = None;
    }
    s.role = s.role.filter(|r| !r.contains(SERVICE_LINKED_ROLE));
    s.deployment_configuration = s
        .deployment_configuration
        .map(|c| without_defaults(&c, |key| ecs_service::deployment_default(key, daemon)))
        .filter(|c| *c != service_api::DeploymentConfiguration::default());
    if let Some(vpc) = s
        .network_configuration
        .as_mut()
        .and_then(|n| n.awsvpc_configuration.as_mut())
        && vpc.assign_public_ip == Some(service_api::AssignPublicIp::Disabled)
    {
        vpc.assign_public_ip = None;
    }
    if s.network_configuration
        .as_ref()
        .is_some_and(|n| n.awsvpc_configuration.is_none())
    {
        s.network_configuration = None;
    }
    if s.deployment_controller
        .as_ref()
        .is_some_and(|c| c.type_ == DeploymentControllerType::CodeDeploy)
    {
        notes.push(
            "deploymentController CODE_DEPLOY: CodeDeploy moves the task definition; the operator \
             cannot follow its deployments"
                .to_string(),
        );
    }
    s.service_connect_configuration = s.service_connect_configuration.filter(|c| c.enabled);
    // AWS enables rebalancing by default; only a service that turned it off says so.
    s.availability_zone_rebalancing = s
        .availability_zone_rebalancing
        .filter(|r| *r != AvailabilityZoneRebalancing::Enabled);
    let tags = svc
        .tags
        .iter()
        .flatten()
        .filter_map(|t| Some((t.key.as_deref()?, t.value.as_deref().unwrap_or_default())));
    s.tags = user_tags(tags, |key, value| service_api::Tag { key, value });
    ReadBack { spec: s, notes }
}

/// `value` without the members whose value is `default(member)` (unchanged should it not
/// read back, which a value of its own type always does).
fn without_defaults<T: Serialize + DeserializeOwned + Clone>(
    value: &T,
    default: impl Fn(&str) -> Option<Value>,
) -> T {
    let Ok(Value::Object(mut members)) = serde_json::to_value(value) else {
        return value.clone();
    };
    members.retain(|key, v| default(key).as_ref() != Some(v));
    serde_json::from_value(Value::Object(members)).unwrap_or_else(|_| value.clone())
}

/// What applying `spec` to this service would change, apart from the operator's own tags.
/// `task_definition` is what the spec's task definition resolves to (the ARN in use).
pub fn service_differences(
    spec: &EcsServiceSpec,
    svc: &ecs::Service,
    task_definition: &str,
) -> Vec<String> {
    let name = svc.service_name.as_deref().unwrap_or_default();
    let cluster = svc.cluster_arn.clone().unwrap_or_default();
    let desired = ecs_service::desired(spec, name, cluster, task_definition.to_string());
    let observed = ecs_service::observed_from(svc);
    let fields = ecs_service::diff(&desired, &observed);
    let mut out: Vec<String> = (!fields.is_empty())
        .then(|| ecs_service::describe(&fields))
        .into_iter()
        .collect();
    out.extend(tag_differences(
        &ecs_service::desired_tags(&desired),
        &observed.tags,
    ));
    out
}

// ---- EcsExpressService ------------------------------------------------------------------------

/// Whether DescribeServices reports the service as an Express service (its resources managed by
/// ECS): it is exported as an EcsExpressService, not as an EcsService.
pub fn is_express(svc: &ecs::Service) -> bool {
    svc.resource_management_type == Some(ecs::ResourceManagementType::Ecs)
}

/// The EcsExpressService spec that matches the Express service as it is (from
/// DescribeExpressGatewayService with tags): the newest active configuration's request fields,
/// without `cluster`/`clusterRef` (the caller wires those). `taskDefinitionArn` is kept only
/// when there is no `primaryContainer` (otherwise it is the task definition ECS manages for it).
/// Pure.
pub fn express_spec(x: &ecs::EcsExpressGatewayService) -> ReadBack<EcsExpressServiceSpec> {
    let mut notes = Vec::new();
    let config = express_mapping::observed(x, None)
        .and_then(|o| o.config)
        .unwrap_or_default();
    if config.is_empty() {
        notes.push("no active configuration could be read; the spec holds only its name".into());
    }
    let mut request: serde_json::Map<String, Value> = express_mapping::UPDATABLE
        .iter()
        .filter_map(|k| config.get(*k).map(|v| (k.to_string(), v.clone())))
        .filter(|(_, v)| !v.is_null())
        .collect();
    if request.contains_key("primaryContainer") {
        request.remove("taskDefinitionArn");
    }
    request.insert("serviceName".into(), json!(x.service_name));
    request.insert(
        "infrastructureRoleArn".into(),
        json!(x.infrastructure_role_arn.clone().unwrap_or_default()),
    );
    let tags = x
        .tags
        .iter()
        .flatten()
        .filter_map(|t| Some((t.key.as_deref()?, t.value.as_deref().unwrap_or_default())));
    if let Some(tags) = user_tags(tags, |key, value| json!({"key": key, "value": value})) {
        request.insert("tags".into(), Value::Array(tags));
    }
    let spec = match serde_json::from_value::<EcsExpressServiceSpec>(Value::Object(request)) {
        Ok(spec) => spec,
        Err(e) => {
            notes.push(format!(
                "the configuration is not one the spec can hold ({e}); only the name is kept"
            ));
            EcsExpressServiceSpec {
                service_name: x.service_name.clone(),
                infrastructure_role_arn: x.infrastructure_role_arn.clone().unwrap_or_default(),
                ..Default::default()
            }
        }
    };
    ReadBack { spec, notes }
}

/// What applying `spec` to this Express service would change, apart from the operator's own
/// tags.
pub fn express_differences(
    spec: &EcsExpressServiceSpec,
    x: &ecs::EcsExpressGatewayService,
) -> Vec<String> {
    let name = x.service_name.clone().unwrap_or_default();
    let cluster = x.cluster.clone().unwrap_or_default();
    let (Ok(desired), Some(observed)) = (
        express_mapping::desired(spec, name, cluster, None, &BTreeMap::new()),
        express_mapping::observed(x, None),
    ) else {
        return vec!["the service cannot be compared with the spec".into()];
    };
    let mut out: Vec<String> = express_mapping::diff(&desired, &observed)
        .iter()
        .map(|c| c.describe())
        .collect();
    out.extend(tag_differences(&desired.tags, &observed.tags));
    out
}

// ---- TaskDefinition ---------------------------------------------------------------------------

/// The TaskDefinition spec that matches a revision (DescribeTaskDefinition with tags): the
/// existing `spec_from_aws` mapping, in its normalised form (AWS-added defaults such as
/// `essential: true`, `cpu: 0`, `protocol: tcp` and empty lists left out), with `family`. Pure.
pub fn task_definition_spec(td: &ecs::TaskDefinition, tags: &[ecs::Tag]) -> TaskDefinitionSpec {
    let kept: Vec<ecs::Tag> = tags
        .iter()
        .filter(|t| t.key.as_deref().is_some_and(is_user_tag))
        .cloned()
        .collect();
    let full = task_definition::spec_from_aws(td, &kept);
    let mut clean = task_definition::normalize(&full);
    if let (Some(obj), Some(family)) = (clean.as_object_mut(), &full.family) {
        obj.insert("family".into(), json!(family));
    }
    // The normalised form is the same task definition by construction; keep the full one if
    // it ever fails to read back as a spec.
    match serde_json::from_value::<TaskDefinitionSpec>(clean) {
        Ok(spec) if task_definition::normalize(&spec) == task_definition::normalize(&full) => spec,
        _ => full,
    }
}

/// Whether adopting `rev` with `spec` would register a new revision, as the TaskDefinition
/// reconciler decides it for a revision without its spec-hash tag: the normalised specs, the
/// operator's own tags aside, must be equal. Returns the top-level fields that differ.
pub fn task_definition_differences(spec: &TaskDefinitionSpec, rev: &Revision) -> Vec<String> {
    let want = task_definition::comparable(spec);
    let have = task_definition::comparable(&task_definition::spec_from_aws(
        &rev.task_definition,
        &rev.aws_tags,
    ));
    if want == have {
        return Vec::new();
    }
    let empty = serde_json::Map::new();
    let (w, h) = (
        want.as_object().unwrap_or(&empty),
        have.as_object().unwrap_or(&empty),
    );
    let mut fields: Vec<String> = w
        .keys()
        .chain(h.keys())
        .filter(|k| w.get(*k) != h.get(*k))
        .cloned()
        .collect();
    fields.sort();
    fields.dedup();
    vec![format!(
        "a new revision would be registered (differs from revision {} in: {})",
        rev.revision,
        fields.join(", ")
    )]
}

/// `family` and revision number of a task definition ARN (`...:task-definition/family:7`).
pub use crate::kinds::task_definition::sdk::parse_arn as parse_task_definition_arn;

// ---- SDK calls --------------------------------------------------------------------------------

/// Every gateway in the region, described, with its cluster associations.
pub async fn gateways(client: &aws_sdk_ecs::Client) -> Result<Vec<GatewayState>, AwsError> {
    let names: Vec<String> = client
        .list_gateways()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| from_sdk("ListGateways", e))?
        .into_iter()
        .filter_map(|g| g.gateway_arn)
        .collect();
    let mut out = Vec::new();
    for arn in names {
        let Some(gateway) = crate::kinds::ecs_gateway::sdk::describe(client, &arn).await? else {
            continue;
        };
        let associations = crate::kinds::ecs_gateway::sdk::associations(client, &arn).await?;
        out.push(GatewayState {
            gateway,
            associations,
        });
    }
    out.sort_by(|a, b| a.gateway.name.cmp(&b.gateway.name));
    Ok(out)
}

/// ARNs of every cluster in the region.
pub async fn list_clusters(client: &aws_sdk_ecs::Client) -> Result<Vec<String>, AwsError> {
    client
        .list_clusters()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<_, _>>()
        .await
        .map_err(|e| from_sdk("ListClusters", e))
}

pub use crate::kinds::ecs_cluster::sdk::describe_clusters;

/// The ACTIVE services of a cluster, with tags.
pub async fn services(
    client: &aws_sdk_ecs::Client,
    cluster_arn: &str,
) -> Result<Vec<ecs::Service>, AwsError> {
    let mut found: Vec<ecs::Service> =
        crate::kinds::ecs_cluster::sdk::list_services(client, cluster_arn)
            .await?
            .into_iter()
            .filter(|s| {
                s.status.as_deref() == Some("ACTIVE")
                    && s.cluster_arn.as_deref() == Some(cluster_arn)
            })
            .collect();
    found.sort_by(|a, b| a.service_name.cmp(&b.service_name));
    found.dedup_by(|a, b| a.service_arn == b.service_arn);
    Ok(found)
}

/// An Express service (DescribeExpressGatewayService with tags); `None` when ECS knows none by
/// that ARN.
pub async fn express_service(
    client: &aws_sdk_ecs::Client,
    arn: &str,
) -> Result<Option<ecs::EcsExpressGatewayService>, AwsError> {
    crate::kinds::ecs_express_service::sdk::describe(client, arn).await
}

/// One revision (ARN, `family:revision` or family), with tags. `None` when it does not exist.
pub async fn revision(
    client: &aws_sdk_ecs::Client,
    what: &str,
) -> Result<Option<Revision>, AwsError> {
    td_io::describe(client, what).await
}

/// ARN of the latest ACTIVE revision of `family`, the one a TaskDefinition object adopts.
pub async fn latest_active_revision(
    client: &aws_sdk_ecs::Client,
    family: &str,
) -> Result<Option<String>, AwsError> {
    Ok(td_io::active_arns(client, family)
        .await?
        .into_iter()
        .max_by_key(|arn| parse_task_definition_arn(arn).map(|(_, revision)| revision)))
}

/// Every task definition family with an ACTIVE revision.
pub async fn active_families(client: &aws_sdk_ecs::Client) -> Result<Vec<String>, AwsError> {
    let mut families: Vec<String> = client
        .list_task_definition_families()
        .status(ecs::TaskDefinitionFamilyStatus::Active)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<_, _>>()
        .await
        .map_err(|e| from_sdk("ListTaskDefinitionFamilies", e))?;
    families.sort();
    families.dedup();
    Ok(families)
}

/// Every repository whose name starts with `prefix` (all with `None`), with its tags and policies.
pub async fn repositories(
    client: &aws_sdk_ecr::Client,
    prefix: Option<&str>,
) -> Result<Vec<RepositoryState>, AwsError> {
    let repos: Vec<aws_sdk_ecr::types::Repository> = client
        .describe_repositories()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| from_sdk("DescribeRepositories", e))?
        .into_iter()
        .filter(|r| {
            prefix.is_none_or(|p| {
                r.repository_name
                    .as_deref()
                    .unwrap_or_default()
                    .starts_with(p)
            })
        })
        .collect();
    let mut states = Vec::new();
    for repository in repos {
        let extras = crate::kinds::ecr_repository::sdk::extras(client, &repository).await?;
        states.push(RepositoryState {
            repository,
            tags: extras.tags,
            lifecycle_policy_text: extras.lifecycle_policy_text,
            repository_policy_text: extras.repository_policy_text,
        });
    }
    states.sort_by(|a, b| a.name().cmp(b.name()));
    Ok(states)
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use serde_json::json;

    use super::*;
    use crate::aws::bridge;

    const ACCOUNT: &str = "123456789012";

    fn ecr_tag(key: &str, value: &str) -> ecr::Tag {
        ecr::Tag::builder()
            .key(key)
            .value(value)
            .build()
            .expect("tag builds")
    }

    fn ecs_tag(key: &str, value: &str) -> ecs::Tag {
        ecs::Tag::builder().key(key).value(value).build()
    }

    /// A repository as DescribeRepositories reports one created with nothing but a name.
    fn repository(name: &str) -> ecr::Repository {
        ecr::Repository::builder()
            .repository_name(name)
            .repository_arn(format!("arn:aws:ecr:us-east-1:{ACCOUNT}:repository/{name}"))
            .registry_id(ACCOUNT)
            .repository_uri(format!("{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/{name}"))
            .image_tag_mutability(ecr::ImageTagMutability::Mutable)
            .image_scanning_configuration(scanning(false))
            .encryption_configuration(encryption(ecr::EncryptionType::Aes256, None))
            .build()
    }

    fn scanning(scan_on_push: bool) -> ecr::ImageScanningConfiguration {
        ecr::ImageScanningConfiguration::builder()
            .scan_on_push(scan_on_push)
            .build()
    }

    fn encryption(kind: ecr::EncryptionType, key: Option<&str>) -> ecr::EncryptionConfiguration {
        ecr::EncryptionConfiguration::builder()
            .encryption_type(kind)
            .set_kms_key(key.map(str::to_string))
            .build()
            .expect("encryption builds")
    }

    fn state(repository: ecr::Repository) -> RepositoryState {
        RepositoryState {
            repository,
            tags: Vec::new(),
            lifecycle_policy_text: None,
            repository_policy_text: None,
        }
    }

    /// The lifecycle policy as ECR hands it back: its own key order, no whitespace.
    const LIFECYCLE: &str = r#"{"rules":[{"rulePriority":1,"description":"keep 10 releases","selection":{"tagStatus":"tagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":10},"action":{"type":"expire"}},{"action":{"type":"expire"},"selection":{"countUnit":"days","countNumber":14,"countType":"sinceImagePushed","tagStatus":"untagged"},"rulePriority":2}]}"#;
    const REPOSITORY_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"pull","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}]}"#;

    #[test]
    fn repository_read_back_adopts_without_changes() {
        type Case = (&'static str, RepositoryState, Value, Vec<&'static str>);
        let full = {
            let mut r = repository("team/web");
            r.image_tag_mutability = Some(ecr::ImageTagMutability::ImmutableWithExclusion);
            r.image_tag_mutability_exclusion_filters = Some(vec![
                ecr::ImageTagMutabilityExclusionFilter::builder()
                    .filter_type(ecr::ImageTagMutabilityExclusionFilterType::Wildcard)
                    .filter("latest")
                    .build()
                    .expect("filter builds"),
            ]);
            r.image_scanning_configuration = Some(scanning(true));
            let key = "arn:aws:kms:us-east-1:123456789012:key/abcd";
            r.encryption_configuration = Some(encryption(ecr::EncryptionType::Kms, Some(key)));
            RepositoryState {
                repository: r,
                tags: vec![
                    ecr_tag("team", "platform"),
                    ecr_tag("env", "prod"),
                    ecr_tag("ecs.operator.dev/owner", "old/web"),
                    ecr_tag("aws:cloudformation:stack-name", "legacy"),
                ],
                lifecycle_policy_text: Some(LIFECYCLE.into()),
                repository_policy_text: Some(REPOSITORY_POLICY.into()),
            }
        };
        let unknown_rule_field = RepositoryState {
            lifecycle_policy_text: Some(
                r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":3},"action":{"type":"expire"},"futureField":true}]}"#
                    .into(),
            ),
            ..state(repository("odd"))
        };
        let cases: Vec<Case> = vec![
            (
                "defaults only",
                state(repository("web")),
                json!({"repositoryName": "web"}),
                vec![],
            ),
            (
                "everything set, operator and aws: tags dropped",
                full,
                json!({
                    "repositoryName": "team/web",
                    "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
                    "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": "latest"}],
                    "imageScanningConfiguration": {"scanOnPush": true},
                    "encryptionConfiguration": {"encryptionType": "KMS", "kmsKey": "arn:aws:kms:us-east-1:123456789012:key/abcd"},
                    "tags": [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "platform"}],
                    "lifecyclePolicy": serde_json::from_str::<Value>(LIFECYCLE).expect("JSON"),
                    "repositoryPolicy": serde_json::from_str::<Value>(REPOSITORY_POLICY).expect("JSON"),
                }),
                vec![],
            ),
            (
                // The self-check catches what the spec cannot hold.
                "lifecycle rule with a field the spec does not know",
                unknown_rule_field,
                json!({
                    "repositoryName": "odd",
                    "lifecyclePolicy": {"rules": [{"rulePriority": 1, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 3}, "action": {"type": "expire"}}]},
                }),
                vec!["lifecyclePolicy"],
            ),
        ];
        for (name, state, want, changes) in cases {
            let read = repository_spec(&state);
            let got = serde_json::to_value(&read.spec).expect("serialises");
            assert_eq!(got, want, "{name}");
            assert_eq!(
                repository_differences(&read.spec, &state).expect("complete answer"),
                changes,
                "{name}"
            );
            assert_eq!(
                read.notes.is_empty(),
                changes.is_empty(),
                "{name}: {read:?}"
            );
        }
    }

    /// The members of `patch` set on `base` (a null one unsets the member).
    fn patched(mut base: Value, patch: Value) -> Value {
        for (key, value) in patch.as_object().into_iter().flatten() {
            base[key.as_str()] = value.clone();
        }
        base
    }

    /// A cluster as DescribeClusters (settings, configurations, tags) reports it.
    fn cluster(name: &str, members: Value) -> ecs::Cluster {
        let arn = format!("arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/{name}");
        let base = json!({"clusterName": name, "clusterArn": arn, "status": "ACTIVE"});
        bridge::shape(patched(base, members), ecs::Cluster::deserialize)
    }

    #[test]
    fn cluster_read_back_adopts_without_changes() {
        let full = cluster(
            "prod_main",
            json!({
                "settings": [{"name": "containerInsights", "value": "enhanced"}],
                "configuration": {
                    "executeCommandConfiguration": {"kmsKeyId": "alias/exec", "logging": "OVERRIDE",
                        "logConfiguration": {"cloudWatchLogGroupName": "/ecs/exec",
                            "cloudWatchEncryptionEnabled": true, "s3EncryptionEnabled": false}},
                    "managedStorageConfiguration": {"fargateEphemeralStorageKmsKeyId": "key-1"},
                },
                "capacityProviders": ["FARGATE_SPOT", "FARGATE", "prod-asg"],
                "defaultCapacityProviderStrategy": [
                    {"capacityProvider": "FARGATE_SPOT", "weight": 3, "base": 0},
                    {"capacityProvider": "FARGATE", "weight": 1, "base": 2},
                ],
                "serviceConnectDefaults": {"namespace": "arn:aws:servicediscovery:us-east-1:123456789012:namespace/ns-1"},
                "tags": [
                    {"key": "team", "value": "platform"},
                    {"key": "ecs.operator.dev/owner-uid", "value": "1234"},
                    {"key": "aws:cloudformation:stack-name", "value": "legacy"},
                ],
            }),
        );
        // What ECS reports for a cluster created without settings.
        let defaults = cluster(
            "plain",
            json!({
                "settings": [{"name": "containerInsights", "value": "disabled"}],
                "configuration": {"executeCommandConfiguration": {"logging": "DEFAULT"}},
                "capacityProviders": [],
                "defaultCapacityProviderStrategy": [],
            }),
        );
        let cases = [
            (
                "defaults",
                defaults,
                json!({"clusterName": "plain", "settings": [{"name": "containerInsights", "value": "disabled"}]}),
            ),
            (
                "everything",
                full,
                json!({
                    "clusterName": "prod_main",
                    "tags": [{"key": "team", "value": "platform"}],
                    "settings": [{"name": "containerInsights", "value": "enhanced"}],
                    "configuration": {
                        "executeCommandConfiguration": {"kmsKeyId": "alias/exec", "logging": "OVERRIDE",
                            "logConfiguration": {"cloudWatchLogGroupName": "/ecs/exec", "cloudWatchEncryptionEnabled": true}},
                        "managedStorageConfiguration": {"fargateEphemeralStorageKmsKeyId": "key-1"},
                    },
                    "capacityProviders": ["FARGATE", "FARGATE_SPOT", "prod-asg"],
                    "defaultCapacityProviderStrategy": [
                        {"capacityProvider": "FARGATE", "weight": 1, "base": 2},
                        {"capacityProvider": "FARGATE_SPOT", "weight": 3},
                    ],
                    "serviceConnectDefaults": {"namespace": "arn:aws:servicediscovery:us-east-1:123456789012:namespace/ns-1"},
                }),
            ),
        ];
        for (name, cluster, want) in cases {
            let read = cluster_spec(&cluster).expect("complete answer");
            assert_eq!(read.notes, Vec::<String>::new(), "{name}");
            assert_eq!(
                serde_json::to_value(&read.spec).expect("serialises"),
                want,
                "{name}"
            );
            assert_eq!(
                cluster_differences(&read.spec, &cluster).expect("complete answer"),
                Vec::<String>::new(),
                "{name}"
            );
        }
    }

    const TD_ARN: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3";

    /// A service as DescribeServices (with tags) reports it, AWS defaults filled in, with the
    /// members of `patch` set.
    fn service(patch: Value) -> ecs::Service {
        let service = json!({
            "serviceName": "web",
            "serviceArn": format!("arn:aws:ecs:us-east-1:{ACCOUNT}:service/prod/web"),
            "clusterArn": format!("arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/prod"),
            "status": "ACTIVE", "desiredCount": 2, "runningCount": 2, "taskDefinition": TD_ARN,
            "launchType": "FARGATE", "platformVersion": "LATEST", "schedulingStrategy": "REPLICA",
            "propagateTags": "NONE", "availabilityZoneRebalancing": "ENABLED",
            "roleArn": format!("arn:aws:iam::{ACCOUNT}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS"),
            "healthCheckGracePeriodSeconds": 0,
            "enableExecuteCommand": false, "enableECSManagedTags": false,
            "deploymentController": {"type": "ECS"},
            "deploymentConfiguration": {"maximumPercent": 200, "minimumHealthyPercent": 100,
                "strategy": "ROLLING", "bakeTimeInMinutes": 0,
                "deploymentCircuitBreaker": {"enable": false, "rollback": false}},
            "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-b", "subnet-a"],
                "securityGroups": ["sg-1"], "assignPublicIp": "DISABLED"}},
            "placementConstraints": [], "placementStrategy": [],
            "loadBalancers": [], "serviceRegistries": [],
            "tags": [
                {"key": "team", "value": "web"},
                {"key": "ecs.operator.dev/owner", "value": "ns/web"},
                {"key": "aws:cloudformation:stack-name", "value": "legacy"},
            ],
            "deployments": [{"id": "ecs-svc/1", "status": "PRIMARY", "taskDefinition": TD_ARN}],
        });
        bridge::shape(patched(service, patch), ecs::Service::deserialize)
    }

    #[test]
    fn service_read_back_adopts_without_changes() {
        // What a service created with nothing but AWS defaults reads back as.
        let defaults = json!({
            "serviceName": "web", "desiredCount": 2, "launchType": "FARGATE",
            "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-b", "subnet-a"], "securityGroups": ["sg-1"]}},
            "tags": [{"key": "team", "value": "web"}],
        });
        let cases: &[(&str, Value, Value, &[&str])] = &[
            (
                "fargate with AWS defaults",
                json!({}),
                defaults.clone(),
                &[],
            ),
            (
                "daemon: no desiredCount, daemon deployment defaults",
                json!({
                    "schedulingStrategy": "DAEMON", "launchType": "EC2", "platformVersion": null,
                    "networkConfiguration": null, "desiredCount": 3, "tags": null,
                    "deploymentConfiguration": {"maximumPercent": 100, "minimumHealthyPercent": 0},
                }),
                json!({"serviceName": "web", "launchType": "EC2", "schedulingStrategy": "DAEMON"}),
                &[],
            ),
            (
                "unset alarms and lifecycle hooks as AWS reports them",
                json!({"deploymentConfiguration": {"maximumPercent": 200, "minimumHealthyPercent": 100,
                    "alarms": {"alarmNames": [], "enable": false, "rollback": false},
                    "lifecycleHooks": [], "bakeTimeInMinutes": 0}}),
                defaults.clone(),
                &[],
            ),
            (
                "everything else set",
                json!({
                    "launchType": null,
                    "capacityProviderStrategy": [
                        {"capacityProvider": "FARGATE", "weight": 1, "base": 1},
                        {"capacityProvider": "FARGATE_SPOT", "weight": 2, "base": 0},
                    ],
                    "platformVersion": "1.4.0", "roleArn": null, "healthCheckGracePeriodSeconds": 30,
                    "enableExecuteCommand": true, "enableECSManagedTags": true,
                    "propagateTags": "SERVICE", "availabilityZoneRebalancing": "DISABLED",
                    "deploymentConfiguration": {"maximumPercent": 150, "minimumHealthyPercent": 50,
                        "deploymentCircuitBreaker": {"enable": true, "rollback": true},
                        "alarms": {"alarmNames": ["high-5xx"], "enable": true, "rollback": false}},
                    "loadBalancers": [{"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/1", "containerName": "web", "containerPort": 8080}],
                    "serviceRegistries": [{"registryArn": "arn:aws:servicediscovery:us-east-1:123456789012:service/srv-1"}],
                    "placementStrategy": [{"type": "spread", "field": "attribute:ecs.availability-zone"}],
                    "placementConstraints": [{"type": "distinctInstance"}],
                }),
                json!({
                    "serviceName": "web", "desiredCount": 2,
                    "capacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1, "base": 1}, {"capacityProvider": "FARGATE_SPOT", "weight": 2}],
                    "platformVersion": "1.4.0",
                    "deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": true, "rollback": true}, "maximumPercent": 150, "minimumHealthyPercent": 50,
                        "alarms": {"alarmNames": ["high-5xx"], "enable": true, "rollback": false}},
                    "placementConstraints": [{"type": "distinctInstance"}],
                    "placementStrategy": [{"type": "spread", "field": "attribute:ecs.availability-zone"}],
                    "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-b", "subnet-a"], "securityGroups": ["sg-1"]}},
                    "healthCheckGracePeriodSeconds": 30,
                    "loadBalancers": [{"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/1", "containerName": "web", "containerPort": 8080}],
                    "serviceRegistries": [{"registryArn": "arn:aws:servicediscovery:us-east-1:123456789012:service/srv-1"}],
                    "enableExecuteCommand": true, "propagateTags": "SERVICE", "enableECSManagedTags": true,
                    "availabilityZoneRebalancing": "DISABLED",
                    "tags": [{"key": "team", "value": "web"}],
                }),
                &[],
            ),
        ];
        for (name, patch, want, changes) in cases {
            let svc = service(patch.clone());
            let read = service_spec(&svc);
            assert_eq!(
                serde_json::to_value(&read.spec).expect("serialises"),
                *want,
                "{name}"
            );
            assert_eq!(
                service_differences(&read.spec, &svc, TD_ARN),
                *changes,
                "{name}"
            );
        }
    }

    #[test]
    fn service_read_back_notes_code_deploy() {
        let svc = service(json!({"deploymentController": {"type": "CODE_DEPLOY"}}));
        let read = service_spec(&svc);
        assert_eq!(read.notes.len(), 1, "{:?}", read.notes);
        assert_eq!(
            service_differences(&read.spec, &svc, TD_ARN),
            Vec::<String>::new()
        );
    }

    /// What DescribeTaskDefinition reports for `spec` registered as revision 3: the request
    /// fields plus the defaults AWS adds to every container.
    fn registered(spec: &TaskDefinitionSpec, tags: Vec<ecs::Tag>) -> Revision {
        let family = spec.family.clone().unwrap_or_else(|| "test".into());
        let mut input = task_definition::register_input(spec, &family, &[])
            .expect("maps to a request")
            .build()
            .expect("request builds");
        for c in input.container_definitions.iter_mut().flatten() {
            c.essential.get_or_insert(true);
            c.environment.get_or_insert_default();
            c.mount_points.get_or_insert_default();
            c.volumes_from.get_or_insert_default();
            for p in c.port_mappings.iter_mut().flatten() {
                p.protocol.get_or_insert(ecs::TransportProtocol::Tcp);
            }
        }
        input.volumes.get_or_insert_default();
        input.placement_constraints.get_or_insert_default();
        let td = task_definition::described(&input, 3);
        Revision {
            arn: td.task_definition_arn.clone().unwrap_or_default(),
            family,
            revision: 3,
            active: true,
            tags: crate::aws::tags::ecs::map(&tags),
            task_definition: td,
            aws_tags: tags,
        }
    }

    const CORPUS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/aws/testdata/task_definitions"
    );

    fn express(config: Option<Value>) -> ecs::EcsExpressGatewayService {
        let mut x = json!({
            "serviceName": "hello",
            "serviceArn": format!("arn:aws:ecs:us-east-1:{ACCOUNT}:service/prod/hello"),
            "cluster": format!("arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/prod"),
            "infrastructureRoleArn": format!("arn:aws:iam::{ACCOUNT}:role/infra"),
            "status": {"statusCode": "ACTIVE"},
            "tags": [
                {"key": "team", "value": "web"},
                {"key": "ecs.operator.dev/owner", "value": "ns/hello"},
                {"key": "aws:cloudformation:stack-name", "value": "legacy"},
            ],
        });
        if let Some(config) = config {
            x["activeConfigurations"] = json!([config]);
        }
        bridge::shape(x, ecs::EcsExpressGatewayService::deserialize)
    }

    #[test]
    fn express_read_back_adopts_without_changes() {
        let managed_td = format!("arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/express-hello:3");
        let full = json!({
            "serviceRevisionArn": format!("arn:aws:ecs:us-east-1:{ACCOUNT}:service-revision/prod/hello/3"),
            "executionRoleArn": format!("arn:aws:iam::{ACCOUNT}:role/exec"),
            "taskRoleArn": format!("arn:aws:iam::{ACCOUNT}:role/task"),
            "taskDefinitionArn": managed_td,
            "cpu": "512", "memory": "1024", "cpuArchitecture": "ARM64",
            "networkConfiguration": {"securityGroups": ["sg-1"], "subnets": ["subnet-b", "subnet-a"]},
            "healthCheckPath": "/health",
            "primaryContainer": {"image": "nginx:1", "containerPort": 8080,
                "awsLogsConfiguration": {"logGroup": "/ecs/hello", "logStreamPrefix": "ecs"},
                "repositoryCredentials": {"credentialsParameter": "arn:aws:secretsmanager:us-east-1:123456789012:secret:creds"},
                "command": ["serve", "--port", "8080"],
                "environment": [{"name": "MODE", "value": "demo"}],
                "secrets": [{"name": "TOKEN", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/token"}]},
            "scalingTarget": {"minTaskCount": 2, "maxTaskCount": 8,
                "autoScalingMetric": "REQUEST_COUNT_PER_TARGET", "autoScalingTargetValue": 100},
            "ingressPaths": [{"accessType": "PUBLIC", "endpoint": "https://hello.ecs.us-east-1.on.aws"}],
        });
        let base = json!({
            "serviceName": "hello",
            "infrastructureRoleArn": format!("arn:aws:iam::{ACCOUNT}:role/infra"),
            "tags": [{"key": "team", "value": "web"}],
        });
        let mut full_spec = base.clone();
        for (k, v) in full.as_object().into_iter().flatten() {
            if express_mapping::UPDATABLE.contains(&k.as_str()) && k != "taskDefinitionArn" {
                full_spec[k] = v.clone();
            }
        }
        let mut own_td = base.clone();
        own_td["taskDefinitionArn"] = json!(managed_td);
        own_td["cpu"] = json!("256");
        let cases: &[(&str, Option<Value>, Value, usize)] = &[
            (
                "every field: the managed task definition left out",
                Some(full),
                full_spec,
                0,
            ),
            (
                "a task definition of its own is kept",
                Some(json!({"taskDefinitionArn": managed_td, "cpu": "256", "ingressPaths": []})),
                own_td,
                0,
            ),
            (
                "no active configuration: the name only, with a note",
                None,
                base,
                1,
            ),
        ];
        for (name, config, want, notes) in cases {
            let x = express(config.clone());
            let read = express_spec(&x);
            assert_eq!(
                serde_json::to_value(&read.spec).expect("serialises"),
                *want,
                "{name}"
            );
            assert_eq!(read.notes.len(), *notes, "{name}: {:?}", read.notes);
            assert_eq!(
                express_differences(&read.spec, &x),
                Vec::<String>::new(),
                "{name}"
            );
        }
        // A spec that differs is reported (the self-check has teeth).
        let x = express(Some(json!({"cpu": "256"})));
        let mut spec = express_spec(&x).spec;
        spec.cpu = Some("512".into());
        assert_eq!(express_differences(&spec, &x), ["cpu differs"]);
    }

    #[test]
    fn only_services_ecs_manages_are_express() {
        for (patch, want) in [
            (json!({"resourceManagementType": "ECS"}), true),
            (json!({"resourceManagementType": "CUSTOMER"}), false),
            (json!({}), false),
        ] {
            assert_eq!(is_express(&service(patch.clone())), want, "{patch}");
        }
    }

    #[test]
    fn task_definition_read_back_over_the_corpus_registers_nothing() {
        let mut files: Vec<_> = std::fs::read_dir(CORPUS)
            .expect("corpus directory")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no corpus under {CORPUS}");
        for path in files {
            let name = path.display();
            let text = std::fs::read_to_string(&path).expect("readable");
            let mut spec = task_definition::spec_from_json(&text).expect("corpus parses");
            spec.family.get_or_insert_with(|| "corpus".into());
            let rev = registered(
                &spec,
                vec![
                    ecs_tag("team", "web"),
                    ecs_tag("ecs.operator.dev/spec-hash", "stale"),
                ],
            );
            let read = task_definition_spec(&rev.task_definition, &rev.aws_tags);
            assert_eq!(
                task_definition_differences(&read, &rev),
                Vec::<String>::new(),
                "{name}"
            );
            assert_eq!(read.family, spec.family, "{name}");
            let yaml = serde_yaml::to_string(&read).expect("serialises");
            for noise in [
                "essential: true",
                "protocol: tcp",
                ": []",
                "null",
                "ecs.operator.dev",
            ] {
                assert!(!yaml.contains(noise), "{name}: {noise} in\n{yaml}");
            }
        }
    }

    #[test]
    fn task_definition_with_aws_tags_needs_no_new_revision() {
        let spec: TaskDefinitionSpec = serde_json::from_value(json!({
            "family": "web",
            "containerDefinitions": [{"name": "web", "image": "nginx", "memory": 128}],
        }))
        .expect("spec");
        // CloudFormation tags its resources with aws: tags, which no spec can carry: they are
        // not compared, so adopting such a revision registers nothing.
        let rev = registered(&spec, vec![ecs_tag("aws:cloudformation:stack-name", "s")]);
        let read = task_definition_spec(&rev.task_definition, &rev.aws_tags);
        let changes = task_definition_differences(&read, &rev);
        assert!(changes.is_empty(), "{changes:?}");
    }

    #[test]
    fn task_definition_arns_parse() {
        let cases = [
            (TD_ARN, Some(("web", 3))),
            (
                "arn:aws:ecs:us-east-1:1:task-definition/web-api_2:17",
                Some(("web-api_2", 17)),
            ),
            ("web:3", None),
            ("arn:aws:ecs:us-east-1:1:task-definition/web", None),
        ];
        for (arn, want) in cases {
            assert_eq!(parse_task_definition_arn(arn), want, "{arn}");
        }
    }
}
