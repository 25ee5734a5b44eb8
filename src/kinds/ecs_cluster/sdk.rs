//! EcsCluster's calls to Amazon ECS: describe (batched), create, apply one change, delete, and
//! the capacity provider calls each needs, with the request and answer conversions at the edge.
//! What to change is decided in `mapping.rs`; `apply` only orders the calls one change needs.

use std::collections::BTreeMap;

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types as ecs;

use super::mapping::*;
use crate::aws::bridge;
use crate::aws::errors::{AwsError, ErrorClass, OrAbsent, from_sdk, required};
use crate::aws::tags;
use crate::aws::tags::ecs::{self as ecs_tags, from_sdk_tags};

/// DescribeClusters takes at most this many clusters per call.
pub(super) const CLUSTERS_PER_CALL: usize = 100;

/// The clusters named (names or ARNs), with settings, configurations and tags; INACTIVE and
/// missing ones are left out. Also used by `export`.
pub async fn describe_clusters(
    client: &Client,
    names: &[String],
) -> Result<Vec<ecs::Cluster>, AwsError> {
    let mut found = Vec::new();
    for chunk in names.chunks(CLUSTERS_PER_CALL) {
        let out = client
            .describe_clusters()
            .set_clusters(Some(chunk.to_vec()))
            .include(ecs::ClusterField::Settings)
            .include(ecs::ClusterField::Configurations)
            .include(ecs::ClusterField::Tags)
            .send()
            .await
            .map_err(|e| from_sdk("DescribeClusters", e))?;
        found.extend(
            out.clusters
                .unwrap_or_default()
                .into_iter()
                .filter(|c| c.status.as_deref() != Some("INACTIVE")),
        );
    }
    Ok(found)
}

/// Reads the cluster (with settings, configuration and tags) and the spec's Auto Scaling group
/// providers. `None` when the cluster does not exist or is INACTIVE (deleted).
pub async fn observe(
    client: &Client,
    d: &DesiredCluster,
) -> Result<Option<ObservedCluster>, AwsError> {
    let named = std::slice::from_ref(&d.cluster_name);
    let described = describe_clusters(client, named).await.or_absent()?;
    let Some(cluster) = described
        .into_iter()
        .flatten()
        .find(|c| c.cluster_name.as_deref() == Some(d.cluster_name.as_str()))
    else {
        return Ok(None);
    };
    Ok(Some(observe_described(client, d, &cluster).await?))
}

/// [`observe`] of a cluster already described (a batch's answer): its capacity providers.
pub async fn observe_described(
    client: &Client,
    d: &DesiredCluster,
    cluster: &ecs::Cluster,
) -> Result<ObservedCluster, AwsError> {
    let names: Vec<String> = d.asg_providers.keys().cloned().collect();
    let asg_providers = describe_asg_providers(client, &names).await?;
    let mut observed = observed_from(cluster, asg_providers)?;
    // Managed Instances providers, and providers the cluster has that the spec no longer names
    // (one call, made only when there are any).
    let strays: Vec<String> = observed
        .capacity_providers
        .iter()
        .filter(|n| !d.capacity_providers.contains(*n) && !n.starts_with("FARGATE"))
        .cloned()
        .collect();
    let wanted: Vec<String> = d
        .mi_providers
        .keys()
        .cloned()
        .chain(strays.clone())
        .collect();
    for p in describe_providers(client, Some(&d.cluster_name), &wanted).await? {
        let Some(o) = observed_provider(&p)? else {
            continue;
        };
        let name = o.provider.name.clone();
        let managed_instances = p.managed_instances_provider.is_some();
        if strays.contains(&name) {
            let tags = o.provider.tags;
            let stray = StrayProvider {
                managed_instances,
                tags,
            };
            observed.strays.insert(name, stray);
        } else if managed_instances {
            observed.mi_providers.insert(name, o);
        }
    }
    Ok(observed)
}

