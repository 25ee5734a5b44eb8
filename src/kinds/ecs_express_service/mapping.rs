//! EcsExpressService, pure: the desired request from the spec, what AWS reports, the diff
//! between them, readiness and status. No client, no I/O.
//!
//! ECS fills every field the spec leaves out (containerPort 80, healthCheckPath `/ping`, cpu
//! 256, scaling 1-20 tasks ...), so only what the spec sets is compared: a field the spec
//! leaves out is ECS's to choose.

use std::collections::BTreeMap;

use aws_sdk_ecs::operation::create_express_gateway_service::CreateExpressGatewayServiceInput;
use aws_sdk_ecs::operation::create_express_gateway_service::builders::CreateExpressGatewayServiceInputBuilder;
use aws_sdk_ecs::operation::update_express_gateway_service::UpdateExpressGatewayServiceInput;
use aws_sdk_ecs::operation::update_express_gateway_service::builders::UpdateExpressGatewayServiceInputBuilder;
use aws_sdk_ecs::types::{EcsExpressGatewayService, Service};
use serde_json::{Map, Value, json};

use crate::api::ecs_express_service::{
    EcsExpressServiceSpec, EcsExpressServiceStatus, IngressPath,
};
use crate::aws::bridge;
use crate::aws::errors::AwsError;
use crate::engine::conditions::reason;
use crate::engine::{Note, Readiness};

const CREATE: &str = "CreateExpressGatewayService";
const UPDATE: &str = "UpdateExpressGatewayService";

/// The request fields UpdateExpressGatewayService takes: the ones compared and updated in place.
pub const UPDATABLE: &[&str] = &[
    "executionRoleArn",
    "taskRoleArn",
    "healthCheckPath",
    "primaryContainer",
    "taskDefinitionArn",
    "networkConfiguration",
    "cpu",
    "memory",
    "cpuArchitecture",
    "scalingTarget",
];

/// The spec with references resolved: what CreateExpressGatewayService is sent.
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    pub service_name: String,
    pub cluster: String,
    pub infrastructure_role_arn: String,
    /// The UPDATABLE fields the spec sets, as AWS JSON (`primaryContainer.image` resolved).
    pub fields: Map<String, Value>,
    /// Spec tags plus the ownership tags.
    pub tags: BTreeMap<String, String>,
}

/// The desired state; `image` is the resolved `primaryContainer.imageRef`, if the spec has one.
pub fn desired(
    spec: &EcsExpressServiceSpec,
    service_name: String,
    cluster: String,
    image: Option<String>,
    owner_tags: &BTreeMap<String, String>,
) -> Result<Desired, String> {
    let mut request = match serde_json::to_value(spec) {
        Ok(Value::Object(m)) => m,
        Ok(other) => return Err(format!("spec is not an object: {other}")),
        Err(e) => return Err(e.to_string()),
    };
    if let Some(Value::Object(c)) = request.get_mut("primaryContainer") {
        c.remove("imageRef");
        if let Some(image) = image {
            c.insert("image".into(), Value::String(image));
        }
        if !c.contains_key("image") {
            return Err("primaryContainer: no image (imageRef not resolved)".into());
        }
    }
    let fields = UPDATABLE
        .iter()
        .filter_map(|k| request.remove(*k).map(|v| (k.to_string(), v)))
        .collect();
    let mut tags: BTreeMap<String, String> = spec
        .tags
        .iter()
        .flatten()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect();
    tags.extend(owner_tags.clone());
    Ok(Desired {
        service_name,
        cluster,
        infrastructure_role_arn: spec.infrastructure_role_arn.clone(),
        fields,
        tags,
    })
}

fn invalid(op: &'static str, e: impl std::fmt::Display) -> AwsError {
    AwsError::terminal(op, "InvalidExpressServiceSpec", e.to_string())
}

/// The CreateExpressGatewayService request.
pub fn create_input(d: &Desired) -> Result<CreateExpressGatewayServiceInputBuilder, AwsError> {
    let mut request = d.fields.clone();
    request.insert("serviceName".into(), json!(d.service_name));
    request.insert("cluster".into(), json!(d.cluster));
    request.insert(
        "infrastructureRoleArn".into(),
        json!(d.infrastructure_role_arn),
    );
    if !d.tags.is_empty() {
        let tags: Vec<Value> = d
            .tags
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        request.insert("tags".into(), Value::Array(tags));
    }
    let i = bridge::to_sdk(&request, CreateExpressGatewayServiceInput::deserialize)
        .map_err(|e| invalid(CREATE, e))?;
    // The SDK builds the fluent request only member by member.
    Ok(CreateExpressGatewayServiceInput::builder()
        .set_service_name(i.service_name)
        .set_cluster(i.cluster)
        .set_infrastructure_role_arn(i.infrastructure_role_arn)
        .set_execution_role_arn(i.execution_role_arn)
        .set_task_role_arn(i.task_role_arn)
        .set_health_check_path(i.health_check_path)
        .set_primary_container(i.primary_container)
        .set_task_definition_arn(i.task_definition_arn)
        .set_network_configuration(i.network_configuration)
        .set_cpu(i.cpu)
        .set_memory(i.memory)
        .set_cpu_architecture(i.cpu_architecture)
        .set_scaling_target(i.scaling_target)
        .set_tags(i.tags))
}

