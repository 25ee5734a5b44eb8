//! The chart's RBAC is enough for every kind: the operator process runs as the chart's
//! ServiceAccount and the bed's kube-apiserver (RBAC authorizer) decides each of its requests.
//!
//! The light bed runs no pods, so the chart is installed without `--wait` and the operator runs
//! on the host with the Deployment's settings (`helm get manifest`: its args and env) and a
//! kubeconfig that impersonates the ServiceAccount (`as`, `as-groups`: the user and groups of the
//! ServiceAccount's token). That is the chart's authorization, not its in-cluster token path; the
//! chart's pod itself runs on the node bed (e2e/tests/node/helm.rs).
//!
//! One object of every kind in the registry (`ecs_operator::kinds`) comes from `examples/`; a
//! kind without an example, or without an AWS check below, fails the test. Each becomes Ready
//! with its AWS resource; an EcsTask with `ttlSecondsAfterFinished` is deleted by the operator;
//! deleting them all removes what they hold in AWS, records `Deleted` Events and lets them go
//! (finalizers released); and the operator's log shows no refused (403) request at all.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use e2e::{TestEnv, tool, tool_output, unique};
use ecs_operator::api::{EcsCluster, EcsTask};
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::core::v1::{Event, Namespace, Secret};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, PostParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::{Value, json};

/// The region of this test's EcrRegistry: registry settings are per region, and every test that
/// writes them uses a region of its own (e2e/tests/light/ecr_registry.rs).
const REGISTRY_REGION: &str = "eu-north-1";

/// Deadline for everything to become Ready, and for everything to be gone after deletion.
const CONVERGE: Duration = Duration::from_secs(180);

fn chart_arg() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../charts/ecs-operator")
        .display()
        .to_string()
}

use e2e::yaml_documents;

#[tokio::test]
async fn the_operator_under_the_charts_service_account_serves_every_kind() -> Result<()> {
    let mut env = TestEnv::new("chart-rbac").await?;
    // The harness's operator runs with the bed's admin credentials: not the one under test.
    env.stop_operator();
    let release = unique("rbac-op");
    let release_ns = unique("chart-rbac-ops");
    let kubeconfig = std::env::temp_dir().join(format!("{}-sa.kubeconfig", env.namespace));
    let objects = std::env::temp_dir().join(format!("{}-objects.yaml", env.namespace));
    let result = match install(&env, &release, &release_ns).await {
        Ok(()) => proof(&mut env, &release, &release_ns, &kubeconfig, &objects).await,
        Err(e) => Err(e),
    };
    env.stop_operator();
    let _ = tool_output("helm", &["uninstall", &release, "--namespace", &release_ns]).await;
    let _ = Api::<Namespace>::all(env.client.clone())
        .delete(&release_ns, &DeleteParams::default())
        .await;
    let _ = std::fs::remove_file(&kubeconfig);
    let _ = std::fs::remove_file(&objects);
    if result.is_err() {
        strip_every_kind(&env).await;
    }
    let cleaned = env.cleanup::<EcsTask>().await;
    result?;
    cleaned
}

/// `helm install` of the chart watching the test's namespace, into a namespace of its own.
async fn install(env: &TestEnv, release: &str, release_ns: &str) -> Result<()> {
    tool(
        "helm",
        &[
            "install",
            release,
            &chart_arg(),
            "--namespace",
            release_ns,
            "--create-namespace",
            "--set",
            &format!("aws.region=us-east-1,watchNamespace={}", env.namespace),
        ],
    )
    .await?;
    Ok(())
}

