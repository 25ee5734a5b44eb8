//! The AWS side: client construction, error classification, and per-kind spec <-> SDK mapping.
//! Nothing here touches the Kubernetes client.

pub mod bridge;
pub mod call_metrics;
pub mod errors;
pub mod json;
pub mod listing;
pub mod pacing;
pub mod policy;
pub mod tags;

pub use errors::{AwsError, ErrorClass};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_credential_types::provider::{self, ProvideCredentials, error::CredentialsError, future};
use aws_sdk_sts::operation::assume_role::builders::AssumeRoleFluentBuilder;
use aws_smithy_runtime_api::client::http::SharedHttpClient;

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
    #[error("the AWS SDK has no default HTTP client in this build")]
    NoHttpClient,
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
    /// Paces every call per account + Region + bucket category; `None`: unpaced.
    pacing: Option<Arc<pacing::Pacer>>,
}

/// The HTTP client the SDK would use by default (the one [`pacing::PacedHttpClient`] wraps).
fn default_http_client() -> Result<SharedHttpClient, ConfigError> {
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
    use aws_smithy_runtime_api::client::runtime_plugin::RuntimePlugin;
    let plugin = aws_smithy_runtime::client::defaults::default_http_client_plugin_v2(
        aws_config::BehaviorVersion::latest(),
    )
    .ok_or(ConfigError::NoHttpClient)?;
    plugin
        .runtime_components(&RuntimeComponentsBuilder::new("ecs-operator"))
        .http_client()
        .ok_or(ConfigError::NoHttpClient)
}

/// STS role session name for a namespace: names the operator and the namespace (max 64 chars).
pub fn session_name(namespace: &str) -> String {
    let mut name = format!("ecs-operator-{namespace}");
    name.truncate(64);
    name
}

/// Session tag on every namespace-role session, valued with the namespace, so a role's trust
/// policy can pin the role to one namespace (`aws:RequestTag/...` on `sts:TagSession`;
/// `aws:PrincipalTag/...` in the role's own policies).
pub const NAMESPACE_SESSION_TAG: &str = "ecs-operator-namespace";

/// Source identity of every namespace-role session: a trust policy can require it
/// (`sts:SourceIdentity`), and CloudTrail keeps it on everything done in the session.
pub const SOURCE_IDENTITY: &str = "ecs-operator";

/// The AssumeRole request for `namespace`'s role: the session named after the namespace, tagged
/// with it, and the operator's source identity.
fn assume_role_request(
    sts: &aws_sdk_sts::Client,
    role_arn: &str,
    namespace: &str,
) -> AssumeRoleFluentBuilder {
    sts.assume_role()
        .role_arn(role_arn)
        .role_session_name(session_name(namespace))
        // Tag::build fails only without a key or value, and both are set here. Were the tag
        // missing, a trust policy that requires it refuses the session: it fails closed.
        .set_tags(
            aws_sdk_sts::types::Tag::builder()
                .key(NAMESPACE_SESSION_TAG)
                .value(namespace)
                .build()
                .ok()
                .map(|tag| vec![tag]),
        )
        .source_identity(SOURCE_IDENTITY)
}

/// Credentials of a namespace role. aws-config's AssumeRoleProvider sends session tags but no
/// source identity, so this sends AssumeRole itself; the SDK's identity cache still caches and
/// refreshes what it returns, as it did the provider's.
#[derive(Debug)]
struct NamespaceRole {
    request: AssumeRoleFluentBuilder,
}

impl NamespaceRole {
    async fn assume(&self) -> provider::Result {
        let answer = self
            .request
            .clone()
            .send()
            .await
            .map_err(CredentialsError::provider_error)?;
        let creds = answer.credentials.ok_or_else(|| {
            CredentialsError::provider_error("STS AssumeRole answered without credentials")
        })?;
        let expiry = SystemTime::try_from(creds.expiration).map_err(CredentialsError::unhandled)?;
        Ok(Credentials::new(
            creds.access_key_id,
            creds.secret_access_key,
            Some(creds.session_token),
            Some(expiry),
            "ecs-operator-namespace-role",
        ))
    }
}

