//! The Helm release's life on the node bed, as an operator team lives it: a cluster-wide install,
//! an upgrade to a new image tag with a CRD change applied the way the README says, deleting
//! namespaces that hold objects (Delete and Retain policies), and `helm uninstall`.
//!
//! One test: a cluster-wide operator reconciles every namespace, so two of them running at once
//! would fight over each other's objects (`make e2e-node` runs one module at a time).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use e2e::node::{
    AwsHolds, ONE_OF_EACH_KIND, OneOfEachKind, Release, apply_one_of_each_kind, aws_holds, chart,
    chart_values, helm_apply, operator_pods, pod_http_get, pod_name, pod_ready, poll_until,
};
use e2e::{TestEnv, metric_value, tool, unique};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::{Value, json};

fn crd_file() -> PathBuf {
    chart().join("crds/ecs.operator.dev.yaml")
}

/// The printer column the "new version" of the CRD adds.
const NEW_COLUMN: &str = "Upgraded";

#[tokio::test]
async fn upgrade_namespace_deletion_and_uninstall_keep_status_and_aws_as_the_policies_say()
-> Result<()> {
    // Three namespaces of objects: one deleted with Delete policy, one deleted with Retain
    // policy, one that outlives the release.
    let mut doomed = TestEnv::new("node-life-del").await?;
    let mut kept = TestEnv::new("node-life-keep").await?;
    let mut stays = TestEnv::new("node-life-stay").await?;
    for env in [&mut doomed, &mut kept, &mut stays] {
        env.stop_operator(); // the operator under test is the chart's pod
    }
    let rel = Release::prepare(&doomed.client, "life").await?;
    let result = lifecycle(&rel, [&doomed, &kept, &stays]).await;
    // Put the CRDs back as the chart has them (the test changed a printer column).
    let restored = kubectl_apply_crds(&crd_file()).await;
    rel.finish(result).await?;
    restored?;
    doomed.cleanup_all().await?;
    kept.cleanup_all().await?;
    stays.cleanup_all().await
}

async fn lifecycle(rel: &Release, [doomed, kept, stays]: [&TestEnv; 3]) -> Result<()> {
    let Release {
        name: release,
        namespace: release_ns,
        ..
    } = rel;
    let client = &doomed.client;
    // Cluster-wide (the chart's default): a ClusterRole, so the operator keeps its rights while
    // a namespace it watches is being deleted.
    rel.install(&[]).await?;

    let del = apply_one_of_each_kind(doomed, "node-life-del", json!({})).await?;
    let keep =
        apply_one_of_each_kind(kept, "node-life-keep", json!({"deletionPolicy": "Retain"})).await?;
    let stay = apply_one_of_each_kind(stays, "node-life-stay", json!({})).await?;
    for env in [doomed, kept, stays] {
        e2e::node::wait_one_of_each_kind_ready(env).await?;
    }
    for (env, names) in [(doomed, &del), (kept, &keep), (stays, &stay)] {
        let holds = aws_holds(env, names).await?;
        ensure!(holds == AwsHolds::ALL, "{names:?}: {holds:?}");
    }

    upgrade(rel, [doomed, kept, stays], [&del, &keep, &stay]).await?;

    // Deleting namespaces: the namespace controller deletes the objects; the operator finalizes
    // them per their deletion policy and both namespaces go away.
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for env in [doomed, kept] {
        namespaces
            .delete(&env.namespace, &DeleteParams::default())
            .await?;
    }
    for env in [doomed, kept] {
        poll_until(
            &format!("namespace {} to go away", env.namespace),
            Duration::from_secs(120),
            || async {
                Ok(namespaces
                    .get_opt(&env.namespace)
                    .await?
                    .is_none()
                    .then_some(()))
            },
        )
        .await?;
    }
    let gone = aws_holds(doomed, &del).await?;
    ensure!(
        gone == AwsHolds::NOTHING,
        "Delete policy: AWS still holds {gone:?} of {del:?}"
    );
    let retained = aws_holds(kept, &keep).await?;
    ensure!(
        retained == AwsHolds::ALL,
        "Retain policy: AWS lost something of {keep:?}: {retained:?}"
    );

    // helm uninstall: the CRDs, the remaining objects and their AWS resources all stay.
    let out = tool(
        "helm",
        &["uninstall", release, "--namespace", release_ns, "--wait"],
    )
    .await?;
    eprintln!("{out}");
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for plural in [
        "ecrrepositories",
        "taskdefinitions",
        "ecsclusters",
        "ecsservices",
    ] {
        let plural = format!("{plural}.ecs.operator.dev");
        ensure!(
            crds.get_opt(&plural).await?.is_some(),
            "helm uninstall removed the CRD {plural}"
        );
    }
    for (kind, name) in ONE_OF_EACH_KIND {
        let obj = dynamic(stays, kind).get_opt(name).await?;
        ensure!(
            obj.is_some_and(|o| o.metadata.deletion_timestamp.is_none()),
            "helm uninstall touched {kind} {}/{name}",
            stays.namespace
        );
    }
    let after = aws_holds(stays, &stay).await?;
    ensure!(
        after == AwsHolds::ALL,
        "helm uninstall changed AWS: {after:?} of {stay:?}"
    );
    Ok(())
}

