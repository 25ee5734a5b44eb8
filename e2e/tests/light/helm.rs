//! The Helm chart (charts/ecs-operator) against the real bed: lint and schema, the rendered pod and
//! RBAC, install and uninstall (CRDs, objects and AWS resources survive), and what the chart's
//! ServiceAccount may and may not do.
//!
//! The light bed has no kubelet or controller-manager, so the chart's Deployment never runs a pod
//! here: releases are installed without `--wait`. The chart's pod itself runs on the node bed
//! (e2e/tests/node/).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail, ensure};
use e2e::image::operator_version;
use e2e::{TestEnv, manifest, tool, tool_output, unique};
use ecs_operator::api::{EcrRepository, EcsCluster, EcsService};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams};
use serde_json::{Value, json};

/// Plurals of every kind the operator serves (the kind registry's).
fn kinds() -> Vec<String> {
    ecs_operator::kinds::plurals()
}

fn chart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/ecs-operator")
}

fn chart_arg() -> String {
    chart().display().to_string()
}

async fn helm(args: &[&str]) -> Result<String> {
    tool("helm", args).await
}

/// `helm template` with `--set` values, as JSON documents (release `x` in namespace `ops`).
async fn render(sets: &[&str]) -> Result<Vec<Value>> {
    let chart = chart_arg();
    let mut args = vec!["template", "x", &chart, "--namespace", "ops"];
    for set in sets {
        args.extend(["--set", set]);
    }
    let yaml = helm(&args).await?;
    yaml_documents(&yaml)
}

use e2e::yaml_documents;

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

fn one<'a>(docs: &'a [Value], kind: &str) -> Result<&'a Value> {
    match of_kind(docs, kind).as_slice() {
        [doc] => Ok(doc),
        other => bail!("expected one {kind}, found {}", other.len()),
    }
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// Does this Role/ClusterRole grant `verb` on `group`/`resource` (optionally for one name)?
fn grants(role: &Value, group: &str, resource: &str, verb: &str, name: Option<&str>) -> bool {
    role["rules"].as_array().into_iter().flatten().any(|r| {
        let names = strings(&r["resourceNames"]);
        strings(&r["apiGroups"]).contains(&group)
            && strings(&r["resources"]).contains(&resource)
            && strings(&r["verbs"]).contains(&verb)
            && (names.is_empty() || name.is_some_and(|n| names.contains(&n)))
    })
}

/// Fails unless `role` grants each of `verbs` on `group`/`resource` (for `name` when given).
fn ensure_grants(
    role: &Value,
    group: &str,
    resource: &str,
    verbs: &[&str],
    name: Option<&str>,
) -> Result<()> {
    for verb in verbs {
        ensure!(
            grants(role, group, resource, verb, name),
            "{} does not grant {verb} on {resource} ({group:?}, name {name:?})",
            role["metadata"]["name"]
        );
    }
    Ok(())
}

/// No rule anywhere in the rendered chart reaches secrets, pods, RBAC, wildcards or deletion.
fn assert_least_privilege(docs: &[Value]) -> Result<()> {
    for role in of_kind(docs, "Role")
        .into_iter()
        .chain(of_kind(docs, "ClusterRole"))
    {
        for rule in role["rules"].as_array().into_iter().flatten() {
            for group in strings(&rule["apiGroups"]) {
                ensure!(
                    group != "*" && group != "rbac.authorization.k8s.io",
                    "rule on group {group}: {rule}"
                );
            }
            for resource in strings(&rule["resources"]) {
                let base = resource.split('/').next().unwrap_or_default();
                ensure!(
                    !["*", "secrets", "pods", "configmaps", "serviceaccounts"].contains(&base),
                    "rule on {resource}: {rule}"
                );
            }
            // ttlSecondsAfterFinished: the operator deletes finished EcsTasks (as the Job TTL
            // controller deletes Jobs); nothing else.
            let ttl_only = strings(&rule["resources"]) == ["ecstasks"];
            for verb in strings(&rule["verbs"]) {
                if ttl_only && verb == "delete" {
                    continue;
                }
                ensure!(
                    ![
                        "*",
                        "delete",
                        "deletecollection",
                        "escalate",
                        "bind",
                        "impersonate"
                    ]
                    .contains(&verb),
                    "verb {verb}: {rule}"
                );
            }
        }
    }
    Ok(())
}

fn env_of(container: &Value) -> Vec<(String, Value)> {
    container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let value = if e["valueFrom"].is_null() {
                e["value"].clone()
            } else {
                e["valueFrom"].clone()
            };
            (e["name"].as_str().unwrap_or_default().to_string(), value)
        })
        .collect()
}

fn env_value(env: &[(String, Value)], name: &str) -> Option<Value> {
    env.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
}