/// The comparable state of a cluster from DescribeClusters (with settings, configurations and
/// tags) and the spec's Auto Scaling group providers as found. Pure.
pub fn observed_from(
    cluster: &ecs::Cluster,
    asg_providers: BTreeMap<String, ObservedProvider>,
) -> Result<ObservedCluster, AwsError> {
    Ok(ObservedCluster {
        arn: required(
            cluster.cluster_arn.clone(),
            "DescribeClusters",
            "clusterArn",
        )?,
        status: cluster.status.clone().unwrap_or_default(),
        settings: cluster
            .settings
            .iter()
            .flatten()
            .filter_map(|s| Some((s.name.as_ref()?.as_str().to_string(), s.value.clone()?)))
            .collect(),
        configuration: cluster
            .configuration
            .as_ref()
            .and_then(configuration_from_sdk),
        service_connect_defaults: cluster
            .service_connect_defaults
            .as_ref()
            .and_then(|s| s.namespace.clone())
            .filter(|n| !n.is_empty())
            .map(|n| serde_json::json!({ "namespace": n })),
        capacity_providers: cluster
            .capacity_providers
            .iter()
            .flatten()
            .cloned()
            .collect(),
        default_capacity_provider_strategy: strategy_from_sdk(
            cluster
                .default_capacity_provider_strategy
                .as_deref()
                .unwrap_or_default(),
        ),
        tags: from_sdk_tags(cluster.tags.as_deref()),
        active_services_count: cluster.active_services_count,
        running_tasks_count: cluster.running_tasks_count,
        pending_tasks_count: cluster.pending_tasks_count,
        registered_container_instances_count: cluster.registered_container_instances_count,
        asg_providers,
        mi_providers: BTreeMap::new(),
        strays: BTreeMap::new(),
    })
}

/// DescribeCapacityProviders (with tags) for the given names, in `cluster` when given (Managed
/// Instances providers are cluster-scoped); missing ones are left out.
pub(super) async fn describe_providers(
    client: &Client,
    cluster: Option<&str>,
    names: &[String],
) -> Result<Vec<ecs::CapacityProvider>, AwsError> {
    let mut found = Vec::new();
    if names.is_empty() {
        return Ok(found);
    }
    // DescribeCapacityProviders has no SDK paginator.
    let mut next_token = None;
    loop {
        let out = client
            .describe_capacity_providers()
            .set_capacity_providers(Some(names.to_vec()))
            .set_cluster(cluster.map(str::to_string))
            .include(ecs::CapacityProviderField::Tags)
            .set_next_token(next_token)
            .send()
            .await
            .map_err(|e| from_sdk("DescribeCapacityProviders", e))?;
        found.extend(
            out.capacity_providers
                .unwrap_or_default()
                .into_iter()
                .filter(|p| p.name.as_ref().is_some_and(|n| names.contains(n))),
        );
        next_token = out.next_token;
        if next_token.is_none() {
            return Ok(found);
        }
    }
}

/// The spec's Auto Scaling group providers that exist (missing and INACTIVE ones left out).
pub(super) async fn describe_asg_providers(
    client: &Client,
    names: &[String],
) -> Result<BTreeMap<String, ObservedProvider>, AwsError> {
    let providers = describe_providers(client, None, names).await?;
    let mut found = BTreeMap::new();
    for p in providers
        .iter()
        .filter(|p| p.auto_scaling_group_provider.is_some())
    {
        if let Some(o) = observed_provider(p)? {
            found.insert(o.provider.name.clone(), o);
        }
    }
    Ok(found)
}

/// A capacity provider in comparable form; `None` when INACTIVE (deleted). Pure. One without
/// its name or ARN is an incomplete answer.
pub(super) fn observed_provider(
    p: &ecs::CapacityProvider,
) -> Result<Option<ObservedProvider>, AwsError> {
    const OP: &str = "DescribeCapacityProviders";
    let name = required(p.name.clone(), OP, "name")?;
    let status = p.status.as_ref().map(|s| s.as_str().to_string());
    let status = status.unwrap_or_default();
    if status == "INACTIVE" {
        return Ok(None);
    }
    let provider = match (
        &p.auto_scaling_group_provider,
        &p.managed_instances_provider,
    ) {
        (Some(asg), _) => asg_provider_from_sdk(name, asg, p.tags.as_deref()),
        (None, mi) => Provider {
            name,
            provider: mi
                .as_ref()
                .and_then(|mi| bridge::to_json(mi).ok())
                .unwrap_or_default(),
            tags: from_sdk_tags(p.tags.as_deref()),
        },
    };
    let arn = required(p.capacity_provider_arn.clone(), OP, "capacityProviderArn")?;
    Ok(Some(ObservedProvider {
        arn,
        status,
        provider,
    }))
}

