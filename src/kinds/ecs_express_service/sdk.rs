//! EcsExpressService's calls to Amazon ECS, one function per call, no decisions: the Express
//! service itself (Describe / Create / Update / DeleteExpressGatewayService) and the ECS service
//! behind it (DescribeServices: found by name, with its deployments and task counts).

use aws_sdk_ecs::Client;
use aws_sdk_ecs::operation::create_express_gateway_service::builders::CreateExpressGatewayServiceInputBuilder;
use aws_sdk_ecs::operation::update_express_gateway_service::builders::UpdateExpressGatewayServiceInputBuilder;
use aws_sdk_ecs::types::{
    EcsExpressGatewayService, ExpressGatewayServiceInclude, Service, ServiceField,
};

use crate::aws::errors::{AwsError, ErrorClass, OrAbsent, from_sdk};

/// DescribeServices (with tags) of one service; `None` when it or its cluster does not exist,
/// or it is INACTIVE.
pub async fn describe_service(
    client: &Client,
    cluster: &str,
    name: &str,
) -> Result<Option<Service>, AwsError> {
    let out = client
        .describe_services()
        .cluster(cluster)
        .services(name)
        .include(ServiceField::Tags)
        .send()
        .await
        .map_err(|e| from_sdk("DescribeServices", e))
        .or_absent()?;
    Ok(out.and_then(|out| {
        out.services
            .unwrap_or_default()
            .into_iter()
            .find(|s| s.status() != Some("INACTIVE"))
    }))
}

/// DescribeExpressGatewayService (with tags); `None` when ECS knows no Express service by
/// that ARN.
pub async fn describe(
    client: &Client,
    arn: &str,
) -> Result<Option<EcsExpressGatewayService>, AwsError> {
    let out = client
        .describe_express_gateway_service()
        .service_arn(arn)
        .include(ExpressGatewayServiceInclude::Tags)
        .send()
        .await
        .map_err(|e| from_sdk("DescribeExpressGatewayService", e))
        .or_absent()?;
    Ok(out.and_then(|o| o.service))
}

/// CreateExpressGatewayService; returns the new service's ARN (an answer without one is an
/// error: the create's identity must be recorded).
pub async fn create(
    client: &Client,
    input: CreateExpressGatewayServiceInputBuilder,
) -> Result<String, AwsError> {
    let out = input
        .send_with(client)
        .await
        .map_err(|e| from_sdk("CreateExpressGatewayService", e))?;
    out.service
        .and_then(|s| s.service_arn)
        .ok_or_else(|| AwsError {
            operation: "CreateExpressGatewayService",
            code: None,
            message: "the answer carries no serviceArn".into(),
            class: ErrorClass::Retryable,
        })
}

/// UpdateExpressGatewayService with a prepared request.
pub async fn update(
    client: &Client,
    input: UpdateExpressGatewayServiceInputBuilder,
) -> Result<(), AwsError> {
    input
        .send_with(client)
        .await
        .map_err(|e| from_sdk("UpdateExpressGatewayService", e))?;
    Ok(())
}

/// DeleteExpressGatewayService; an absent service counts as deleted.
pub async fn delete(client: &Client, arn: &str) -> Result<(), AwsError> {
    client
        .delete_express_gateway_service()
        .service_arn(arn)
        .send()
        .await
        .map_err(|e| from_sdk("DeleteExpressGatewayService", e))
        .or_absent()?;
    Ok(())
}