impl ProvideCredentials for NamespaceRole {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.assume())
    }
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
        Self {
            base,
            default_region,
            clients: Mutex::new(HashMap::new()),
            metrics: settings.metrics.clone(),
            pacing: None,
        }
        .with_pacing(&pacing::PacingConfig::default())
    }

    /// Paces every call of the clients built from now on as `config` says (by default: on, with
    /// AWS's published buckets).
    pub fn with_pacing(mut self, config: &pacing::PacingConfig) -> Result<Self, ConfigError> {
        self.pacing = if config.enabled {
            // Fails here, at startup, rather than leave a client unpaced later.
            self.http_client()?;
            Some(Arc::new(pacing::Pacer::new(
                &config.overrides,
                self.metrics.clone(),
            )))
        } else {
            None
        };
        Ok(self)
    }

    /// The HTTP client a service client would send through without pacing: the base
    /// configuration's, else a new SDK default one (so each service client keeps its own
    /// connection pool, as without pacing).
    fn http_client(&self) -> Result<SharedHttpClient, ConfigError> {
        match self.base.http_client() {
            Some(client) => Ok(client),
            None => default_http_client(),
        }
    }

    /// Clients for `region` (default: the operator's) under `role_arn` (assumed with STS, session
    /// named and tagged after `namespace`) or the operator's own identity. Whether the namespace
    /// may use the role is decided before this (`--role-allow`).
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
            // STS is called with the operator's own credentials, uncached here (as aws-config's
            // AssumeRoleProvider does): the assumed credentials are what the clients cache.
            let sts_config = self
                .base
                .to_builder()
                .region(aws_config::Region::new(region.clone()))
                .identity_cache(aws_config::identity::IdentityCache::no_cache())
                .build();
            let sts = aws_sdk_sts::Client::from_conf(
                aws_sdk_sts::config::Builder::from(&sts_config)
                    .interceptor(call_metrics::interceptor(&self.metrics))
                    .build(),
            );
            let provider = NamespaceRole {
                request: assume_role_request(&sts, role, namespace),
            };
            config = config.credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(provider),
            );
        }
        let config = config.build();
        // Every call is counted for /metrics, by service, operation and error code, and paced
        // by the buckets of the role's account in this Region.
        let scope = pacing::Scope::new(&region, role_arn);
        macro_rules! client {
            ($sdk:ident) => {{
                let mut builder = $sdk::config::Builder::from(&config)
                    .interceptor(call_metrics::interceptor(&self.metrics));
                if let Some(pacer) = &self.pacing {
                    match self.http_client() {
                        Ok(inner) => {
                            builder = builder.http_client(pacer.http_client(inner, scope.clone()))
                        }
                        // with_pacing made one at startup; this does not happen.
                        Err(e) => tracing::warn!(error = %e, "AWS calls not paced"),
                    }
                }
                $sdk::Client::from_conf(builder.build())
            }};
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What a trust policy can pin: the session tag names the namespace, the source identity
    /// and session name are the operator's.
    #[test]
    fn assume_role_request_carries_the_namespace_tag_and_source_identity() {
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::Config::builder()
                .behavior_version(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new("us-east-1"))
                .build(),
        );
        let role = "arn:aws:iam::111111111111:role/ecs-team-a";
        let request = assume_role_request(&sts, role, "team-a");
        let input = request.as_input();
        assert_eq!(input.get_role_arn().as_deref(), Some(role));
        assert_eq!(
            input.get_role_session_name().as_deref(),
            Some("ecs-operator-team-a")
        );
        assert_eq!(input.get_source_identity().as_deref(), Some("ecs-operator"));
        let tags: Vec<(&str, &str)> = input
            .get_tags()
            .iter()
            .flatten()
            .map(|t| (t.key(), t.value()))
            .collect();
        assert_eq!(tags, vec![("ecs-operator-namespace", "team-a")]);
    }
}
