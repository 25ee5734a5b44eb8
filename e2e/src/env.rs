//! One test's world: its namespace, clients and operator, and the objects it applies, reads and
//! deletes.

use std::path::PathBuf;

use anyhow::{Context as _, Result, anyhow, bail};
use k8s_openapi::api::core::v1::{Event, Namespace};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::operator::OperatorProcess;
use crate::unique;

/// One test's world: namespace, clients, and a running operator.
pub struct TestEnv {
    pub namespace: String,
    pub client: Client,
    pub ecr: aws_sdk_ecr::Client,
    pub ecs: aws_sdk_ecs::Client,
    /// This test's operator (see `TestEnv::restart_operator`).
    pub(crate) process: Option<OperatorProcess>,
    pub log_path: PathBuf,
}

impl TestEnv {
    /// Creates a namespace and starts an operator for it with a short resync.
    pub async fn new(prefix: &str) -> Result<Self> {
        for var in ["KUBECONFIG", "AWS_ENDPOINT_URL"] {
            if std::env::var_os(var).is_none() {
                bail!(
                    "{var} is not set: start the bed first with `eval \"$(e2e/env up)\"` (make test does this)"
                );
            }
        }
        let client = Client::try_default()
            .await
            .context("kube client from KUBECONFIG")?;
        let namespace = unique(prefix);
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": namespace}}))?;
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .context("create test namespace")?;
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        let mut env = Self {
            ecr: aws_sdk_ecr::Client::new(&config),
            ecs: aws_sdk_ecs::Client::new(&config),
            log_path: std::env::temp_dir().join(format!("{namespace}-operator.log")),
            namespace,
            client,
            process: None,
        };
        env.start_operator()?;
        Ok(env)
    }

    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Creates or replaces an object from YAML with server-side apply (as `kubectl apply --server-side`).
    pub async fn apply<K>(&self, yaml: &str) -> Result<K>
    where
        K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Serialize
            + std::fmt::Debug,
    {
        let value: serde_json::Value = serde_yaml::from_str(yaml).context("parse manifest")?;
        let name = value["metadata"]["name"]
            .as_str()
            .ok_or_else(|| anyhow!("manifest without metadata.name"))?;
        let api: Api<K> = self.api();
        api.patch(
            name,
            &PatchParams::apply("e2e-test").force(),
            &Patch::Apply(&value),
        )
        .await
        .map_err(anyhow::Error::from)
    }

    /// Applies object `name` of kind `K` with this spec (a `json!` value or a typed spec): the
    /// manifest's apiVersion and kind come from `K`.
    pub async fn apply_spec<K>(&self, name: &str, spec: &impl Serialize) -> Result<K>
    where
        K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Serialize
            + std::fmt::Debug,
    {
        let manifest = json!({
            "apiVersion": K::api_version(&()),
            "kind": K::kind(&()),
            "metadata": {"name": name},
            "spec": spec,
        });
        self.apply::<K>(&manifest.to_string()).await
    }

    pub async fn delete<K>(&self, name: &str) -> Result<()>
    where
        K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + std::fmt::Debug,
    {
        self.api::<K>()
            .delete(name, &DeleteParams::default())
            .await?;
        Ok(())
    }

    /// Events recorded for the object with the given reason.
    pub async fn events_for(&self, name: &str, reason: &str) -> Result<Vec<Event>> {
        let events: Api<Event> = self.api();
        Ok(events
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .filter(|e| {
                e.involved_object.name.as_deref() == Some(name)
                    && e.reason.as_deref() == Some(reason)
            })
            .collect())
    }

    /// Runs the bed's kubectl (first on PATH after `e2e/env up`) in this namespace.
    pub async fn kubectl(&self, args: &[&str]) -> Result<std::process::Output> {
        Ok(tokio::process::Command::new("kubectl")
            .args(args)
            .args(["-n", &self.namespace])
            // A private discovery cache: a shared one can predate the CRDs of this bed.
            .arg(format!(
                "--cache-dir={}",
                std::env::temp_dir()
                    .join(format!("{}-kubecache", self.namespace))
                    .display()
            ))
            .output()
            .await?)
    }

    /// Removes finalizers left by the test and deletes the namespace. Best effort.
    pub async fn cleanup<K>(mut self) -> Result<()>
    where
        K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + std::fmt::Debug,
    {
        self.stop_operator();
        // The bed has no controller-manager, so a deleted namespace keeps its objects: delete
        // them one by one (finalizers first, the operator is gone).
        strip_and_delete::<K>(&self).await;
        let _ = Api::<Namespace>::all(self.client.clone())
            .delete(&self.namespace, &DeleteParams::default())
            .await;
        Ok(())
    }

    /// Sets an annotation on the test namespace (e.g. `ecs.operator.dev/deletion-policy`).
    /// Call it before creating objects: the operator caches namespace settings briefly.
    pub async fn annotate_namespace(&self, key: &str, value: &str) -> Result<()> {
        Api::<Namespace>::all(self.client.clone())
            .patch(
                &self.namespace,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"annotations": {key: value}}})),
            )
            .await?;
        Ok(())
    }

    /// [`TestEnv::cleanup`] for tests that create objects of every kind.
    pub async fn cleanup_all(self) -> Result<()> {
        use ecs_operator::api::{
            EcrRegistry, EcrRepository, EcsCluster, EcsExpressService, EcsGateway, EcsSchedule,
            EcsService, EcsTask, TaskDefinition,
        };
        strip_and_delete::<EcsTask>(&self).await;
        strip_and_delete::<EcsSchedule>(&self).await;
        strip_and_delete::<EcrRegistry>(&self).await;
        strip_and_delete::<EcsExpressService>(&self).await;
        strip_and_delete::<EcsService>(&self).await;
        strip_and_delete::<TaskDefinition>(&self).await;
        strip_and_delete::<EcsGateway>(&self).await;
        strip_and_delete::<EcsCluster>(&self).await;
        self.cleanup::<EcrRepository>().await
    }

    /// The `status` of object `name` of kind `K`, as JSON.
    pub async fn status_json<K>(&self, name: &str) -> Result<serde_json::Value>
    where
        K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Serialize
            + std::fmt::Debug,
    {
        Ok(serde_json::to_value(self.api::<K>().get(name).await?)?["status"].clone())
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        self.stop_operator();
    }
}

async fn strip_and_delete<K>(env: &TestEnv)
where
    K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = env.api();
    let Ok(list) = api.list(&ListParams::default()).await else {
        return;
    };
    for obj in list.items {
        let _ = api
            .patch(
                &obj.name_any(),
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"finalizers": null}})),
            )
            .await;
        let _ = api.delete(&obj.name_any(), &DeleteParams::default()).await;
    }
}