/// `helm upgrade` to a new image tag after the CRDs were changed with `kubectl apply
/// --server-side` (the README's upgrade path): objects keep their status, and the new pod makes
/// no mutating AWS call, since nothing in AWS needs to change.
async fn upgrade(rel: &Release, envs: [&TestEnv; 3], names: [&OneOfEachKind; 3]) -> Result<()> {
    let Release {
        bed,
        name: release,
        namespace: release_ns,
        repository,
        tag,
        ..
    } = rel;
    let client = &envs[0].client;
    // Status as the old pod settled it: counts (an EcsCluster's tasks) follow AWS through kept
    // answers that serve up to 1.5 resyncs, so the status is taken once it has held for longer
    // than that; the upgraded pod reads AWS afresh and must find it the same.
    let before = settled_statuses(&envs).await?;
    let revisions_before = revisions(&envs, &names).await?;
    let old_pods: Vec<String> = operator_pods(client, release_ns, release)
        .await?
        .iter()
        .map(pod_name)
        .collect();

    // The "new release": the same image under a new tag, and a CRD with one more printer column.
    let new_tag = format!("{tag}-upgrade");
    bed.ctr(&[
        "images",
        "tag",
        "--force",
        &format!("{repository}:{tag}"),
        &format!("{repository}:{new_tag}"),
    ])
    .await?;
    let dir = std::env::temp_dir().join(unique("crds-upgrade"));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("ecs.operator.dev.yaml"), changed_crds()?)?;
    let applied = kubectl_apply_crds(&dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    applied?;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = crds.get("ecsservices.ecs.operator.dev").await?;
    ensure!(
        crd.spec.versions[0]
            .additional_printer_columns
            .iter()
            .flatten()
            .any(|c| c.name == NEW_COLUMN),
        "the CRD change did not reach the API server"
    );

    // Values only; the tag is the change.
    let values = chart_values(bed, repository, &new_tag);
    helm_apply("upgrade", release, release_ns, &chart(), &values).await?;
    let new_pod = poll_until(
        "the upgraded pod, Ready",
        Duration::from_secs(120),
        || async {
            let pods = operator_pods(client, release_ns, release).await?;
            Ok(pods.into_iter().find(|p| {
                !old_pods.contains(&pod_name(p))
                    && pod_ready(p)
                    && p.spec.as_ref().is_some_and(|s| {
                        s.containers[0].image.as_deref() == Some(&format!("{repository}:{new_tag}"))
                    })
            }))
        },
    )
    .await?;
    let name = pod_name(&new_pod);

    // The new pod finished reconciling every object (each kind at least as often as it has
    // objects; the duration histogram counts finished reconciles, reconciles_total started ones) ...
    let metrics = poll_until(
        "the upgraded pod to reconcile every object",
        Duration::from_secs(120),
        || async {
            let metrics = pod_http_get(release_ns, &name, 8080, "/metrics").await?;
            let done = ONE_OF_EACH_KIND.iter().all(|(kind, _)| {
                metric_value(
                    &metrics,
                    "ecs_operator_reconcile_duration_seconds_count",
                    &[("kind", kind)],
                ) >= envs.len() as f64
            });
            Ok(done.then_some(metrics))
        },
    )
    .await?;
    // ... and wrote nothing to AWS.
    let writes = mutating_calls(&metrics);
    ensure!(
        writes.is_empty(),
        "the upgraded operator made mutating AWS calls: {writes:?}"
    );
    ensure!(
        metric_value(&metrics, "ecs_operator_aws_calls_total", &[]) > 0.0,
        "the upgraded pod made no AWS calls at all: did it observe?\n{metrics}"
    );
    // Objects kept their status (same ARNs, Ready since the same moment, same generation).
    let after = statuses(&envs).await?;
    ensure!(
        before == after,
        "status changed across the upgrade:\nbefore {before:#?}\nafter {after:#?}"
    );
    let revisions_after = revisions(&envs, &names).await?;
    ensure!(
        revisions_before == revisions_after,
        "AWS changed: {revisions_before:?} -> {revisions_after:?}"
    );
    Ok(())
}

/// `kubectl apply --server-side -f <path>`: the README's CRD upgrade command.
async fn kubectl_apply_crds(path: &Path) -> Result<String> {
    let path = path.display().to_string();
    tool("kubectl", &["apply", "--server-side", "-f", &path]).await
}

