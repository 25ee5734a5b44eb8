//! Kubernetes writes: status (conditions, observedGeneration, kind fields), annotations,
//! finalizers, and Events.

use super::*;

/// Field manager for every write the operator makes.
pub const FIELD_MANAGER: &str = "ecs-operator";

/// The Event recorder every write of the operator is reported under.
pub(super) fn recorder(client: &kube::Client) -> Recorder {
    let reporter = Reporter {
        controller: FIELD_MANAGER.into(),
        instance: std::env::var("POD_NAME").ok(),
    };
    Recorder::new(client.clone(), reporter)
}

pub(super) async fn publish<K: Managed, E>(
    ctx: &Context<E>,
    obj: &K,
    type_: EventType,
    reason: &str,
    action: &str,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note.chars().take(1024).collect()),
        action: action.into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &obj.object_ref(&())).await {
        debug!(error = %e, "could not publish event");
    }
}

/// Writes status with server-side apply. `fields` replaces the kind-specific fields; `None`
/// keeps the ones already in status (e.g. on an error, the last known ARN stays).
pub(super) async fn write_status<K: Managed>(
    obj: &K,
    client: &kube::Client,
    fields: Option<Map<String, Value>>,
    updates: &[NewCondition],
) -> Result<(), Error> {
    write_status_at(obj, client, fields, updates, true).await
}

/// `status.observedGeneration` of an object (`None` before the first status write).
pub(super) fn observed_generation<K: Managed>(obj: &K) -> Option<i64> {
    obj.kind_status().and_then(KindStatus::observed_generation)
}

/// [`write_status`]; `observed` says whether `status.observedGeneration` moves to the current
/// generation (kstatus: only a reconciled or stalled generation is observed) or keeps its value.
pub(super) async fn write_status_at<K: Managed>(
    obj: &K,
    client: &kube::Client,
    fields: Option<Map<String, Value>>,
    updates: &[NewCondition],
    observed: bool,
) -> Result<(), Error> {
    let generation = obj.meta().generation;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut status = match fields {
        Some(f) => f,
        // Before the first status write there is nothing to keep.
        None => match obj.kind_status() {
            Some(kept) => as_map(obj, kept),
            None => Map::new(),
        },
    };
    let conditions = conditions::merge(obj.conditions(), updates, generation, &now);
    status.insert(
        "conditions".into(),
        serde_json::to_value(conditions).unwrap_or(Value::Null),
    );
    if observed {
        status.insert("observedGeneration".into(), json!(generation));
    } else if let Some(previous) = observed_generation(obj) {
        status.insert("observedGeneration".into(), json!(previous));
    } else {
        status.remove("observedGeneration");
    }
    let patch = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    let api: Api<K> = Api::namespaced(client.clone(), &obj.namespace().unwrap_or_default());
    api.patch_status(
        &obj.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

/// A status value as the JSON object a status write sends.
pub(super) fn as_map<K: Managed>(obj: &K, status: &K::Status) -> Map<String, Value> {
    match serde_json::to_value(status) {
        Ok(Value::Object(map)) => map,
        // Status types are plain structs with string keys: this is a bug, not an input.
        other => {
            warn!(object = %key_of(obj), ?other, "status did not serialise to an object");
            Map::new()
        }
    }
}

pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Sets (`Some`) or removes (`None`) annotations on the object (a merge patch of metadata only;
/// no generation change).
pub(super) async fn annotate<K: Managed>(
    obj: &K,
    client: &kube::Client,
    annotations: &[(&str, Option<String>)],
) -> Result<(), Error> {
    let api: Api<K> = Api::namespaced(client.clone(), &obj.namespace().unwrap_or_default());
    let values: Map<String, Value> = annotations
        .iter()
        .map(|(k, v)| ((*k).to_string(), json!(v)))
        .collect();
    let patch = json!({"metadata": {"annotations": values}});
    api.patch_metadata(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}

pub(super) async fn add_finalizer<K: Managed>(obj: &K, client: &kube::Client) -> Result<(), Error> {
    let api: Api<K> = Api::namespaced(client.clone(), &obj.namespace().unwrap_or_default());
    let patch = if obj.finalizers().is_empty() {
        json!([
            {"op": "test", "path": "/metadata/resourceVersion", "value": obj.resource_version()},
            {"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]},
        ])
    } else {
        json!([
            {"op": "test", "path": "/metadata/resourceVersion", "value": obj.resource_version()},
            {"op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER},
        ])
    };
    let patch: json_patch::Patch =
        serde_json::from_value(patch).map_err(|e| Error::InvalidSpec(e.to_string()))?;
    api.patch(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::<()>::Json(patch),
    )
    .await?;
    Ok(())
}

pub(super) async fn remove_finalizer<K: Managed>(
    obj: &K,
    client: &kube::Client,
) -> Result<(), Error> {
    let Some(index) = obj.finalizers().iter().position(|f| f == FINALIZER) else {
        return Ok(());
    };
    let api: Api<K> = Api::namespaced(client.clone(), &obj.namespace().unwrap_or_default());
    let path = format!("/metadata/finalizers/{index}");
    let patch: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": path, "value": FINALIZER},
        {"op": "remove", "path": path},
    ]))
    .map_err(|e| Error::InvalidSpec(e.to_string()))?;
    match api
        .patch(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::<()>::Json(patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}
