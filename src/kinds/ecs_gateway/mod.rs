//! Wiring: EcsGateway through the generic driver. The gateway is found by its name
//! (DescribeGateway takes a name or an ARN; names are unique in an account and region), its
//! cluster associations read with ListGatewayClusterAssociations. Deletion disassociates every
//! cluster first (DeleteGateway refuses a gateway with associations) and is refused while
//! deletion protection is on.

pub mod mapping;
pub mod sdk;

use std::collections::BTreeMap;

use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};

use self::mapping::{Change, Desired, Observed};
use crate::api::ecs_cluster::EcsCluster;
use crate::api::ecs_gateway::{EcsGateway, EcsGatewayStatus};
use crate::aws::AwsClients;
use crate::aws::tags::{TagService, TagTarget};
use crate::engine::references::resolve_ref;
use crate::engine::{DeleteOutcome, Describe, Error, External, Readiness};

managed_kind!(EcsGateway, EcsGatewayStatus, identity = arn);

/// ECS-backed implementation of the driver's External contract.
pub struct EcsGateways {
    kube: kube::Client,
}

/// The kind registry's start (`crate::kinds`): a gateway waiting for an EcsCluster of its
/// clusterRefs is reconciled when that cluster changes.
pub fn start(shared: crate::engine::Shared) -> futures::future::BoxFuture<'static, ()> {
    let kube = shared.client.clone();
    crate::engine::Start::<EcsGateway>::new(shared)
        .follows::<EcsCluster>(dependents)
        .run(move |_| EcsGateways { kube })
}

/// The gateways in `cluster`'s namespace whose clusterRefs name it.
pub fn dependents(store: &Store<EcsGateway>, cluster: &EcsCluster) -> Vec<ObjectRef<EcsGateway>> {
    let ns = cluster.namespace();
    let name = cluster.name_any();
    store
        .state()
        .iter()
        .filter(|g| g.namespace() == ns)
        .filter(|g| g.spec.cluster_refs.iter().flatten().any(|r| r.name == name))
        .map(|g| ObjectRef::from_obj(g.as_ref()))
        .collect()
}

/// Whether an AWS refusal is about deletion protection (DeleteGateway refuses a protected
/// gateway with a client error naming it).
fn is_protection_refusal(e: &crate::aws::AwsError) -> bool {
    e.message
        .to_ascii_lowercase()
        .contains("deletion protection")
}

impl External<EcsGateway> for EcsGateways {
    type Desired = Desired;
    type Observed = Observed;
    type Changes = Vec<Change>;

    fn aws_name(&self, obj: &EcsGateway) -> String {
        format!("gateway {}", obj.gateway_name())
    }

    async fn resolve(
        &self,
        obj: &EcsGateway,
        _aws: &AwsClients,
        owner_tags: &BTreeMap<String, String>,
    ) -> Result<Desired, Error> {
        let ns = obj.namespace().unwrap_or_default();
        let mut refs = Vec::new();
        for r in obj.spec.cluster_refs.iter().flatten() {
            refs.push(resolve_ref::<EcsCluster>(&self.kube, &ns, &r.name).await?);
        }
        mapping::desired(&obj.spec, obj.gateway_name(), refs, owner_tags)
            .map_err(Error::InvalidSpec)
    }

    async fn observe(
        &self,
        _obj: &EcsGateway,
        aws: &AwsClients,
        d: &Desired,
    ) -> Result<Option<Observed>, Error> {
        let Some(g) = sdk::describe(&aws.ecs, &d.name).await? else {
            return Ok(None);
        };
        let Some(arn) = g.gateway_arn.clone() else {
            return Err(crate::aws::AwsError::incomplete("DescribeGateway", "gatewayArn").into());
        };
        let associations = sdk::associations(&aws.ecs, &arn).await?;
        let mut o = mapping::observed(&g, &associations)
            .ok_or_else(|| crate::aws::AwsError::incomplete("DescribeGateway", "gatewayArn"))?;
        o.wanted = d.clusters.as_ref().map(|c| c.keys().cloned().collect());
        Ok(Some(o))
    }

    fn observed_tags(&self, observed: &Observed) -> BTreeMap<String, String> {
        observed.tags.clone()
    }

    fn tag_target(&self, observed: &Observed) -> Option<TagTarget> {
        Some(TagTarget {
            service: TagService::Ecs,
            arn: observed.arn.clone(),
        })
    }

    fn desired_tags(&self, d: &Desired) -> BTreeMap<String, String> {
        d.tags.clone()
    }