/// The UpdateExpressGatewayService request: exactly the changed fields.
pub fn update_input(
    d: &Desired,
    arn: &str,
    changes: &[Change],
) -> Result<UpdateExpressGatewayServiceInputBuilder, AwsError> {
    let mut request: Map<String, Value> = changes
        .iter()
        .filter_map(|c| d.fields.get(&c.field).map(|v| (c.field.clone(), v.clone())))
        .collect();
    request.insert("serviceArn".into(), json!(arn));
    let i = bridge::to_sdk(&request, UpdateExpressGatewayServiceInput::deserialize)
        .map_err(|e| invalid(UPDATE, e))?;
    Ok(UpdateExpressGatewayServiceInput::builder()
        .set_service_arn(i.service_arn)
        .set_execution_role_arn(i.execution_role_arn)
        .set_task_role_arn(i.task_role_arn)
        .set_health_check_path(i.health_check_path)
        .set_primary_container(i.primary_container)
        .set_task_definition_arn(i.task_definition_arn)
        .set_network_configuration(i.network_configuration)
        .set_cpu(i.cpu)
        .set_memory(i.memory)
        .set_cpu_architecture(i.cpu_architecture)
        .set_scaling_target(i.scaling_target))
}

/// The ECS service behind an Express service, as DescribeServices reports it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceView {
    pub desired_count: i32,
    pub running_count: i32,
    pub pending_count: i32,
    /// Of the PRIMARY deployment.
    pub rollout_state: Option<String>,
    pub rollout_state_reason: Option<String>,
}

impl ServiceView {
    pub fn of(s: &Service) -> Self {
        let primary = s
            .deployments()
            .iter()
            .find(|d| d.status() == Some("PRIMARY"));
        Self {
            desired_count: s.desired_count,
            running_count: s.running_count,
            pending_count: s.pending_count,
            rollout_state: primary
                .and_then(|d| d.rollout_state())
                .map(|r| r.as_str().to_string()),
            rollout_state_reason: primary
                .and_then(|d| d.rollout_state_reason())
                .map(str::to_string),
        }
    }
}

/// What AWS reports about an Express service.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    pub arn: String,
    pub cluster: Option<String>,
    pub status_code: Option<String>,
    pub status_reason: Option<String>,
    pub current_deployment: Option<String>,
    /// The newest active configuration, as AWS JSON (`None`: none reported).
    pub config: Option<Map<String, Value>>,
    pub tags: BTreeMap<String, String>,
    pub service: Option<ServiceView>,
}

