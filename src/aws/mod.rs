//! The AWS side: client construction, error classification, and per-kind spec <-> SDK mapping.
//! Nothing here touches the Kubernetes client.

pub mod ecr;
pub mod ecs_cluster;
pub mod ecs_service;
pub mod ecs_tags;
pub mod errors;
pub mod policy;
pub(crate) mod sdk_convert;
pub mod task_definition;
pub mod task_definition_io;

pub use errors::{AwsError, ErrorClass};

/// Settings for building AWS clients.
#[derive(Clone, Debug, Default)]
pub struct AwsSettings {
    /// Region override; otherwise the standard chain (AWS_REGION, profile, IMDS).
    pub region: Option<String>,
    /// Endpoint override (also read by the SDK from AWS_ENDPOINT_URL).
    pub endpoint_url: Option<String>,
    /// Maximum attempts for the SDK's own retry with backoff.
    pub max_attempts: u32,
}

/// Loaded SDK configuration shared by every service client.
#[derive(Clone, Debug)]
pub struct AwsClients {
    pub ecr: aws_sdk_ecr::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub region: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "no AWS region configured: pass --region, or set AWS_REGION (or a region in the AWS profile)"
    )]
    NoRegion,
}

impl AwsClients {
    /// Builds clients from the standard credential chain: environment, web identity (IRSA),
    /// EKS Pod Identity / container credentials, profile, IMDS.
    pub async fn load(settings: &AwsSettings) -> Result<Self, ConfigError> {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_max_attempts(settings.max_attempts.max(1)),
        );
        if let Some(region) = &settings.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let config = loader.load().await;
        let region = config.region().ok_or(ConfigError::NoRegion)?.to_string();
        Ok(Self {
            ecr: aws_sdk_ecr::Client::new(&config),
            ecs: aws_sdk_ecs::Client::new(&config),
            region,
        })
    }
}
