//! Errors that are not the spec's fault heal by themselves: AWS answers AccessDenied (a missing
//! IAM permission) or UnrecognizedClient (a bad credential), injected by the fault proxy in front
//! of moto. The objects report it (`Synced=False` with its own reason, `Stalled=True`), the
//! operator retries slowly (no retry storm), and once the permission or credential is fixed in
//! AWS — the proxy stops refusing — they become Ready without any change to their spec.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Result, bail, ensure};
use e2e::fault::{FaultConfig, FaultProxy};
use e2e::{TestEnv, manifest, unique};
use ecs_operator::api::{EcrRepository, EcsCluster};
use kube::ResourceExt;
use serde_json::json;

/// Calls the proxy saw of `key` ("service:Action").
fn calls(proxy: &FaultProxy, key: &str) -> u64 {
    proxy.counts().get(key).map_or(0, |c| c.calls)
}

#[tokio::test]
async fn access_denied_and_a_bad_credential_heal_without_a_spec_change() -> Result<()> {
    let mut env = TestEnv::new("env-err").await?;
    env.stop_operator();
    let deny: BTreeMap<String, String> = [
        ("CreateRepository", "AccessDeniedException"),
        ("CreateCluster", "UnrecognizedClientException"),
    ]
    .into_iter()
    .map(|(a, c)| (a.to_string(), c.to_string()))
    .collect();
    let proxy = FaultProxy::in_front_of_bed(FaultConfig {
        deny,
        ..FaultConfig::default()
    })
    .await?;
    let url = proxy.url();
    let _op = env.spawn_operator("op", &[], &[("AWS_ENDPOINT_URL", &url)])?;

    let repo = unique("env-err");
    let cluster = unique("env-err");
    env.apply::<EcrRepository>(&manifest(
        "EcrRepository",
        "repo",
        &json!({"repositoryName": repo}),
    ))
    .await?;
    env.apply::<EcsCluster>(&manifest(
        "EcsCluster",
        "cluster",
        &json!({"clusterName": cluster}),
    ))
    .await?;
    let denied = env
        .wait_condition::<EcrRepository>("repo", "Synced", "False", Some("AccessDenied"))
        .await?;
    let unrecognized = env
        .wait_condition::<EcsCluster>("cluster", "Synced", "False", Some("CredentialsError"))
        .await?;
    env.wait_condition::<EcrRepository>("repo", "Stalled", "True", None)
        .await?;
    env.wait_condition::<EcsCluster>("cluster", "Stalled", "True", None)
        .await?;
    let message = e2e::condition_message(&denied, "Synced");
    ensure!(
        message.contains("AccessDeniedException") && message.contains("no spec change"),
        "the condition should name AWS's refusal and say no spec change is needed: {message}"
    );
    let message = e2e::condition_message(&unrecognized, "Synced");
    ensure!(message.contains("UnrecognizedClientException"), "{message}");

    // Retried slowly: in 20 s, at most one more attempt of each (not one every few seconds).
    let (repo_before, cluster_before) = (
        calls(&proxy, "ecr:CreateRepository"),
        calls(&proxy, "ecs:CreateCluster"),
    );
    tokio::time::sleep(Duration::from_secs(20)).await;
    let repo_retries = calls(&proxy, "ecr:CreateRepository") - repo_before;
    let cluster_retries = calls(&proxy, "ecs:CreateCluster") - cluster_before;
    ensure!(
        repo_retries <= 1 && cluster_retries <= 1,
        "retried too often: CreateRepository {repo_retries}, CreateCluster {cluster_retries} in 20 s"
    );

    // The permission is granted, the credential fixed: both heal without a spec change.
    let generations = (denied.metadata.generation, unrecognized.metadata.generation);
    proxy.set_config(FaultConfig::default());
    let start = Instant::now();
    let heal = Duration::from_secs(200);
    loop {
        let r = env.api::<EcrRepository>().get("repo").await?;
        let c = env.api::<EcsCluster>().get("cluster").await?;
        let ready = |conds: &[ecs_operator::api::common::Condition]| {
            conds.iter().any(|c| {
                c.type_ == "Ready" && c.status == ecs_operator::api::common::ConditionStatus::True
            })
        };
        let r_ready = r.status.as_ref().is_some_and(|s| ready(&s.conditions));
        let c_ready = c.status.as_ref().is_some_and(|s| ready(&s.conditions));
        if r_ready && c_ready {
            ensure!(
                (r.metadata.generation, c.metadata.generation) == generations,
                "the spec changed: {} {}",
                r.name_any(),
                c.name_any()
            );
            break;
        }
        if start.elapsed() > heal {
            bail!(
                "not healed within {heal:?}: repository Ready {r_ready}, cluster Ready {c_ready}"
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!("healed {:?} after the fix", start.elapsed());
    ensure!(
        env.ecr_repository(&repo).await?.is_some(),
        "{repo} not in AWS"
    );
    env.cleanup_all().await
}
