//! TaskDefinition <-> Amazon ECS RegisterTaskDefinition / DescribeTaskDefinition. Pure mapping:
//! `register_input` (spec -> request), `spec_from_aws` (response -> spec), `normalize` (canonical
//! form for comparing the two) and `spec_from_json` (AWS CLI JSON -> spec). No I/O here.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionInput;
use aws_sdk_ecs::operation::register_task_definition::builders::RegisterTaskDefinitionInputBuilder;
use aws_sdk_ecs::types as ecs;
use aws_smithy_types::error::operation::BuildError;
use serde_json::{Map, Value};

use super::errors::AwsError;
use super::sdk_convert::{
    FromSdk, from_enum, from_enum_list, from_list, from_opt, to_enum, to_enum_list,
};
use crate::api::task_definition::{self as api, AwsEnum, TaskDefinitionSpec};

const OPERATION: &str = "RegisterTaskDefinition";

/// Builds the RegisterTaskDefinition request for `spec`, registering into `family`. `extra_tags`
/// (the reconciler's ownership / spec-hash tags) are appended and win over spec tags with the
/// same key. Operator-only fields (`imageRef`, `revisionHistoryLimit`,
/// `deleteRevisionsOnDeletion`) are not sent: every `imageRef` must already be resolved into
/// `image`.
pub fn register_input(
    spec: &TaskDefinitionSpec,
    family: &str,
    extra_tags: &[(String, String)],
) -> Result<RegisterTaskDefinitionInputBuilder, AwsError> {
    let containers = spec
        .container_definitions
        .iter()
        .map(ToSdk::to_sdk)
        .collect::<Result<Vec<_>, _>>()?;
    let mut tags: Vec<ecs::Tag> = spec
        .tags
        .iter()
        .flatten()
        .filter(|t| {
            !extra_tags
                .iter()
                .any(|(k, _)| t.key.as_deref() == Some(k.as_str()))
        })
        .map(|t| {
            ecs::Tag::builder()
                .set_key(t.key.clone())
                .set_value(t.value.clone())
                .build()
        })
        .collect();
    tags.extend(
        extra_tags
            .iter()
            .map(|(k, v)| ecs::Tag::builder().key(k).value(v).build()),
    );
    let builder = RegisterTaskDefinitionInput::builder()
        .family(family)
        .set_task_role_arn(spec.task_role_arn.clone())
        .set_execution_role_arn(spec.execution_role_arn.clone())
        .set_network_mode(to_enum(spec.network_mode))
        .set_container_definitions(Some(containers))
        .set_volumes(to_list(&spec.volumes)?)
        .set_placement_constraints(to_list(&spec.placement_constraints)?)
        .set_requires_compatibilities(to_enum_list(&spec.requires_compatibilities))
        .set_cpu(spec.cpu.clone())
        .set_memory(spec.memory.clone())
        .set_tags((!tags.is_empty()).then_some(tags))
        .set_pid_mode(to_enum(spec.pid_mode))
        .set_ipc_mode(to_enum(spec.ipc_mode))
        .set_proxy_configuration(to_opt(&spec.proxy_configuration)?)
        .set_ephemeral_storage(to_opt(&spec.ephemeral_storage)?)
        .set_runtime_platform(to_opt(&spec.runtime_platform)?)
        .set_enable_fault_injection(spec.enable_fault_injection);
    // Elastic Inference is deprecated by AWS but still part of the request surface.
    #[allow(deprecated)]
    let builder = builder.set_inference_accelerators(to_list(&spec.inference_accelerators)?);
    Ok(builder)
}

/// The spec a DescribeTaskDefinition answer corresponds to (`tags` as returned with
/// `include: TAGS`). Operator-only fields are unset; `family` is set. Values this SDK build cannot
/// represent (enum values newer than the SDK) are dropped.
pub fn spec_from_aws(td: &ecs::TaskDefinition, tags: &[ecs::Tag]) -> TaskDefinitionSpec {
    let tags: Vec<api::Tag> = tags
        .iter()
        .map(|t| api::Tag {
            key: t.key.clone(),
            value: t.value.clone(),
        })
        .collect();
    TaskDefinitionSpec {
        policies: Default::default(),
        family: td.family.clone(),
        task_role_arn: td.task_role_arn.clone(),
        execution_role_arn: td.execution_role_arn.clone(),
        network_mode: from_enum(td.network_mode.as_ref()),
        container_definitions: td
            .container_definitions
            .iter()
            .flatten()
            .filter_map(FromSdk::from_sdk)
            .collect(),
        volumes: from_list(&td.volumes),
        placement_constraints: from_list(&td.placement_constraints),
        requires_compatibilities: from_enum_list(&td.requires_compatibilities),
        cpu: td.cpu.clone(),
        memory: td.memory.clone(),
        tags: (!tags.is_empty()).then_some(tags),
        pid_mode: from_enum(td.pid_mode.as_ref()),
        ipc_mode: from_enum(td.ipc_mode.as_ref()),
        proxy_configuration: from_opt(&td.proxy_configuration),
        inference_accelerators: from_list(&td.inference_accelerators),
        ephemeral_storage: from_opt(&td.ephemeral_storage),
        runtime_platform: from_opt(&td.runtime_platform),
        enable_fault_injection: td.enable_fault_injection,
        revision_history_limit: None,
        delete_revisions_on_deletion: None,
    }
}

/// Fields of a DescribeTaskDefinition answer that AWS computes; they are not request fields.
const OUTPUT_ONLY: &[&str] = &[
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
    "deleteRequestedAt",
];

/// Parses `aws ecs describe-task-definition` output (`{"taskDefinition": {...}, "tags": [...]}`)
/// or register-task-definition input JSON into a spec. Output-only fields and nulls are dropped;
/// any other field the spec does not know is an error (so nothing is silently lost).
pub fn spec_from_json(text: &str) -> Result<TaskDefinitionSpec, String> {
    let mut doc: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    if let Some(mut td) = doc.get_mut("taskDefinition").map(Value::take) {
        let outer_tags = doc.get_mut("tags").map(Value::take);
        if let (Some(obj), Some(tags)) = (td.as_object_mut(), outer_tags)
            && tags.as_array().is_some_and(|t| !t.is_empty())
        {
            obj.insert("tags".into(), tags);
        }
        doc = td;
    }
    let Some(obj) = doc.as_object_mut() else {
        return Err("expected a JSON object (a task definition)".into());
    };
    for key in OUTPUT_ONLY {
        obj.remove(*key);
    }
    remove_nulls(&mut doc);
    let spec: TaskDefinitionSpec =
        serde_json::from_value(doc.clone()).map_err(|e| format!("not a task definition: {e}"))?;
    let known = serde_json::to_value(&spec).map_err(|e| e.to_string())?;
    let mut unknown = Vec::new();
    unknown_fields(&doc, &known, "", &mut unknown);
    if !unknown.is_empty() {
        return Err(format!("unsupported field(s): {}", unknown.join(", ")));
    }
    Ok(spec)
}

/// Canonical JSON of a spec, for comparing what the spec asks for with what AWS holds:
/// `normalize(spec) == normalize(&spec_from_aws(registered))` when AWS stored what was sent.
/// Strips operator-only fields and values equal to the AWS default, and sorts lists whose
/// order AWS does not keep (or that carry no meaning).
/// What two task definitions are compared by: the normalised content without the tags that are
/// not the user's to set (`aws:`, and the operator's own `ecs.operator.dev/`).
pub fn comparable(spec: &TaskDefinitionSpec) -> Value {
    let mut spec = spec.clone();
    spec.tags = spec.tags.take().and_then(|tags| {
        let kept: Vec<_> = tags
            .into_iter()
            .filter(|t| {
                let key = t.key.as_deref().unwrap_or_default();
                !key.starts_with("aws:") && !key.starts_with("ecs.operator.dev/")
            })
            .collect();
        (!kept.is_empty()).then_some(kept)
    });
    normalize(&spec)
}