/// Creates the spec's Auto Scaling group providers, then the cluster with everything
/// CreateCluster takes (capacity providers and default strategy included). Returns its ARN.
pub async fn create(client: &Client, d: &DesiredCluster) -> Result<String, AwsError> {
    for p in d.asg_providers.values() {
        create_asg_provider(client, p).await?;
    }
    // Managed Instances providers need the cluster: the update right after the create makes
    // them and associates them (with the strategy items naming them).
    let d = &without_mi_providers(d);
    client
        .create_cluster()
        .cluster_name(&d.cluster_name)
        .set_tags((!d.tags.is_empty()).then(|| ecs_tags::to_sdk(&d.tags)))
        .set_settings((!d.settings.is_empty()).then(|| settings(d)))
        .set_configuration(d.configuration.is_some().then(|| configuration(d)))
        .set_capacity_providers(
            (!d.capacity_providers.is_empty())
                .then(|| d.capacity_providers.iter().cloned().collect()),
        )
        .set_default_capacity_provider_strategy(
            (!d.default_capacity_provider_strategy.is_empty())
                .then(|| strategy(d))
                .transpose()?,
        )
        .set_service_connect_defaults(
            d.service_connect_defaults
                .is_some()
                .then(|| service_connect_defaults(d))
                .transpose()?,
        )
        .send()
        .await
        .map_err(|e| from_sdk("CreateCluster", e))
        .and_then(|out| {
            required(
                out.cluster.and_then(|c| c.cluster_arn),
                "CreateCluster",
                "cluster.clusterArn",
            )
        })
}

/// The cluster as CreateCluster can take it: without the Managed Instances providers (and the
/// strategy items naming them), which can only be made once the cluster exists. Pure.
pub fn without_mi_providers(d: &DesiredCluster) -> DesiredCluster {
    let mut d = d.clone();
    let mi = std::mem::take(&mut d.mi_providers);
    d.capacity_providers.retain(|n| !mi.contains_key(n));
    d.default_capacity_provider_strategy
        .retain(|s| !mi.contains_key(&s.capacity_provider));
    d
}

/// CreateCapacityProvider with managedInstancesProvider in the cluster. One that already
/// exists counts as created (a later update converges it).
pub(super) async fn create_mi_provider(
    client: &Client,
    cluster: &str,
    p: &Provider,
) -> Result<(), AwsError> {
    let result = create_mi_provider_request(client, cluster, p)?
        .send()
        .await
        .map_err(|e| from_sdk("CreateCapacityProvider", e));
    match result {
        Err(e) if !e.message.to_ascii_lowercase().contains("already exists") => Err(e),
        _ => Ok(()),
    }
}

/// The CreateCapacityProvider request for a Managed Instances provider, not sent.
pub fn create_mi_provider_request(
    client: &Client,
    cluster: &str,
    p: &Provider,
) -> Result<
    aws_sdk_ecs::operation::create_capacity_provider::builders::CreateCapacityProviderFluentBuilder,
    AwsError,
> {
    let mi = bridge::to_sdk(
        &p.provider,
        ecs::CreateManagedInstancesProviderConfiguration::deserialize,
    )
    .map_err(|e| invalid("InvalidManagedInstancesProvider", e))?;
    Ok(client
        .create_capacity_provider()
        .name(&p.name)
        .cluster(cluster)
        .managed_instances_provider(mi)
        .set_tags((!p.tags.is_empty()).then(|| ecs_tags::to_sdk(&p.tags))))
}

