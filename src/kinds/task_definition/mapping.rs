//! TaskDefinition <-> Amazon ECS RegisterTaskDefinition / DescribeTaskDefinition. Pure mapping:
//! `register_input` (spec -> request), `spec_from_aws` (response -> spec), `normalize` (canonical
//! form for comparing the two) and `spec_from_json` (AWS CLI JSON -> spec). No I/O here. The
//! spec is the request's JSON, so both directions go through [`crate::aws::bridge`].

use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionInput;
use aws_sdk_ecs::operation::register_task_definition::builders::RegisterTaskDefinitionInputBuilder;
use aws_sdk_ecs::types as ecs;
use serde_json::{Map, Value};

#[cfg(test)]
use crate::api::common::AwsEnum;
use crate::api::task_definition::{self as api, TaskDefinitionSpec};
use crate::aws::bridge;
use crate::aws::errors::AwsError;
use crate::aws::json::{self, remove_if};

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
    if let Some(c) = spec
        .container_definitions
        .iter()
        .find(|c| c.image.is_none())
    {
        return Err(AwsError::terminal(
            OPERATION,
            "ImageUnresolved",
            format!(
                "container {}: no image (imageRef must be resolved before registering)",
                c.name
            ),
        ));
    }
    let mut request = spec.clone();
    request.family = Some(family.to_string());
    let mut tags: Vec<api::Tag> = spec
        .tags
        .iter()
        .flatten()
        .filter(|t| !extra_tags.iter().any(|(k, _)| t.key == *k))
        .cloned()
        .collect();
    tags.extend(extra_tags.iter().map(|(k, v)| api::Tag {
        key: k.clone(),
        value: v.clone(),
    }));
    request.tags = (!tags.is_empty()).then_some(tags);
    let input = bridge::to_sdk(&request, RegisterTaskDefinitionInput::deserialize)
        .map_err(|e| AwsError::terminal(OPERATION, "InvalidTaskDefinition", e.to_string()))?;
    // The SDK builds the fluent request only member by member; these are the top-level ones.
    #[allow(deprecated)]
    let accelerators = input.inference_accelerators;
    #[allow(deprecated)]
    let builder = RegisterTaskDefinitionInput::builder()
        .set_inference_accelerators(accelerators)
        .set_family(input.family)
        .set_task_role_arn(input.task_role_arn)
        .set_execution_role_arn(input.execution_role_arn)
        .set_network_mode(input.network_mode)
        .set_container_definitions(input.container_definitions)
        .set_volumes(input.volumes)
        .set_placement_constraints(input.placement_constraints)
        .set_requires_compatibilities(input.requires_compatibilities)
        .set_cpu(input.cpu)
        .set_memory(input.memory)
        .set_tags(input.tags)
        .set_pid_mode(input.pid_mode)
        .set_ipc_mode(input.ipc_mode)
        .set_proxy_configuration(input.proxy_configuration)
        .set_ephemeral_storage(input.ephemeral_storage)
        .set_runtime_platform(input.runtime_platform)
        .set_enable_fault_injection(input.enable_fault_injection);
    Ok(builder)
}

/// The spec a DescribeTaskDefinition answer corresponds to (`tags` as returned with
/// `include: TAGS`). Operator-only fields are unset; `family` is set. Values this build cannot
/// represent (enum values newer than the CRD) are dropped.
pub fn spec_from_aws(td: &ecs::TaskDefinition, tags: &[ecs::Tag]) -> TaskDefinitionSpec {
    match try_spec_from_aws(td, tags) {
        Ok(spec) => spec,
        Err(e) => {
            // Never seen: the SDK wrote this JSON itself. The family alone never matches a spec,
            // so the reconciler falls back to its spec-hash tag rather than a wrong answer.
            tracing::warn!(error = %e, "task definition does not read back as a spec");
            TaskDefinitionSpec {
                family: td.family.clone(),
                ..Default::default()
            }
        }
    }
}

fn try_spec_from_aws(
    td: &ecs::TaskDefinition,
    tags: &[ecs::Tag],
) -> Result<TaskDefinitionSpec, bridge::BridgeError> {
    let mut v = bridge::to_json(td)?;
    if let Some(obj) = v.as_object_mut() {
        for key in OUTPUT_ONLY {
            obj.remove(*key);
        }
        let tags = tags
            .iter()
            .map(|t| bridge::to_json(t))
            .collect::<Result<Vec<_>, _>>()?;
        if !tags.is_empty() {
            obj.insert("tags".into(), Value::Array(tags));
        }
        // The SDK models these as required, so an unset value comes back as 0 / "".
        for c in array_items(obj, "containerDefinitions") {
            remove_if(c, "cpu", 0);
            for r in array_items(c, "resourceRequirements") {
                remove_if(r, "value", "");
            }
        }
    }
    bridge::from_json(v)
}

/// The objects of the list `obj[key]`.
fn array_items<'a>(
    obj: &'a mut Map<String, Value>,
    key: &str,
) -> impl Iterator<Item = &'a mut Map<String, Value>> {
    obj.get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
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

/// What two task definitions are compared by: the normalised content without the tags that are
/// not the user's to set (`aws:`, and the operator's own `ecs.operator.dev/`).
pub fn comparable(spec: &TaskDefinitionSpec) -> Value {
    let mut spec = spec.clone();
    spec.tags = spec.tags.take().and_then(|tags| {
        let kept: Vec<_> = tags
            .into_iter()
            .filter(|t| crate::aws::tags::is_user_tag(&t.key))
            .collect();
        (!kept.is_empty()).then_some(kept)
    });
    normalize(&spec)
}

