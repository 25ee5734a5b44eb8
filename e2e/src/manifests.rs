//! Manifests for the operator's kinds and the conditions of their status. Pure: no I/O.

use anyhow::{Context as _, Result};
use serde_json::json;

/// A manifest of one of the operator's kinds, as JSON text (valid YAML) for
/// [`crate::TestEnv::apply`].
pub fn manifest(kind: &str, name: &str, spec: &serde_json::Value) -> String {
    json!({"apiVersion": "ecs.operator.dev/v1alpha1", "kind": kind, "metadata": {"name": name}, "spec": spec})
        .to_string()
}

/// The message of a condition of `obj` ("" when absent).
pub fn condition_message<K: ecs_operator::contract::Managed>(obj: &K, type_: &str) -> String {
    obj.conditions()
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

/// (status, reason) of the condition `type_` in a status JSON; empty strings when absent.
pub fn condition(status: &serde_json::Value, type_: &str) -> (String, String) {
    status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == type_)
        .map(|c| {
            (
                c["status"].as_str().unwrap_or_default().to_string(),
                c["reason"].as_str().unwrap_or_default().to_string(),
            )
        })
        .unwrap_or_default()
}

/// Spec-level AWS names [`rewrite_example`] suffixes.
const EXAMPLE_AWS_NAMES: &[&str] = &["clusterName", "family", "serviceName", "repositoryName"];

/// An `examples/` manifest with the namespace replaced and the spec-level AWS names (clusterName,
/// family, serviceName, repositoryName) made unique, so tests can share a bed. A repository named
/// after its object (`spec: {}`) gets that name, suffixed, and so do a schedule and a gateway
/// (EcsSchedule's and EcsGateway's `spec.name`, which the examples leave to default to
/// metadata.name).
pub fn rewrite_example(text: &str, namespace: &str, suffix: &str) -> String {
    let mut kind = "";
    let mut name = "";
    let mut out = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if line == "---" {
            (kind, name) = ("", "");
        }
        if let Some(k) = line.strip_prefix("kind: ") {
            kind = k.trim();
        }
        if indent == 2
            && let Some(n) = trimmed.strip_prefix("name: ")
        {
            name = n.trim();
        }
        if indent == 2 && trimmed.starts_with("namespace: ") {
            out.push(format!("  namespace: {namespace}"));
            continue;
        }
        if line == "spec: {}" && kind == "EcrRepository" {
            out.push(format!("spec:\n  repositoryName: {name}-{suffix}"));
            continue;
        }
        if line == "spec:" && (kind == "EcsSchedule" || kind == "EcsGateway") {
            out.push(format!("spec:\n  name: {name}-{suffix}"));
            continue;
        }
        let renamed = EXAMPLE_AWS_NAMES.iter().find_map(|key| {
            let value = trimmed.strip_prefix(&format!("{key}: "))?;
            (indent == 2).then(|| format!("  {key}: {value}-{suffix}"))
        });
        out.push(renamed.unwrap_or_else(|| line.to_string()));
    }
    out.join("\n")
}

/// A multi-document YAML stream as JSON values (empty documents skipped).
pub fn yaml_documents(yaml: &str) -> Result<Vec<serde_json::Value>> {
    use serde::Deserialize as _;
    let mut docs = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(yaml) {
        let value = serde_json::Value::deserialize(doc).context("parse YAML document")?;
        if !value.is_null() {
            docs.push(value);
        }
    }
    Ok(docs)
}
