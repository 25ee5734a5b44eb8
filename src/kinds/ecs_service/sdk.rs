//! SDK calls for services: describe (batched), create, update, scale to zero, delete, and the
//! service deployment calls (list, describe, continue, stop).

use aws_sdk_ecs::Client;
use aws_sdk_ecs::operation::create_service::builders::CreateServiceInputBuilder;
use aws_sdk_ecs::operation::update_service::builders::UpdateServiceInputBuilder;
use aws_sdk_ecs::types::{
    DeploymentLifecycleHookAction, Service, ServiceDeployment, ServiceDeploymentStatus,
    ServiceField, StopServiceDeploymentStopType,
};

use crate::aws::errors::{AwsError, OrAbsent, from_sdk, required};

/// DescribeServices (with tags) for up to ten names of one cluster; `None` when the cluster
/// does not exist. INACTIVE services are left out.
pub async fn describe(
    client: &Client,
    cluster: &str,
    names: &[String],
) -> Result<Option<Vec<Service>>, AwsError> {
    let out = client
        .describe_services()
        .cluster(cluster)
        .set_services(Some(names.to_vec()))
        .include(ServiceField::Tags)
        .send()
        .await
        .map_err(|e| from_sdk("DescribeServices", e))
        .or_absent()?;
    Ok(out.map(|out| {
        out.services
            .unwrap_or_default()
            .into_iter()
            .filter(|s| s.status() != Some("INACTIVE"))
            .collect()
    }))
}

/// CreateService; returns the new service as ECS answered it.
pub async fn create(
    client: &Client,
    input: CreateServiceInputBuilder,
) -> Result<Service, AwsError> {
    let out = input
        .send_with(client)
        .await
        .map_err(|e| from_sdk("CreateService", e))?;
    required(out.service, "CreateService", "service")
}

/// UpdateService with a prepared request.
pub async fn update(client: &Client, input: UpdateServiceInputBuilder) -> Result<(), AwsError> {
    input
        .send_with(client)
        .await
        .map_err(|e| from_sdk("UpdateService", e))?;
    Ok(())
}

/// UpdateService desiredCount 0 (before deleting a replica service).
pub async fn scale_to_zero(client: &Client, cluster: &str, service: &str) -> Result<(), AwsError> {
    client
        .update_service()
        .cluster(cluster)
        .service(service)
        .desired_count(0)
        .send()
        .await
        .map_err(|e| from_sdk("UpdateService", e))?;
    Ok(())
}

/// DeleteService (`force` for daemon services); an absent service counts as deleted.
pub async fn delete(
    client: &Client,
    cluster: &str,
    service: &str,
    force: bool,
) -> Result<(), AwsError> {
    client
        .delete_service()
        .cluster(cluster)
        .service(service)
        .force(force)
        .send()
        .await
        .map_err(|e| from_sdk("DeleteService", e))
        .or_absent()?;
    Ok(())
}

/// ListServiceDeployments of one service with the given statuses: their ARNs, newest first as
/// ECS lists them.
pub async fn list_deployments(
    client: &Client,
    cluster: &str,
    service: &str,
    statuses: &[&str],
) -> Result<Vec<String>, AwsError> {
    let out = client
        .list_service_deployments()
        .cluster(cluster)
        .service(service)
        .set_status(Some(
            statuses
                .iter()
                .map(|s| ServiceDeploymentStatus::from(*s))
                .collect(),
        ))
        .send()
        .await
        .map_err(|e| from_sdk("ListServiceDeployments", e))?;
    Ok(out
        .service_deployments()
        .iter()
        .filter_map(|d| d.service_deployment_arn.clone())
        .collect())
}

/// DescribeServiceDeployments of the given ARNs.
pub async fn describe_deployments(
    client: &Client,
    arns: &[String],
) -> Result<Vec<ServiceDeployment>, AwsError> {
    let out = client
        .describe_service_deployments()
        .set_service_deployment_arns(Some(arns.to_vec()))
        .send()
        .await
        .map_err(|e| from_sdk("DescribeServiceDeployments", e))?;
    Ok(out.service_deployments.unwrap_or_default())
}

/// ContinueServiceDeployment: CONTINUE or ROLLBACK at a waiting lifecycle hook.
pub async fn continue_deployment(
    client: &Client,
    arn: &str,
    hook_id: &str,
    rollback: bool,
) -> Result<(), AwsError> {
    let action = if rollback {
        DeploymentLifecycleHookAction::Rollback
    } else {
        DeploymentLifecycleHookAction::Continue
    };
    client
        .continue_service_deployment()
        .service_deployment_arn(arn)
        .hook_id(hook_id)
        .action(action)
        .send()
        .await
        .map_err(|e| from_sdk("ContinueServiceDeployment", e))?;
    Ok(())
}

/// StopServiceDeployment with stopType ROLLBACK.
pub async fn stop_deployment(client: &Client, arn: &str) -> Result<(), AwsError> {
    client
        .stop_service_deployment()
        .service_deployment_arn(arn)
        .stop_type(StopServiceDeploymentStopType::Rollback)
        .send()
        .await
        .map_err(|e| from_sdk("StopServiceDeployment", e))?;
    Ok(())
}
