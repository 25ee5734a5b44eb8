//! Watches that survive an object the operator cannot read. A typed kube watcher fails its
//! whole list when one object does not deserialize (written while the schema was looser, or a
//! value the schema allows and the Rust type does not, such as an integer beyond i32), so one
//! bad object would stop its kind's controller. These watch the kind as `DynamicObject` and
//! convert each object on its own: a bad one is named in a warn log and a Warning Event and
//! left out; the others keep flowing.

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::watcher;
use serde::de::DeserializeOwned;
use tracing::warn;

use super::{Managed, Settings};

/// Event reason on an object the operator cannot read.
pub const INVALID_OBJECT: &str = "InvalidObject";

/// Why an object could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{kind} {namespace}/{name} cannot be read by this operator version: {source}")]
pub struct ConvertError {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    #[source]
    pub source: serde_json::Error,
}

/// The annotation client-side `kubectl apply` writes: a second copy of the whole object.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// One object as `K`, without what no reconcile reads and every cached object would otherwise
/// carry: `managedFields` (one entry per field manager, larger than the spec under server-side
/// apply) and kubectl's last-applied copy. Pure.
pub fn convert<K: kube::Resource<DynamicType = ()> + DeserializeOwned>(
    obj: &DynamicObject,
) -> Result<K, ConvertError> {
    let value = serde_json::to_value(obj).and_then(serde_json::from_value::<K>);
    let value = value.map(|mut k| {
        let meta = k.meta_mut();
        meta.managed_fields = None;
        if let Some(annotations) = meta.annotations.as_mut() {
            annotations.remove(LAST_APPLIED);
        }
        k
    });
    value.map_err(|source| ConvertError {
        kind: K::kind(&()).into_owned(),
        namespace: obj.metadata.namespace.clone().unwrap_or_default(),
        name: obj.metadata.name.clone().unwrap_or_default(),
        source,
    })
}

/// The watcher events of `K`, with objects that do not convert left out (and reported through
/// `recorder`). Every kind's one watch ([`super::watches`]).
pub(super) fn converted<K: Managed>(
    client: &kube::Client,
    settings: &Settings,
    recorder: Option<Recorder>,
) -> impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + use<K> {
    let resource = ApiResource::erase::<K>(&());
    let api: Api<DynamicObject> = match &settings.namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    let mut config = watcher::Config::default();
    if let Some(selector) = &settings.label_selector {
        config = config.labels(selector);
    }
    watcher(api, config).filter_map(move |event| {
        let recorder = recorder.clone();
        async move {
            let event = match event {
                Ok(e) => e,
                Err(e) => return Some(Err(e)),
            };
            let mut bad = None;
            let mut one = |obj: DynamicObject| match convert::<K>(&obj) {
                Ok(k) => Some(k),
                Err(e) => {
                    bad = Some((obj, e));
                    None
                }
            };
            let converted = match event {
                watcher::Event::Apply(o) => one(o).map(watcher::Event::Apply),
                watcher::Event::InitApply(o) => one(o).map(watcher::Event::InitApply),
                // A bad object never reached the store, so its deletion is nothing to it (and
                // not reported again).
                watcher::Event::Delete(o) => convert::<K>(&o).ok().map(watcher::Event::Delete),
                watcher::Event::Init => Some(watcher::Event::Init),
                watcher::Event::InitDone => Some(watcher::Event::InitDone),
            };
            if let Some((obj, error)) = bad {
                report(recorder.as_ref(), &obj, &error).await;
            }
            converted.map(Ok)
        }
    })
}

