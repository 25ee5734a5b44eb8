//! ecs-operator: manage Amazon ECS and ECR from Kubernetes.

pub mod api;
pub(crate) mod aws;
#[cfg(test)]
mod docs_claims;
#[macro_use]
pub(crate) mod engine;
pub mod export;
pub mod kinds;
pub mod runtime;

pub use aws::pacing::{PacingConfig, RateLimit};
pub use engine::Settings;
pub use engine::namespaces::RoleRule;
pub use engine::shards::{SHARD_LABEL, Scope, ShardError, ShardName};

/// What the e2e crate asserts on or calls besides the API types: tag keys and annotations the
/// operator writes, and the pure helpers whose answers a test compares with AWS's.
pub mod contract {
    pub use crate::aws::policy;
    pub use crate::aws::tags::{OWNER_TAG, OWNER_UID_TAG};
    pub use crate::engine::ownership::Identity;
    pub use crate::engine::{
        CREATE_PENDING_ANNOTATION, CREATE_SUCCEEDED_ANNOTATION, EXTERNAL_NAME_ANNOTATION, Managed,
    };
    pub use crate::kinds::ecs_task::mapping::ATTEMPT_TAG;
    pub use crate::kinds::task_definition::mapping::{normalize, spec_from_aws};
    pub use crate::kinds::task_definition::{SPEC_HASH_TAG, spec_hash};
}

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;

/// Startup failures, each with the fix in its message.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    AwsConfig(#[from] aws::ConfigError),
    #[error("cannot load a Kubernetes client configuration (kubeconfig or in-cluster): {0}")]
    KubeConfig(String),
    #[error("Kubernetes API server unreachable: {0}")]
    ApiUnreachable(String),
    #[error(
        "CRD {0} is not installed: apply crds/ (`ecs-operator crds | kubectl apply --server-side -f -`)"
    )]
    CrdMissing(String),
    #[error("serialising CRDs: {0}")]
    Serialize(String),
    #[error(transparent)]
    Runtime(#[from] runtime::RuntimeError),
}

/// Everything `run` needs.
pub struct RunConfig {
    pub region: Option<String>,
    /// The objects this process reconciles (`--shard`, `--exclude-sharded`): its watches'
    /// label selector and its leader Lease follow from it ([`RunConfig::scoped`]).
    pub scope: Scope,
    pub settings: Settings,
    pub aws_max_attempts: u32,
    /// Client-side pacing of AWS calls by AWS's token buckets (`--aws-pacing`,
    /// `--aws-rate-limits`).
    pub aws_pacing: aws::pacing::PacingConfig,
    /// Written into the ownership tags of every AWS resource (`--instance-id`).
    pub instance_id: String,
    /// Deletion policy when neither the spec nor the namespace sets one.
    pub default_deletion_policy: api::common::DeletionPolicy,
    /// Which namespace may name which role (`--role-allow`); empty: any role.
    pub role_allow: Vec<engine::namespaces::RoleRule>,
    /// Metrics/health server and leader election.
    pub runtime: runtime::RuntimeConfig,
}

impl RunConfig {
    /// The settings and Lease of the scope: the label selector every watch sends, and a shard's
    /// own Lease `<lease>-<shard>`. Pure.
    pub fn scoped(mut self) -> Self {
        self.settings.label_selector = self.scope.label_selector();
        if let Some(election) = self.runtime.leader_election.as_mut() {
            election.lease_name = self.scope.lease_name(&election.lease_name);
        }
        self
    }
}

/// `ecs-operator convert task-definition`: AWS JSON (describe or register shape) -> manifest YAML.
pub fn convert_task_definition(json: &str, name: Option<&str>) -> Result<String, String> {
    let spec = kinds::task_definition::mapping::spec_from_json(json)?;
    let name = name
        .map(str::to_string)
        .or_else(|| spec.family.clone())
        .unwrap_or_else(|| "task-definition".into())
        .to_lowercase()
        .replace('_', "-");
    let manifest = serde_json::json!({
        "apiVersion": "ecs.operator.dev/v1alpha1",
        "kind": "TaskDefinition",
        "metadata": {"name": name},
        "spec": spec,
    });
    serde_yaml::to_string(&manifest).map_err(|e| e.to_string())
}

/// All CRDs as one multi-document YAML stream.
pub fn crds_yaml() -> Result<String, StartupError> {
    let mut out = String::new();
    for crd in kinds::crds() {
        out.push_str("---\n");
        out.push_str(
            &serde_yaml::to_string(&crd).map_err(|e| StartupError::Serialize(e.to_string()))?,
        );
    }
    Ok(out)
}

