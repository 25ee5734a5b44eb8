//! Policies reach AWS as the user wrote them (key order aside), and resyncs compare them
//! semantically, so neither the written form nor AWS's rewrite of a principal causes updates.
//! Against the real bed (kube-apiserver + etcd + moto).

use anyhow::{Context as _, Result, anyhow, ensure};
use e2e::{TestEnv, http_get, metric_value, unique};
use ecs_operator::api::EcrRepository;
use serde_json::{Value, json};

async fn apply(env: &TestEnv, obj: &str, spec: Value) -> Result<EcrRepository> {
    env.apply::<EcrRepository>(&e2e::manifest("EcrRepository", obj, &spec))
        .await
}

async fn wait_synced(env: &TestEnv, obj: &str) -> Result<EcrRepository> {
    env.wait_condition::<EcrRepository>(obj, "Synced", "True", Some("ReconcileSuccess"))
        .await
}

/// How many times this test's operator called `operation` on ECR (its /metrics).
async fn ecr_calls(env: &TestEnv, operation: &str) -> Result<f64> {
    let addr = env.metrics_addr().await?;
    let (status, text) = http_get(addr, "/metrics").await?;
    ensure!(status == 200, "/metrics answered {status}");
    Ok(metric_value(
        &text,
        "ecs_operator_aws_calls_total",
        &[("service", "ecr"), ("operation", operation)],
    ))
}

/// The repository policy text AWS holds, parsed as JSON (not normalised).
async fn aws_repository_policy(env: &TestEnv, name: &str) -> Result<Value> {
    let out = env
        .ecr
        .get_repository_policy()
        .repository_name(name)
        .send()
        .await
        .context("GetRepositoryPolicy")?;
    let text = out.policy_text().ok_or_else(|| anyhow!("no policy text"))?;
    serde_json::from_str(text).with_context(|| format!("policy text is not JSON: {text}"))
}

async fn aws_lifecycle_policy(env: &TestEnv, name: &str) -> Result<Value> {
    let out = env
        .ecr
        .get_lifecycle_policy()
        .repository_name(name)
        .send()
        .await
        .context("GetLifecyclePolicy")?;
    let text = out
        .lifecycle_policy_text()
        .ok_or_else(|| anyhow!("no lifecycle policy text"))?;
    serde_json::from_str(text).with_context(|| format!("lifecycle text is not JSON: {text}"))
}

#[tokio::test]
async fn policies_reach_aws_as_written() -> Result<()> {
    let env = TestEnv::new("policy-text").await?;
    let name = unique("policy-text");
    // A one-statement Statement list and an Action list out of order: the old normaliser sent
    // an object Statement and sorted actions instead.
    let repository_policy = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "Pull", "Effect": "Allow",
        "Principal": {"AWS": ["arn:aws:iam::123456789012:root"]},
        "Action": ["ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage", "ecr:BatchCheckLayerAvailability"]
    }]});
    let lifecycle_policy = json!({"rules": [{
        "rulePriority": 1, "description": "keep 3",
        "selection": {"tagStatus": "tagged", "tagPrefixList": ["v", "release"], "countType": "imageCountMoreThan", "countNumber": 3},
        "action": {"type": "expire"}
    }]});
    apply(
        &env,
        "repo",
        json!({"repositoryName": name, "repositoryPolicy": repository_policy, "lifecyclePolicy": lifecycle_policy}),
    )
    .await?;
    wait_synced(&env, "repo").await?;

    assert_eq!(aws_repository_policy(&env, &name).await?, repository_policy);
    assert_eq!(aws_lifecycle_policy(&env, &name).await?, lifecycle_policy);

    // Resyncs compare semantically: nothing is sent again.
    let sets = ecr_calls(&env, "SetRepositoryPolicy").await?;
    let puts = ecr_calls(&env, "PutLifecyclePolicy").await?;
    assert_eq!((sets, puts), (1.0, 1.0), "one call each to create");
    env.wait_log_grows("reconciled: in sync", 3).await?;
    assert_eq!(ecr_calls(&env, "SetRepositoryPolicy").await?, sets);
    assert_eq!(ecr_calls(&env, "PutLifecyclePolicy").await?, puts);
    env.cleanup::<EcrRepository>().await
}

#[tokio::test]
async fn bare_account_principal_does_not_loop() -> Result<()> {
    let env = TestEnv::new("policy-account").await?;
    let name = unique("policy-account");
    let written = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "ecr:BatchGetImage"
    }]});
    apply(
        &env,
        "repo",
        json!({"repositoryName": name, "repositoryPolicy": written}),
    )
    .await?;
    wait_synced(&env, "repo").await?;
    assert_eq!(aws_repository_policy(&env, &name).await?, written);

    // Real ECR stores the bare account ID as the account's root ARN; moto keeps what it was
    // given, so do AWS's rewrite here, the way AWS would.
    let rewritten = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "ecr:BatchGetImage"
    }]});
    env.ecr
        .set_repository_policy()
        .repository_name(&name)
        .policy_text(rewritten.to_string())
        .send()
        .await
        .context("SetRepositoryPolicy (AWS's rewrite)")?;
    let sets = ecr_calls(&env, "SetRepositoryPolicy").await?;
    env.wait_log_grows("reconciled: in sync", 3).await?;
    assert_eq!(
        ecr_calls(&env, "SetRepositoryPolicy").await?,
        sets,
        "the operator re-sent a policy AWS only rewrote"
    );
    assert_eq!(aws_repository_policy(&env, &name).await?, rewritten);

    // A different account is a real change and is corrected.
    let other = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:root"}, "Action": "ecr:BatchGetImage"
    }]});
    env.ecr
        .set_repository_policy()
        .repository_name(&name)
        .policy_text(other.to_string())
        .send()
        .await
        .context("SetRepositoryPolicy (drift)")?;
    env.wait_for("drift corrected back to the spec", || async {
        Ok((aws_repository_policy(&env, &name).await? == written).then_some(()))
    })
    .await?;
    env.cleanup::<EcrRepository>().await
}
