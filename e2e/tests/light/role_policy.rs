//! Who may use which AWS role. The namespace annotation `ecs.operator.dev/role-arn` names the
//! role; the operator's `--role-allow` rules say which namespace may name which role, and every
//! AssumeRole carries the namespace as a session tag and the operator's source identity, so a
//! role's trust policy can pin it to one namespace. The fault proxy sits in front of moto and
//! records STS's awsQuery calls, which is where the tag and the source identity are read back
//! (moto answers AssumeRole and ignores both).

use std::time::{Duration, Instant};

use anyhow::{Result, bail, ensure};
use e2e::fault::{FaultConfig, FaultProxy, Recorded, form_pairs};
use e2e::{TestEnv, manifest, unique};
use ecs_operator::api::EcrRepository;
use serde_json::json;

const ROLE_ANNOTATION: &str = "ecs.operator.dev/role-arn";
/// moto puts what an assumed role creates into the role's account.
const ACCOUNT: &str = "111111111111";

/// A test env whose operator talks to AWS through a proxy that records AssumeRole, started with
/// `args` and `envs`.
async fn env_behind_proxy(
    prefix: &str,
    args: impl Fn(&str) -> Vec<String>,
    envs: impl Fn(&str) -> Vec<(String, String)>,
) -> Result<(TestEnv, FaultProxy)> {
    let mut env = TestEnv::new(prefix).await?;
    let proxy = FaultProxy::in_front_of_bed(FaultConfig {
        record_query: true,
        ..FaultConfig::default()
    })
    .await?;
    let url = proxy.url();
    let args = args(&env.namespace);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut envs = envs(&env.namespace);
    envs.push(("AWS_ENDPOINT_URL".into(), url));
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let operator = env.operator().args(&args).envs(&envs);
    env.restart_operator(operator)?;
    Ok((env, proxy))
}

/// The AssumeRole calls the proxy recorded, as their decoded form parameters.
fn assume_role_calls(proxy: &FaultProxy) -> Vec<Vec<(String, String)>> {
    proxy
        .recorded()
        .into_iter()
        .filter(|r: &Recorded| r.action == "AssumeRole")
        .map(|r| form_pairs(&r.body))
        .collect()
}