/// The UpdateCapacityProvider request for a Managed Instances provider, not sent. The update
/// shape has no capacityOptionType (admission keeps it unchanged): the codec skips it.
pub fn update_mi_provider_request(
    client: &Client,
    cluster: &str,
    p: &Provider,
) -> Result<
    aws_sdk_ecs::operation::update_capacity_provider::builders::UpdateCapacityProviderFluentBuilder,
    AwsError,
> {
    let mi = bridge::to_sdk(
        &p.provider,
        ecs::UpdateManagedInstancesProviderConfiguration::deserialize,
    )
    .map_err(|e| invalid("InvalidManagedInstancesProvider", e))?;
    Ok(client
        .update_capacity_provider()
        .name(&p.name)
        .cluster(cluster)
        .managed_instances_provider(mi))
}

pub(super) async fn delete_provider(
    client: &Client,
    cluster: Option<&str>,
    name: &str,
) -> Result<(), AwsError> {
    match client
        .delete_capacity_provider()
        .capacity_provider(name)
        .set_cluster(cluster.map(str::to_string))
        .send()
        .await
        .map_err(|e| from_sdk("DeleteCapacityProvider", e))
    {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() || e.message.contains("does not exist") => Ok(()),
        // Still attached or in use: try again later.
        Err(e) if e.message.contains("in use") => Err(AwsError {
            class: ErrorClass::Retryable,
            ..e
        }),
        Err(e) => Err(e),
    }
}

/// CreateCapacityProvider; a provider of that name that already exists for the same Auto
/// Scaling group counts as created (its settings are converged by a later update).
pub(super) async fn create_asg_provider(client: &Client, p: &Provider) -> Result<(), AwsError> {
    let asg = bridge::to_sdk(&p.provider, ecs::AutoScalingGroupProvider::deserialize)
        .map_err(|e| invalid("InvalidAutoScalingGroupProvider", e))?;
    let result = client
        .create_capacity_provider()
        .name(&p.name)
        .auto_scaling_group_provider(asg)
        .set_tags((!p.tags.is_empty()).then(|| ecs_tags::to_sdk(&p.tags)))
        .send()
        .await
        .map_err(|e| from_sdk("CreateCapacityProvider", e));
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.message.to_ascii_lowercase().contains("already exists") => {
            let existing = describe_asg_providers(client, std::slice::from_ref(&p.name)).await?;
            match existing.get(&p.name) {
                Some(o) if asg_matches(p.group(), o.provider.group()) => Ok(()),
                Some(o) => Err(AwsError::terminal(
                    "CreateCapacityProvider",
                    "CapacityProviderExists",
                    format!(
                        "capacity provider {} already exists for Auto Scaling group {}, not {}",
                        p.name,
                        o.provider.group(),
                        p.group()
                    ),
                )),
                // Still being deleted: try again later.
                None => Err(AwsError {
                    class: ErrorClass::Retryable,
                    ..e
                }),
            }
        }
        Err(e) => Err(e),
    }
}