pub fn normalize(spec: &TaskDefinitionSpec) -> Value {
    let mut v = serde_json::to_value(spec).unwrap_or_default();
    let Some(task) = v.as_object_mut() else {
        return v;
    };
    // Kubernetes-side settings are not part of a revision; family is identity, not content.
    for key in [
        "revisionHistoryLimit",
        "deleteRevisionsOnDeletion",
        "family",
        "deletionPolicy",
        "adoptionPolicy",
        "managementPolicy",
        "region",
    ] {
        task.remove(key);
    }
    // AWS stores "1 vCPU" as "1024" and "2 GB" as "2048".
    canonical_size(task, "cpu", "vcpu");
    canonical_size(task, "memory", "gb");
    // networkMode unset means bridge for Linux tasks (Windows: the default NAT network).
    let windows = task
        .get("runtimePlatform")
        .and_then(|p| p.get("operatingSystemFamily"))
        .and_then(Value::as_str)
        .is_some_and(|f| f.starts_with("WINDOWS"));
    if !windows {
        remove_if(task, "networkMode", "bridge");
    }
    let mode = task
        .get("networkMode")
        .and_then(Value::as_str)
        .unwrap_or("bridge")
        .to_string();
    if let Some(Value::Array(containers)) = task.get_mut("containerDefinitions") {
        for c in containers.iter_mut().filter_map(Value::as_object_mut) {
            normalize_container(c, &mode);
        }
    }
    if let Some(Value::Array(volumes)) = task.get_mut("volumes") {
        for v in volumes.iter_mut().filter_map(Value::as_object_mut) {
            normalize_volume(v);
        }
    }
    if let Some(Value::Array(tags)) = task.get_mut("tags") {
        // A tag value is optional; an empty one is the same tag.
        for t in tags.iter_mut().filter_map(Value::as_object_mut) {
            remove_if(t, "value", "");
        }
    }
    // Sets, as far as ECS is concerned.
    sort_by_field(task, "containerDefinitions", "name");
    sort_by_field(task, "volumes", "name");
    sort_by_field(task, "tags", "key");
    sort_by_field(task, "inferenceAccelerators", "deviceName");
    sort_values(task, "requiresCompatibilities");
    sort_values(task, "placementConstraints");
    if let Some(Value::Object(proxy)) = task.get_mut("proxyConfiguration") {
        // type unset means APPMESH, the only proxy type.
        remove_if(proxy, "type", "APPMESH");
        sort_by_field(proxy, "properties", "name");
    }
    prune(&mut v);
    v
}

fn normalize_container(c: &mut Map<String, Value>, network_mode: &str) {
    // Resolved into `image` before registering.
    c.remove("imageRef");
    // A container is essential unless it says otherwise.
    remove_if(c, "essential", true);
    // cpu 0 is what AWS reports for "no reservation".
    remove_if(c, "cpu", 0);
    // Image tags resolve to digests unless disabled.
    remove_if(c, "versionConsistency", "enabled");
    if let Some(Value::Array(ports)) = c.get_mut("portMappings") {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            remove_if(p, "protocol", "tcp");
            // hostPort 0 means "dynamic", the same as leaving it out.
            remove_if(p, "hostPort", 0);
            // With awsvpc and host networking the host port is the container port.
            if matches!(network_mode, "awsvpc" | "host")
                && p.get("hostPort") == p.get("containerPort")
            {
                p.remove("hostPort");
            }
        }
    }
    if let Some(Value::Object(hc)) = c.get_mut("healthCheck") {
        // AWS fills in interval 30, timeout 5, retries 3; startPeriod 0 is "off".
        remove_if(hc, "interval", 30);
        remove_if(hc, "timeout", 5);
        remove_if(hc, "retries", 3);
        remove_if(hc, "startPeriod", 0);
    }
    if let Some(Value::Object(rp)) = c.get_mut("restartPolicy") {
        // A container must run 300 s before a restart unless told otherwise.
        remove_if(rp, "restartAttemptPeriod", 300);
        sort_values(rp, "ignoredExitCodes");
    }
    if let Some(Value::Object(log)) = c.get_mut("logConfiguration") {
        sort_by_field(log, "secretOptions", "name");
    }
    if let Some(Value::Object(lp)) = c.get_mut("linuxParameters")
        && let Some(Value::Object(caps)) = lp.get_mut("capabilities")
    {
        sort_values(caps, "add");
        sort_values(caps, "drop");
    }
    // Sets: AWS may return them in another order and their order carries no meaning.
    sort_by_field(c, "environment", "name");
    sort_by_field(c, "secrets", "name");
    sort_by_field(c, "dependsOn", "containerName");
    sort_by_field(c, "ulimits", "name");
    sort_by_field(c, "systemControls", "namespace");
    sort_by_field(c, "resourceRequirements", "type");
}

fn normalize_volume(v: &mut Map<String, Value>) {
    if let Some(Value::Object(docker)) = v.get_mut("dockerVolumeConfiguration") {
        // Docker volumes are task-scoped and use the local driver unless told otherwise.
        remove_if(docker, "scope", "task");
        remove_if(docker, "driver", "local");
    }
    if let Some(Value::Object(efs)) = v.get_mut("efsVolumeConfiguration") {
        // The file system root, no transit encryption and no IAM are the EFS defaults.
        remove_if(efs, "rootDirectory", "/");
        remove_if(efs, "transitEncryption", "DISABLED");
        if let Some(Value::Object(auth)) = efs.get_mut("authorizationConfig") {
            remove_if(auth, "iam", "DISABLED");
        }
    }
    if let Some(Value::Object(s3)) = v.get_mut("s3filesVolumeConfiguration") {
        remove_if(s3, "rootDirectory", "/");
    }
}

/// Removes `key` when it holds `default`.
fn remove_if(obj: &mut Map<String, Value>, key: &str, default: impl Into<Value>) {
    if obj.get(key) == Some(&default.into()) {
        obj.remove(key);
    }
}

/// Sorts the array at `key` by the string or number at `field` of each element.
fn sort_by_field(obj: &mut Map<String, Value>, key: &str, field: &str) {
    if let Some(Value::Array(items)) = obj.get_mut(key) {
        items.sort_by_cached_key(|item| item.get(field).map(Value::to_string));
    }
}

/// Sorts the array at `key` by the JSON text of its elements.
fn sort_values(obj: &mut Map<String, Value>, key: &str) {
    if let Some(Value::Array(items)) = obj.get_mut(key) {
        items.sort_by_cached_key(Value::to_string);
    }
}

/// Rewrites "N vCPU" (unit `vcpu`) or "N GB" (unit `gb`) as the number of CPU units / MiB.
fn canonical_size(obj: &mut Map<String, Value>, key: &str, unit: &str) {
    let Some(Value::String(text)) = obj.get(key) else {
        return;
    };
    let lower = text.trim().to_ascii_lowercase();
    let Some(number) = lower.strip_suffix(unit).map(str::trim) else {
        return;
    };
    let Ok(amount) = number.parse::<f64>() else {
        return;
    };
    let scaled = amount * 1024.0;
    if scaled.fract() == 0.0 && scaled >= 0.0 {
        obj.insert(key.into(), Value::String(format!("{scaled:.0}")));
    }
}

/// Drops nulls, `false` (every boolean of a task definition defaults to false, except
/// `essential`), and empty lists and maps (AWS reports unset lists as `[]`).
fn prune(v: &mut Value) {
    match v {
        Value::Object(obj) => {
            for child in obj.values_mut() {
                prune(child);
            }
            obj.retain(|key, child| match child {
                Value::Null => false,
                Value::Bool(false) => key == "essential",
                Value::Array(a) => !a.is_empty(),
                Value::Object(o) => !o.is_empty(),
                _ => true,
            });
        }
        Value::Array(items) => items.iter_mut().for_each(prune),
        _ => {}
    }
}

