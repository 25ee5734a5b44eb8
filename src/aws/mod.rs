//! The AWS side: client construction, error classification, and per-kind spec <-> SDK mapping.
//! Nothing here touches the Kubernetes client.

pub mod bridge;
pub mod call_metrics;
pub mod errors;
pub mod json;
pub mod policy;
pub mod tags;

pub use errors::{AwsError, ErrorClass};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Settings for building AWS clients.
#[derive(Clone, Debug, Default)]
pub struct AwsSettings {
    /// Region override; otherwise the standard chain (AWS_REGION, profile, IMDS).
    pub region: Option<String>,
    /// Endpoint override (also read by the SDK from AWS_ENDPOINT_URL).
    pub endpoint_url: Option<String>,
    /// Maximum attempts for the SDK's own retry with backoff.
    pub max_attempts: u32,
    /// Where every call is counted (by service, operation and error code).
    pub metrics: Arc<crate::runtime::metrics::Metrics>,
}

/// ECR, ECS and Scheduler clients for one (region, role) target.
#[derive(Clone, Debug)]
pub struct AwsClients {
    pub ecr: aws_sdk_ecr::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub autoscaling: aws_sdk_applicationautoscaling::Client,
    /// EventBridge Scheduler (EcsSchedule).
    pub scheduler: aws_sdk_scheduler::Client,
    pub region: String,
    /// The assumed role, when the object's namespace names one.
    pub role_arn: Option<String>,
}

impl AwsClients {
    /// Identifies the target (region and role) for per-target caches.
    pub fn target(&self) -> String {
        format!("{}|{}", self.region, self.role_arn.as_deref().unwrap_or(""))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "no AWS region configured: pass --region, or set AWS_REGION (or a region in the AWS profile)"
    )]
    NoRegion,
}

/// Clients by (region, role).
type ClientCache = HashMap<(String, Option<String>), Arc<AwsClients>>;

/// Builds clients per (region, role) on demand from one base configuration and keeps them, so
/// assumed-role credentials are cached and refreshed by the SDK's identity cache.
#[derive(Debug)]
pub struct AwsProvider {
    base: aws_config::SdkConfig,
    pub default_region: String,
    clients: Mutex<ClientCache>,
    metrics: Arc<crate::runtime::metrics::Metrics>,
}

/// STS role session name for a namespace: names the operator and the namespace (max 64 chars).
pub fn session_name(namespace: &str) -> String {
    let mut name = format!("ecs-operator-{namespace}");
    name.truncate(64);
    name
}

impl AwsProvider {
    /// Loads the standard credential chain: environment, web identity (IRSA), EKS Pod Identity /
    /// container credentials, profile, IMDS.
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
        let base = loader.load().await;
        let default_region = base.region().ok_or(ConfigError::NoRegion)?.to_string();
        Ok(Self {
            base,
            default_region,
            clients: Mutex::new(HashMap::new()),
            metrics: settings.metrics.clone(),
        })
    }

    /// Clients for `region` (default: the operator's) under `role_arn` (assumed with STS, session
    /// named after `namespace`) or the operator's own identity.
    pub async fn clients(
        &self,
        region: Option<&str>,
        role_arn: Option<&str>,
        namespace: &str,
    ) -> Arc<AwsClients> {
        let region = region.unwrap_or(&self.default_region).to_string();
        let key = (region.clone(), role_arn.map(str::to_string));
        if let Some(c) = self.lock().get(&key) {
            return c.clone();
        }
        let mut config = self
            .base
            .to_builder()
            .region(aws_config::Region::new(region.clone()));
        if let Some(role) = role_arn {
            let provider = aws_config::sts::AssumeRoleProvider::builder(role)
                .session_name(session_name(namespace))
                .region(aws_config::Region::new(region.clone()))
                .configure(&self.base)
                .build()
                .await;
            config = config.credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(provider),
            );
        }
        let config = config.build();
        // Every call is counted for /metrics, by service, operation and error code.
        macro_rules! client {
            ($sdk:ident) => {
                $sdk::Client::from_conf(
                    $sdk::config::Builder::from(&config)
                        .interceptor(call_metrics::interceptor(&self.metrics))
                        .build(),
                )
            };
        }
        let clients = Arc::new(AwsClients {
            ecr: client!(aws_sdk_ecr),
            ecs: client!(aws_sdk_ecs),
            autoscaling: client!(aws_sdk_applicationautoscaling),
            scheduler: client!(aws_sdk_scheduler),
            region,
            role_arn: role_arn.map(str::to_string),
        });
        self.lock().entry(key).or_insert(clients).clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ClientCache> {
        self.clients.lock().unwrap_or_else(|p| p.into_inner())
    }
}