/// Observed from DescribeExpressGatewayService and DescribeServices; `None` without an ARN.
pub fn observed(x: &EcsExpressGatewayService, service: Option<&Service>) -> Option<Observed> {
    let arn = x.service_arn.clone()?;
    let newest = x.active_configurations().iter().max_by(|a, b| {
        a.created_at
            .partial_cmp(&b.created_at)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let config = newest
        .and_then(|c| bridge::to_json(c).ok())
        .and_then(|v| match v {
            Value::Object(m) => Some(m),
            _ => None,
        });
    let status = x.status.as_ref();
    Some(Observed {
        arn,
        cluster: x.cluster.clone(),
        status_code: status
            .and_then(|s| s.status_code.as_ref())
            .map(|c| c.as_str().to_string()),
        status_reason: status.and_then(|s| s.status_reason.clone()),
        current_deployment: x.current_deployment.clone(),
        config,
        tags: crate::aws::tags::ecs::map(x.tags()),
        service: service.map(ServiceView::of),
    })
}

/// One field of the request that differs from the active configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub field: String,
}

impl Change {
    pub fn describe(&self) -> String {
        format!("{} differs", self.field)
    }
}

/// The fields the spec sets that the active configuration does not match.
pub fn diff(d: &Desired, o: &Observed) -> Vec<Change> {
    let empty = Map::new();
    let config = o.config.as_ref().unwrap_or(&empty);
    d.fields
        .iter()
        .filter(|(k, want)| !covers(want, config.get(k.as_str()), k))
        .map(|(k, _)| Change { field: k.clone() })
        .collect()
}

/// Whether `have` carries everything `want` sets. Lists other than `command` are compared
/// regardless of order (subnets, security groups, environment, secrets).
fn covers(want: &Value, have: Option<&Value>, key: &str) -> bool {
    let Some(have) = have else {
        return is_empty(want);
    };
    match (want, have) {
        (Value::Object(w), Value::Object(h)) => w.iter().all(|(k, v)| covers(v, h.get(k), k)),
        (Value::Array(w), Value::Array(h)) => {
            let (w, h) = if key == "command" {
                (w.clone(), h.clone())
            } else {
                (sorted(w), sorted(h))
            };
            w.len() == h.len() && w.iter().zip(&h).all(|(a, b)| covers(a, Some(b), ""))
        }
        (w, h) => w == h,
    }
}

fn sorted(items: &[Value]) -> Vec<Value> {
    let mut items = items.to_vec();
    items.sort_by_key(|v| v.to_string());
    items
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

impl Observed {
    /// The ingress paths of the active configuration.
    pub fn ingress_paths(&self) -> Vec<IngressPath> {
        self.config
            .as_ref()
            .and_then(|c| c.get("ingressPaths"))
            .and_then(Value::as_array)
            .map(|paths| {
                paths
                    .iter()
                    .filter_map(|p| {
                        Some(IngressPath {
                            access_type: p.get("accessType")?.as_str()?.to_string(),
                            endpoint: p.get("endpoint")?.as_str()?.to_string(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn config_str(&self, key: &str) -> Option<String> {
        self.config.as_ref()?.get(key)?.as_str().map(str::to_string)
    }

    /// The status fields.
    pub fn status(&self) -> EcsExpressServiceStatus {
        let paths = self.ingress_paths();
        let service = self.service.as_ref();
        EcsExpressServiceStatus {
            service_arn: Some(self.arn.clone()),
            cluster: self.cluster.clone(),
            url: paths.first().map(|p| p.endpoint.clone()),
            ingress_paths: paths,
            status_code: self.status_code.clone(),
            status_reason: self.status_reason.clone(),
            current_deployment: self.current_deployment.clone(),
            service_revision_arn: self.config_str("serviceRevisionArn"),
            task_definition_arn: self.config_str("taskDefinitionArn"),
            rollout_state: service.and_then(|s| s.rollout_state.clone()),
            rollout_state_reason: service.and_then(|s| s.rollout_state_reason.clone()),
            desired_count: service.map(|s| s.desired_count),
            running_count: service.map(|s| s.running_count),
            pending_count: service.map(|s| s.pending_count),
            ..Default::default()
        }
    }
}

/// Ready only when the service is ACTIVE, its PRIMARY deployment COMPLETED with every desired
/// task running, and it has a URL; a deployment in flight is work in progress (kstatus
/// InProgress), a failed one waits for a spec change.
pub fn readiness(o: &Observed) -> Readiness {
    let code = o.status_code.as_deref().unwrap_or("unknown");
    if code != "ACTIVE" {
        let why = o.status_reason.as_deref().unwrap_or("");
        return Readiness::not_ready(
            reason::WAITING,
            format!("service is {code} {why}").trim_end().to_string(),
        );
    }
    let Some(s) = &o.service else {
        return Readiness::not_ready(
            reason::WAITING,
            "DescribeServices does not show the service yet",
        );
    };
    match s.rollout_state.as_deref() {
        Some("FAILED") => {
            let message = format!(
                "the latest deployment failed: {}",
                s.rollout_state_reason
                    .as_deref()
                    .unwrap_or("no reason given")
            );
            let mut r = Readiness::not_ready(reason::ROLLOUT_FAILED, message.clone());
            r.stalled = Some(Note::new(reason::ROLLOUT_FAILED, message));
            return r;
        }
        Some("COMPLETED") if s.running_count == s.desired_count => {}
        state => {
            return Readiness::not_ready(
                reason::ROLLOUT_IN_PROGRESS,
                format!(
                    "deployment {}: {}/{} tasks running",
                    state.unwrap_or("pending"),
                    s.running_count,
                    s.desired_count
                ),
            );
        }
    }
    match o.ingress_paths().first() {
        Some(p) => Readiness::ready(format!("serving at {}", p.endpoint)),
        None => Readiness::not_ready(reason::WAITING, "no ingress path reported yet"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ecs_express_service::{ExpressContainer, ExpressScalingTarget};

    fn spec() -> EcsExpressServiceSpec {
        EcsExpressServiceSpec {
            infrastructure_role_arn: "arn:aws:iam::123456789012:role/infra".into(),
            primary_container: Some(ExpressContainer {
                image: Some("nginx:1".into()),
                environment: Some(vec![
                    crate::api::task_definition::KeyValuePair {
                        name: Some("B".into()),
                        value: Some("2".into()),
                    },
                    crate::api::task_definition::KeyValuePair {
                        name: Some("A".into()),
                        value: Some("1".into()),
                    },
                ]),
                ..Default::default()
            }),
            scaling_target: Some(ExpressScalingTarget {
                min_task_count: Some(2),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn desired_of(spec: &EcsExpressServiceSpec) -> Desired {
        desired(spec, "web".into(), "c".into(), None, &BTreeMap::new()).expect("desired")
    }

    fn observed_with(config: Value, rollout: &str, running: i32) -> Observed {
        Observed {
            arn: "arn:svc".into(),
            status_code: Some("ACTIVE".into()),
            config: config.as_object().cloned(),
            service: Some(ServiceView {
                desired_count: 2,
                running_count: running,
                rollout_state: Some(rollout.into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn aws_config(image: &str, min: i32) -> Value {
        json!({
            "cpu": "256",
            "healthCheckPath": "/ping",
            "primaryContainer": {"image": image, "containerPort": 80,
                "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
            "scalingTarget": {"minTaskCount": min, "maxTaskCount": 20},
            "ingressPaths": [{"accessType": "PUBLIC", "endpoint": "https://web.ecs.us-east-1.on.aws"}],
        })
    }

    #[test]
    fn diff_table() {
        let d = desired_of(&spec());
        let cases = [
            (aws_config("nginx:1", 2), vec![]),
            (aws_config("nginx:2", 2), vec!["primaryContainer"]),
            (aws_config("nginx:1", 1), vec!["scalingTarget"]),
            (
                aws_config("nginx:2", 3),
                vec!["primaryContainer", "scalingTarget"],
            ),
            (json!({}), vec!["primaryContainer", "scalingTarget"]),
        ];
        for (config, want) in cases {
            let got: Vec<String> = diff(&d, &observed_with(config.clone(), "COMPLETED", 2))
                .into_iter()
                .map(|c| c.field)
                .collect();
            assert_eq!(got, want, "config {config}");
        }
    }

    #[test]
    fn image_ref_resolves_into_image_and_is_not_sent() {
        let mut s = spec();
        let c = s.primary_container.as_mut().expect("container");
        c.image = None;
        c.image_ref = Some(Default::default());
        assert!(desired(&s, "web".into(), "c".into(), None, &BTreeMap::new()).is_err());
        let d = desired(
            &s,
            "web".into(),
            "c".into(),
            Some("r/x:1".into()),
            &BTreeMap::new(),
        )
        .expect("desired");
        assert_eq!(d.fields["primaryContainer"]["image"], "r/x:1");
        assert!(d.fields["primaryContainer"].get("imageRef").is_none());
    }

    #[test]
    fn requests_carry_the_spec_and_only_the_changes() {
        let mut owner = BTreeMap::new();
        owner.insert("owner".to_string(), "me".to_string());
        let d = desired(&spec(), "web".into(), "c".into(), None, &owner).expect("desired");
        let create = create_input(&d).expect("create").build().expect("build");
        assert_eq!(create.service_name(), Some("web"));
        assert_eq!(create.cluster(), Some("c"));
        assert_eq!(create.tags().len(), 1);
        assert_eq!(
            create.primary_container().map(|c| c.image.as_str()),
            Some("nginx:1")
        );
        let changes = [Change {
            field: "scalingTarget".into(),
        }];
        let update = update_input(&d, "arn:svc", &changes)
            .expect("update")
            .build()
            .expect("build");
        assert_eq!(update.service_arn(), Some("arn:svc"));
        assert!(update.primary_container().is_none());
        assert_eq!(
            update.scaling_target().and_then(|s| s.min_task_count),
            Some(2)
        );
    }

    #[test]
    fn readiness_table() {
        let ready = observed_with(aws_config("nginx:1", 2), "COMPLETED", 2);
        assert!(readiness(&ready).ready);
        assert_eq!(
            readiness(&ready).message,
            "serving at https://web.ecs.us-east-1.on.aws"
        );
        let rolling = observed_with(aws_config("nginx:1", 2), "IN_PROGRESS", 0);
        assert_eq!(readiness(&rolling).reason, reason::ROLLOUT_IN_PROGRESS);
        let short = observed_with(aws_config("nginx:1", 2), "COMPLETED", 1);
        assert!(!readiness(&short).ready);
        let failed = observed_with(aws_config("nginx:1", 2), "FAILED", 0);
        assert!(readiness(&failed).stalled.is_some());
        let mut draining = ready.clone();
        draining.status_code = Some("DRAINING".into());
        assert_eq!(readiness(&draining).reason, reason::WAITING);
        let status = ready.status();
        assert_eq!(
            status.url.as_deref(),
            Some("https://web.ecs.us-east-1.on.aws")
        );
        assert_eq!(status.running_count, Some(2));
    }
}