/// Applies one change. `observed` gives the ARNs for tag calls.
pub async fn apply(
    client: &Client,
    d: &DesiredCluster,
    observed: Option<&ObservedCluster>,
    change: &Change,
) -> Result<(), AwsError> {
    let name = d.cluster_name.as_str();
    match change {
        Change::UpdateSettings
        | Change::UpdateConfiguration
        | Change::UpdateServiceConnectDefaults => {
            let call = client.update_cluster().cluster(name);
            let call = match change {
                Change::UpdateSettings => call.set_settings(Some(settings(d))),
                Change::UpdateConfiguration => call.configuration(configuration(d)),
                _ => call.service_connect_defaults(service_connect_defaults(d)?),
            };
            call.send()
                .await
                .map_err(|e| from_sdk("UpdateCluster", e))?;
        }
        Change::PutCapacityProviders => {
            client
                .put_cluster_capacity_providers()
                .cluster(name)
                .set_capacity_providers(Some(d.capacity_providers.iter().cloned().collect()))
                .set_default_capacity_provider_strategy(Some(strategy(d)?))
                .send()
                .await
                .map_err(|e| from_sdk("PutClusterCapacityProviders", e))?;
        }
        Change::CreateAsgProvider(provider) => {
            create_asg_provider(client, declared(&d.asg_providers, provider, ASG_FIELD)?).await?;
        }
        Change::UpdateAsgProvider(provider) => {
            let want = declared(&d.asg_providers, provider, ASG_FIELD)?;
            client
                .update_capacity_provider()
                .name(provider)
                // The update shape is the create shape without the group: the codec skips it.
                .auto_scaling_group_provider(
                    bridge::to_sdk(
                        &want.provider,
                        ecs::AutoScalingGroupProviderUpdate::deserialize,
                    )
                    .map_err(|e| invalid("InvalidAutoScalingGroupProvider", e))?,
                )
                .send()
                .await
                .map_err(|e| from_sdk("UpdateCapacityProvider", e))?;
            if let Some(have) = observed.and_then(|o| o.asg_providers.get(provider)) {
                let changes = tags::diff(&want.tags, &have.provider.tags);
                ecs_tags::apply(client, &have.arn, &changes).await?;
            }
        }
        Change::CreateMiProvider(provider) => {
            create_mi_provider(client, name, declared(&d.mi_providers, provider, MI_FIELD)?)
                .await?;
        }
        Change::UpdateMiProvider(provider) => {
            let want = declared(&d.mi_providers, provider, MI_FIELD)?;
            let have = observed.and_then(|o| o.mi_providers.get(provider));
            if have.is_none_or(|h| !covers(&want.provider, &h.provider.provider)) {
                update_mi_provider_request(client, name, want)?
                    .send()
                    .await
                    .map_err(|e| from_sdk("UpdateCapacityProvider", e))?;
            }
            if let Some(have) = have {
                let changes = tags::diff(&want.tags, &have.provider.tags);
                ecs_tags::apply(client, &have.arn, &changes).await?;
            }
        }
        Change::DeleteProvider {
            name: provider,
            managed_instances,
        } => {
            delete_provider(client, managed_instances.then_some(name), provider).await?;
        }
        Change::AsgProviderGroupDiffers { .. } => {
            return Err(AwsError::terminal(
                "UpdateCapacityProvider",
                "AutoScalingGroupDiffers",
                format!(
                    "{}; ECS cannot move a capacity provider to another Auto Scaling group: \
                     use a new provider name",
                    change.describe()
                ),
            ));
        }
    }
    Ok(())
}

/// The provider `name` of a spec list (`field`). Changes name only declared providers, so a
/// miss is a bug, reported rather than panicking.
pub(super) fn declared<'a>(
    providers: &'a BTreeMap<String, Provider>,
    name: &str,
    field: &str,
) -> Result<&'a Provider, AwsError> {
    providers.get(name).ok_or_else(|| {
        AwsError::terminal(
            "CapacityProvider",
            "UnknownCapacityProvider",
            format!("{name} is not in spec.{field}"),
        )
    })
}

/// Outcome of a delete attempt.
#[derive(Debug, PartialEq)]
pub enum Deleted {
    Yes,
    /// The cluster still has services (not INACTIVE); nothing was deleted.
    HasServices(Vec<String>),
}

/// Deletes the cluster unless it still has services, then the Auto Scaling group providers the
/// spec declares.
pub async fn delete(client: &Client, d: &DesiredCluster) -> Result<Deleted, AwsError> {
    let services = services_not_inactive(client, &d.cluster_name)
        .await
        .or_absent()?
        .unwrap_or_default();
    if !services.is_empty() {
        return Ok(Deleted::HasServices(services));
    }
    // Managed Instances providers belong to the cluster: they go first.
    let names: Vec<String> = d.mi_providers.keys().cloned().collect();
    for p in describe_providers(client, Some(&d.cluster_name), &names).await? {
        let going = p.status.as_ref().is_some_and(|s| {
            matches!(
                s,
                ecs::CapacityProviderStatus::Deprovisioning | ecs::CapacityProviderStatus::Inactive
            )
        });
        if let (Some(name), false) = (&p.name, going) {
            delete_provider(client, Some(&d.cluster_name), name).await?;
        }
    }
    client
        .delete_cluster()
        .cluster(&d.cluster_name)
        .send()
        .await
        .map_err(|e| from_sdk("DeleteCluster", e))
        .or_absent()?;
    let names: Vec<String> = d.asg_providers.keys().cloned().collect();
    // Only existing ones: DeleteCapacityProvider on a missing provider is not a clean not-found
    // everywhere (moto answers 500).
    for name in describe_asg_providers(client, &names).await?.keys() {
        delete_provider(client, None, name).await?;
    }
    Ok(Deleted::Yes)
}