/// A task definition's content as the decisions compare it, without the content: a SHA-256 of
/// [`comparable`]'s JSON (its object keys sorted, so equal forms hash equal). What a kept
/// revision holds instead of its task definition. Pure.
pub fn content_hash(spec: &TaskDefinitionSpec) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(comparable(spec).to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Canonical JSON of a spec, for comparing what the spec asks for with what AWS holds:
/// `normalize(spec) == normalize(&spec_from_aws(registered))` when AWS stored what was sent.
/// Strips operator-only fields and values equal to the AWS default, and sorts lists whose
/// order AWS does not keep (or that carry no meaning).
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
    json::prune(v, json::Depth::ObjectsAndArrays, &|key, child| {
        json::is_set(child) && (child != &Value::Bool(false) || key == "essential")
    });
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

/// What DescribeTaskDefinition answers for `input` registered as `revision`: the request's
/// members plus the output-only ones AWS adds (ARN, revision, status). For tests.
#[cfg(test)]
pub(crate) fn described(input: &RegisterTaskDefinitionInput, revision: i32) -> ecs::TaskDefinition {
    let family = input.family.as_deref().unwrap_or_default();
    let mut td = bridge::to_json(input).expect("the request as JSON");
    td["taskDefinitionArn"] =
        format!("arn:aws:ecs:us-east-1:123456789012:task-definition/{family}:{revision}").into();
    td["revision"] = revision.into();
    td["status"] = "ACTIVE".into();
    bridge::shape(td, ecs::TaskDefinition::deserialize)
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

    /// What DescribeTaskDefinition would return for `input`, with its tags.
    fn as_registered(input: &RegisterTaskDefinitionInput) -> (ecs::TaskDefinition, Vec<ecs::Tag>) {
        (described(input, 1), input.tags.clone().unwrap_or_default())
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

    /// The spec in `path` and its round trip, which agree modulo AWS defaults.
    fn parse_and_round_trip(path: &Path) -> (TaskDefinitionSpec, TaskDefinitionSpec) {
        let name = path.display();
        let text = read(path);
        let spec: TaskDefinitionSpec = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{name}: does not deserialise: {e}"));
        // Nothing in the file was silently ignored.
        assert_eq!(spec_from_json(&text).as_ref(), Ok(&spec), "{name}");
        let back = round_trip(&spec);
        assert_eq!(normalize(&spec), normalize(&back), "{name}");
        (spec, back)
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
            parse_and_round_trip(&path);
        }
    }

    #[test]
    fn corpus_round_trips_exactly() {
        let files = json_files(Path::new(CORPUS));
        assert!(files.len() >= 10, "corpus too small: {}", files.len());
        for path in files {
            let (spec, back) = parse_and_round_trip(&path);
            // Every field survives spec -> SDK -> spec unchanged, not merely modulo defaults.
            assert_eq!(
                serde_json::to_value(&back).expect("serialises"),
                serde_json::to_value(&spec).expect("serialises"),
                "{}",
                path.display()
            );
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
                specs.iter().any(|s| s.network_mode == Some(mode.clone())),
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
            .filter_map(|c| c.log_configuration.as_ref().map(|l| l.log_driver.clone()))
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
                key: "team".into(),
                value: "web".into()
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
        let mut unresolved = base();
        app(&mut unresolved)["image"] = Value::Null;
        app(&mut unresolved)["imageRef"] = json!({"repositoryRef": {"name": "web"}, "tag": "1"});
        let err = register_input(&spec(unresolved), "web", &[]).expect_err("image missing");
        assert!(err.is("ImageUnresolved"), "{err}");
        assert_eq!(err.class, crate::aws::ErrorClass::Terminal);

        let mut bad_gpu = base();
        app(&mut bad_gpu)["resourceRequirements"] = json!([{"type": "GPU", "sharingStrategy": {}}]);
        let err = register_input(&spec(bad_gpu), "web", &[]).expect_err("empty sharing strategy");
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

    /// A value a newer ECS answers with is kept as ECS spelled it (never guessed, never
    /// dropped), and registering the spec sends it back unchanged.
    #[test]
    fn unknown_enum_values_from_aws_round_trip() {
        let td = bridge::shape(
            json!({"family": "web", "networkMode": "quantum", "containerDefinitions": [
                {"name": "web", "image": "nginx",
                 "ulimits": [{"name": "warp", "softLimit": 1, "hardLimit": 1}]}]}),
            ecs::TaskDefinition::deserialize,
        );
        let spec = spec_from_aws(&td, &[]);
        assert_eq!(
            spec.network_mode,
            Some(api::NetworkMode::Unknown("quantum".into()))
        );
        let ulimits = spec.container_definitions[0]
            .ulimits
            .clone()
            .unwrap_or_default();
        assert_eq!(ulimits.len(), 1);
        assert_eq!(ulimits[0].name.as_str(), "warp");
        let input = register_input(&spec, "web", &[])
            .and_then(|b| {
                b.build()
                    .map_err(|e| AwsError::terminal(OPERATION, "Build", e.to_string()))
            })
            .expect("registrable");
        assert_eq!(input.network_mode().map(|m| m.as_str()), Some("quantum"));
        let sent = input.container_definitions()[0].ulimits();
        assert_eq!(sent[0].name().as_str(), "warp");
    }
}