/// The hardened pod: security contexts, probes on the metrics port, requests and limits, env.
fn assert_hardened_pod(docs: &[Value], watch_namespace: Option<&str>) -> Result<()> {
    let deployment = one(docs, "Deployment")?;
    let pod = &deployment["spec"]["template"]["spec"];
    let psc = &pod["securityContext"];
    ensure!(psc["runAsNonRoot"] == true, "runAsNonRoot: {psc}");
    ensure!(psc["runAsUser"] == 65532, "runAsUser: {psc}");
    ensure!(
        psc["seccompProfile"]["type"] == "RuntimeDefault",
        "seccomp: {psc}"
    );
    ensure!(
        pod["serviceAccountName"] == one(docs, "ServiceAccount")?["metadata"]["name"],
        "serviceAccountName: {pod}"
    );

    let containers = pod["containers"].as_array().context("containers")?;
    ensure!(containers.len() == 1, "{containers:?}");
    let c = &containers[0];
    let csc = &c["securityContext"];
    ensure!(csc["readOnlyRootFilesystem"] == true, "{csc}");
    ensure!(csc["allowPrivilegeEscalation"] == false, "{csc}");
    ensure!(csc["capabilities"]["drop"] == json!(["ALL"]), "{csc}");
    ensure!(c["args"] == json!(["run"]), "args: {}", c["args"]);

    let chart_yaml: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(chart().join("Chart.yaml"))?)?;
    let app_version = chart_yaml["appVersion"].as_str().context("appVersion")?;
    ensure!(
        c["image"] == format!("ecs-operator:{app_version}"),
        "image: {}",
        c["image"]
    );

    ensure!(
        c["ports"] == json!([{"name": "metrics", "containerPort": 8080, "protocol": "TCP"}]),
        "ports: {}",
        c["ports"]
    );
    ensure!(
        c["livenessProbe"]["httpGet"] == json!({"path": "/healthz", "port": "metrics"}),
        "liveness: {}",
        c["livenessProbe"]
    );
    ensure!(
        c["readinessProbe"]["httpGet"] == json!({"path": "/readyz", "port": "metrics"}),
        "readiness: {}",
        c["readinessProbe"]
    );
    for (kind, res) in [("requests", "cpu"), ("requests", "memory")]
        .into_iter()
        .chain([("limits", "cpu"), ("limits", "memory")])
    {
        ensure!(
            !c["resources"][kind][res].is_null(),
            "{kind}.{res} unset: {}",
            c["resources"]
        );
    }

    let env = env_of(c);
    let expect = |name: &str, want: Value| -> Result<()> {
        let got = env_value(&env, name);
        ensure!(
            got.as_ref() == Some(&want),
            "env {name}: {got:?}, want {want}"
        );
        Ok(())
    };
    expect(
        "POD_NAME",
        json!({"fieldRef": {"fieldPath": "metadata.name"}}),
    )?;
    expect(
        "POD_NAMESPACE",
        json!({"fieldRef": {"fieldPath": "metadata.namespace"}}),
    )?;
    expect("ECS_OPERATOR_REGION", json!("eu-west-1"))?;
    expect("ECS_OPERATOR_METRICS_BIND_ADDRESS", json!("0.0.0.0:8080"))?;
    expect("ECS_OPERATOR_LOG_FORMAT", json!("json"))?;
    expect("ECS_OPERATOR_DEFAULT_DELETION_POLICY", json!("Delete"))?;
    expect("ECS_OPERATOR_RESYNC_SECONDS", json!("300"))?;
    expect("ECS_OPERATOR_LEADER_ELECTION", json!("true"))?;
    expect("ECS_OPERATOR_LEADER_ELECTION_NAMESPACE", json!("ops"))?;
    expect(
        "ECS_OPERATOR_LEADER_ELECTION_LEASE_NAME",
        json!("x-ecs-operator-leader"),
    )?;
    ensure!(
        env_value(&env, "ECS_OPERATOR_WATCH_NAMESPACE") == watch_namespace.map(|n| json!(n)),
        "watch namespace env: {env:?}"
    );

    ensure!(
        env_value(&env, "AWS_ENDPOINT_URL").is_none(),
        "endpoint set by default"
    );
    Ok(())
}

#[tokio::test]
async fn lint_passes_and_the_schema_rejects_bad_values() -> Result<()> {
    let chart = chart_arg();
    helm(&["lint", &chart]).await?;
    helm(&["lint", "--strict", &chart]).await?;
    helm(&[
        "lint",
        "--strict",
        &chart,
        "--set",
        "watchNamespace=team-a,replicas=2,metrics.serviceMonitor.enabled=true,networkPolicy.enabled=true",
    ])
    .await?;

    for (set, complaint) in [
        ("logFormat=xml", "logFormat"),
        ("deletionPolicy=Orphan", "deletionPolicy"),
        ("image.pullPolicy=Sometimes", "pullPolicy"),
        ("replicas=0", "replicas"),
        // Only the leader reconciles; three replicas would let two standbys race for the lease.
        ("replicas=3", "replicas"),
        ("watchNamespace=Not_A_Namespace", "watchNamespace"),
        ("resyncSeconds=soon", "resyncSeconds"),
        ("metrics.port=70000", "port"),
        ("unknownKey=1", "unknownKey"),
        ("aws.unknownKey=1", "unknownKey"),
        // The API server would reject a number as an env value; the schema says so first.
        ("extraEnv[0].name=A,extraEnv[0].value=1", "extraEnv"),
        // Two replicas without a Lease would both write to AWS.
        ("replicas=2,leaderElection.enabled=false", "leaderElection"),
        // A shard name is a label value and part of a Lease and a Deployment name.
        ("sharding.shards={A}", "sharding"),
        ("sharding.shards={a,a}", "sharding"),
        ("sharding.replicas=3", "replicas"),
        (
            "sharding.shards={a},leaderElection.enabled=false",
            "leaderElection",
        ),
    ] {
        let out = tool_output("helm", &["template", "x", &chart, "--set", set]).await?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        ensure!(!out.status.success(), "--set {set} was accepted");
        ensure!(stderr.contains(complaint), "--set {set}: {stderr}");
    }
    let out = tool_output(
        "helm",
        &["lint", "--strict", &chart, "--set", "logFormat=xml"],
    )
    .await?;
    ensure!(!out.status.success(), "lint accepted logFormat=xml");
    Ok(())
}