async fn proof(
    env: &mut TestEnv,
    release: &str,
    release_ns: &str,
    kubeconfig: &Path,
    objects: &Path,
) -> Result<()> {
    let manifest = yaml_documents(
        &tool(
            "helm",
            &["get", "manifest", release, "--namespace", release_ns],
        )
        .await?,
    )?;
    let sa = manifest
        .iter()
        .find(|d| d["kind"] == "ServiceAccount")
        .and_then(|d| d["metadata"]["name"].as_str())
        .context("the release has no ServiceAccount")?
        .to_string();
    let user = format!("system:serviceaccount:{release_ns}:{sa}");
    let groups = [
        "system:serviceaccounts".to_string(),
        format!("system:serviceaccounts:{release_ns}"),
        "system:authenticated".to_string(),
    ];
    let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
    e2e::impersonating_kubeconfig(&user, &groups, kubeconfig)?;
    impersonation_is_real(env, kubeconfig, &user).await?;

    let pod = deployment_settings(&manifest, release, release_ns)?;
    let args: Vec<&str> = pod.args.iter().map(String::as_str).collect();
    let envs: Vec<(&str, &str)> = pod
        .envs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // Only this operator's lines in the log the waits print and the 403 check reads.
    std::fs::write(&env.log_path, "")?;
    env.start_operator_with(kubeconfig, &args, &envs)?;

    let docs = every_kind_from_examples(env)?;
    let text: Vec<String> = docs.iter().map(Value::to_string).collect();
    std::fs::write(objects, text.join("\n---\n"))?;
    let file = objects.display().to_string();
    kubectl_ok(env, &["apply", "--server-side", "-f", &file]).await?;
    let ready = kubectl_ok(
        env,
        &[
            "wait",
            "--for=condition=Ready",
            "-f",
            &file,
            &format!("--timeout={}s", CONVERGE.as_secs()),
        ],
    )
    .await;
    // A refusal is the likelier cause of a timeout here: name it first.
    refused_nothing(env)?;
    ready.context("not every object became Ready")?;

    let mut live = Vec::new();
    for doc in &docs {
        let (kind, name) = kind_and_name(doc)?;
        let status = object_status(env, kind, name).await?;
        aws_holds(env, kind, &status)
            .await
            .with_context(|| format!("{kind} {name} is Ready but AWS lacks it: {status}"))?;
        live.push((kind.to_string(), name.to_string(), status));
    }

    ttl_deletes_a_finished_run(env, &docs).await?;

    // Deleting removes the AWS resources, and the operator removes its finalizers.
    kubectl_ok(env, &["delete", "--wait=false", "-f", &file]).await?;
    for (kind, name, status) in &live {
        wait_until(env, &format!("{kind} {name} to be gone"), || async {
            Ok(object(env, kind, name).await?.is_none().then_some(()))
        })
        .await?;
        wait_until(
            env,
            &format!("AWS to drop what {kind} {name} made"),
            || async { Ok(aws_released(env, kind, status).await?.then_some(())) },
        )
        .await?;
    }

    // Each deletion was reported as an Event (the chart's `create` on events).
    let events: Api<Event> = env.api();
    for (kind, name, _) in &live {
        wait_until(
            env,
            &format!("a Deleted event of {kind} {name}"),
            || async {
                let found = events
                    .list(&ListParams::default())
                    .await?
                    .items
                    .iter()
                    .any(|e| {
                        e.involved_object.kind.as_deref() == Some(kind)
                            && e.involved_object.name.as_deref() == Some(name)
                            && e.reason.as_deref() == Some("Deleted")
                    });
                Ok(found.then_some(()))
            },
        )
        .await?;
    }
    refused_nothing(env)
}

/// Fails with the operator's log lines that report a request the API server refused (403).
fn refused_nothing(env: &TestEnv) -> Result<()> {
    let log = std::fs::read_to_string(&env.log_path)?;
    let refused: Vec<&str> = log
        .lines()
        .filter(|l| {
            let l = l.to_lowercase();
            l.contains("forbidden") || l.contains("code: 403") || l.contains("\"code\":403")
        })
        .collect();
    ensure!(
        refused.is_empty(),
        "the API server refused the operator {} times; first:\n{}",
        refused.len(),
        refused
            .iter()
            .take(3)
            .copied()
            .collect::<Vec<_>>()
            .join("\n")
    );
    Ok(())
}

