//! Deadline-bound waits: poll until something holds or fail with the last state and the
//! operator's log tail. Nothing here sleeps a fixed time.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use kube::Resource;
use kube::api::Api;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::TestEnv;

/// Default deadline for one wait.
pub const DEADLINE: Duration = Duration::from_secs(60);

impl TestEnv {
    /// Polls `check` until it returns Some, or fails with the last state and the operator log.
    pub async fn wait_for<T, F, Fut>(&self, what: &str, mut check: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<T>>>,
    {
        let start = Instant::now();
        let mut last;
        loop {
            match check().await {
                Ok(Some(v)) => return Ok(v),
                Ok(None) => last = "condition not met".into(),
                Err(e) => last = format!("{e:#}"),
            }
            if let Some(status) = self.operator_exit() {
                bail!(
                    "operator exited ({status}) while waiting for {what}\n--- operator log tail ---\n{}",
                    self.operator_log()
                );
            }
            if start.elapsed() > DEADLINE {
                bail!(
                    "timed out after {:?} waiting for {what} ({last})\n--- operator log tail ---\n{}",
                    DEADLINE,
                    self.operator_log()
                );
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Waits until a condition of `name` has the given status (and, if given, reason).
    pub async fn wait_condition<K>(
        &self,
        name: &str,
        type_: &str,
        status: &str,
        reason: Option<&str>,
    ) -> Result<K>
    where
        K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Serialize
            + std::fmt::Debug,
    {
        let api: Api<K> = self.api();
        self.wait_for(&format!("{name} {type_}={status} {reason:?}"), || {
            let api = api.clone();
            async move {
                let obj = api.get(name).await?;
                let v = serde_json::to_value(&obj)?;
                let generation = v["metadata"]["generation"].as_i64();
                let found = v["status"]["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| {
                        c["type"] == type_
                            && c["status"] == status
                            && reason.is_none_or(|r| c["reason"] == r)
                            && c["observedGeneration"].as_i64() == generation
                    });
                Ok(found.then_some(obj))
            }
        })
        .await
    }

    /// Waits until object `name` of kind `K` is Ready=True for its current generation.
    pub async fn wait_ready<K>(&self, name: &str) -> Result<K>
    where
        K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Serialize
            + std::fmt::Debug,
    {
        self.wait_condition::<K>(name, "Ready", "True", None).await
    }

    /// Waits until the object is gone.
    pub async fn wait_gone<K>(&self, name: &str) -> Result<()>
    where
        K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + std::fmt::Debug,
    {
        let api: Api<K> = self.api();
        self.wait_for(&format!("{name} to be deleted"), || {
            let api = api.clone();
            async move { Ok(api.get_opt(name).await?.is_none().then_some(())) }
        })
        .await
    }

    /// How many operator log lines contain `needle`.
    pub fn log_count(&self, needle: &str) -> usize {
        std::fs::read_to_string(&self.log_path)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// Waits until the operator has logged `needle` `more` more times than now: a deadline-bound
    /// way to let several resyncs pass without sleeping a fixed time.
    pub async fn wait_log_grows(&self, needle: &str, more: usize) -> Result<()> {
        self.wait_log_count(needle, self.log_count(needle) + more)
            .await
    }

    /// Waits until the operator has logged `needle` at least `target` times in all.
    pub async fn wait_log_count(&self, needle: &str, target: usize) -> Result<()> {
        self.wait_for(
            &format!("{target} log lines with {needle:?}"),
            || async move { Ok((self.log_count(needle) >= target).then_some(())) },
        )
        .await
    }

    /// Waits until the operator has logged `n` reconcile errors of object `name` in this
    /// namespace (one per failed reconcile: how far its retry backoff has grown).
    pub async fn wait_reconcile_errors(&self, name: &str, n: usize) -> Result<()> {
        let key = format!("object={}/{name} ", self.namespace);
        self.wait_for(&format!("{n} reconcile errors of {name}"), || async {
            let count = std::fs::read_to_string(&self.log_path)
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains("reconcile error") && l.contains(&key))
                .count();
            Ok((count >= n).then_some(()))
        })
        .await
    }
}