fn param<'a>(call: &'a [(String, String)], key: &str) -> Option<&'a str> {
    call.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Waits up to `within` for `name` to be Ready: environment errors are retried slowly (30 s,
/// then 1 minute, spread), longer than the default deadline allows for.
async fn wait_ready_within(env: &TestEnv, name: &str, within: Duration) -> Result<EcrRepository> {
    let start = Instant::now();
    loop {
        let obj = env.api::<EcrRepository>().get(name).await?;
        let status = serde_json::to_value(&obj)?["status"].clone();
        if e2e::condition(&status, "Ready").0 == "True" {
            return Ok(obj);
        }
        if start.elapsed() > within {
            bail!(
                "{name} not Ready within {within:?}: {}\n--- operator log tail ---\n{}",
                e2e::condition_message(&obj, "Synced"),
                env.operator_log()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn assume_role_carries_the_namespace_tag_and_source_identity() -> Result<()> {
    let role = format!("arn:aws:iam::{ACCOUNT}:role/{}", unique("ecs-team"));
    // The allow-list from the environment, comma-separated: the second rule allows the role.
    let (env, proxy) = env_behind_proxy(
        "role-tag",
        |_| Vec::new(),
        |ns| {
            vec![(
                "ECS_OPERATOR_ROLE_ALLOW".into(),
                format!(
                    "other-*=arn:aws:iam::*:role/x,{ns}=arn:aws:iam::{ACCOUNT}:role/ecs-team-*"
                ),
            )]
        },
    )
    .await?;
    env.annotate_namespace(ROLE_ANNOTATION, &role).await?;
    let repo = unique("role-tag");
    env.apply::<EcrRepository>(&manifest(
        "EcrRepository",
        "repo",
        &json!({"repositoryName": repo}),
    ))
    .await?;
    let obj = env.wait_ready::<EcrRepository>("repo").await?;
    let arn = serde_json::to_value(&obj)?["status"]["arn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    ensure!(
        arn.contains(&format!(":{ACCOUNT}:")),
        "not created under the role: {arn}"
    );

    let calls = assume_role_calls(&proxy);
    ensure!(!calls.is_empty(), "no AssumeRole recorded");
    for call in &calls {
        let want = [
            ("RoleArn", role.as_str()),
            (
                "RoleSessionName",
                &format!("ecs-operator-{}", env.namespace),
            ),
            ("SourceIdentity", "ecs-operator"),
            ("Tags.member.1.Key", "ecs-operator-namespace"),
            ("Tags.member.1.Value", env.namespace.as_str()),
        ];
        for (key, value) in want {
            ensure!(
                param(call, key) == Some(value),
                "AssumeRole {key} is {:?}, want {value:?}: {call:?}",
                param(call, key)
            );
        }
        ensure!(
            param(call, "Tags.member.2.Key").is_none(),
            "one session tag only: {call:?}"
        );
    }

    // Deletion goes through the same role.
    env.delete::<EcrRepository>("repo").await?;
    env.wait_gone::<EcrRepository>("repo").await?;
    env.cleanup_all().await
}

#[tokio::test]
async fn a_role_the_allow_list_excludes_is_never_assumed() -> Result<()> {
    let team_role = |name: &str| format!("arn:aws:iam::{ACCOUNT}:role/{name}");
    let (env, proxy) = env_behind_proxy(
        "role-deny",
        |ns| vec![format!("--role-allow={ns}={}", team_role("ecs-team-*"))],
        |_| Vec::new(),
    )
    .await?;
    let denied = team_role(&unique("admin"));
    env.annotate_namespace(ROLE_ANNOTATION, &denied).await?;
    let repo = unique("role-deny");
    env.apply::<EcrRepository>(&manifest(
        "EcrRepository",
        "repo",
        &json!({"repositoryName": repo}),
    ))
    .await?;
    let obj = env
        .wait_condition::<EcrRepository>("repo", "Synced", "False", Some("RoleNotAllowed"))
        .await?;
    env.wait_condition::<EcrRepository>("repo", "Stalled", "True", Some("RoleNotAllowed"))
        .await?;
    let message = e2e::condition_message(&obj, "Synced");
    for part in [env.namespace.as_str(), denied.as_str(), "--role-allow"] {
        ensure!(
            message.contains(part),
            "the message lacks {part:?}: {message}"
        );
    }
    // Nothing reached AWS: no AssumeRole, no ECR call.
    ensure!(
        assume_role_calls(&proxy).is_empty(),
        "the excluded role was assumed: {:?}",
        assume_role_calls(&proxy)
    );
    let counts = proxy.counts();
    ensure!(counts.is_empty(), "AWS was called: {counts:?}");
    ensure!(
        env.ecr_repository(&repo).await?.is_none(),
        "{repo} created under the operator's own identity"
    );

    // An allowed role heals it without a spec change (retried slowly), and only that one is
    // ever assumed.
    let allowed = team_role(&unique("ecs-team"));
    let generation = obj.metadata.generation;
    env.annotate_namespace(ROLE_ANNOTATION, &allowed).await?;
    let obj = wait_ready_within(&env, "repo", Duration::from_secs(200)).await?;
    ensure!(obj.metadata.generation == generation, "the spec changed");
    let roles: Vec<String> = assume_role_calls(&proxy)
        .iter()
        .filter_map(|call| param(call, "RoleArn").map(str::to_string))
        .collect();
    ensure!(
        !roles.is_empty() && roles.iter().all(|r| *r == allowed),
        "assumed {roles:?}, want only {allowed}"
    );
    env.delete::<EcrRepository>("repo").await?;
    env.wait_gone::<EcrRepository>("repo").await?;
    env.cleanup_all().await
}