/// Every service of a cluster, with tags (ListServices, all pages, then DescribeServices in
/// batches of 10). Also used by `export`.
pub async fn list_services(
    client: &Client,
    cluster: &str,
) -> Result<Vec<aws_sdk_ecs::types::Service>, AwsError> {
    let arns: Vec<String> = client
        .list_services()
        .cluster(cluster)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<_, _>>()
        .await
        .map_err(|e| from_sdk("ListServices", e))?;
    let mut services = Vec::new();
    // DescribeServices takes at most 10 services per call.
    for batch in arns.chunks(10) {
        let out = client
            .describe_services()
            .cluster(cluster)
            .set_services(Some(batch.to_vec()))
            .include(aws_sdk_ecs::types::ServiceField::Tags)
            .send()
            .await
            .map_err(|e| from_sdk("DescribeServices", e))?;
        services.extend(out.services.unwrap_or_default());
    }
    Ok(services)
}

/// Names of the cluster's services whose status is not INACTIVE.
pub(super) async fn services_not_inactive(
    client: &Client,
    cluster: &str,
) -> Result<Vec<String>, AwsError> {
    let mut names: Vec<String> = list_services(client, cluster)
        .await?
        .into_iter()
        .filter(|s| s.status.as_deref() != Some("INACTIVE"))
        .filter_map(|s| {
            s.service_name.or_else(|| {
                s.service_arn
                    .and_then(|a| a.rsplit('/').next().map(str::to_string))
            })
        })
        .collect();
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cluster or capacity provider answer without its ARN is an incomplete answer (retried),
    /// never one with an empty ARN the status and tagging would then use.
    #[test]
    fn answers_without_an_arn_are_incomplete() {
        let cluster = |arn: Option<&str>| {
            ecs::Cluster::builder()
                .cluster_name("c")
                .set_cluster_arn(arn.map(str::to_string))
                .status("ACTIVE")
                .build()
        };
        let arn = "arn:aws:ecs:us-east-1:123456789012:cluster/c";
        let observed = observed_from(&cluster(Some(arn)), BTreeMap::new());
        assert_eq!(observed.map(|o| o.arn).ok().as_deref(), Some(arn));
        let e = observed_from(&cluster(None), BTreeMap::new()).expect_err("no ARN");
        assert_eq!(e.code.as_deref(), Some("IncompleteAnswer"));

        let provider = |arn: Option<&str>, status: &str| {
            ecs::CapacityProvider::builder()
                .name("p")
                .set_capacity_provider_arn(arn.map(str::to_string))
                .status(ecs::CapacityProviderStatus::from(status))
                .build()
        };
        let p_arn = "arn:aws:ecs:us-east-1:123456789012:capacity-provider/p";
        type Case<'a> = (&'a str, ecs::CapacityProvider, Result<Option<&'a str>, ()>);
        let cases: Vec<Case> = vec![
            ("active", provider(Some(p_arn), "ACTIVE"), Ok(Some(p_arn))),
            (
                "inactive is absent",
                provider(Some(p_arn), "INACTIVE"),
                Ok(None),
            ),
            ("no ARN", provider(None, "ACTIVE"), Err(())),
        ];
        for (name, p, want) in cases {
            let got = observed_provider(&p);
            match want {
                Ok(arn) => assert_eq!(got.expect(name).map(|o| o.arn).as_deref(), arn, "{name}"),
                Err(()) => assert!(got.is_err(), "{name}"),
            }
        }
    }
}