/// Every kind's CRD is installed: the first missing one is [`StartupError::CrdMissing`]. Without
/// permission to read CRDs the check passes (the watch itself then reports a missing kind).
async fn check_crds(client: &kube::Client) -> Result<(), StartupError> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for name in kinds::crds().into_iter().filter_map(|c| c.metadata.name) {
        match crds.get_opt(&name).await {
            Ok(Some(_)) => {}
            Ok(None) => return Err(StartupError::CrdMissing(name)),
            Err(kube::Error::Api(s)) if s.code == 403 => {}
            Err(e) => return Err(StartupError::ApiUnreachable(e.to_string())),
        }
    }
    Ok(())
}

/// Checks the API server and CRDs, builds AWS clients, and runs every controller until a signal.
pub async fn run(config: RunConfig) -> Result<(), StartupError> {
    let config = config.scoped();
    engine::shards::set_scope(config.scope.clone());
    let client = kube::Client::try_default()
        .await
        .map_err(|e| StartupError::KubeConfig(e.to_string()))?;
    client
        .apiserver_version()
        .await
        .map_err(|e| StartupError::ApiUnreachable(e.to_string()))?;
    check_crds(&client).await?;
    let telemetry = runtime::Telemetry::default();
    let aws = aws::AwsProvider::load(&aws::AwsSettings {
        region: config.region,
        endpoint_url: None,
        max_attempts: config.aws_max_attempts,
        metrics: telemetry.metrics.clone(),
    })
    .await?
    .with_pacing(&config.aws_pacing)?;
    tracing::info!(region = %aws.default_region, instance = %config.instance_id, "AWS clients ready");
    if let Some(selector) = &config.settings.label_selector {
        tracing::info!(%selector, scope = ?config.scope, "reconciling only the objects the selector selects");
    }
    let env = std::sync::Arc::new(engine::Process {
        aws,
        namespaces: engine::namespaces::Namespaces::new(
            client.clone(),
            std::time::Duration::from_secs(10),
        )
        .with_role_allow(config.role_allow),
        instance_id: config.instance_id.clone(),
        default_deletion_policy: config.default_deletion_policy,
        telemetry: telemetry.clone(),
    });
    // Serve metrics and health; with leader election, wait to lead before reconciling.
    let Some(process) = runtime::Process::start(&config.runtime, &telemetry).await? else {
        return Ok(());
    };
    let shared = engine::Shared::new(client, env, config.settings.clone());
    // Every kind's `start` subscribes to the watches it reads when it is called, and the watches
    // start when the controllers are first polled: all kinds are started here before any is
    // polled, so each kind has one watch, shared by its controller and its followers.
    let controllers: Vec<_> = kinds::KINDS
        .iter()
        .map(|k| (k.start)(shared.clone()))
        .collect();
    process
        .run(async {
            futures::future::join_all(controllers).await;
        })
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn convert_describe_output_to_manifest() {
        let describe = r#"{
          "taskDefinition": {
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web_app:7",
            "family": "web_app", "revision": 7, "status": "ACTIVE",
            "registeredAt": "2026-01-01T00:00:00Z", "registeredBy": "arn:aws:iam::123456789012:root",
            "compatibilities": ["EC2"], "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.docker-remote-api.1.18"}],
            "networkMode": "bridge", "taskRoleArn": null,
            "containerDefinitions": [{"name": "web", "image": "nginx", "memory": 128, "cpu": 0,
                                      "portMappings": [], "essential": true, "environment": [], "mountPoints": [], "volumesFrom": []}]
          },
          "tags": [{"key": "team", "value": "a"}]
        }"#;
        let yaml = convert_task_definition(describe, None).expect("converts");
        let manifest: serde_json::Value = serde_yaml::from_str(&yaml).expect("yaml");
        assert_eq!(manifest["kind"], "TaskDefinition");
        assert_eq!(manifest["metadata"]["name"], "web-app");
        assert_eq!(manifest["spec"]["family"], "web_app");
        assert_eq!(
            manifest["spec"]["containerDefinitions"][0]["image"],
            "nginx"
        );
        for dropped in [
            "taskDefinitionArn",
            "revision",
            "status",
            "registeredAt",
            "registeredBy",
            "compatibilities",
            "requiresAttributes",
            "taskRoleArn",
        ] {
            assert!(manifest["spec"].get(dropped).is_none(), "{dropped} kept");
        }
        assert!(!yaml.contains("null"), "{yaml}");
        // The result is a valid TaskDefinition.
        let td: api::TaskDefinition = serde_yaml::from_str(&yaml).expect("TaskDefinition");
        assert_eq!(td.family(), "web_app");
    }

    /// A client whose API server answers a CRD GET with `answer(name)`: (HTTP status, body).
    fn crd_server(answer: fn(&str) -> u16) -> kube::Client {
        let svc = tower::service_fn(move |req: http::Request<kube::client::Body>| async move {
            let path = req.uri().path().to_string();
            let name = path.rsplit('/').next().unwrap_or_default().to_string();
            let code = answer(&name);
            let body = if code == 200 {
                let crd = kinds::crds()
                    .into_iter()
                    .find(|c| c.metadata.name.as_deref() == Some(name.as_str()));
                serde_json::to_vec(&crd).unwrap_or_default()
            } else {
                // What kube-apiserver answers (kube's get_opt reads `reason`).
                let reason = match code {
                    404 => "NotFound",
                    403 => "Forbidden",
                    _ => "InternalError",
                };
                serde_json::to_vec(&serde_json::json!({"kind": "Status", "apiVersion": "v1",
                    "status": "Failure", "reason": reason, "message": reason, "code": code}))
                .unwrap_or_default()
            };
            let response = http::Response::builder()
                .status(code)
                .body(kube::client::Body::from(body))
                .map_err(std::io::Error::other)?;
            Ok::<_, std::io::Error>(response)
        });
        kube::Client::new(svc, "default")
    }

    /// The README's startup check: a missing CRD stops the operator with the fix in the message;
    /// no permission to read CRDs is not an error; any other failure is the API server's.
    #[tokio::test]
    async fn startup_crd_check() {
        let missing = "ecsschedules.ecs.operator.dev";
        assert!(
            kinds::crds()
                .iter()
                .any(|c| c.metadata.name.as_deref() == Some(missing))
        );
        assert!(
            check_crds(&crd_server(|_| 200)).await.is_ok(),
            "all installed"
        );
        assert!(check_crds(&crd_server(|_| 403)).await.is_ok(), "forbidden");
        let err = check_crds(&crd_server(|n| {
            if n == "ecsschedules.ecs.operator.dev" {
                404
            } else {
                200
            }
        }))
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert_eq!(
            err,
            "CRD ecsschedules.ecs.operator.dev is not installed: apply crds/ \
             (`ecs-operator crds | kubectl apply --server-side -f -`)"
        );
        let err = check_crds(&crd_server(|_| 500)).await.err();
        assert!(
            matches!(err, Some(StartupError::ApiUnreachable(_))),
            "{err:?}"
        );
    }

    /// `run` starts from the scoped config: the scope's selector reaches every watch (the
    /// settings) and a shard elects on its own Lease; without leader election only the
    /// selector changes.
    #[test]
    fn a_scope_sets_the_watch_selector_and_the_lease() {
        let config = |scope: Scope, election: bool| RunConfig {
            region: None,
            scope,
            settings: Settings::default(),
            aws_max_attempts: 3,
            aws_pacing: PacingConfig::default(),
            instance_id: "default".into(),
            default_deletion_policy: api::common::DeletionPolicy::Delete,
            role_allow: Vec::new(),
            runtime: runtime::RuntimeConfig {
                leader_election: election.then(|| runtime::leader::LeaderElectionConfig {
                    namespace: "ops".into(),
                    lease_name: "x-leader".into(),
                    lease_seconds: 15,
                    identity: "pod_1".into(),
                }),
                ..Default::default()
            },
        };
        let shard = |n: &str| Scope::Shard(ShardName::parse(n).expect("valid"));
        let cases = [
            (Scope::All, true, None, Some("x-leader")),
            (
                shard("a"),
                true,
                Some("ecs.operator.dev/shard=a"),
                Some("x-leader-a"),
            ),
            (shard("a"), false, Some("ecs.operator.dev/shard=a"), None),
            (
                Scope::Unsharded,
                true,
                Some("!ecs.operator.dev/shard"),
                Some("x-leader"),
            ),
        ];
        for (scope, election, selector, lease) in cases {
            let scoped = config(scope.clone(), election).scoped();
            assert_eq!(
                scoped.settings.label_selector.as_deref(),
                selector,
                "{scope:?}"
            );
            assert_eq!(
                scoped
                    .runtime
                    .leader_election
                    .as_ref()
                    .map(|e| e.lease_name.as_str()),
                lease,
                "{scope:?}"
            );
        }
    }

    #[test]
    fn convert_rejects_garbage() {
        assert!(convert_task_definition("not json", None).is_err());
    }
}