/// Requests made with `kubeconfig` are the ServiceAccount's: the API server names it, denies it
/// the secrets the bed's admin may list, and lets it list its kinds.
async fn impersonation_is_real(env: &TestEnv, kubeconfig: &Path, user: &str) -> Result<()> {
    let config = kube::Config::from_custom_kubeconfig(
        Kubeconfig::read_from(kubeconfig)?,
        &KubeConfigOptions::default(),
    )
    .await?;
    let client = kube::Client::try_from(config)?;
    let review = Api::<SelfSubjectReview>::all(client.clone())
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
        .context("SelfSubjectReview")?;
    let seen = review
        .status
        .and_then(|s| s.user_info)
        .and_then(|u| u.username)
        .unwrap_or_default();
    ensure!(seen == user, "the API server sees {seen:?}, not {user:?}");

    Api::<Secret>::namespaced(env.client.clone(), &env.namespace)
        .list(&ListParams::default())
        .await
        .context("the bed's admin cannot list secrets")?;
    match Api::<Secret>::namespaced(client.clone(), &env.namespace)
        .list(&ListParams::default())
        .await
    {
        Err(kube::Error::Api(status)) if status.code == 403 => {}
        other => bail!("listing secrets as {user}: {other:?}, want 403 Forbidden"),
    }
    Api::<EcsCluster>::namespaced(client, &env.namespace)
        .list(&ListParams::default())
        .await
        .with_context(|| format!("{user} cannot list ecsclusters"))?;
    Ok(())
}