async fn report(recorder: Option<&Recorder>, obj: &DynamicObject, error: &ConvertError) {
    warn!(kind = %error.kind, namespace = %error.namespace, name = %error.name, error = %error.source,
        "object cannot be read; skipped, the others keep reconciling");
    let Some(recorder) = recorder else { return };
    let reference = ObjectReference {
        api_version: obj.types.as_ref().map(|t| t.api_version.clone()),
        kind: Some(error.kind.clone()),
        name: obj.metadata.name.clone(),
        namespace: obj.metadata.namespace.clone(),
        uid: obj.metadata.uid.clone(),
        ..Default::default()
    };
    let event = Event {
        type_: EventType::Warning,
        reason: INVALID_OBJECT.into(),
        note: Some(
            format!("{error}; the operator skips this object until it is fixed")
                .chars()
                .take(1024)
                .collect(),
        ),
        action: "Read".into(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&event, &reference).await {
        tracing::debug!(error = %e, "could not publish event");
    }
}

/// What a reconcile reads from the object besides AWS: the spec (generation), labels and
/// annotations (pause, restart, refresh), finalizers and deletion. A change to anything else — above
/// all the operator's own writes: status, its finalizer and its create record — does not trigger
/// a reconcile: each one used to cost another round of AWS reads right after the reconcile that
/// wrote it. Timers (resync, not-ready polling, backoff) still requeue, and every reconcile reads
/// the object as it is then (the store is updated before this filter). Followers see every
/// change (a cluster's status becoming Ready).
pub(super) fn reconcile_inputs<K: kube::Resource>(obj: &K) -> Option<u64> {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let m = obj.meta();
    let own = |k: &String| OWN_ANNOTATIONS.contains(&k.as_str());
    let annotations: Vec<(&String, &String)> = m
        .annotations
        .iter()
        .flatten()
        .filter(|(k, _)| !own(k))
        .collect();
    let finalizers: Vec<&String> = m
        .finalizers
        .iter()
        .flatten()
        .filter(|f| f.as_str() != crate::api::FINALIZER)
        .collect();
    let mut h = DefaultHasher::new();
    (
        m.generation,
        &m.labels,
        annotations,
        finalizers,
        m.deletion_timestamp.is_some(),
    )
        .hash(&mut h);
    Some(h.finish())
}

/// Annotations only the operator writes (the create record): not reconcile inputs.
const OWN_ANNOTATIONS: [&str; 4] = [
    super::CREATE_PENDING_ANNOTATION,
    super::CREATE_SUCCEEDED_ANNOTATION,
    super::CREATE_FAILED_ANNOTATION,
    super::EXTERNAL_NAME_ANNOTATION,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::EcsCluster;
    use serde_json::json;

    fn dynamic(status: serde_json::Value) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "ecs.operator.dev/v1alpha1", "kind": "EcsCluster",
            "metadata": {"name": "c", "namespace": "ns", "uid": "u",
                "annotations": {LAST_APPLIED: "{}", "ecs.operator.dev/paused": "true"},
                "managedFields": [{"manager": "kubectl", "operation": "Apply",
                    "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:clusterName": {}}}}]},
            "spec": {"clusterName": "c"}, "status": status,
        }))
        .expect("dynamic object")
    }

    /// The operator's own writes (status, its finalizer, the create record) leave the
    /// reconcile inputs as they were; a user's change to the spec, labels, other annotations
    /// or finalizers, or a deletion, changes them.
    #[test]
    fn reconcile_inputs_ignore_the_operators_own_writes() {
        let base = || -> EcsCluster {
            serde_json::from_value(json!({
                "apiVersion": "ecs.operator.dev/v1alpha1", "kind": "EcsCluster",
                "metadata": {"name": "c", "namespace": "ns", "generation": 1,
                    "annotations": {"team": "a"}},
                "spec": {"clusterName": "c"},
            }))
            .expect("cluster")
        };
        let with = |f: &dyn Fn(&mut EcsCluster)| {
            let mut c = base();
            f(&mut c);
            reconcile_inputs(&c)
        };
        let annotate = |k: &'static str| {
            move |c: &mut EcsCluster| {
                c.metadata
                    .annotations
                    .get_or_insert_with(Default::default)
                    .insert(k.to_string(), "v".to_string());
            }
        };
        type Edit = Box<dyn Fn(&mut EcsCluster)>;
        let same: [(&str, Edit); 6] = [
            ("status", Box::new(|c| c.status = Some(Default::default()))),
            (
                "finalizer",
                Box::new(|c| c.metadata.finalizers = Some(vec![crate::api::FINALIZER.into()])),
            ),
            (
                "create pending",
                Box::new(annotate(super::super::CREATE_PENDING_ANNOTATION)),
            ),
            (
                "create succeeded",
                Box::new(annotate(super::super::CREATE_SUCCEEDED_ANNOTATION)),
            ),
            (
                "external name",
                Box::new(annotate(super::super::EXTERNAL_NAME_ANNOTATION)),
            ),
            (
                "resource version",
                Box::new(|c| c.metadata.resource_version = Some("9".into())),
            ),
        ];
        for (case, f) in same {
            assert_eq!(with(&*f), reconcile_inputs(&base()), "{case}: not an input");
        }
        let changed: [(&str, Edit); 6] = [
            ("spec", Box::new(|c| c.metadata.generation = Some(2))),
            (
                "refresh",
                Box::new(annotate(crate::api::common::REFRESH_ANNOTATION)),
            ),
            (
                "paused",
                Box::new(annotate(crate::api::common::PAUSED_ANNOTATION)),
            ),
            (
                "labels",
                Box::new(|c| c.metadata.labels = Some([("a".into(), "b".into())].into())),
            ),
            (
                "another finalizer",
                Box::new(|c| c.metadata.finalizers = Some(vec!["other/x".into()])),
            ),
            (
                "deleting",
                Box::new(|c| {
                    c.metadata.deletion_timestamp = Some(
                        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Default::default()),
                    )
                }),
            ),
        ];
        for (case, f) in changed {
            assert_ne!(with(&*f), reconcile_inputs(&base()), "{case}: an input");
        }
    }

    #[test]
    fn converts_good_and_names_bad_objects() {
        let good: EcsCluster = convert(&dynamic(json!({"activeServicesCount": 2}))).expect("good");
        assert_eq!(good.status.and_then(|s| s.active_services_count), Some(2));
        // Not kept in the caches: nothing reads them. Other annotations are.
        assert_eq!(good.metadata.managed_fields, None);
        let annotations = good.metadata.annotations.unwrap_or_default();
        assert_eq!(
            annotations.keys().collect::<Vec<_>>(),
            ["ecs.operator.dev/paused"]
        );
        // The schema says integer; the type says i32.
        let err = convert::<EcsCluster>(&dynamic(json!({"activeServicesCount": 3_000_000_000u64})))
            .expect_err("out of range");
        assert_eq!((err.namespace.as_str(), err.name.as_str()), ("ns", "c"));
        assert!(
            err.to_string()
                .starts_with("EcsCluster ns/c cannot be read"),
            "{err}"
        );
    }
}