/// `make chart` (in `make test`) runs `helm package`; the package a user installs names the
/// operator version the crate builds as its `appVersion` (the default image tag), and that version
/// has its section in CHANGELOG.md.
#[tokio::test]
async fn the_chart_packages_with_the_crate_version_as_app_version() -> Result<()> {
    let dir = std::env::temp_dir().join(unique("chart-package"));
    std::fs::create_dir_all(&dir)?;
    let result = async {
        let dest = dir.display().to_string();
        helm(&["package", &chart_arg(), "--destination", &dest]).await?;
        let packages: Vec<PathBuf> = std::fs::read_dir(&dir)?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<_>>()?;
        let [package] = &packages[..] else {
            bail!("helm package wrote {packages:?}");
        };
        let shown = helm(&["show", "chart", &package.display().to_string()]).await?;
        let chart: serde_yaml::Value = serde_yaml::from_str(&shown)?;
        let crate_version = operator_version()?;
        ensure!(
            chart["appVersion"].as_str() == Some(crate_version.as_str()),
            "the package's appVersion is {:?}, the crate's version {crate_version}",
            chart["appVersion"]
        );
        // The release the package carries has its CHANGELOG section.
        let changelog = std::fs::read_to_string(e2e::repo_root().join("CHANGELOG.md"))?;
        ensure!(
            changelog.lines().any(|l| l
                .strip_prefix("## ")
                .and_then(|h| h.split_whitespace().next())
                == Some(crate_version.as_str())),
            "CHANGELOG.md has no `## {crate_version}` section"
        );
        let version = chart["version"].as_str().context("no chart version")?;
        ensure!(
            package.file_name() == Some(format!("ecs-operator-{version}.tgz").as_ref()),
            "{package:?}"
        );
        Ok(())
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

#[tokio::test]
async fn template_renders_a_hardened_pod_and_least_privilege_rbac_in_both_modes() -> Result<()> {
    // All namespaces: one ClusterRole for the kinds, events and namespaces.
    let docs = render(&["aws.region=eu-west-1"]).await?;
    assert_hardened_pod(&docs, None)?;
    assert_least_privilege(&docs)?;
    ensure!(
        of_kind(&docs, "ValidatingAdmissionPolicy").is_empty(),
        "an admission policy in the cluster-wide mode"
    );
    let cluster_role = one(&docs, "ClusterRole")?;
    for kind in &kinds() {
        let all = ["get", "list", "watch", "patch", "update"];
        ensure_grants(cluster_role, "ecs.operator.dev", kind, &all, None)?;
        let status = format!("{kind}/status");
        ensure_grants(
            cluster_role,
            "ecs.operator.dev",
            &status,
            &["get", "patch", "update"],
            None,
        )?;
        let finalizers = format!("{kind}/finalizers");
        ensure_grants(
            cluster_role,
            "ecs.operator.dev",
            &finalizers,
            &["update"],
            None,
        )?;
        ensure!(!grants(
            cluster_role,
            "ecs.operator.dev",
            kind,
            "create",
            None
        ));
    }
    for group in ["", "events.k8s.io"] {
        ensure_grants(cluster_role, group, "events", &["create", "patch"], None)?;
    }
    ensure_grants(
        cluster_role,
        "",
        "namespaces",
        &["get", "list", "watch"],
        None,
    )?;
    let binding = one(&docs, "ClusterRoleBinding")?;
    ensure!(
        binding["subjects"]
            == json!([{"kind": "ServiceAccount", "name": "x-ecs-operator", "namespace": "ops"}]),
        "{binding}"
    );
    // The only Role is the leader-election one, in the release namespace.
    let role = one(&docs, "Role")?;
    ensure!(role["metadata"]["namespace"] == "ops", "{role}");
    ensure_grants(role, "coordination.k8s.io", "leases", &["create"], None)?;
    let lease = Some("x-ecs-operator-leader");
    ensure_grants(
        role,
        "coordination.k8s.io",
        "leases",
        &["get", "patch"],
        lease,
    )?;
    ensure!(!grants(
        role,
        "coordination.k8s.io",
        "leases",
        "patch",
        Some("someone-else")
    ));
    ensure!(
        of_kind(&docs, "PodDisruptionBudget").is_empty(),
        "PDB with one replica"
    );
    ensure!(of_kind(&docs, "ServiceMonitor").is_empty());
    ensure!(of_kind(&docs, "NetworkPolicy").is_empty());
    let service = one(&docs, "Service")?;
    ensure!(
        service["spec"]["ports"][0]["targetPort"] == "metrics",
        "{service}"
    );

    // One namespace: the rules in a ClusterRole granted only there (a RoleBinding an admission
    // policy keeps while the namespace is deleted), and only that Namespace object and the CRDs
    // cluster-wide.
    let docs = render(&[
        "aws.region=eu-west-1",
        "watchNamespace=team-a",
        "replicas=2",
        "metrics.serviceMonitor.enabled=true",
        "networkPolicy.enabled=true",
        "extraEnv[0].name=EXTRA,extraEnv[0].value=on",
        "podAnnotations.a=b",
    ])
    .await?;
    assert_hardened_pod(&docs, Some("team-a"))?;
    assert_least_privilege(&docs)?;
    ensure!(
        of_kind(&docs, "Role")
            .iter()
            .all(|r| r["metadata"]["namespace"] == "ops"),
        "a Role outside the release namespace"
    );
    let cluster_roles = of_kind(&docs, "ClusterRole");
    let watched = cluster_roles
        .iter()
        .find(|r| r["metadata"]["name"] == "x-ecs-operator-ops-watch")
        .context("no ClusterRole x-ecs-operator-ops-watch")?;
    let binding = of_kind(&docs, "RoleBinding")
        .into_iter()
        .find(|b| b["metadata"]["namespace"] == "team-a")
        .context("no RoleBinding in team-a")?;
    ensure!(
        binding["roleRef"]
            == json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "x-ecs-operator-ops-watch"})
            && binding["metadata"]["name"] == "x-ecs-operator"
            && binding["subjects"][0]["namespace"] == "ops",
        "RoleBinding in team-a: {binding}"
    );
    // The policy that keeps it: DELETE of that binding in team-a, denied by its binding.
    let policy = one(&docs, "ValidatingAdmissionPolicy")?;
    ensure!(
        policy["metadata"]["name"] == "x-ecs-operator-ops-keep-rbac"
            && policy["spec"]["failurePolicy"] == "Fail"
            && policy["spec"]["matchConstraints"]["namespaceSelector"]["matchLabels"]
                == json!({"kubernetes.io/metadata.name": "team-a"})
            && policy["spec"]["matchConstraints"]["resourceRules"]
                == json!([{"apiGroups": ["rbac.authorization.k8s.io"], "apiVersions": ["*"],
                    "operations": ["DELETE"], "resources": ["rolebindings"]}])
            && policy["spec"]["matchConditions"][0]["expression"]
                .as_str()
                .is_some_and(|e| e.ends_with("== \"x-ecs-operator\"")),
        "{policy}"
    );
    let policy_binding = one(&docs, "ValidatingAdmissionPolicyBinding")?;
    ensure!(
        policy_binding["spec"]
            == json!({"policyName": "x-ecs-operator-ops-keep-rbac", "validationActions": ["Deny"]}),
        "{policy_binding}"
    );
    ensure!(
        of_kind(&docs, "ClusterRoleBinding")
            .iter()
            .all(|b| b["roleRef"]["name"] != "x-ecs-operator-ops-watch"),
        "the kinds' ClusterRole is bound cluster-wide"
    );

    for kind in &kinds() {
        ensure_grants(
            watched,
            "ecs.operator.dev",
            kind,
            &["list", "watch", "patch"],
            None,
        )?;
        let finalizers = format!("{kind}/finalizers");
        ensure_grants(watched, "ecs.operator.dev", &finalizers, &["update"], None)?;
    }
    ensure_grants(
        watched,
        "events.k8s.io",
        "events",
        &["create", "patch"],
        None,
    )?;
    let cluster_role = cluster_roles
        .iter()
        .find(|r| r["metadata"]["name"] == "x-ecs-operator-ops")
        .context("no ClusterRole x-ecs-operator-ops")?;
    let verbs = ["get", "list", "watch"];
    ensure_grants(cluster_role, "", "namespaces", &verbs, Some("team-a"))?;
    ensure!(!grants(
        cluster_role,
        "",
        "namespaces",
        "get",
        Some("kube-system")
    ));
    let crd = Some("ecsservices.ecs.operator.dev");
    ensure_grants(
        cluster_role,
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        &["get"],
        crd,
    )?;
    for kind in &kinds() {
        ensure!(
            !grants(cluster_role, "ecs.operator.dev", kind, "list", None),
            "{kind} cluster-wide"
        );
    }
    ensure!(one(&docs, "PodDisruptionBudget")?["spec"]["minAvailable"] == 1);
    ensure!(one(&docs, "ServiceMonitor")?["spec"]["endpoints"][0]["port"] == "metrics");
    ensure!(one(&docs, "NetworkPolicy")?["spec"]["policyTypes"] == json!(["Ingress"]));
    let deployment = one(&docs, "Deployment")?;
    let env = env_of(&deployment["spec"]["template"]["spec"]["containers"][0]);
    ensure!(env_value(&env, "EXTRA") == Some(json!("on")), "{env:?}");
    ensure!(deployment["spec"]["template"]["metadata"]["annotations"]["a"] == "b");

    // Leader election off: no Lease rights and no overlapping pods during a rollout.
    let docs = render(&["leaderElection.enabled=false"]).await?;
    assert_least_privilege(&docs)?;
    ensure!(
        of_kind(&docs, "Role").is_empty(),
        "a Role without leader election"
    );
    let deployment = one(&docs, "Deployment")?;
    ensure!(deployment["spec"]["strategy"]["type"] == "Recreate");
    let env = env_of(&deployment["spec"]["template"]["spec"]["containers"][0]);
    ensure!(env_value(&env, "ECS_OPERATOR_LEADER_ELECTION") == Some(json!("false")));
    ensure!(env_value(&env, "ECS_OPERATOR_LEADER_ELECTION_LEASE_NAME").is_none());
    Ok(())
}

