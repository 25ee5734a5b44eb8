//! SDK calls for services: describe (batched), create, update, scale to zero, delete.

use aws_sdk_ecs::Client;
use aws_sdk_ecs::operation::create_service::builders::CreateServiceInputBuilder;
use aws_sdk_ecs::operation::update_service::builders::UpdateServiceInputBuilder;
use aws_sdk_ecs::types::{Service, ServiceField};

use crate::aws::errors::{AwsError, OrAbsent, from_sdk};

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

/// CreateService; returns the new service's ARN.
pub async fn create(client: &Client, input: CreateServiceInputBuilder) -> Result<String, AwsError> {
    let out = input
        .send_with(client)
        .await
        .map_err(|e| from_sdk("CreateService", e))?;
    Ok(out.service.and_then(|s| s.service_arn).unwrap_or_default())
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
