//! EcsGateway's calls to Amazon ECS, one function per call, no decisions: the gateway itself
//! (Describe / Create / Update / DeleteGateway) and its cluster associations
//! (ListGatewayClusterAssociations, AssociateGatewayWithCluster,
//! DisassociateGatewayFromCluster).

use aws_sdk_ecs::Client;
use aws_sdk_ecs::operation::create_gateway::builders::CreateGatewayInputBuilder;
use aws_sdk_ecs::operation::update_gateway::builders::UpdateGatewayInputBuilder;
use aws_sdk_ecs::types::{Gateway, GatewayClusterAssociationSummary};

use crate::aws::errors::{AwsError, OrAbsent, from_sdk, required};

/// DescribeGateway by name or ARN; `None` when ECS knows no such gateway (or it is DELETED).
pub async fn describe(client: &Client, gateway: &str) -> Result<Option<Gateway>, AwsError> {
    let out = client
        .describe_gateway()
        .gateway(gateway)
        .send()
        .await
        .map_err(|e| from_sdk("DescribeGateway", e))
        .or_absent()?;
    Ok(out
        .and_then(|o| o.gateway)
        .filter(|g| g.status().map(|s| s.as_str()) != Some("DELETED")))
}

/// ListGatewayClusterAssociations of one gateway, every page.
pub async fn associations(
    client: &Client,
    gateway_arn: &str,
) -> Result<Vec<GatewayClusterAssociationSummary>, AwsError> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_gateway_cluster_associations()
            .gateway(gateway_arn)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| from_sdk("ListGatewayClusterAssociations", e))?;
        out.extend(page.gateway_cluster_associations.unwrap_or_default());
        token = page.next_token;
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// CreateGateway; returns the new gateway's ARN.
pub async fn create(client: &Client, input: CreateGatewayInputBuilder) -> Result<String, AwsError> {
    let out = input
        .send_with(client)
        .await
        .map_err(|e| from_sdk("CreateGateway", e))?;
    required(out.gateway_arn, "CreateGateway", "gatewayArn")
}

/// UpdateGateway with a prepared request.
pub async fn update(client: &Client, input: UpdateGatewayInputBuilder) -> Result<(), AwsError> {
    input
        .send_with(client)
        .await
        .map_err(|e| from_sdk("UpdateGateway", e))?;
    Ok(())
}

/// AssociateGatewayWithCluster.
pub async fn associate(client: &Client, gateway: &str, cluster: &str) -> Result<(), AwsError> {
    client
        .associate_gateway_with_cluster()
        .gateway(gateway)
        .cluster(cluster)
        .send()
        .await
        .map_err(|e| from_sdk("AssociateGatewayWithCluster", e))?;
    Ok(())
}

/// DisassociateGatewayFromCluster; an association already gone counts as done.
pub async fn disassociate(client: &Client, gateway: &str, cluster: &str) -> Result<(), AwsError> {
    client
        .disassociate_gateway_from_cluster()
        .gateway(gateway)
        .cluster(cluster)
        .send()
        .await
        .map_err(|e| from_sdk("DisassociateGatewayFromCluster", e))
        .or_absent()?;
    Ok(())
}

/// DeleteGateway; an absent gateway counts as deleted.
pub async fn delete(client: &Client, gateway: &str) -> Result<(), AwsError> {
    client
        .delete_gateway()
        .gateway(gateway)
        .send()
        .await
        .map_err(|e| from_sdk("DeleteGateway", e))
        .or_absent()?;
    Ok(())
}