fn remove_nulls(v: &mut Value) {
    match v {
        Value::Object(obj) => {
            obj.retain(|_, child| !child.is_null());
            obj.values_mut().for_each(remove_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(remove_nulls),
        _ => {}
    }
}

/// Paths present in `input` but absent from `known` (the spec's own serialisation).
fn unknown_fields(input: &Value, known: &Value, path: &str, out: &mut Vec<String>) {
    match (input, known) {
        (Value::Object(i), Value::Object(k)) => {
            for (key, child) in i {
                let here = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match k.get(key) {
                    Some(known_child) => unknown_fields(child, known_child, &here, out),
                    None => out.push(here),
                }
            }
        }
        (Value::Array(i), Value::Array(k)) => {
            for (n, (child, known_child)) in i.iter().zip(k).enumerate() {
                unknown_fields(child, known_child, &format!("{path}[{n}]"), out);
            }
        }
        _ => {}
    }
}

// ---- spec -> SDK ---------------------------------------------------------------------------

/// An API type with an SDK counterpart in the RegisterTaskDefinition request.
trait ToSdk {
    type Sdk;
    fn to_sdk(&self) -> Result<Self::Sdk, AwsError>;
}

/// A builder error (a required field missing) as a terminal error: the spec must change.
fn built<T>(result: Result<T, BuildError>) -> Result<T, AwsError> {
    result.map_err(|e| AwsError::terminal(OPERATION, "InvalidTaskDefinition", e.to_string()))
}

fn to_opt<T: ToSdk>(item: &Option<T>) -> Result<Option<T::Sdk>, AwsError> {
    item.as_ref().map(ToSdk::to_sdk).transpose()
}

fn to_list<T: ToSdk>(items: &Option<Vec<T>>) -> Result<Option<Vec<T::Sdk>>, AwsError> {
    items
        .as_ref()
        .map(|v| v.iter().map(ToSdk::to_sdk).collect())
        .transpose()
}

fn to_map(map: &Option<BTreeMap<String, String>>) -> Option<HashMap<String, String>> {
    map.as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

fn from_map(map: &Option<HashMap<String, String>>) -> Option<BTreeMap<String, String>> {
    map.as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

impl ToSdk for api::ContainerDefinition {
    type Sdk = ecs::ContainerDefinition;
    fn to_sdk(&self) -> Result<Self::Sdk, AwsError> {
        let Some(image) = &self.image else {
            return Err(AwsError::terminal(
                OPERATION,
                "ImageUnresolved",
                format!(
                    "container {}: no image (imageRef must be resolved before registering)",
                    self.name
                ),
            ));
        };
        Ok(ecs::ContainerDefinition::builder()
            .name(&self.name)
            .image(image)
            .set_repository_credentials(to_opt(&self.repository_credentials)?)
            .set_cpu(self.cpu)
            .set_memory(self.memory)
            .set_memory_reservation(self.memory_reservation)
            .set_links(self.links.clone())
            .set_port_mappings(to_list(&self.port_mappings)?)
            .set_essential(self.essential)
            .set_restart_policy(to_opt(&self.restart_policy)?)
            .set_entry_point(self.entry_point.clone())
            .set_command(self.command.clone())
            .set_environment(to_list(&self.environment)?)
            .set_environment_files(to_list(&self.environment_files)?)
            .set_mount_points(to_list(&self.mount_points)?)
            .set_volumes_from(to_list(&self.volumes_from)?)
            .set_linux_parameters(to_opt(&self.linux_parameters)?)
            .set_secrets(to_list(&self.secrets)?)
            .set_depends_on(to_list(&self.depends_on)?)
            .set_start_timeout(self.start_timeout)
            .set_stop_timeout(self.stop_timeout)
            .set_version_consistency(to_enum(self.version_consistency))
            .set_hostname(self.hostname.clone())
            .set_user(self.user.clone())
            .set_working_directory(self.working_directory.clone())
            .set_disable_networking(self.disable_networking)
            .set_privileged(self.privileged)
            .set_readonly_root_filesystem(self.readonly_root_filesystem)
            .set_dns_servers(self.dns_servers.clone())
            .set_dns_search_domains(self.dns_search_domains.clone())
            .set_extra_hosts(to_list(&self.extra_hosts)?)
            .set_docker_security_options(self.docker_security_options.clone())
            .set_interactive(self.interactive)
            .set_pseudo_terminal(self.pseudo_terminal)
            .set_docker_labels(to_map(&self.docker_labels))
            .set_ulimits(to_list(&self.ulimits)?)
            .set_log_configuration(to_opt(&self.log_configuration)?)
            .set_health_check(to_opt(&self.health_check)?)
            .set_system_controls(to_list(&self.system_controls)?)
            .set_resource_requirements(to_list(&self.resource_requirements)?)
            .set_firelens_configuration(to_opt(&self.firelens_configuration)?)
            .set_credential_specs(self.credential_specs.clone())
            .build())
    }
}

impl FromSdk<ecs::ContainerDefinition> for api::ContainerDefinition {
    fn from_sdk(c: &ecs::ContainerDefinition) -> Option<Self> {
        Some(Self {
            name: c.name.clone().unwrap_or_default(),
            image: c.image.clone(),
            image_ref: None,
            repository_credentials: from_opt(&c.repository_credentials),
            // The SDK reports an unset cpu as 0.
            cpu: (c.cpu != 0).then_some(c.cpu),
            memory: c.memory,
            memory_reservation: c.memory_reservation,
            links: c.links.clone(),
            port_mappings: from_list(&c.port_mappings),
            essential: c.essential,
            restart_policy: from_opt(&c.restart_policy),
            entry_point: c.entry_point.clone(),
            command: c.command.clone(),
            environment: from_list(&c.environment),
            environment_files: from_list(&c.environment_files),
            mount_points: from_list(&c.mount_points),
            volumes_from: from_list(&c.volumes_from),
            linux_parameters: from_opt(&c.linux_parameters),
            secrets: from_list(&c.secrets),
            depends_on: from_list(&c.depends_on),
            start_timeout: c.start_timeout,
            stop_timeout: c.stop_timeout,
            version_consistency: from_enum(c.version_consistency.as_ref()),
            hostname: c.hostname.clone(),
            user: c.user.clone(),
            working_directory: c.working_directory.clone(),
            disable_networking: c.disable_networking,
            privileged: c.privileged,
            readonly_root_filesystem: c.readonly_root_filesystem,
            dns_servers: c.dns_servers.clone(),
            dns_search_domains: c.dns_search_domains.clone(),
            extra_hosts: from_list(&c.extra_hosts),
            docker_security_options: c.docker_security_options.clone(),
            interactive: c.interactive,
            pseudo_terminal: c.pseudo_terminal,
            docker_labels: from_map(&c.docker_labels),
            ulimits: from_list(&c.ulimits),
            log_configuration: from_opt(&c.log_configuration),
            health_check: from_opt(&c.health_check),
            system_controls: from_list(&c.system_controls),
            resource_requirements: from_list(&c.resource_requirements),
            firelens_configuration: from_opt(&c.firelens_configuration),
            credential_specs: c.credential_specs.clone(),
        })
    }
}

impl ToSdk for api::RepositoryCredentials {
    type Sdk = ecs::RepositoryCredentials;
    fn to_sdk(&self) -> Result<Self::Sdk, AwsError> {
        built(
            ecs::RepositoryCredentials::builder()
                .credentials_parameter(&self.credentials_parameter)
                .build(),
        )
    }
}

impl FromSdk<ecs::RepositoryCredentials> for api::RepositoryCredentials {
    fn from_sdk(s: &ecs::RepositoryCredentials) -> Option<Self> {
        Some(Self {
            credentials_parameter: s.credentials_parameter.clone(),
        })
    }
}

impl ToSdk for api::PortMapping {
    type Sdk = ecs::PortMapping;
    fn to_sdk(&self) -> Result<Self::Sdk, AwsError> {
        Ok(ecs::PortMapping::builder()
            .set_container_port(self.container_port)
            .set_host_port(self.host_port)
            .set_protocol(to_enum(self.protocol))
            .set_name(self.name.clone())
            .set_app_protocol(to_enum(self.app_protocol))
            .set_container_port_range(self.container_port_range.clone())
            .build())
    }
}

impl FromSdk<ecs::PortMapping> for api::PortMapping {
    fn from_sdk(s: &ecs::PortMapping) -> Option<Self> {
        Some(Self {
            container_port: s.container_port,
            host_port: s.host_port,
            protocol: from_enum(s.protocol.as_ref()),
            name: s.name.clone(),
            app_protocol: from_enum(s.app_protocol.as_ref()),
            container_port_range: s.container_port_range.clone(),
        })
    }
}

impl ToSdk for api::ContainerRestartPolicy {
    type Sdk = ecs::ContainerRestartPolicy;
    fn to_sdk(&self) -> Result<Self::Sdk, AwsError> {
        built(
            ecs::ContainerRestartPolicy::builder()
                .enabled(self.enabled)
                .set_ignored_exit_codes(self.ignored_exit_codes.clone())
                .set_restart_attempt_period(self.restart_attempt_period)
                .build(),
        )
    }
}

impl FromSdk<ecs::ContainerRestartPolicy> for api::ContainerRestartPolicy {
    fn from_sdk(s: &ecs::ContainerRestartPolicy) -> Option<Self> {
        Some(Self {
            enabled: s.enabled,
            ignored_exit_codes: s.ignored_exit_codes.clone(),
            restart_attempt_period: s.restart_attempt_period,
        })
    }
}

impl ToSdk for api::KeyValuePair {
    type Sdk = ecs::KeyValuePair;
    fn to_sdk(&self) -> Result<Self::Sdk, AwsError> {
        Ok(ecs::KeyValuePair::builder()
            .set_name(self.name.clone())
            .set_value(self.value.clone())
            .build())
    }
}

impl FromSdk<ecs::KeyValuePair> for api::KeyValuePair {
    fn from_sdk(s: &ecs::KeyValuePair) -> Option<Self> {
        Some(Self {
            name: s.name.clone(),
            value: s.value.clone(),
        })
    }
}

impl ToSdk for api::EnvironmentFile {
    type Sdk = ecs::EnvironmentFile;
    fn to_sdk(&self) -> Result<Self::Sdk, AwsError> {
        built(
            ecs::EnvironmentFile::builder()
                .value(&self.value)
                .r#type(ecs::EnvironmentFileType::from(self.type_.as_str()))
                .build(),
        )
    }
}

impl FromSdk<ecs::EnvironmentFile> for api::EnvironmentFile {
    fn from_sdk(s: &ecs::EnvironmentFile) -> Option<Self> {
        Some(Self {
            value: s.value.clone(),
            type_: from_enum(Some(&s.r#type))?,
        })
    }
}

impl ToSdk for api::MountPoint {
    type Sdk = ecs::MountPoint;
    fn to_sdk(&self) -> Result<Self::Sdk, AwsError> {
        Ok(ecs::MountPoint::builder()
            .set_source_volume(self.source_volume.clone())
            .set_container_path(self.container_path.clone())
            .set_read_only(self.read_only)
            .build())
    }
}

impl FromSdk<ecs::MountPoint> for api::MountPoint {
    fn from_sdk(s: &ecs::MountPoint) -> Option<Self> {
        Some(Self {
            source_volume: s.source_volume.clone(),
            container_path: s.container_path.clone(),
            read_only: s.read_only,
        })
    }
}

impl ToSdk for api::VolumeFrom {
    type Sdk = ecs::VolumeFrom;
    fn to_sdk(&self) -> Result<Self::Sdk, AwsError> {
        Ok(ecs::VolumeFrom::builder()
            .set_source_container(self.source_container.clone())
            .set_read_only(self.read_only)
            .build())
    }
}

impl FromSdk<ecs::VolumeFrom> for api::VolumeFrom {
    fn from_sdk(s: &ecs::VolumeFrom) -> Option<Self> {
        Some(Self {
            source_container: s.source_container.clone(),
            read_only: s.read_only,
        })
    }
}

impl ToSdk for api::LinuxParameters {
    type Sdk = ecs::LinuxParameters;
    fn to_sdk(&self) -> Result<Self::Sdk, AwsError> {
        Ok(ecs::LinuxParameters::builder()
            .set_capabilities(to_opt(&self.capabilities)?)
            .set_devices(to_list(&self.devices)?)
            .set_init_process_enabled(self.init_process_enabled)
            .set_shared_memory_size(self.shared_memory_size)
            .set_tmpfs(to_list(&self.tmpfs)?)
            .set_max_swap(self.max_swap)
            .set_swappiness(self.swappiness)
            .build())
    }
}

impl FromSdk<ecs::LinuxParameters> for api::LinuxParameters {
    fn from_sdk(s: &ecs::LinuxParameters) -> Option<Self> {
        Some(Self {
            capabilities: from_opt(&s.capabilities),
            devices: from_list(&s.devices),
            init_process_enabled: s.init_process_enabled,
            shared_memory_size: s.shared_memory_size,
            tmpfs: from_list(&s.tmpfs),
            max_swap: s.max_swap,
            swappiness: s.swappiness,
        })
    }
}

impl ToSdk for api::KernelCapabilities {
    type Sdk = ecs::KernelCapabilities;
    fn to_sdk(&self) -> Result<Self::Sdk, AwsError> {
        Ok(ecs::KernelCapabilities::builder()
            .set_add(self.add.clone())
            .set_drop(self.drop.clone())
            .build())
    }
}

impl FromSdk<ecs::KernelCapabilities> for api::KernelCapabilities {
    fn from_sdk(s: &ecs::KernelCapabilities) -> Option<Self> {
        Some(Self {
            add: s.add.clone(),
            drop: s.drop.clone(),
        })
    }
}

impl ToSdk for api::Device {
    type Sdk = ecs::Device;
    fn to_sdk(&self) -> Result<Self::Sdk, AwsError> {
        built(
            ecs::Device::builder()
                .host_path(&self.host_path)
                .set_container_path(self.container_path.clone())
                .set_permissions(to_enum_list(&self.permissions))
                .build(),
        )
    }
}

impl FromSdk<ecs::Device> for api::Device {
    fn from_sdk(s: &ecs::Device) -> Option<Self> {
        Some(Self {
            host_path: s.host_path.clone(),
            container_path: s.container_path.clone(),
            permissions: from_enum_list(&s.permissions),
        })
    }
}

impl ToSdk for api::Tmpfs {
    type Sdk = ecs::Tmpfs;
    fn to_sdk(&self) -> Result<Self::Sdk, AwsError> {
        built(
            ecs::Tmpfs::builder()
                .container_path(&self.container_path)
                .size(self.size)
                .set_mount_options(self.mount_options.clone())
                .build(),
        )
    }
}

impl FromSdk<ecs::Tmpfs> for api::Tmpfs {
    fn from_sdk(s: &ecs::Tmpfs) -> Option<Self> {
        Some(Self {
            container_path: s.container_path.clone(),
            size: s.size,
            mount_options: s.mount_options.clone(),
        })
    }
}

impl ToSdk for api::Secret {
    type Sdk = ecs::Secret;
    fn to_sdk(&self) -> Result<Self::Sdk, AwsError> {
        built(
            ecs::Secret::builder()
                .name(&self.name)
                .value_from(&self.value_from)
                .build(),
        )
    }
}

impl FromSdk<ecs::Secret> for api::Secret {
    fn from_sdk(s: &ecs::Secret) -> Option<Self> {
        Some(Self {
            name: s.name.clone(),
            value_from: s.value_from.clone(),
        })
    }
}

impl ToSdk for api::ContainerDependency {
    type Sdk = ecs::ContainerDependency;
    fn to_sdk(&self) -> Result<Self::Sdk, AwsError> {
        built(
            ecs::ContainerDependency::builder()
                .container_name(&self.container_name)
                .condition(ecs::ContainerCondition::from(self.condition.as_str()))
                .build(),
        )
    }
}

impl FromSdk<ecs::ContainerDependency> for api::ContainerDependency {
    fn from_sdk(s: &ecs::ContainerDependency) -> Option<Self> {
        Some(Self {
            container_name: s.container_name.clone(),
            condition: from_enum(Some(&s.condition))?,
        })
    }
}

impl ToSdk for api::HostEntry {
    type Sdk = ecs::HostEntry;
    fn to_sdk(&self) -> Result<Self::Sdk, AwsError> {
        built(
            ecs::HostEntry::builder()
                .hostname(&self.hostname)
                .ip_address(&self.ip_address)
                .build(),
        )
    }
}

impl FromSdk<ecs::HostEntry> for api::HostEntry {
    fn from_sdk(s: &ecs::HostEntry) -> Option<Self> {
        Some(Self {
            hostname: s.hostname.clone(),
            ip_address: s.ip_address.clone(),
        })
    }
}

impl ToSdk for api::Ulimit {
    type Sdk = ecs::Ulimit;
    fn to_sdk(&self) -> Result<Self::Sdk, AwsError> {
        built(
            ecs::Ulimit::builder()
                .name(ecs::UlimitName::from(self.name.as_str()))
                .soft_limit(self.soft_limit)
                .hard_limit(self.hard_limit)
                .build(),
        )
    }
}

impl FromSdk<ecs::Ulimit> for api::Ulimit {
    fn from_sdk(s: &ecs::Ulimit) -> Option<Self> {
        Some(Self {
            name: from_enum(Some(&s.name))?,
            soft_limit: s.soft_limit,
            hard_limit: s.hard_limit,
        })
    }
}

impl ToSdk for api::LogConfiguration {
    type Sdk = ecs::LogConfiguration;
    fn to_sdk(&self) -> Result<Self::Sdk, AwsError> {
        built(
            ecs::LogConfiguration::builder()
                .log_driver(ecs::LogDriver::from(self.log_driver.as_str()))
                .set_options(to_map(&self.options))
                .set_secret_options(to_list(&self.secret_options)?)
                .build(),
        )
    }
}

impl FromSdk<ecs::LogConfiguration> for api::LogConfiguration {
    fn from_sdk(s: &ecs::LogConfiguration) -> Option<Self> {
        Some(Self {
            log_driver: from_enum(Some(&s.log_driver))?,
            options: from_map(&s.options),
            secret_options: from_list(&s.secret_options),
        })
    }
}

impl ToSdk for api::HealthCheck {
    type Sdk = ecs::HealthCheck;
    fn to_sdk(&self) -> Result<Self::Sdk, AwsError> {
        built(
            ecs::HealthCheck::builder()
                .set_command(Some(self.command.clone()))
                .set_interval(self.interval)
                .set_timeout(self.timeout)
                .set_retries(self.retries)
                .set_start_period(self.start_period)
                .build(),
        )
    }
}

impl FromSdk<ecs::HealthCheck> for api::HealthCheck {
    fn from_sdk(s: &ecs::HealthCheck) -> Option<Self> {
        Some(Self {
            command: s.command.clone(),
            interval: s.interval,
            timeout: s.timeout,
            retries: s.retries,
            start_period: s.start_period,
        })
    }
}

impl ToSdk for api::SystemControl {
    type Sdk = ecs::SystemControl;
    fn to_sdk(&self) -> Result<Self::Sdk, AwsError> {
        Ok(ecs::SystemControl::builder()
            .set_namespace(self.namespace.clone())
            .set_value(self.value.clone())
            .build())
    }
}

impl FromSdk<ecs::SystemControl> for api::SystemControl {
    fn from_sdk(s: &ecs::SystemControl) -> Option<Self> {
        Some(Self {
            namespace: s.namespace.clone(),
            value: s.value.clone(),
        })
    }
}

impl ToSdk for api::ResourceRequirement {
    type Sdk = ecs::ResourceRequirement;
    fn to_sdk(&self) -> Result<Self::Sdk, AwsError> {
        // The SDK models `value` as required and sends "" when it is unset (sharingStrategy).
        built(
            ecs::ResourceRequirement::builder()
                .set_value(self.value.clone())
                .r#type(ecs::ResourceType::from(self.type_.as_str()))
                .set_sharing_strategy(to_opt(&self.sharing_strategy)?)
                .build(),
        )
    }
}

impl FromSdk<ecs::ResourceRequirement> for api::ResourceRequirement {
    fn from_sdk(s: &ecs::ResourceRequirement) -> Option<Self> {
        Some(Self {
            value: (!s.value.is_empty()).then(|| s.value.clone()),
            type_: from_enum(Some(&s.r#type))?,
            sharing_strategy: from_opt(&s.sharing_strategy),
        })
    }
}

impl ToSdk for api::SharingStrategy {
    type Sdk = ecs::SharingStrategy;
    fn to_sdk(&self) -> Result<Self::Sdk, AwsError> {
        match &self.nvidia_mps {
            Some(mps) => Ok(ecs::SharingStrategy::NvidiaMps(built(
                ecs::NvidiaMpsAllocation::builder()
                    .memory(mps.memory)
                    .set_max_compute_percent(mps.max_compute_percent)
                    .build(),
            )?)),
            None => Err(AwsError::terminal(
                OPERATION,
                "InvalidTaskDefinition",
                "sharingStrategy: set nvidiaMps",
            )),
        }
    }
}

impl FromSdk<ecs::SharingStrategy> for api::SharingStrategy {
    fn from_sdk(s: &ecs::SharingStrategy) -> Option<Self> {
        match s {
            ecs::SharingStrategy::NvidiaMps(mps) => Some(Self {
                nvidia_mps: Some(api::NvidiaMpsAllocation {
                    memory: mps.memory,
                    max_compute_percent: mps.max_compute_percent,
                }),
            }),
            _ => None,
        }
    }
}

impl ToSdk for api::FirelensConfiguration {
    type Sdk = ecs::FirelensConfiguration;
    fn to_sdk(&self) -> Result<Self::Sdk, AwsError> {
        built(
            ecs::FirelensConfiguration::builder()
                .r#type(ecs::FirelensConfigurationType::from(self.type_.as_str()))
                .set_options(to_map(&self.options))
                .build(),
        )
    }
}

impl FromSdk<ecs::FirelensConfiguration> for api::FirelensConfiguration {
    fn from_sdk(s: &ecs::FirelensConfiguration) -> Option<Self> {
        Some(Self {
            type_: from_enum(Some(&s.r#type))?,
            options: from_map(&s.options),
        })
    }
}

impl ToSdk for api::Volume {
    type Sdk = ecs::Volume;
    fn to_sdk(&self) -> Result<Self::Sdk, AwsError> {
        Ok(ecs::Volume::builder()
            .set_name(self.name.clone())
            .set_host(self.host.as_ref().map(|h| {
                ecs::HostVolumeProperties::builder()
                    .set_source_path(h.source_path.clone())
                    .build()
            }))
            .set_docker_volume_configuration(to_opt(&self.docker_volume_configuration)?)
            .set_efs_volume_configuration(to_opt(&self.efs_volume_configuration)?)
            .set_s3files_volume_configuration(to_opt(&self.s3files_volume_configuration)?)
            .set_fsx_windows_file_server_volume_configuration(to_opt(
                &self.fsx_windows_file_server_volume_configuration,
            )?)
            .set_configured_at_launch(self.configured_at_launch)
            .build())
    }
}

impl FromSdk<ecs::Volume> for api::Volume {
    fn from_sdk(s: &ecs::Volume) -> Option<Self> {
        Some(Self {
            name: s.name.clone(),
            host: s.host.as_ref().map(|h| api::HostVolumeProperties {
                source_path: h.source_path.clone(),
            }),
            docker_volume_configuration: from_opt(&s.docker_volume_configuration),
            efs_volume_configuration: from_opt(&s.efs_volume_configuration),
            s3files_volume_configuration: from_opt(&s.s3files_volume_configuration),
            fsx_windows_file_server_volume_configuration: from_opt(
                &s.fsx_windows_file_server_volume_configuration,
            ),
            configured_at_launch: s.configured_at_launch,
        })
    }
}

impl ToSdk for api::DockerVolumeConfiguration {
    type Sdk = ecs::DockerVolumeConfiguration;
    fn to_sdk(&self) -> Result<Self::Sdk, AwsError> {
        Ok(ecs::DockerVolumeConfiguration::builder()
            .set_scope(to_enum(self.scope))
            .set_autoprovision(self.autoprovision)
            .set_driver(self.driver.clone())
            .set_driver_opts(to_map(&self.driver_opts))
            .set_labels(to_map(&self.labels))
            .build())
    }
}

impl FromSdk<ecs::DockerVolumeConfiguration> for api::DockerVolumeConfiguration {
    fn from_sdk(s: &ecs::DockerVolumeConfiguration) -> Option<Self> {
        Some(Self {
            scope: from_enum(s.scope.as_ref()),
            autoprovision: s.autoprovision,
            driver: s.driver.clone(),
            driver_opts: from_map(&s.driver_opts),
            labels: from_map(&s.labels),
        })
    }
}

impl ToSdk for api::EfsVolumeConfiguration {
    type Sdk = ecs::EfsVolumeConfiguration;
    fn to_sdk(&self) -> Result<Self::Sdk, AwsError> {
        built(
            ecs::EfsVolumeConfiguration::builder()
                .file_system_id(&self.file_system_id)
                .set_root_directory(self.root_directory.clone())
                .set_transit_encryption(to_enum(self.transit_encryption))
                .set_transit_encryption_port(self.transit_encryption_port)
                .set_authorization_config(self.authorization_config.as_ref().map(|a| {
                    ecs::EfsAuthorizationConfig::builder()
                        .set_access_point_id(a.access_point_id.clone())
                        .set_iam(to_enum(a.iam))
                        .build()
                }))
                .build(),
        )
    }
}

impl FromSdk<ecs::EfsVolumeConfiguration> for api::EfsVolumeConfiguration {
    fn from_sdk(s: &ecs::EfsVolumeConfiguration) -> Option<Self> {
        Some(Self {
            file_system_id: s.file_system_id.clone(),
            root_directory: s.root_directory.clone(),
            transit_encryption: from_enum(s.transit_encryption.as_ref()),
            transit_encryption_port: s.transit_encryption_port,
            authorization_config: s.authorization_config.as_ref().map(|a| {
                api::EfsAuthorizationConfig {
                    access_point_id: a.access_point_id.clone(),
                    iam: from_enum(a.iam.as_ref()),
                }
            }),
        })
    }
}

impl ToSdk for api::S3FilesVolumeConfiguration {
    type Sdk = ecs::S3FilesVolumeConfiguration;
    fn to_sdk(&self) -> Result<Self::Sdk, AwsError> {
        built(
            ecs::S3FilesVolumeConfiguration::builder()
                .file_system_arn(&self.file_system_arn)
                .set_root_directory(self.root_directory.clone())
                .set_transit_encryption_port(self.transit_encryption_port)
                .set_access_point_arn(self.access_point_arn.clone())
                .build(),
        )
    }
}

impl FromSdk<ecs::S3FilesVolumeConfiguration> for api::S3FilesVolumeConfiguration {
    fn from_sdk(s: &ecs::S3FilesVolumeConfiguration) -> Option<Self> {
        Some(Self {
            file_system_arn: s.file_system_arn.clone(),
            root_directory: s.root_directory.clone(),
            transit_encryption_port: s.transit_encryption_port,
            access_point_arn: s.access_point_arn.clone(),
        })
    }
}

impl ToSdk for api::FSxWindowsFileServerVolumeConfiguration {
    type Sdk = ecs::FSxWindowsFileServerVolumeConfiguration;
    fn to_sdk(&self) -> Result<Self::Sdk, AwsError> {
        let auth = self
            .authorization_config
            .as_ref()
            .map(|a| {
                built(
                    ecs::FSxWindowsFileServerAuthorizationConfig::builder()
                        .credentials_parameter(&a.credentials_parameter)
                        .domain(&a.domain)
                        .build(),
                )
            })
            .transpose()?;
        built(
            ecs::FSxWindowsFileServerVolumeConfiguration::builder()
                .file_system_id(&self.file_system_id)
                .root_directory(&self.root_directory)
                .set_authorization_config(auth)
                .build(),
        )
    }
}

impl FromSdk<ecs::FSxWindowsFileServerVolumeConfiguration>
    for api::FSxWindowsFileServerVolumeConfiguration
{
    fn from_sdk(s: &ecs::FSxWindowsFileServerVolumeConfiguration) -> Option<Self> {
        Some(Self {
            file_system_id: s.file_system_id.clone(),
            root_directory: s.root_directory.clone(),
            authorization_config: s.authorization_config.as_ref().map(|a| {
                api::FSxWindowsFileServerAuthorizationConfig {
                    credentials_parameter: a.credentials_parameter.clone(),
                    domain: a.domain.clone(),
                }
            }),
        })
    }
}

impl ToSdk for api::TaskDefinitionPlacementConstraint {
    type Sdk = ecs::TaskDefinitionPlacementConstraint;
    fn to_sdk(&self) -> Result<Self::Sdk, AwsError> {
        Ok(ecs::TaskDefinitionPlacementConstraint::builder()
            .set_type(to_enum(self.type_))
            .set_expression(self.expression.clone())
            .build())
    }
}

impl FromSdk<ecs::TaskDefinitionPlacementConstraint> for api::TaskDefinitionPlacementConstraint {
    fn from_sdk(s: &ecs::TaskDefinitionPlacementConstraint) -> Option<Self> {
        Some(Self {
            type_: from_enum(s.r#type.as_ref()),
            expression: s.expression.clone(),
        })
    }
}

impl ToSdk for api::ProxyConfiguration {
    type Sdk = ecs::ProxyConfiguration;
    fn to_sdk(&self) -> Result<Self::Sdk, AwsError> {
        built(
            ecs::ProxyConfiguration::builder()
                .set_type(to_enum(self.type_))
                .container_name(&self.container_name)
                .set_properties(to_list(&self.properties)?)
                .build(),
        )
    }
}

impl FromSdk<ecs::ProxyConfiguration> for api::ProxyConfiguration {
    fn from_sdk(s: &ecs::ProxyConfiguration) -> Option<Self> {
        Some(Self {
            type_: from_enum(s.r#type.as_ref()),
            container_name: s.container_name.clone(),
            properties: from_list(&s.properties),
        })
    }
}

// Elastic Inference is deprecated by AWS but still part of the request surface.
#[allow(deprecated)]
impl ToSdk for api::InferenceAccelerator {
    type Sdk = ecs::InferenceAccelerator;
    fn to_sdk(&self) -> Result<Self::Sdk, AwsError> {
        built(
            ecs::InferenceAccelerator::builder()
                .device_name(&self.device_name)
                .device_type(&self.device_type)
                .build(),
        )
    }
}

#[allow(deprecated)]
impl FromSdk<ecs::InferenceAccelerator> for api::InferenceAccelerator {
    fn from_sdk(s: &ecs::InferenceAccelerator) -> Option<Self> {
        Some(Self {
            device_name: s.device_name.clone(),
            device_type: s.device_type.clone(),
        })
    }
}

impl ToSdk for api::EphemeralStorage {
    type Sdk = ecs::EphemeralStorage;
    fn to_sdk(&self) -> Result<Self::Sdk, AwsError> {
        Ok(ecs::EphemeralStorage::builder()
            .size_in_gib(self.size_in_gib)
            .build())
    }
}

impl FromSdk<ecs::EphemeralStorage> for api::EphemeralStorage {
    fn from_sdk(s: &ecs::EphemeralStorage) -> Option<Self> {
        Some(Self {
            size_in_gib: s.size_in_gib,
        })
    }
}

impl ToSdk for api::RuntimePlatform {
    type Sdk = ecs::RuntimePlatform;
    fn to_sdk(&self) -> Result<Self::Sdk, AwsError> {
        Ok(ecs::RuntimePlatform::builder()
            .set_cpu_architecture(to_enum(self.cpu_architecture))
            .set_operating_system_family(to_enum(self.operating_system_family))
            .build())
    }
}

impl FromSdk<ecs::RuntimePlatform> for api::RuntimePlatform {
    fn from_sdk(s: &ecs::RuntimePlatform) -> Option<Self> {
        Some(Self {
            cpu_architecture: from_enum(s.cpu_architecture.as_ref()),
            operating_system_family: from_enum(s.operating_system_family.as_ref()),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    use pretty_assertions::assert_eq;
    use serde_json::json;

    use super::*;

    const FIXTURES: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/aws-samples-task-definitions"
    );
    const CORPUS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/aws/testdata/task_definitions"
    );

    /// Every `*.json` under `dir`, recursively, sorted.
    fn json_files(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).expect("readable directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                out.extend(json_files(&path));
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
        out.sort();
        out
    }

    /// What DescribeTaskDefinition would return for `input`: its fields copied into a
    /// TaskDefinition, plus the output-only fields AWS adds.
    fn as_registered(input: &RegisterTaskDefinitionInput) -> (ecs::TaskDefinition, Vec<ecs::Tag>) {
        let family = input.family.clone().unwrap_or_default();
        #[allow(deprecated)]
        let accelerators = input.inference_accelerators.clone();
        let td = ecs::TaskDefinition::builder()
            .task_definition_arn(format!(
                "arn:aws:ecs:us-east-1:123456789012:task-definition/{family}:1"
            ))
            .revision(1)
            .status(ecs::TaskDefinitionStatus::Active)
            .set_family(input.family.clone())
            .set_task_role_arn(input.task_role_arn.clone())
            .set_execution_role_arn(input.execution_role_arn.clone())
            .set_network_mode(input.network_mode.clone())
            .set_container_definitions(input.container_definitions.clone())
            .set_volumes(input.volumes.clone())
            .set_placement_constraints(input.placement_constraints.clone())
            .set_requires_compatibilities(input.requires_compatibilities.clone())
            .set_cpu(input.cpu.clone())
            .set_memory(input.memory.clone())
            .set_pid_mode(input.pid_mode.clone())
            .set_ipc_mode(input.ipc_mode.clone())
            .set_proxy_configuration(input.proxy_configuration.clone())
            .set_inference_accelerators(accelerators)
            .set_ephemeral_storage(input.ephemeral_storage.clone())
            .set_runtime_platform(input.runtime_platform.clone())
            .set_enable_fault_injection(input.enable_fault_injection)
            .build();
        (td, input.tags.clone().unwrap_or_default())
    }

    fn built_input(spec: &TaskDefinitionSpec) -> RegisterTaskDefinitionInput {
        let family = spec.family.clone().unwrap_or_else(|| "test".into());
        register_input(spec, &family, &[])
            .expect("maps to a request")
            .build()
            .expect("request builds")
    }

    /// spec -> RegisterTaskDefinition request -> DescribeTaskDefinition answer -> spec.
    fn round_trip(spec: &TaskDefinitionSpec) -> TaskDefinitionSpec {
        let (td, tags) = as_registered(&built_input(spec));
        spec_from_aws(&td, &tags)
    }

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).expect("readable file")
    }

    #[test]
    fn aws_samples_deserialise_map_and_round_trip() {
        let dir = Path::new(FIXTURES);
        if !dir.exists() {
            println!("skipping: ../shared/fixtures not found");
            return;
        }
        let files = json_files(dir);
        assert!(!files.is_empty(), "no fixtures under {FIXTURES}");
        for path in files {
            let name = path.display();
            let text = read(&path);
            let spec: TaskDefinitionSpec = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{name}: does not deserialise: {e}"));
            // Nothing in the sample was silently ignored.
            assert_eq!(spec_from_json(&text).as_ref(), Ok(&spec), "{name}");
            let back = round_trip(&spec);
            assert_eq!(normalize(&spec), normalize(&back), "{name}");
        }
    }

    #[test]
    fn corpus_round_trips_exactly() {
        let files = json_files(Path::new(CORPUS));
        assert!(files.len() >= 10, "corpus too small: {}", files.len());
        for path in files {
            let name = path.display();
            let text = read(&path);
            let spec: TaskDefinitionSpec = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{name}: does not deserialise: {e}"));
            assert_eq!(spec_from_json(&text).as_ref(), Ok(&spec), "{name}");
            let back = round_trip(&spec);
            // Every field survives spec -> SDK -> spec unchanged, not merely modulo defaults.
            assert_eq!(
                serde_json::to_value(&back).expect("serialises"),
                serde_json::to_value(&spec).expect("serialises"),
                "{name}"
            );
            assert_eq!(normalize(&spec), normalize(&back), "{name}");
        }
    }

    /// `Struct.field` -> whether any value other than `None` was seen, read from an SDK value's
    /// Debug output (the SDK derives Debug, so every field of every struct present is listed).
    fn debug_fields(debug: &str, seen: &mut BTreeMap<String, bool>) {
        let chars: Vec<char> = debug.chars().collect();
        let is_ident = |c: char| c.is_alphanumeric() || c == '_' || c == '#';
        let skip_spaces = |mut j: usize| {
            while chars.get(j).is_some_and(|c| c.is_whitespace()) {
                j += 1;
            }
            j
        };
        let mut owners: Vec<String> = Vec::new();
        let mut last_ident = String::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '"' {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
                last_ident.clear();
                continue;
            }
            if is_ident(c) {
                let start = i;
                while i < chars.len() && is_ident(chars[i]) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let j = skip_spaces(i);
                if chars.get(j) == Some(&':') && chars.get(j + 1) != Some(&':') {
                    let k = skip_spaces(j + 1);
                    let value: String = chars[k..].iter().take_while(|c| is_ident(**c)).collect();
                    let owner = owners.last().cloned().unwrap_or_default();
                    *seen.entry(format!("{owner}.{word}")).or_default() |= value != "None";
                    i = j + 1;
                } else {
                    last_ident = word;
                    i = j;
                }
                continue;
            }
            match c {
                '{' => owners.push(std::mem::take(&mut last_ident)),
                '}' => {
                    owners.pop();
                }
                _ => last_ident.clear(),
            }
            i += 1;
        }
    }

    #[test]
    fn corpus_sets_every_field_of_the_request() {
        let mut seen = BTreeMap::new();
        for path in json_files(Path::new(CORPUS)) {
            let spec = spec_from_json(&read(&path)).expect("corpus file parses");
            debug_fields(&format!("{:?}", built_input(&spec)), &mut seen);
        }
        assert!(seen.len() > 150, "parsed too few fields: {}", seen.len());
        let never: Vec<&String> = seen
            .iter()
            .filter(|(_, set)| !**set)
            .map(|(k, _)| k)
            .collect();
        assert!(
            never.is_empty(),
            "request fields no corpus file sets: {never:?}"
        );
    }

    #[test]
    fn corpus_covers_network_modes_compatibilities_and_volume_types() {
        let specs: Vec<TaskDefinitionSpec> = json_files(Path::new(CORPUS))
            .iter()
            .map(|p| spec_from_json(&read(p)).expect("corpus file parses"))
            .collect();
        for mode in api::NetworkMode::ALL {
            assert!(
                specs.iter().any(|s| s.network_mode == Some(*mode)),
                "{mode:?}"
            );
        }
        for compat in api::Compatibility::ALL {
            assert!(
                specs.iter().any(|s| s
                    .requires_compatibilities
                    .iter()
                    .flatten()
                    .any(|c| c == compat)),
                "{compat:?}"
            );
        }
        let drivers: Vec<api::LogDriver> = specs
            .iter()
            .flat_map(|s| &s.container_definitions)
            .filter_map(|c| c.log_configuration.as_ref().map(|l| l.log_driver))
            .collect();
        for driver in api::LogDriver::ALL {
            assert!(drivers.contains(driver), "{driver:?}");
        }
    }

    fn spec(v: Value) -> TaskDefinitionSpec {
        serde_json::from_value(v).expect("valid spec")
    }

    fn base() -> Value {
        json!({
            "family": "web",
            "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE", "EC2"],
            "cpu": "1024",
            "memory": "2048",
            "containerDefinitions": [
                {
                    "name": "app",
                    "image": "nginx:1.27",
                    "memory": 512,
                    "portMappings": [{"containerPort": 80}],
                    "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                    "secrets": [
                        {"name": "S1", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/s1"},
                        {"name": "S2", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/s2"}
                    ],
                    "command": ["nginx", "-g", "daemon off;"],
                    "healthCheck": {"command": ["CMD", "true"]}
                },
                {"name": "sidecar", "image": "busybox:1.36", "essential": false}
            ],
            "volumes": [{"name": "docker", "dockerVolumeConfiguration": {"driver": "local"}}],
            "tags": [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]
        })
    }

    fn app(v: &mut Value) -> &mut Value {
        &mut v["containerDefinitions"][0]
    }

    #[test]
    fn normalisation_table() {
        let with = |f: &dyn Fn(&mut Value)| {
            let mut v = base();
            f(&mut v);
            spec(v)
        };
        let cases: Vec<(&str, TaskDefinitionSpec, bool)> = vec![
            ("unchanged", with(&|_| {}), true),
            (
                "essential true is the default",
                with(&|v| app(v)["essential"] = json!(true)),
                true,
            ),
            ("cpu 0 is no cpu", with(&|v| app(v)["cpu"] = json!(0)), true),
            (
                "protocol tcp is the default",
                with(&|v| app(v)["portMappings"][0]["protocol"] = json!("tcp")),
                true,
            ),
            (
                "awsvpc hostPort equals containerPort",
                with(&|v| app(v)["portMappings"][0]["hostPort"] = json!(80)),
                true,
            ),
            (
                "hostPort 0 is dynamic",
                with(&|v| app(v)["portMappings"][0]["hostPort"] = json!(0)),
                true,
            ),
            (
                "empty lists",
                with(&|v| {
                    for key in [
                        "mountPoints",
                        "volumesFrom",
                        "systemControls",
                        "links",
                        "ulimits",
                    ] {
                        app(v)[key] = json!([]);
                    }
                    v["placementConstraints"] = json!([]);
                    v["inferenceAccelerators"] = json!([]);
                }),
                true,
            ),
            (
                "environment and secrets reordered",
                with(&|v| {
                    let env = app(v)["environment"].as_array_mut().expect("list");
                    env.reverse();
                    let secrets = app(v)["secrets"].as_array_mut().expect("list");
                    secrets.reverse();
                }),
                true,
            ),
            (
                "containers reordered",
                with(&|v| {
                    v["containerDefinitions"]
                        .as_array_mut()
                        .expect("list")
                        .reverse()
                }),
                true,
            ),
            (
                "empty tag value",
                with(&|v| {
                    v["tags"]
                        .as_array_mut()
                        .expect("list")
                        .push(json!({"key": "c"}))
                }),
                false,
            ),
            (
                "tags reordered",
                with(&|v| v["tags"].as_array_mut().expect("list").reverse()),
                true,
            ),
            (
                "compatibilities reordered",
                with(&|v| v["requiresCompatibilities"] = json!(["EC2", "FARGATE"])),
                true,
            ),
            ("cpu in vCPU", with(&|v| v["cpu"] = json!("1 vCPU")), true),
            ("memory in GB", with(&|v| v["memory"] = json!("2GB")), true),
            (
                "health check defaults filled in",
                with(
                    &|v| app(v)["healthCheck"] = json!({"command": ["CMD", "true"], "interval": 30, "timeout": 5, "retries": 3}),
                ),
                true,
            ),
            (
                "fault injection false",
                with(&|v| v["enableFaultInjection"] = json!(false)),
                true,
            ),
            (
                "docker volume scope task",
                with(&|v| v["volumes"][0]["dockerVolumeConfiguration"]["scope"] = json!("task")),
                true,
            ),
            (
                "operator-only fields",
                with(&|v| {
                    v["revisionHistoryLimit"] = json!(3);
                    v["deleteRevisionsOnDeletion"] = json!(true);
                    app(v)["imageRef"] = json!({"repositoryRef": {"name": "web"}, "tag": "1.27"});
                }),
                true,
            ),
            (
                "image changed",
                with(&|v| app(v)["image"] = json!("nginx:1.28")),
                false,
            ),
            (
                "env value changed",
                with(&|v| app(v)["environment"][0]["value"] = json!("9")),
                false,
            ),
            (
                "env added",
                with(&|v| {
                    app(v)["environment"]
                        .as_array_mut()
                        .expect("list")
                        .push(json!({"name": "C", "value": "3"}))
                }),
                false,
            ),
            (
                "container memory changed",
                with(&|v| app(v)["memory"] = json!(1024)),
                false,
            ),
            (
                "task memory changed",
                with(&|v| v["memory"] = json!("4096")),
                false,
            ),
            (
                "sidecar made essential",
                with(&|v| v["containerDefinitions"][1]["essential"] = json!(true)),
                false,
            ),
            (
                "protocol udp",
                with(&|v| app(v)["portMappings"][0]["protocol"] = json!("udp")),
                false,
            ),
            (
                "command reordered",
                with(&|v| app(v)["command"] = json!(["-g", "nginx", "daemon off;"])),
                false,
            ),
            (
                "tag value changed",
                with(&|v| v["tags"][0]["value"] = json!("x")),
                false,
            ),
            (
                "health check interval changed",
                with(&|v| app(v)["healthCheck"]["interval"] = json!(10)),
                false,
            ),
        ];
        let reference = normalize(&spec(base()));
        for (name, s, equal) in cases {
            assert_eq!(
                normalize(&s) == reference,
                equal,
                "{name}: {}",
                normalize(&s)
            );
        }
        let tag = |t: Value| {
            let mut v = base();
            v["tags"] = json!([t]);
            normalize(&spec(v))
        };
        assert_eq!(
            tag(json!({"key": "c"})),
            tag(json!({"key": "c", "value": ""}))
        );
    }

    #[test]
    fn bridge_host_port_is_content() {
        let bridge = |host: Option<i64>| {
            let mut v = base();
            v["networkMode"] = json!("bridge");
            v["requiresCompatibilities"] = json!(["EC2"]);
            if let Some(h) = host {
                v["containerDefinitions"][0]["portMappings"][0]["hostPort"] = json!(h);
            }
            normalize(&spec(v))
        };
        assert_eq!(bridge(None), bridge(Some(0)));
        assert_ne!(bridge(None), bridge(Some(80)));
        let mut unset = base();
        unset["networkMode"] = json!("bridge");
        let mut missing = unset.clone();
        missing
            .as_object_mut()
            .expect("object")
            .remove("networkMode");
        assert_eq!(normalize(&spec(unset)), normalize(&spec(missing)));
    }

    #[test]
    fn aws_added_defaults_compare_equal() {
        // What AWS reports for a spec that set none of these: defaults filled in, lists empty.
        let spec = spec(base());
        let mut input = built_input(&spec);
        for c in input.container_definitions.iter_mut().flatten() {
            c.essential.get_or_insert(true);
            c.mount_points.get_or_insert_default();
            c.volumes_from.get_or_insert_default();
            c.system_controls.get_or_insert_default();
            c.environment.get_or_insert_default();
            for p in c.port_mappings.iter_mut().flatten() {
                p.protocol.get_or_insert(ecs::TransportProtocol::Tcp);
                p.host_port = p.container_port;
            }
            if let Some(hc) = &mut c.health_check {
                hc.interval.get_or_insert(30);
                hc.timeout.get_or_insert(5);
                hc.retries.get_or_insert(3);
            }
        }
        input.placement_constraints.get_or_insert_default();
        input.enable_fault_injection.get_or_insert(false);
        let (td, mut tags) = as_registered(&input);
        tags.reverse();
        assert_eq!(normalize(&spec), normalize(&spec_from_aws(&td, &tags)));
    }

    #[test]
    fn describe_output_drops_response_only_fields() {
        let doc = json!({
            "taskDefinition": {
                "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7",
                "containerDefinitions": [{
                    "name": "web", "image": "nginx:1.27", "cpu": 0, "essential": true,
                    "portMappings": [{"containerPort": 80, "hostPort": 80, "protocol": "tcp"}],
                    "environment": [], "mountPoints": [], "volumesFrom": [], "systemControls": [],
                    "ulimits": null
                }],
                "family": "web",
                "networkMode": "awsvpc",
                "revision": 7,
                "volumes": [],
                "status": "ACTIVE",
                "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.docker-remote-api.1.18"}],
                "placementConstraints": [],
                "compatibilities": ["EC2", "FARGATE"],
                "requiresCompatibilities": ["FARGATE"],
                "cpu": "256",
                "memory": "512",
                "registeredAt": "2025-01-02T03:04:05.678000+00:00",
                "registeredBy": "arn:aws:iam::123456789012:user/admin",
                "deregisteredAt": null,
                "deleteRequestedAt": "2025-02-02T03:04:05.678000+00:00",
                "enableFaultInjection": false
            },
            "tags": [{"key": "team", "value": "web"}]
        });
        let spec = spec_from_json(&doc.to_string()).expect("describe output parses");
        assert_eq!(spec.family.as_deref(), Some("web"));
        assert_eq!(spec.cpu.as_deref(), Some("256"));
        assert_eq!(
            spec.tags,
            Some(vec![api::Tag {
                key: Some("team".into()),
                value: Some("web".into())
            }])
        );
        let text = serde_json::to_string(&spec).expect("serialises");
        for gone in [
            "taskDefinitionArn",
            "revision",
            "status",
            "requiresAttributes",
            "\"compatibilities\"",
            "registeredAt",
            "registeredBy",
            "deregisteredAt",
            "deleteRequestedAt",
            "ulimits",
        ] {
            assert!(!text.contains(gone), "{gone} kept: {text}");
        }
        assert_eq!(spec.container_definitions[0].cpu, Some(0));
        // The register-task-definition form is accepted as is.
        let register =
            json!({"family": "web", "containerDefinitions": [{"name": "web", "image": "nginx"}]});
        assert!(spec_from_json(&register.to_string()).is_ok());
    }

    #[test]
    fn spec_from_json_rejects_what_it_would_lose() {
        let unknown = json!({
            "family": "web",
            "containerDefinitions": [{"name": "web", "image": "nginx", "memoryReservaton": 64}],
            "someNewField": true
        });
        assert_eq!(
            spec_from_json(&unknown.to_string()),
            Err(
                "unsupported field(s): containerDefinitions[0].memoryReservaton, someNewField"
                    .into()
            )
        );
        assert!(spec_from_json("[]").is_err());
        assert!(spec_from_json("{").is_err());
        assert!(spec_from_json(r#"{"containerDefinitions": [{"image": "x"}]}"#).is_err());
    }

    #[test]
    fn register_input_errors_and_tags() {
        let mut unresolved = spec(base());
        unresolved.container_definitions[0].image = None;
        unresolved.container_definitions[0].image_ref = Some(api::ImageRef {
            repository_ref: api::RepositoryReference {
                name: "web".into(),
                namespace: None,
            },
            tag: Some("1".into()),
            digest: None,
        });
        let err = register_input(&unresolved, "web", &[]).expect_err("image missing");
        assert!(err.is("ImageUnresolved"), "{err}");
        assert_eq!(err.class, crate::aws::ErrorClass::Terminal);

        let mut bad_gpu = spec(base());
        bad_gpu.container_definitions[0].resource_requirements =
            Some(vec![api::ResourceRequirement {
                value: None,
                type_: api::ResourceType::Gpu,
                sharing_strategy: Some(api::SharingStrategy::default()),
            }]);
        let err = register_input(&bad_gpu, "web", &[]).expect_err("empty sharing strategy");
        assert!(err.is("InvalidTaskDefinition"), "{err}");

        let mut s = spec(base());
        s.revision_history_limit = Some(2);
        s.delete_revisions_on_deletion = Some(true);
        let extra = [
            ("ecs.operator.dev/spec-hash".to_string(), "abc".to_string()),
            ("b".to_string(), "operator".to_string()),
        ];
        let input = register_input(&s, "web-prod", &extra)
            .expect("maps")
            .build()
            .expect("builds");
        assert_eq!(input.family.as_deref(), Some("web-prod"));
        let tags: Vec<(String, String)> = input
            .tags
            .iter()
            .flatten()
            .map(|t| {
                (
                    t.key.clone().unwrap_or_default(),
                    t.value.clone().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            tags,
            [
                ("a", "1"),
                ("ecs.operator.dev/spec-hash", "abc"),
                ("b", "operator")
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
    }

    #[test]
    fn unknown_enum_values_from_aws_are_dropped_not_guessed() {
        let td = ecs::TaskDefinition::builder()
            .family("web")
            .network_mode(ecs::NetworkMode::from("quantum"))
            .container_definitions(
                ecs::ContainerDefinition::builder()
                    .name("web")
                    .image("nginx")
                    .ulimits(
                        ecs::Ulimit::builder()
                            .name(ecs::UlimitName::from("warp"))
                            .soft_limit(1)
                            .hard_limit(1)
                            .build()
                            .expect("builds"),
                    )
                    .build(),
            )
            .build();
        let spec = spec_from_aws(&td, &[]);
        assert_eq!(spec.network_mode, None);
        assert_eq!(spec.container_definitions[0].ulimits, Some(vec![]));
    }
}
