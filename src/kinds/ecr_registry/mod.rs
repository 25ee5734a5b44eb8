//! Wiring: EcrRegistry through the generic driver.
//!
//! Registry settings carry no tags, so ownership cannot be read from AWS. It is decided from the
//! controller's store instead: among the EcrRegistry objects for one target (region and
//! namespace role) that are not observe-only, the oldest (creationTimestamp, then uid) owns it.
//! `observe` hands the driver that owner's identity as the observed tags, so the driver's usual
//! ownership rules apply unchanged: the owner converges, every other object is refused with
//! `OwnedByAnother`, and deleting a non-owner never touches AWS.

pub mod mapping;
pub mod sdk;

use crate::api::ecr_registry::EcrRegistryStatus;
use std::collections::BTreeMap;
use std::sync::Arc;

use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};

use self::mapping::{self as aws, Change, DesiredRegistry, ObservedRegistry};
use crate::api::common::{ManagementPolicy, SYNCED, find_condition};
use crate::api::ecr_registry::EcrRegistry;
use crate::aws::AwsClients;
use crate::engine::conditions::reason;
use crate::engine::ownership::Identity;
use crate::engine::{DeleteOutcome, Describe, Error, External, Process};

managed_kind!(EcrRegistry, EcrRegistryStatus);

/// ECR-backed implementation of the driver's External contract, with the store that decides ownership.
pub struct EcrRegistries {
    env: Arc<Process>,
    peers: Store<EcrRegistry>,
}

/// The kind registry's start (`crate::kinds`).
pub fn start(shared: crate::engine::Shared) -> futures::future::BoxFuture<'static, ()> {
    let env = shared.env.clone();
    // A change to any registry object (its owner going away, above all) wakes the objects
    // waiting behind an owner, instead of leaving them to their backoff.
    crate::engine::Start::<EcrRegistry>::new(shared)
        .follows::<EcrRegistry>(waiting)
        .run(move |peers| EcrRegistries { env, peers })
}

/// Objects refused as `OwnedByAnother`, other than `changed`.
fn waiting(store: &Store<EcrRegistry>, changed: &EcrRegistry) -> Vec<ObjectRef<EcrRegistry>> {
    store
        .state()
        .iter()
        .filter(|o| o.uid() != changed.uid())
        .filter(|o| {
            find_condition(crate::engine::Managed::conditions(o.as_ref()), SYNCED)
                .is_some_and(|c| c.reason == reason::OWNED_BY_ANOTHER)
        })
        .map(|o| ObjectRef::from_obj(o.as_ref()))
        .collect()
}

/// Pure: the owner among the candidates for one target: the oldest by creationTimestamp; among
/// objects created in the same second (its resolution), one already converged (Synced=True)
/// before one that is not, so a newcomer never takes over from the incumbent; then by uid
/// (deterministic whichever process decides). Observe-only objects never own.
pub fn owner_of<'a>(
    candidates: impl IntoIterator<Item = &'a EcrRegistry>,
) -> Option<&'a EcrRegistry> {
    let key = |o: &'a EcrRegistry| {
        let incumbent = find_condition(crate::engine::Managed::conditions(o), SYNCED)
            .is_some_and(|c| c.is_true());
        (o.meta().creation_timestamp.as_ref(), !incumbent, o.uid())
    };
    candidates
        .into_iter()
        .filter(|o| o.spec.policies.management_policy != Some(ManagementPolicy::ObserveOnly))
        .min_by(|a, b| key(a).cmp(&key(b)))
}

use kube::Resource as _;

impl EcrRegistries {
    /// The owner's identity tags for the registry `aws` targets. Fails (retried) while the
    /// store has not seen this object yet: right after start it may hold none of its peers.
    async fn owner_tags(
        &self,
        obj: &EcrRegistry,
        aws: &AwsClients,
    ) -> Result<BTreeMap<String, String>, Error> {
        let not_ready = || {
            Error::NotConverged(
                "the operator's cache of EcrRegistry objects is not filled yet".into(),
            )
        };
        let state = self.peers.state();
        if !state.iter().any(|o| o.uid() == obj.uid()) {
            return Err(not_ready());
        }
        let mut same_target = Vec::new();
        for peer in state.iter() {
            let ns = peer.namespace().unwrap_or_default();
            let region = peer
                .spec
                .policies
                .region
                .clone()
                .unwrap_or_else(|| self.env.aws.default_region.clone());
            let role = self.env.namespaces.get(&ns).await?.role_arn;
            if region == aws.region && role == aws.role_arn {
                same_target.push(peer.clone());
            }
        }
        // An observe-only object owns nothing; it mirrors whatever is there.
        let owner = owner_of(same_target.iter().map(|o| o.as_ref())).unwrap_or(obj);
        Ok(Identity::new(
            &owner.namespace().unwrap_or_default(),
            &owner.name_any(),
            &crate::engine::uid_of(owner)?,
            &self.env.instance_id,
        )
        .tags())
    }
}

impl External<EcrRegistry> for EcrRegistries {
    type Desired = DesiredRegistry;
    type Observed = ObservedRegistry;
    type Changes = Vec<Change>;