    async fn current_tags(
        &self,
        obj: &EcsGateway,
        aws: &AwsClients,
    ) -> Result<Option<BTreeMap<String, String>>, Error> {
        Ok(sdk::describe(&aws.ecs, &obj.gateway_name())
            .await?
            .map(|g| crate::aws::tags::ecs::map(g.tags())))
    }

    fn diff(&self, d: &Desired, observed: &Observed) -> Vec<Change> {
        mapping::diff(d, observed)
    }

    async fn create(
        &self,
        obj: &EcsGateway,
        aws: &AwsClients,
        d: &Desired,
    ) -> Result<String, Error> {
        // The UID as client token: a create retried after a lost answer returns the first.
        let token = crate::engine::uid_of(obj)?;
        Ok(sdk::create(&aws.ecs, mapping::create_input(d, &token)?).await?)
    }

    async fn update(
        &self,
        _obj: &EcsGateway,
        aws: &AwsClients,
        d: &mut Desired,
        observed: &Observed,
        changes: &Vec<Change>,
    ) -> Result<(), Error> {
        for change in changes {
            match change {
                Change::Update(fields) => {
                    let input = mapping::update_input(d, &observed.arn, fields)?;
                    sdk::update(&aws.ecs, input).await?;
                }
                Change::Associate(cluster) => {
                    sdk::associate(&aws.ecs, &observed.arn, cluster).await?;
                }
                Change::Disassociate(cluster) => {
                    sdk::disassociate(&aws.ecs, &observed.arn, cluster).await?;
                }
            }
        }
        Ok(())
    }

    /// Refused while deletion protection is on (unless the spec turns it off: then that is
    /// applied first); otherwise disassociates every cluster, waits until none is left, and
    /// deletes.
    async fn delete(&self, obj: &EcsGateway, aws: &AwsClients) -> Result<DeleteOutcome, Error> {
        let name = obj.gateway_name();
        let Some(g) = sdk::describe(&aws.ecs, &name).await? else {
            return Ok(DeleteOutcome::Deleted);
        };
        let arn = g.gateway_arn.clone().unwrap_or_else(|| name.clone());
        let blocked = || {
            DeleteOutcome::Blocked(format!(
                "gateway {name} has deletion protection on, so it stays in AWS: set \
                 spec.deletionProtection to false to delete it (ECS turns protection on when \
                 the spec leaves it unset), or set deletionPolicy: Retain to release the object \
                 and keep the gateway"
            ))
        };
        if g.deletion_protection == Some(true) {
            if obj.spec.deletion_protection != Some(false) {
                return Ok(blocked());
            }
            let input = aws_sdk_ecs::operation::update_gateway::UpdateGatewayInput::builder()
                .gateway(&arn)
                .deletion_protection(false);
            sdk::update(&aws.ecs, input).await?;
        }
        // Disassociating is not instant (ECS keeps an association DISASSOCIATING while
        // services route through it): this pass asks for it and the next one, after
        // `not_ready_poll`, looks again. One listing per pass keeps a deletion at four calls.
        let mut left = Vec::new();
        for a in sdk::associations(&aws.ecs, &arn).await? {
            let Some(cluster) = a.cluster_arn.clone() else {
                continue;
            };
            match a.status.as_ref().map(|s| s.as_str()) {
                Some("ACTIVE") => {
                    sdk::disassociate(&aws.ecs, &arn, &cluster).await?;
                    left.push(mapping::cluster_name(&cluster).to_string());
                }
                Some("DISASSOCIATING") => left.push(mapping::cluster_name(&cluster).to_string()),
                _ => {}
            }
        }
        if !left.is_empty() {
            return Ok(DeleteOutcome::InProgress(format!(
                "gateway {name}: waiting for cluster(s) {} to disassociate (their services \
                 must stop routing through the gateway)",
                left.join(", ")
            )));
        }
        match sdk::delete(&aws.ecs, &arn).await {
            Ok(()) => Ok(DeleteOutcome::Deleted),
            Err(e) if is_protection_refusal(&e) => Ok(blocked()),
            Err(e) => Err(e.into()),
        }
    }

    fn status_fields(&self, _obj: &EcsGateway, observed: &Observed) -> EcsGatewayStatus {
        observed.status()
    }

    fn readiness(&self, _obj: &EcsGateway, observed: &Observed) -> Readiness {
        mapping::readiness(observed)
    }
}

impl Describe for Change {
    fn describe(&self) -> String {
        Change::describe(self)
    }
}
