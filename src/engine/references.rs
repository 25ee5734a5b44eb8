//! References between objects (`clusterRef`, `taskDefinitionRef`): a referenced object stands
//! for its `status.arn` once it is Ready. Shared by every kind that references another.

use kube::Api;

use super::{Error, KindStatus, Managed, shards};
use crate::api::common::{READY, find_condition};

/// Status of a referenced object: its ARN when it is Ready.
pub fn ready_arn<K: Managed>(obj: &K) -> Option<String> {
    let ready = find_condition(obj.conditions(), READY).is_some_and(|c| c.is_true());
    let arn = obj.kind_status()?.identity()?.to_string();
    ready.then_some(arn)
}

/// The ARN of the object `name` of kind `K` in `ns`; `ReferenceNotReady` while it is missing or
/// not Ready, `ReferenceInAnotherShard` when this process's shard does not watch it.
pub async fn resolve_ref<K: Managed>(
    kube: &kube::Client,
    ns: &str,
    name: &str,
) -> Result<String, Error> {
    let api: Api<K> = Api::namespaced(kube.clone(), ns);
    let kind = K::kind(&());
    let obj = api.get_opt(name).await?.ok_or_else(|| {
        Error::ReferenceNotReady(format!("{kind} {name} does not exist in namespace {ns}"))
    })?;
    // Before readiness: an object of another shard that is not Ready would never wake us.
    shards::check_reference(
        shards::scope(),
        &format!("{kind} {name}"),
        obj.meta().labels.as_ref(),
    )?;
    ready_arn(&obj)
        .ok_or_else(|| Error::ReferenceNotReady(format!("{kind} {name} is not Ready yet")))
}