    fn aws_name(&self, obj: &EcrRegistry) -> String {
        let region = obj
            .spec
            .policies
            .region
            .clone()
            .unwrap_or_else(|| self.env.aws.default_region.clone());
        format!("the ECR registry settings of {region}")
    }

    async fn resolve(
        &self,
        obj: &EcrRegistry,
        _aws: &AwsClients,
        _owner_tags: &BTreeMap<String, String>,
    ) -> Result<DesiredRegistry, Error> {
        Ok(aws::desired(&obj.spec))
    }

    async fn observe(
        &self,
        obj: &EcrRegistry,
        aws: &AwsClients,
        d: &DesiredRegistry,
    ) -> Result<Option<ObservedRegistry>, Error> {
        let owner_tags = self.owner_tags(obj, aws).await?;
        let mut observed = sdk::observe(&aws.ecr, d).await?;
        observed.owner_tags = owner_tags;
        Ok(Some(observed))
    }

    fn observed_tags(&self, observed: &ObservedRegistry) -> BTreeMap<String, String> {
        observed.owner_tags.clone()
    }

    async fn current_tags(
        &self,
        obj: &EcrRegistry,
        aws: &AwsClients,
    ) -> Result<Option<BTreeMap<String, String>>, Error> {
        Ok(Some(self.owner_tags(obj, aws).await?))
    }

    fn diff(&self, d: &DesiredRegistry, observed: &ObservedRegistry) -> Vec<Change> {
        aws::diff(d, observed)
    }

    async fn create(
        &self,
        obj: &EcrRegistry,
        _aws: &AwsClients,
        _d: &DesiredRegistry,
    ) -> Result<String, Error> {
        // observe always finds the registry; nothing to create.
        Err(Error::NotConverged(format!(
            "{} could not be read",
            self.aws_name(obj)
        )))
    }

    async fn update(
        &self,
        _obj: &EcrRegistry,
        aws: &AwsClients,
        _d: &mut DesiredRegistry,
        _observed: &ObservedRegistry,
        changes: &Vec<Change>,
    ) -> Result<(), Error> {
        for change in changes {
            sdk::apply(&aws.ecr, change).await?;
        }
        Ok(())
    }

    async fn delete(&self, obj: &EcrRegistry, aws: &AwsClients) -> Result<DeleteOutcome, Error> {
        sdk::reset(&aws.ecr, &aws::desired(&obj.spec)).await?;
        Ok(DeleteOutcome::Deleted)
    }

    fn status_fields(&self, _obj: &EcrRegistry, o: &ObservedRegistry) -> EcrRegistryStatus {
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        EcrRegistryStatus {
            registry_id: Some(o.registry_id.clone()),
            replication_rules: o.replication.as_ref().map(|r| count(r.rules.len())),
            scan_type: o
                .scanning
                .as_ref()
                .map(|s| s.scan_type.as_str().to_string()),
            registry_policy_set: o.policy.as_ref().map(Option::is_some),
            pull_through_cache_rules: o.cache_rules.as_ref().map(|r| count(r.len())),
            repository_creation_templates: o.templates.as_ref().map(|t| count(t.len())),
            ..Default::default()
        }
    }
}

impl Describe for Change {
    fn describe(&self) -> String {
        Change::describe(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(name: &str, uid: &str, created: &str, observe_only: bool) -> EcrRegistry {
        let mut spec = serde_json::json!({});
        if observe_only {
            spec = serde_json::json!({"managementPolicy": "ObserveOnly"});
        }
        serde_json::from_value(serde_json::json!({
            "apiVersion": "ecs.operator.dev/v1alpha1", "kind": "EcrRegistry",
            "metadata": {"name": name, "namespace": "ns", "uid": uid, "creationTimestamp": created},
            "spec": spec,
        }))
        .expect("registry")
    }

    #[test]
    fn the_oldest_then_lowest_uid_owns_and_observe_only_never_does() {
        let a = registry("a", "u-2", "2026-01-01T00:00:00Z", false);
        let b = registry("b", "u-1", "2026-01-02T00:00:00Z", false);
        let c = registry("c", "u-0", "2026-01-02T00:00:00Z", false);
        let watcher = registry("w", "u-9", "2025-01-01T00:00:00Z", true);
        let name = |o: Option<&EcrRegistry>| o.map(|o| o.name_any());
        assert_eq!(name(owner_of([&b, &a, &c, &watcher])), Some("a".into()));
        assert_eq!(name(owner_of([&b, &c])), Some("c".into()));
        assert_eq!(name(owner_of([&c, &b])), Some("c".into()));
        assert_eq!(name(owner_of([&watcher])), None);
        // Created in the same second: the one already converged keeps the registry.
        let mut synced = registry("d", "u-5", "2026-01-02T00:00:00Z", false);
        synced.status = serde_json::from_value(serde_json::json!({"conditions": [{
            "type": "Synced", "status": "True", "reason": "ReconcileSuccess",
            "lastTransitionTime": "2026-01-02T00:00:00Z"}]}))
        .expect("status");
        assert_eq!(name(owner_of([&b, &c, &synced])), Some("d".into()));
        assert_eq!(name(owner_of([&a, &synced])), Some("a".into()));
    }
}