/// Does a pod with `labels` match this label selector (`matchLabels`, and `matchExpressions`
/// with `Exists` / `DoesNotExist`, the only operators the chart uses)?
fn selects(selector: &Value, labels: &Value) -> Result<bool> {
    let label_matches = selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .all(|(k, v)| labels[k] == *v);
    let mut expressions_match = true;
    for e in selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let present = !labels[e["key"].as_str().unwrap_or_default()].is_null();
        expressions_match &= match e["operator"].as_str() {
            Some("Exists") => present,
            Some("DoesNotExist") => !present,
            other => bail!("operator {other:?} in {selector}"),
        };
    }
    Ok(label_matches && expressions_match)
}

/// `sharding.shards`: one more Deployment per shard, with the shard label on it, its selector and
/// its pods, `ECS_OPERATOR_SHARD`, and the rights on its own Lease; beside shards the main
/// Deployment gets `ECS_OPERATOR_EXCLUDE_SHARDED`. Every pod is selected by its own Deployment
/// only among the shards, and covered by exactly one PodDisruptionBudget (the eviction API
/// refuses a pod two budgets cover). Without shards nothing of this is rendered.
#[tokio::test]
async fn template_renders_a_deployment_a_lease_and_a_budget_per_shard() -> Result<()> {
    let docs = render(&[
        "aws.region=eu-west-1",
        "replicas=2",
        "sharding.shards={a,b}",
    ])
    .await?;
    assert_least_privilege(&docs)?;
    let deployments = of_kind(&docs, "Deployment");
    let names: Vec<&str> = deployments
        .iter()
        .filter_map(|d| d["metadata"]["name"].as_str())
        .collect();
    ensure!(
        names
            == [
                "x-ecs-operator",
                "x-ecs-operator-shard-a",
                "x-ecs-operator-shard-b"
            ],
        "{names:?}"
    );
    let role = one(&docs, "Role")?;
    let budgets = of_kind(&docs, "PodDisruptionBudget");
    ensure!(budgets.len() == 3, "{budgets:?}");
    for (deployment, shard) in deployments.iter().zip([None, Some("a"), Some("b")]) {
        let spec = &deployment["spec"];
        ensure!(spec["replicas"] == 2, "{}", spec["replicas"]);
        let pod_labels = &spec["template"]["metadata"]["labels"];
        ensure!(
            pod_labels["ecs.operator.dev/shard"].as_str() == shard,
            "pod labels {pod_labels}"
        );
        ensure!(
            spec["selector"]["matchLabels"]["ecs.operator.dev/shard"].as_str() == shard,
            "selector {}",
            spec["selector"]
        );
        let env = env_of(&spec["template"]["spec"]["containers"][0]);
        ensure!(
            env_value(&env, "ECS_OPERATOR_SHARD") == shard.map(|s| json!(s)),
            "{env:?}"
        );
        ensure!(
            env_value(&env, "ECS_OPERATOR_EXCLUDE_SHARDED")
                == shard.is_none().then(|| json!("true")),
            "{env:?}"
        );
        // The binary appends the shard to the base name: the Role must name that Lease.
        ensure!(
            env_value(&env, "ECS_OPERATOR_LEADER_ELECTION_LEASE_NAME")
                == Some(json!("x-ecs-operator-leader")),
            "{env:?}"
        );
        let lease = match shard {
            Some(s) => format!("x-ecs-operator-leader-{s}"),
            None => "x-ecs-operator-leader".to_string(),
        };
        ensure_grants(
            role,
            "coordination.k8s.io",
            "leases",
            &["get", "patch"],
            Some(&lease),
        )?;
        let mut covering = Vec::new();
        for budget in &budgets {
            if selects(&budget["spec"]["selector"], pod_labels)? {
                covering.push(budget["metadata"]["name"].clone());
            }
        }
        ensure!(
            covering.len() == 1,
            "{names:?}: pods of {} are covered by {covering:?}",
            deployment["metadata"]["name"]
        );
        // A shard's Deployment selects its own pods only.
        for other in &deployments {
            let theirs = &other["spec"]["template"]["metadata"]["labels"];
            if shard.is_some() && other["metadata"]["name"] != deployment["metadata"]["name"] {
                ensure!(
                    !selects(&spec["selector"], theirs)?,
                    "{} selects the pods of {}",
                    deployment["metadata"]["name"],
                    other["metadata"]["name"]
                );
            }
        }
    }
    ensure!(!grants(
        role,
        "coordination.k8s.io",
        "leases",
        "patch",
        Some("x-ecs-operator-leader-c")
    ));

    // Without shards: one Deployment, no shard settings.
    let docs = render(&["aws.region=eu-west-1"]).await?;
    let env = env_of(&one(&docs, "Deployment")?["spec"]["template"]["spec"]["containers"][0]);
    ensure!(env_value(&env, "ECS_OPERATOR_SHARD").is_none(), "{env:?}");
    ensure!(
        env_value(&env, "ECS_OPERATOR_EXCLUDE_SHARDED").is_none(),
        "{env:?}"
    );
    Ok(())
}