/// What the chart's Deployment runs: the container's args after `run`, and its env with the
/// fieldRefs filled in as the kubelet would (pod name, release namespace). Two overrides, neither
/// about authorization: a free loopback port for metrics (parallel tests), and debug logging
/// (a refused TTL delete is logged at debug).
fn deployment_settings(manifest: &[Value], release: &str, release_ns: &str) -> Result<PodSettings> {
    let deployment = manifest
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .context("the release has no Deployment")?;
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<String> = container["args"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect();
    ensure!(
        args.first().map(String::as_str) == Some("run"),
        "container args {args:?}"
    );
    let mut envs = Vec::new();
    for e in container["env"].as_array().into_iter().flatten() {
        let name = e["name"].as_str().context("env entry without name")?;
        let value = match (
            &e["value"],
            e["valueFrom"]["fieldRef"]["fieldPath"].as_str(),
        ) {
            (Value::String(v), _) => v.clone(),
            (_, Some("metadata.name")) => format!("{release}-host"),
            (_, Some("metadata.namespace")) => release_ns.to_string(),
            _ => bail!("env {name}: {e} (not a value or a known fieldRef)"),
        };
        let value = match name {
            "ECS_OPERATOR_METRICS_BIND_ADDRESS" => "127.0.0.1:0".to_string(),
            "ECS_OPERATOR_LOG_LEVEL" => "ecs_operator=debug,info".to_string(),
            _ => value,
        };
        envs.push((name.to_string(), value));
    }
    let names: Vec<&str> = envs.iter().map(|(k, _)| k.as_str()).collect();
    for want in [
        "ECS_OPERATOR_WATCH_NAMESPACE",
        "ECS_OPERATOR_LEADER_ELECTION_NAMESPACE",
        "ECS_OPERATOR_LEADER_ELECTION_LEASE_NAME",
    ] {
        ensure!(
            names.contains(&want),
            "the Deployment sets no {want}: {names:?}"
        );
    }
    Ok(PodSettings {
        args: args[1..].to_vec(),
        envs,
    })
}

/// The operator container's arguments after `run`, and its environment.
struct PodSettings {
    args: Vec<String>,
    envs: Vec<(String, String)>,
}

/// The examples, rewritten for this namespace with unique AWS names, with one object of every
/// registered kind among them (fails naming a kind without one).
fn every_kind_from_examples(env: &TestEnv) -> Result<Vec<Value>> {
    let suffix = unique("x").trim_start_matches("x-").to_string();
    let dir = e2e::repo_root().join("examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    let mut docs = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file)?;
        docs.extend(yaml_documents(&e2e::rewrite_example(
            &text,
            &env.namespace,
            &suffix,
        ))?);
    }
    for doc in &mut docs {
        match doc["kind"].as_str() {
            // Per-region settings: a region of this test's own, reset when the object goes.
            Some("EcrRegistry") => {
                doc["spec"]["region"] = json!(REGISTRY_REGION);
                doc["spec"]["deletionPolicy"] = json!("Delete");
            }
            // The schedule is named after its object unless spec.name says otherwise.
            Some("EcsSchedule") => doc["spec"]["name"] = json!(unique("rbac-sched")),
            Some("EcsGateway") => doc["spec"]["name"] = json!(unique("rbac-gw")),
            _ => {}
        }
    }
    let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    for crd in ecs_operator::kinds::crds() {
        let kind = &crd.spec.names.kind;
        ensure!(
            kinds.contains(&kind.as_str()),
            "no example of kind {kind} in examples/: add one (this test applies one object of every kind)"
        );
    }
    Ok(docs)
}

fn kind_and_name(doc: &Value) -> Result<(&str, &str)> {
    Ok((
        doc["kind"].as_str().context("manifest without kind")?,
        doc["metadata"]["name"]
            .as_str()
            .context("manifest without metadata.name")?,
    ))
}

/// The dynamic API of a registered kind, by its Kind name.
fn kind_api(env: &TestEnv, kind: &str) -> Result<Api<DynamicObject>> {
    let crd = ecs_operator::kinds::crds()
        .into_iter()
        .find(|c| c.spec.names.kind == kind)
        .with_context(|| format!("{kind} is not in the kind registry"))?;
    let version = crd
        .spec
        .versions
        .iter()
        .find(|v| v.storage)
        .context("CRD without a storage version")?;
    let gvk = GroupVersionKind::gvk(&crd.spec.group, &version.name, kind);
    let resource = ApiResource::from_gvk_with_plural(&gvk, &crd.spec.names.plural);
    Ok(Api::namespaced_with(
        env.client.clone(),
        &env.namespace,
        &resource,
    ))
}

async fn object(env: &TestEnv, kind: &str, name: &str) -> Result<Option<DynamicObject>> {
    Ok(kind_api(env, kind)?.get_opt(name).await?)
}

async fn object_status(env: &TestEnv, kind: &str, name: &str) -> Result<Value> {
    let obj = object(env, kind, name)
        .await?
        .with_context(|| format!("{kind} {name} not found"))?;
    Ok(obj.data["status"].clone())
}

/// An EcsTask copied from the example with `ttlSecondsAfterFinished: 1` runs, finishes and is
/// deleted by the operator (the chart's `delete` on ecstasks).
async fn ttl_deletes_a_finished_run(env: &TestEnv, docs: &[Value]) -> Result<()> {
    let mut task = docs
        .iter()
        .find(|d| d["kind"] == "EcsTask")
        .cloned()
        .context("no EcsTask among the examples")?;
    task["metadata"]["name"] = json!("ttl-run");
    task["spec"]["ttlSecondsAfterFinished"] = json!(1);
    env.apply::<EcsTask>(&task.to_string()).await?;
    let started = Instant::now();
    let mut succeeded = false;
    loop {
        match env.api::<EcsTask>().get_opt("ttl-run").await? {
            None => break,
            Some(obj) => {
                succeeded |= obj
                    .status
                    .as_ref()
                    .is_some_and(|s| s.completion_time.is_some());
            }
        }
        refused_nothing(env)?;
        if started.elapsed() > CONVERGE {
            bail!(
                "EcsTask ttl-run (completed: {succeeded}) not deleted after {CONVERGE:?}\n--- operator log tail ---\n{}",
                env.operator_log()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let log = std::fs::read_to_string(&env.log_path)?;
    ensure!(
        log.lines()
            .any(|l| l.contains("ttlSecondsAfterFinished passed") && l.contains("ttl-run")),
        "ttl-run went away without the operator's TTL deletion\n{}",
        env.operator_log()
    );
    Ok(())
}

/// Polls `check` until Some, within [`CONVERGE`].
async fn wait_until<T, F, Fut>(env: &TestEnv, what: &str, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let started = Instant::now();
    loop {
        let last = match check().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => "not yet".to_string(),
            Err(e) => format!("{e:#}"),
        };
        refused_nothing(env).with_context(|| format!("waiting for {what}"))?;
        if started.elapsed() > CONVERGE {
            bail!(
                "timed out after {CONVERGE:?} waiting for {what} ({last})\n--- operator log tail ---\n{}",
                env.operator_log()
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn kubectl_ok(env: &TestEnv, args: &[&str]) -> Result<()> {
    let out = env.kubectl(args).await?;
    ensure!(
        out.status.success(),
        "kubectl {}: {}\n{}\n--- operator log tail ---\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        env.operator_log()
    );
    Ok(())
}

fn text<'a>(status: &'a Value, field: &str) -> Result<&'a str> {
    status[field]
        .as_str()
        .with_context(|| format!("status without {field}: {status}"))
}

/// Fails unless AWS holds what the Ready object's `status` names.
async fn aws_holds(env: &TestEnv, kind: &str, status: &Value) -> Result<()> {
    match kind {
        "EcrRepository" | "TaskDefinition" | "EcsCluster" | "EcsService" | "EcsSchedule"
        | "EcsExpressService" | "EcsGateway" => {
            ensure!(!aws_released(env, kind, status).await?, "not in AWS");
        }
        "EcsTask" => {
            ensure!(
                !task_states(env, status).await?.is_empty(),
                "no task in AWS"
            );
        }
        "EcrRegistry" => {
            ensure!(
                registry_settings().await? != default_registry(),
                "registry at defaults"
            );
        }
        other => bail!("no AWS check for kind {other}: add one to chart_rbac.rs"),
    }
    Ok(())
}

/// Whether AWS no longer holds (or no longer runs) what the object made, per its `status`.
async fn aws_released(env: &TestEnv, kind: &str, status: &Value) -> Result<bool> {
    match kind {
        "EcrRepository" => {
            let arn = text(status, "arn")?;
            let name = arn
                .split_once(":repository/")
                .map(|(_, n)| n)
                .with_context(|| format!("repository ARN {arn}"))?;
            Ok(env.ecr_repository(name).await?.is_none())
        }
        "TaskDefinition" => {
            let arn = text(status, "arn")?;
            let out = env
                .ecs
                .describe_task_definition()
                .task_definition(arn)
                .send()
                .await;
            Ok(match out {
                Ok(out) => {
                    out.task_definition().and_then(|t| t.status())
                        != Some(&aws_sdk_ecs::types::TaskDefinitionStatus::Active)
                }
                Err(e) if format!("{e:?}").contains("ClientException") => true,
                Err(e) => return Err(e.into()),
            })
        }
        "EcsCluster" => {
            let arn = text(status, "arn")?;
            let out = env.ecs.describe_clusters().clusters(arn).send().await?;
            Ok(!out.clusters().iter().any(|c| c.status() == Some("ACTIVE")))
        }
        "EcsService" => {
            let out = env
                .ecs
                .describe_services()
                .cluster(text(status, "clusterArn")?)
                .services(text(status, "arn")?)
                .send()
                .await;
            Ok(match out {
                Ok(out) => !out.services().iter().any(|s| s.status() == Some("ACTIVE")),
                // The cluster went first.
                Err(e) if format!("{e:?}").contains("ClusterNotFound") => true,
                Err(e) => return Err(e.into()),
            })
        }
        "EcsTask" => Ok(task_states(env, status)
            .await?
            .iter()
            .all(|s| s == "STOPPED")),
        "EcsSchedule" => {
            let arn = text(status, "arn")?;
            let name = arn.rsplit('/').next().unwrap_or_default();
            let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .load()
                .await;
            let out = aws_sdk_scheduler::Client::new(&config)
                .get_schedule()
                .name(name)
                .group_name(text(status, "groupName")?)
                .send()
                .await;
            Ok(match out {
                Ok(_) => false,
                Err(e) if format!("{e:?}").contains("ResourceNotFound") => true,
                Err(e) => return Err(e.into()),
            })
        }
        "EcsExpressService" => {
            let out = env
                .ecs
                .describe_express_gateway_service()
                .service_arn(text(status, "serviceArn")?)
                .send()
                .await;
            Ok(match out {
                Ok(out) => out
                    .service()
                    .and_then(|s| s.status())
                    .and_then(|s| s.status_code())
                    .is_none_or(|c| c.as_str() != "ACTIVE"),
                Err(e) if format!("{e:?}").contains("ResourceNotFound") => true,
                Err(e) => return Err(e.into()),
            })
        }
        "EcsGateway" => {
            let out = env
                .ecs
                .describe_gateway()
                .gateway(text(status, "arn")?)
                .send()
                .await;
            Ok(match out {
                Ok(out) => out.gateway().is_none(),
                Err(e) if format!("{e:?}").contains("GatewayNotFound") => true,
                Err(e) => return Err(e.into()),
            })
        }
        "EcrRegistry" => Ok(registry_settings().await? == default_registry()),
        other => bail!("no AWS check for kind {other}: add one to chart_rbac.rs"),
    }
}

/// lastStatus of each task the EcsTask ran (status.taskArns in status.cluster).
async fn task_states(env: &TestEnv, status: &Value) -> Result<Vec<String>> {
    let arns: Vec<String> = status["taskArns"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect();
    ensure!(!arns.is_empty(), "status without taskArns: {status}");
    let out = env
        .ecs
        .describe_tasks()
        .cluster(text(status, "cluster")?)
        .set_tasks(Some(arns))
        .send()
        .await?;
    Ok(out
        .tasks()
        .iter()
        .map(|t| t.last_status().unwrap_or_default().to_string())
        .collect())
}

/// What ECR reports of the registry settings in [`REGISTRY_REGION`]: replication rules, scan
/// type, scanning rules, whether a registry policy is set.
async fn registry_settings() -> Result<BTreeMap<&'static str, String>> {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGISTRY_REGION))
        .load()
        .await;
    let ecr = aws_sdk_ecr::Client::new(&config);
    let described = ecr.describe_registry().send().await?;
    let replication = described
        .replication_configuration()
        .map(|r| r.rules().len())
        .unwrap_or_default();
    let scanning = ecr.get_registry_scanning_configuration().send().await?;
    let scanning = scanning.scanning_configuration();
    let policy = ecr.get_registry_policy().send().await.is_ok();
    Ok(BTreeMap::from([
        ("replicationRules", replication.to_string()),
        (
            "scanType",
            scanning
                .and_then(|s| s.scan_type())
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
        ),
        (
            "scanningRules",
            scanning
                .map(|s| s.rules().len())
                .unwrap_or_default()
                .to_string(),
        ),
        ("policy", policy.to_string()),
    ]))
}

/// ECR's defaults: what deleting a `Delete`-policy EcrRegistry leaves.
fn default_registry() -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("replicationRules", "0".to_string()),
        ("scanType", "BASIC".to_string()),
        ("scanningRules", "0".to_string()),
        ("policy", "false".to_string()),
    ])
}

/// After a failure: objects of every kind lose their finalizers and are deleted (the operator
/// is gone; the bed never finalizes namespaces).
async fn strip_every_kind(env: &TestEnv) {
    for crd in ecs_operator::kinds::crds() {
        let Ok(api) = kind_api(env, &crd.spec.names.kind) else {
            continue;
        };
        let Ok(list) = api.list(&ListParams::default()).await else {
            continue;
        };
        for obj in list.items {
            let name = obj.metadata.name.clone().unwrap_or_default();
            let _ = api
                .patch(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"metadata": {"finalizers": null}})),
                )
                .await;
            let _ = api.delete(&name, &DeleteParams::default()).await;
        }
    }
}