/// The chart's CRDs with one more printer column in every version.
fn changed_crds() -> Result<String> {
    let text = std::fs::read_to_string(crd_file()).context("read the chart's CRDs")?;
    let mut docs = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let mut crd: Value = serde::Deserialize::deserialize(doc)?;
        for version in crd["spec"]["versions"].as_array_mut().into_iter().flatten() {
            let column = json!({"name": NEW_COLUMN, "type": "string", "priority": 1,
                "jsonPath": ".metadata.creationTimestamp"});
            match version["additionalPrinterColumns"].as_array_mut() {
                Some(columns) => columns.push(column),
                None => version["additionalPrinterColumns"] = json!([column]),
            }
        }
        docs.push(serde_yaml::to_string(&crd)?);
    }
    Ok(docs.join("---\n"))
}

fn dynamic(env: &TestEnv, kind: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("ecs.operator.dev", "v1alpha1", kind);
    Api::namespaced_with(
        env.client.clone(),
        &env.namespace,
        &ApiResource::from_gvk(&gvk),
    )
}

/// Each object's status and generation, keyed by namespace/kind/name.
/// [`statuses`] once they have not changed for 15 s (resync 5 s: kept answers serve up to
/// 7.5 s, a reconcile comes every 5 s), within two minutes.
async fn settled_statuses(envs: &[&TestEnv; 3]) -> Result<BTreeMap<String, Value>> {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let mut last = statuses(envs).await?;
    let mut since = std::time::Instant::now();
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = statuses(envs).await?;
        if now != last {
            last = now;
            since = std::time::Instant::now();
        } else if since.elapsed() >= Duration::from_secs(15) {
            return Ok(last);
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "statuses kept changing for two minutes: {last:#?}"
        );
    }
}

async fn statuses(envs: &[&TestEnv; 3]) -> Result<BTreeMap<String, Value>> {
    let mut all = BTreeMap::new();
    for env in envs {
        for (kind, name) in ONE_OF_EACH_KIND {
            let obj = dynamic(env, kind).get(name).await?;
            all.insert(
                format!("{}/{kind}/{name}", env.namespace),
                json!({"generation": obj.metadata.generation, "status": obj.data["status"]}),
            );
        }
    }
    Ok(all)
}

/// Every task-definition revision of each family (any status) and each service's deployments:
/// what a write would change.
async fn revisions(envs: &[&TestEnv; 3], names: &[&OneOfEachKind; 3]) -> Result<Vec<String>> {
    let mut seen = Vec::new();
    for (env, n) in envs.iter().zip(names) {
        let tds = env
            .ecs
            .list_task_definitions()
            .family_prefix(&n.family)
            .send()
            .await?;
        seen.extend(tds.task_definition_arns().iter().cloned());
        let services = env
            .ecs
            .describe_services()
            .cluster(&n.cluster)
            .services("web")
            .send()
            .await?;
        for s in services.services() {
            for d in s.deployments() {
                seen.push(format!(
                    "{}: {:?} {:?}",
                    n.cluster,
                    d.id(),
                    d.task_definition()
                ));
            }
            seen.push(format!("{}: desired {}", n.cluster, s.desired_count()));
        }
    }
    Ok(seen)
}

/// `aws_calls_total` series whose operation changes AWS (anything but reads).
fn mutating_calls(metrics: &str) -> Vec<String> {
    metrics
        .lines()
        .filter(|l| l.starts_with("ecs_operator_aws_calls_total{"))
        .filter(|l| {
            let op = l
                .split("operation=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or_default();
            !["Describe", "List", "Get", "BatchGet"]
                .iter()
                .any(|read| op.starts_with(read))
        })
        .filter(|l| l.rsplit(' ').next().is_some_and(|v| v != "0"))
        .map(str::to_string)
        .collect()
}

#[test]
fn mutating_calls_are_the_non_read_operations_with_a_count() {
    let metrics = "# HELP ecs_operator_aws_calls_total AWS calls.\n\
        ecs_operator_aws_calls_total{service=\"ecs\",operation=\"DescribeServices\"} 7\n\
        ecs_operator_aws_calls_total{service=\"ecr\",operation=\"GetLifecyclePolicy\"} 2\n\
        ecs_operator_aws_calls_total{service=\"ecs\",operation=\"ListTagsForResource\"} 3\n\
        ecs_operator_aws_calls_total{service=\"ecr\",operation=\"CreateRepository\"} 1\n\
        ecs_operator_aws_calls_total{service=\"ecs\",operation=\"TagResource\"} 0\n\
        ecs_operator_aws_calls_total{service=\"ecs\",operation=\"UpdateService\"} 2\n";
    assert_eq!(
        mutating_calls(metrics),
        vec![
            "ecs_operator_aws_calls_total{service=\"ecr\",operation=\"CreateRepository\"} 1",
            "ecs_operator_aws_calls_total{service=\"ecs\",operation=\"UpdateService\"} 2",
        ]
    );
}