/// A copy of the chart whose CRDs are renamed into a group of their own (no short names or
/// categories), so Helm's first-install CRD handling can be watched on the shared bed without
/// touching the real CRDs. Returns the chart directory and the CRD names.
fn chart_with_renamed_crds(group: &str) -> Result<(PathBuf, Vec<String>)> {
    let dir = std::env::temp_dir().join(group);
    copy_dir(&chart(), &dir)?;
    let source = std::fs::read_to_string(chart().join("crds/ecs.operator.dev.yaml"))?;
    let mut out = String::new();
    let mut names = Vec::new();
    for mut crd in yaml_documents(&source)? {
        let spec_names = &mut crd["spec"]["names"];
        let names_obj = spec_names.as_object_mut().context("spec.names")?;
        for (field, prefix) in [
            ("kind", "Helmtest"),
            ("listKind", "Helmtest"),
            ("plural", "helmtest"),
            ("singular", "helmtest"),
        ] {
            if let Some(Value::String(v)) = names_obj.get_mut(field) {
                *v = format!("{prefix}{v}");
            }
        }
        names_obj.remove("shortNames");
        names_obj.remove("categories");
        let name = format!(
            "{}.{group}",
            crd["spec"]["names"]["plural"].as_str().unwrap_or_default()
        );
        crd["spec"]["group"] = json!(group);
        crd["metadata"]["name"] = json!(name);
        names.push(name);
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&crd)?);
    }
    ensure!(names.len() == kinds().len(), "chart CRDs: {names:?}");
    std::fs::write(dir.join("crds/ecs.operator.dev.yaml"), out)?;
    Ok((dir, names))
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Polls `check` until it returns Some, failing with the last error after [`e2e::DEADLINE`].
async fn poll<T, F, Fut>(what: &str, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let start = std::time::Instant::now();
    loop {
        let last = match check().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => "not yet".to_string(),
            Err(e) => format!("{e:#}"),
        };
        if start.elapsed() > e2e::DEADLINE {
            bail!("timed out waiting for {what}: {last}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
}

/// The chart README's uninstall recipe deletes the objects of every kind of the registry before the
/// CRDs go (a kind left out would be deleted with its CRD, its AWS resource with it if an operator
/// still ran, or leave its finalizers hanging).
#[test]
fn readme_uninstall_deletes_every_kind() -> Result<()> {
    let readme = std::fs::read_to_string(chart().join("README.md"))?;
    let named: Vec<Vec<String>> = readme
        .lines()
        .filter_map(|l| l.trim().strip_prefix("kubectl delete "))
        .filter(|rest| rest.contains("--all"))
        .map(|rest| {
            let resources = rest.split_whitespace().next().unwrap_or_default();
            let mut plurals: Vec<String> = resources.split(',').map(str::to_string).collect();
            plurals.sort();
            plurals
        })
        .collect();
    ensure!(
        !named.is_empty(),
        "the chart README has no `kubectl delete ... --all` line"
    );
    let mut want = kinds();
    want.sort();
    for plurals in &named {
        ensure!(
            plurals == &want,
            "the chart README deletes {plurals:?}; the kind registry has {want:?}"
        );
    }
    Ok(())
}

async fn kube_client() -> Result<kube::Client> {
    kube::Client::try_default()
        .await
        .context("kube client from KUBECONFIG (start the bed: eval \"$(e2e/env up)\")")
}

#[tokio::test]
async fn helm_installs_the_chart_crds_on_first_install_and_uninstall_keeps_them() -> Result<()> {
    let client = kube_client().await?;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let group = format!("{}.helmtest.dev", unique("crds"));
    let (dir, names) = chart_with_renamed_crds(&group)?;
    let release = unique("crds");
    let namespace = unique("helm-crds");
    let result = install_and_uninstall_keeps_crds(&crds, &dir, &names, &release, &namespace).await;
    uninstall(&client, &release, &namespace).await;
    for name in &names {
        let _ = crds.delete(name, &DeleteParams::default()).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn install_and_uninstall_keeps_crds(
    crds: &Api<CustomResourceDefinition>,
    dir: &Path,
    names: &[String],
    release: &str,
    namespace: &str,
) -> Result<()> {
    for name in names {
        ensure!(crds.get_opt(name).await?.is_none(), "{name} exists already");
    }
    let dir = dir.display().to_string();
    helm(&[
        "install",
        release,
        &dir,
        "--namespace",
        namespace,
        "--create-namespace",
    ])
    .await?;
    // Helm created the CRDs from crds/ before the templates; the API server establishes them.
    for name in names {
        let crd = poll(&format!("CRD {name} Established"), || async {
            let crd = crds.get(name).await?;
            let established = crd
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .into_iter()
                .flatten()
                .any(|c| c.type_ == "Established" && c.status == "True");
            Ok(established.then_some(crd))
        })
        .await?;
        let annotations = crd.metadata.annotations.unwrap_or_default();
        ensure!(
            !annotations.contains_key("meta.helm.sh/release-name"),
            "Helm took ownership of {name}: it would delete it"
        );
    }

    helm(&["uninstall", release, "--namespace", namespace]).await?;
    for name in names {
        ensure!(
            crds.get_opt(name).await?.is_some(),
            "helm uninstall deleted CRD {name}"
        );
    }
    Ok(())
}

async fn crd_versions(client: &kube::Client) -> Result<Vec<String>> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut versions = Vec::new();
    for kind in &kinds() {
        let crd = crds.get(&format!("{kind}.ecs.operator.dev")).await?;
        versions.push(crd.metadata.resource_version.unwrap_or_default());
    }
    Ok(versions)
}

#[tokio::test]
async fn install_over_existing_crds_and_uninstall_keeps_objects_and_aws_resources() -> Result<()> {
    // The harness has applied crds/ already; the operator here runs with admin rights and keeps
    // reconciling through the uninstall, so a deleted CRD (and with it the objects) would show up
    // as deleted AWS resources.
    let env = TestEnv::new("helm-keep").await?;
    let repo = unique("helm-keep");
    let cluster = unique("helm-keep");
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
    env.wait_condition::<EcrRepository>("repo", "Ready", "True", None)
        .await?;
    env.wait_condition::<EcsCluster>("cluster", "Ready", "True", None)
        .await?;
    let before = crd_versions(&env.client).await?;

    let release = unique("keep");
    let chart = chart_arg();
    helm(&[
        "install",
        &release,
        &chart,
        "--namespace",
        &env.namespace,
        "--set",
        "aws.region=us-east-1",
    ])
    .await?;
    let deployments: Api<Deployment> = env.api();
    let name = format!("{release}-ecs-operator");
    ensure!(
        deployments.get_opt(&name).await?.is_some(),
        "deployment {name} missing"
    );
    ensure!(
        crd_versions(&env.client).await? == before,
        "helm install changed existing CRDs"
    );

    helm(&["uninstall", &release, "--namespace", &env.namespace]).await?;
    ensure!(
        deployments.get_opt(&name).await?.is_none(),
        "deployment survived uninstall"
    );
    ensure!(
        crd_versions(&env.client).await? == before,
        "helm uninstall changed the CRDs"
    );
    let kept = env.api::<EcrRepository>().get("repo").await?;
    ensure!(kept.metadata.deletion_timestamp.is_none(), "{kept:?}");
    let kept = env.api::<EcsCluster>().get("cluster").await?;
    ensure!(kept.metadata.deletion_timestamp.is_none(), "{kept:?}");
    env.wait_condition::<EcrRepository>("repo", "Ready", "True", None)
        .await?;
    env.wait_condition::<EcsCluster>("cluster", "Ready", "True", None)
        .await?;
    let repos = env
        .ecr
        .describe_repositories()
        .repository_names(&repo)
        .send()
        .await
        .context("the ECR repository is gone")?;
    ensure!(repos.repositories().len() == 1);
    let clusters = env
        .ecs
        .describe_clusters()
        .clusters(&cluster)
        .send()
        .await?;
    ensure!(
        clusters
            .clusters()
            .iter()
            .any(|c| c.status() == Some("ACTIVE")),
        "{clusters:?}"
    );

    env.delete::<EcsCluster>("cluster").await?;
    env.wait_gone::<EcsCluster>("cluster").await?;
    env.delete::<EcrRepository>("repo").await?;
    env.wait_gone::<EcrRepository>("repo").await?;
    env.cleanup::<EcrRepository>().await
}

/// `kubectl auth can-i CHECK` as the ServiceAccount (with the groups its token carries); CHECK is
/// space-separated, e.g. "get secrets -n default".
async fn can_i(sa_namespace: &str, sa: &str, check: &str) -> Result<bool> {
    let cache = std::env::temp_dir().join(format!("{sa_namespace}-kubecache"));
    let mut args = vec!["auth".to_string(), "can-i".to_string()];
    args.extend(check.split_whitespace().map(str::to_string));
    args.extend([
        format!("--as=system:serviceaccount:{sa_namespace}:{sa}"),
        "--as-group=system:serviceaccounts".into(),
        format!("--as-group=system:serviceaccounts:{sa_namespace}"),
        "--as-group=system:authenticated".into(),
        format!("--cache-dir={}", cache.display()),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = tool_output("kubectl", &args).await?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // An unknown resource type is answered "no": that would make a deny check pass vacuously.
    ensure!(
        !stderr.contains("doesn't have a resource type"),
        "can-i {check}: {stderr}"
    );
    match stdout.trim() {
        "yes" => Ok(true),
        "no" => Ok(false),
        other => bail!("can-i {check}: {other} {stderr}"),
    }
}

/// Every `allowed` check says yes and every `denied` one says no; lists all that do not.
async fn expect_can(sa_ns: &str, sa: &str, allowed: &[String], denied: &[String]) -> Result<()> {
    let mut wrong = Vec::new();
    for (check, want) in allowed
        .iter()
        .map(|c| (c, true))
        .chain(denied.iter().map(|c| (c, false)))
    {
        if can_i(sa_ns, sa, check).await? != want {
            wrong.push(format!(
                "{}: {check}",
                if want { "denied" } else { "allowed" }
            ));
        }
    }
    let _ = std::fs::remove_dir_all(std::env::temp_dir().join(format!("{sa_ns}-kubecache")));
    ensure!(
        wrong.is_empty(),
        "RBAC of {sa_ns}/{sa}:\n{}",
        wrong.join("\n")
    );
    Ok(())
}

/// What the operator needs on its kinds and events in `namespace`.
fn kind_permissions(namespace: &str) -> Vec<String> {
    let mut out = Vec::new();
    for kind in &kinds() {
        for verb in ["get", "list", "watch", "patch", "update"] {
            out.push(format!("{verb} {kind}.ecs.operator.dev -n {namespace}"));
        }
        for verb in ["get", "patch", "update"] {
            out.push(format!(
                "{verb} {kind}.ecs.operator.dev --subresource=status -n {namespace}"
            ));
        }
        out.push(format!(
            "update {kind}.ecs.operator.dev --subresource=finalizers -n {namespace}"
        ));
    }
    for resource in ["events", "events.events.k8s.io"] {
        for verb in ["create", "patch"] {
            out.push(format!("{verb} {resource} -n {namespace}"));
        }
    }
    out
}

/// The Lease rights in the release namespace: create, and get/patch of this release's Lease.
fn lease_permissions(release_namespace: &str, lease: &str) -> Vec<String> {
    vec![
        format!("create leases.coordination.k8s.io -n {release_namespace}"),
        format!("get leases.coordination.k8s.io/{lease} -n {release_namespace}"),
        format!("patch leases.coordination.k8s.io/{lease} -n {release_namespace}"),
    ]
}

/// What the operator must never be able to do, in `namespace` and cluster-wide.
fn forbidden(namespace: &str) -> Vec<String> {
    let mut out: Vec<String> = [
        "get secrets",
        "list secrets",
        "get pods",
        "create pods",
        "create pods --subresource=exec",
        "get configmaps",
        "create ecrrepositories.ecs.operator.dev",
        "delete ecsservices.ecs.operator.dev",
        "create roles.rbac.authorization.k8s.io",
        "create rolebindings.rbac.authorization.k8s.io",
    ]
    .iter()
    .map(|c| format!("{c} -n {namespace}"))
    .collect();
    out.extend(
        [
            "list secrets -A",
            "create clusterroles.rbac.authorization.k8s.io",
            "create clusterrolebindings.rbac.authorization.k8s.io",
            "escalate clusterroles.rbac.authorization.k8s.io",
            "bind clusterroles.rbac.authorization.k8s.io",
            "impersonate serviceaccounts -A",
            "delete namespaces",
            "update customresourcedefinitions.apiextensions.k8s.io",
            "get customresourcedefinitions.apiextensions.k8s.io/deployments.apps",
        ]
        .map(String::from),
    );
    out
}

/// Deletes a release and its namespace, best effort (the bed never finalizes namespaces).
async fn uninstall(client: &kube::Client, release: &str, namespace: &str) {
    let _ = tool_output("helm", &["uninstall", release, "--namespace", namespace]).await;
    let _ = Api::<Namespace>::all(client.clone())
        .delete(namespace, &DeleteParams::default())
        .await;
}

#[tokio::test]
async fn all_namespaces_rbac_allows_what_is_needed_and_nothing_else() -> Result<()> {
    let client = kube_client().await?;
    let release = unique("rbac-all");
    let namespace = unique("helm-all");
    helm(&[
        "install",
        &release,
        &chart_arg(),
        "--namespace",
        &namespace,
        "--create-namespace",
        "--set",
        "aws.region=us-east-1",
    ])
    .await?;
    let sa = format!("{release}-ecs-operator");
    let lease = format!("{release}-ecs-operator-leader");

    let mut allowed = kind_permissions("default");
    allowed.extend(kind_permissions("some-team"));
    allowed.extend(lease_permissions(&namespace, &lease));
    for kind in &kinds() {
        allowed.push(format!("list {kind}.ecs.operator.dev -A"));
        allowed.push(format!("watch {kind}.ecs.operator.dev -A"));
    }
    allowed.extend(["get namespaces", "list namespaces", "watch namespaces"].map(String::from));
    allowed.push(
        "get customresourcedefinitions.apiextensions.k8s.io/ecsservices.ecs.operator.dev".into(),
    );
    let mut denied = forbidden("default");
    denied.extend(forbidden(&namespace));
    denied.push("get leases.coordination.k8s.io -n default".into());
    denied.push(format!(
        "patch leases.coordination.k8s.io/another-lease -n {namespace}"
    ));
    let result = expect_can(&namespace, &sa, &allowed, &denied).await;
    uninstall(&client, &release, &namespace).await;
    result
}

#[tokio::test]
async fn watch_namespace_rbac_is_enough_for_the_operator_and_nothing_more() -> Result<()> {
    // The watched namespace is the test's; the release (and ServiceAccount) live in another one.
    let mut env = TestEnv::new("helm-rbac").await?;
    // The operator must run as the chart's ServiceAccount, not as the harness's admin.
    env.stop_operator();
    let watched = env.namespace.clone();
    let release = unique("rbac-ns");
    let release_ns = unique("helm-ops");
    helm(&[
        "install",
        &release,
        &chart_arg(),
        "--namespace",
        &release_ns,
        "--create-namespace",
        "--set",
        &format!("aws.region=us-east-1,watchNamespace={watched}"),
    ])
    .await?;
    let result = watch_namespace_proof(&mut env, &release, &release_ns).await;
    env.stop_operator();
    uninstall(&env.client, &release, &release_ns).await;
    result?;
    env.cleanup::<EcsService>().await
}

async fn watch_namespace_proof(env: &mut TestEnv, release: &str, release_ns: &str) -> Result<()> {
    let watched = env.namespace.clone();
    let sa = format!("{release}-ecs-operator");
    let lease = format!("{release}-ecs-operator-leader");

    let mut allowed = kind_permissions(&watched);
    allowed.extend(lease_permissions(release_ns, &lease));
    for verb in ["get", "list", "watch"] {
        allowed.push(format!("{verb} namespaces/{watched}"));
    }
    allowed.push(
        "get customresourcedefinitions.apiextensions.k8s.io/ecrrepositories.ecs.operator.dev"
            .into(),
    );
    let mut denied = forbidden(&watched);
    denied.extend(forbidden(release_ns));
    for kind in &kinds() {
        denied.push(format!("list {kind}.ecs.operator.dev -A"));
        denied.push(format!("get {kind}.ecs.operator.dev -n default"));
        denied.push(format!("watch {kind}.ecs.operator.dev -n {release_ns}"));
    }
    denied.extend([
        "list namespaces".to_string(),
        "get namespaces/kube-system".into(),
        "create events -n default".into(),
        format!("get leases.coordination.k8s.io -n {watched}"),
    ]);
    // The operator itself reconciling with these rights runs as the chart's pod on the node
    // bed: e2e/tests/node/helm.rs.
    expect_can(release_ns, &sa, &allowed, &denied).await
}
