//! `ecs-operator export` -> apply round trip on an estate created directly in moto: every object
//! adopts its AWS resource (Ready and Synced), AWS is unchanged apart from the ownership tags, and
//! no task definition revision is registered. The estate includes an Express service: exported
//! as an EcsExpressService (not an EcsService, and its ECS-managed task definition not as a
//! TaskDefinition), adopted without a new deployment.

use std::collections::BTreeMap;
use std::process::Stdio;

use anyhow::{Context as _, Result, anyhow, ensure};
use aws_sdk_ecr::types as ecr;
use aws_sdk_ecs::types as ecs;
use e2e::{TestEnv, unique};
use ecs_operator::api::{
    EcrRepository, EcsCluster, EcsExpressService, EcsGateway, EcsService, TaskDefinition,
};
use kube::ResourceExt;
use kube::api::{DeleteParams, Patch, PatchParams};
use serde::Deserialize;
use serde_json::{Value, json};

const OWNER_TAG: &str = "ecs.operator.dev/owner";
const OWNER_UID_TAG: &str = "ecs.operator.dev/owner-uid";

const LIFECYCLE: &str = r#"{"rules":[{"rulePriority":1,"description":"keep 5 releases","selection":{"tagStatus":"tagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":5},"action":{"type":"expire"}}]}"#;

/// The AWS names of the estate.
struct Estate {
    repository: String,
    cluster: String,
    family: String,
    revisions: Vec<String>,
    /// The Express service's name and ARN.
    express: String,
    express_arn: String,
}

const SERVICES: [&str; 2] = ["web", "web_old"];

fn container(image: &str) -> Result<ecs::ContainerDefinition> {
    Ok(ecs::ContainerDefinition::builder()
        .name("web")
        .image(image)
        .memory(128)
        .port_mappings(
            ecs::PortMapping::builder()
                .container_port(80)
                .host_port(0)
                .build(),
        )
        .build())
}

/// A repository with a lifecycle policy and tags, a cluster with settings and capacity
/// providers, two revisions of a family, a service on the latest and one on the older revision.
async fn create_estate(env: &TestEnv) -> Result<Estate> {
    let repository = unique("exp-repo");
    env.ecr
        .create_repository()
        .repository_name(&repository)
        .image_tag_mutability(ecr::ImageTagMutability::Immutable)
        .image_scanning_configuration(
            ecr::ImageScanningConfiguration::builder()
                .scan_on_push(true)
                .build(),
        )
        .tags(ecr::Tag::builder().key("team").value("platform").build()?)
        .send()
        .await?;
    env.ecr
        .put_lifecycle_policy()
        .repository_name(&repository)
        .lifecycle_policy_text(LIFECYCLE)
        .send()
        .await?;

    // Underscores: object names must be derived, AWS names kept exactly.
    let cluster = unique("exp_cluster");
    env.ecs
        .create_cluster()
        .cluster_name(&cluster)
        .settings(
            ecs::ClusterSetting::builder()
                .name(ecs::ClusterSettingName::ContainerInsights)
                .value("enabled")
                .build(),
        )
        .capacity_providers("FARGATE")
        .capacity_providers("FARGATE_SPOT")
        .default_capacity_provider_strategy(
            ecs::CapacityProviderStrategyItem::builder()
                .capacity_provider("FARGATE")
                .weight(1)
                .build()?,
        )
        .tags(ecs::Tag::builder().key("env").value("e2e").build())
        .send()
        .await?;

    let family = unique("exp_web");
    let mut revisions = Vec::new();
    for image in ["nginx:1", "nginx:2"] {
        let out = env
            .ecs
            .register_task_definition()
            .family(&family)
            .network_mode(ecs::NetworkMode::Bridge)
            .requires_compatibilities(ecs::Compatibility::Ec2)
            .container_definitions(container(image)?)
            .tags(ecs::Tag::builder().key("team").value("web").build())
            .send()
            .await?;
        revisions.push(
            out.task_definition()
                .and_then(|t| t.task_definition_arn())
                .ok_or_else(|| anyhow!("no ARN for {family} {image}"))?
                .to_string(),
        );
    }
    // moto reports 2 running tasks: desiredCount 2 is a finished rollout.
    for (service, revision) in SERVICES.iter().zip([&revisions[1], &revisions[0]]) {
        env.ecs
            .create_service()
            .cluster(&cluster)
            .service_name(*service)
            .task_definition(revision)
            .desired_count(2)
            .launch_type(ecs::LaunchType::Ec2)
            .tags(ecs::Tag::builder().key("app").value(*service).build())
            .send()
            .await?;
    }
    // An Express service beside them, with settings of its own.
    let express = unique("exp_hello");
    let out = env
        .ecs
        .create_express_gateway_service()
        .cluster(&cluster)
        .service_name(&express)
        .infrastructure_role_arn("arn:aws:iam::123456789012:role/infra")
        .execution_role_arn("arn:aws:iam::123456789012:role/exec")
        .health_check_path("/health")
        .cpu("512")
        .memory("1024")
        .primary_container(
            ecs::ExpressGatewayContainer::builder()
                .image("nginx:1")
                .container_port(8080)
                .environment(
                    ecs::KeyValuePair::builder()
                        .name("MODE")
                        .value("demo")
                        .build(),
                )
                .build()?,
        )
        .scaling_target(
            ecs::ExpressGatewayScalingTarget::builder()
                .min_task_count(2)
                .max_task_count(4)
                .build(),
        )
        .tags(ecs::Tag::builder().key("app").value("hello").build())
        .send()
        .await?;
    let express_arn = out
        .service()
        .and_then(|s| s.service_arn())
        .ok_or_else(|| anyhow!("no ARN for Express service {express}"))?
        .to_string();
    Ok(Estate {
        repository,
        cluster,
        family,
        revisions,
        express,
        express_arn,
    })
}

fn tag_map<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> BTreeMap<String, String> {
    pairs.map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Everything the export must not change, with each resource's tags (ownership tags included).
async fn snapshot(env: &TestEnv, e: &Estate) -> Result<Value> {
    let repo = env
        .ecr
        .describe_repositories()
        .repository_names(&e.repository)
        .send()
        .await?
        .repositories()
        .first()
        .cloned()
        .ok_or_else(|| anyhow!("repository {} missing", e.repository))?;
    let repo_tags = env
        .ecr
        .list_tags_for_resource()
        .resource_arn(repo.repository_arn().unwrap_or_default())
        .send()
        .await?;
    let lifecycle = env
        .ecr
        .get_lifecycle_policy()
        .repository_name(&e.repository)
        .send()
        .await?;
    let lifecycle: Value =
        serde_json::from_str(lifecycle.lifecycle_policy_text().unwrap_or("null"))?;

    let cluster = env
        .ecs
        .describe_clusters()
        .clusters(&e.cluster)
        .include(ecs::ClusterField::Settings)
        .include(ecs::ClusterField::Tags)
        .send()
        .await?
        .clusters()
        .first()
        .cloned()
        .ok_or_else(|| anyhow!("cluster {} missing", e.cluster))?;

    let services = env
        .ecs
        .describe_services()
        .cluster(&e.cluster)
        .set_services(Some(SERVICES.iter().map(|s| s.to_string()).collect()))
        .include(ecs::ServiceField::Tags)
        .send()
        .await?;
    let mut service_state = serde_json::Map::new();
    for svc in services.services() {
        service_state.insert(
            svc.service_name().unwrap_or_default().to_string(),
            json!({
                "status": svc.status(),
                "taskDefinition": svc.task_definition(),
                "desiredCount": svc.desired_count(),
                "launchType": svc.launch_type().map(|l| l.as_str()),
                "deployments": svc.deployments().iter().map(|d| d.id()).collect::<Vec<_>>(),
                "tags": tag_map(svc.tags().iter().map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()))),
            }),
        );
    }

    let mut revisions = env
        .ecs
        .list_task_definitions()
        .family_prefix(&e.family)
        .send()
        .await?
        .task_definition_arns()
        .to_vec();
    revisions.sort();
    let mut revision_tags = serde_json::Map::new();
    for arn in &e.revisions {
        let out = env
            .ecs
            .describe_task_definition()
            .task_definition(arn)
            .include(ecs::TaskDefinitionField::Tags)
            .send()
            .await?;
        revision_tags.insert(
            arn.clone(),
            json!(tag_map(out.tags().iter().map(|t| (
                t.key().unwrap_or_default(),
                t.value().unwrap_or_default()
            )))),
        );
    }

    let x = env
        .ecs
        .describe_express_gateway_service()
        .service_arn(&e.express_arn)
        .include(ecs::ExpressGatewayServiceInclude::Tags)
        .send()
        .await?
        .service
        .ok_or_else(|| anyhow!("Express service {} missing", e.express))?;
    let express_revisions = env
        .ecs
        .list_task_definitions()
        .family_prefix(format!("express-{}", e.express))
        .send()
        .await?
        .task_definition_arns()
        .len();
    let express = json!({
        "status": x.status().and_then(|s| s.status_code()).map(|c| c.as_str()),
        "currentDeployment": x.current_deployment(),
        "configurations": x.active_configurations().iter().map(|c| format!("{c:?}")).collect::<Vec<_>>(),
        "revisions": express_revisions,
        "tags": tag_map(x.tags().iter().map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()))),
    });

    Ok(json!({
        "express": express,
        "repository": {
            "mutability": repo.image_tag_mutability().map(|m| m.as_str()),
            "scanOnPush": repo.image_scanning_configuration().map(|c| c.scan_on_push()),
            "lifecyclePolicy": lifecycle,
            "tags": tag_map(repo_tags.tags().iter().map(|t| (t.key(), t.value()))),
        },
        "cluster": {
            "status": cluster.status(),
            "settings": cluster.settings().iter().map(|s| json!([s.name().map(|n| n.as_str()), s.value()])).collect::<Vec<_>>(),
            "capacityProviders": cluster.capacity_providers(),
            "strategy": cluster.default_capacity_provider_strategy().iter().map(|s| json!([s.capacity_provider(), s.weight(), s.base()])).collect::<Vec<_>>(),
            "tags": tag_map(cluster.tags().iter().map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()))),
        },
        "services": service_state,
        "revisions": revisions,
        "revisionTags": revision_tags,
    }))
}

/// `snapshot` without the operator's tags, for comparing before and after adoption.
fn without_ownership(mut v: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                // Ownership is owner, owner-uid and the operator instance.
                m.retain(|k, _| !k.starts_with("ecs.operator.dev/"));
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    v
}

async fn run_export(e: &Estate) -> Result<(String, String)> {
    let out = tokio::process::Command::new(e2e::operator_binary())
        .args([
            "export",
            "--region",
            "us-east-1",
            "--cluster",
            &e.cluster,
            "--repository-prefix",
            &e.repository,
        ])
        .stdin(Stdio::null())
        .output()
        .await
        .context("run ecs-operator export")?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    ensure!(
        out.status.success(),
        "export failed ({}): {stderr}",
        out.status
    );
    Ok((stdout, stderr))
}

fn documents(yaml: &str) -> Result<Vec<Value>> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|doc| Value::deserialize(doc).map_err(anyhow::Error::from))
        .collect()
}

fn one<'a>(docs: &'a [Value], kind: &str, pred: impl Fn(&Value) -> bool) -> Result<&'a Value> {
    let found: Vec<&Value> = docs
        .iter()
        .filter(|d| d["kind"] == kind && pred(d))
        .collect();
    ensure!(found.len() == 1, "expected one {kind}, got {found:?}");
    Ok(found[0])
}

fn name_of(doc: &Value) -> String {
    doc["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Removes the finalizers (the operator is stopped) so the namespace can go.
async fn release<K>(env: &TestEnv) -> Result<()>
where
    K: kube::Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api = env.api::<K>();
    for obj in api.list(&Default::default()).await?.items {
        let name = obj.name_any();
        let _ = api
            .patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"finalizers": null}})),
            )
            .await;
        let _ = api.delete(&name, &DeleteParams::default()).await;
    }
    Ok(())
}

#[tokio::test]
async fn export_then_apply_adopts_everything_without_aws_writes() -> Result<()> {
    let mut env = TestEnv::new("export").await?;
    let estate = create_estate(&env).await?;
    let before = snapshot(&env, &estate).await?;

    let (yaml, stderr) = run_export(&estate).await?;
    let docs = documents(&yaml)?;
    ensure!(docs.len() == 6, "expected 6 objects:\n{yaml}");
    for doc in &docs {
        ensure!(doc["spec"]["adoptionPolicy"] == "Adopt", "{doc}");
        ensure!(doc["metadata"].get("namespace").is_none(), "{doc}");
    }
    ensure!(
        !yaml.contains(OWNER_TAG) && !stderr.contains("would still change"),
        "{yaml}\n{stderr}"
    );

    let repo = one(&docs, "EcrRepository", |_| true)?;
    ensure!(
        repo["spec"]["repositoryName"] == estate.repository
            && repo["spec"]["imageTagMutability"] == "IMMUTABLE"
            && repo["spec"]["imageScanningConfiguration"]["scanOnPush"] == true
            && repo["spec"]["tags"] == json!([{"Key": "team", "Value": "platform"}])
            && repo["spec"]["lifecyclePolicy"] == serde_json::from_str::<Value>(LIFECYCLE)?,
        "{repo}"
    );
    let cluster = one(&docs, "EcsCluster", |_| true)?;
    let cluster_object = estate.cluster.replace('_', "-");
    ensure!(
        name_of(cluster) == cluster_object
            && cluster["spec"]["clusterName"] == estate.cluster
            && cluster["spec"]["settings"]
                == json!([{"name": "containerInsights", "value": "enabled"}])
            && cluster["spec"]["tags"] == json!([{"key": "env", "value": "e2e"}]),
        "{cluster}"
    );
    let td = one(&docs, "TaskDefinition", |_| true)?;
    let td_object = estate.family.replace('_', "-");
    ensure!(
        name_of(td) == td_object
            && td["spec"]["family"] == estate.family
            && td["spec"]["containerDefinitions"][0]["image"] == "nginx:2",
        "{td}"
    );
    let web = one(&docs, "EcsService", |d| d["spec"]["serviceName"] == "web")?;
    ensure!(
        web["spec"]["clusterRef"] == json!({"name": cluster_object})
            && web["spec"]["taskDefinitionRef"] == json!({"name": td_object})
            && web["spec"].get("taskDefinition").is_none()
            && web["spec"]["desiredCount"] == 2
            && web["spec"]["launchType"] == "EC2",
        "{web}"
    );
    let old = one(&docs, "EcsService", |d| {
        d["spec"]["serviceName"] == "web_old"
    })?;
    ensure!(
        name_of(old) == "web-old"
            && old["spec"]["clusterRef"] == json!({"name": cluster_object})
            && old["spec"]["taskDefinition"] == estate.revisions[0]
            && old["spec"].get("taskDefinitionRef").is_none(),
        "{old}"
    );
    let hello = one(&docs, "EcsExpressService", |_| true)?;
    ensure!(
        hello["spec"]["serviceName"] == estate.express
            && hello["spec"]["clusterRef"] == json!({"name": cluster_object})
            && hello["spec"]["primaryContainer"]["image"] == "nginx:1"
            && hello["spec"]["primaryContainer"]["containerPort"] == 8080
            && hello["spec"]["scalingTarget"]["minTaskCount"] == 2
            && hello["spec"]["healthCheckPath"] == "/health"
            && hello["spec"].get("taskDefinitionArn").is_none()
            && hello["spec"]["tags"] == json!([{"key": "app", "value": "hello"}]),
        "{hello}"
    );
    let why = format!(
        "it runs {}:1, not the family's latest ACTIVE revision (2)",
        estate.family
    );
    ensure!(
        yaml.contains(&format!("# {why}")) && stderr.contains(&why),
        "no reason for the pinned revision:\n{yaml}\n{stderr}"
    );

    // Apply the stream as a user would, into the test namespace.
    for doc in &docs {
        let text = serde_yaml::to_string(doc)?;
        match doc["kind"].as_str() {
            Some("EcrRepository") => env.apply::<EcrRepository>(&text).await.map(drop)?,
            Some("EcsCluster") => env.apply::<EcsCluster>(&text).await.map(drop)?,
            Some("TaskDefinition") => env.apply::<TaskDefinition>(&text).await.map(drop)?,
            Some("EcsExpressService") => env.apply::<EcsExpressService>(&text).await.map(drop)?,
            _ => env.apply::<EcsService>(&text).await.map(drop)?,
        }
    }
    let mut uids = BTreeMap::new();
    for doc in &docs {
        let name = name_of(doc);
        let uid = match doc["kind"].as_str() {
            Some("EcrRepository") => {
                env.wait_condition::<EcrRepository>(&name, "Synced", "True", None)
                    .await?;
                env.wait_condition::<EcrRepository>(&name, "Ready", "True", None)
                    .await?
                    .uid()
            }
            Some("EcsCluster") => {
                env.wait_condition::<EcsCluster>(&name, "Synced", "True", None)
                    .await?;
                env.wait_condition::<EcsCluster>(&name, "Ready", "True", None)
                    .await?
                    .uid()
            }
            Some("TaskDefinition") => {
                env.wait_condition::<TaskDefinition>(&name, "Synced", "True", None)
                    .await?;
                env.wait_condition::<TaskDefinition>(&name, "Ready", "True", None)
                    .await?
                    .uid()
            }
            Some("EcsExpressService") => {
                env.wait_condition::<EcsExpressService>(&name, "Synced", "True", None)
                    .await?;
                env.wait_condition::<EcsExpressService>(&name, "Ready", "True", None)
                    .await?
                    .uid()
            }
            _ => {
                env.wait_condition::<EcsService>(&name, "Synced", "True", None)
                    .await?;
                env.wait_condition::<EcsService>(&name, "Ready", "True", None)
                    .await?
                    .uid()
            }
        };
        uids.insert(name, uid.unwrap_or_default());
    }
    let td_status = serde_json::to_value(env.api::<TaskDefinition>().get(&td_object).await?)?;
    ensure!(
        td_status["status"]["arn"] == estate.revisions[1],
        "TaskDefinition adopted another revision: {}",
        td_status["status"]
    );

    // Ownership tags on every AWS resource (written by adoption), and nothing else changed.
    let ns = env.namespace.clone();
    let owned = |tags: &Value, object: &str| {
        tags[OWNER_TAG] == format!("{ns}/{object}")
            && tags[OWNER_UID_TAG] == uids.get(object).cloned().unwrap_or_default()
    };
    let after = env
        .wait_for("ownership tags on every adopted resource", || async {
            let s = snapshot(&env, &estate).await?;
            let all = owned(&s["repository"]["tags"], &name_of(repo))
                && owned(&s["cluster"]["tags"], &cluster_object)
                && owned(&s["revisionTags"][&estate.revisions[1]], &td_object)
                && owned(&s["services"]["web"]["tags"], "web")
                && owned(&s["services"]["web_old"]["tags"], "web-old")
                && owned(&s["express"]["tags"], &name_of(hello));
            Ok(all.then_some(s))
        })
        .await?;
    ensure!(
        without_ownership(after.clone()) == before,
        "AWS changed beyond ownership tags:\nbefore {before:#}\nafter  {after:#}"
    );
    ensure!(
        after["revisions"].as_array().map(Vec::len) == Some(2),
        "a task definition revision was registered: {}",
        after["revisions"]
    );
    ensure!(
        env.log_count("registered revision") == 0,
        "the operator registered a revision:\n{}",
        env.operator_log()
    );

    env.stop_operator();
    release::<EcsExpressService>(&env).await?;
    release::<EcsService>(&env).await?;
    release::<TaskDefinition>(&env).await?;
    release::<EcsCluster>(&env).await?;
    release::<EcrRepository>(&env).await?;
    env.cleanup::<EcsService>().await
}

/// A gateway made in moto, associated with the exported cluster and with one that is not
/// exported: the export has one EcsGateway with a clusterRef and the other cluster by ARN;
/// applied, it adopts the gateway (Ready, Synced) and AWS keeps its settings and associations
/// (only the ownership tags are new).
#[tokio::test]
async fn export_then_apply_adopts_a_gateway_with_its_clusters() -> Result<()> {
    let mut env = TestEnv::new("export-gw").await?;
    let (cluster, other, gateway) = (unique("xgw_c"), unique("xgw-other"), unique("xgw"));
    let mut arns = Vec::new();
    for name in [&cluster, &other] {
        let out = env.ecs.create_cluster().cluster_name(name).send().await?;
        arns.push(
            out.cluster()
                .and_then(|c| c.cluster_arn())
                .ok_or_else(|| anyhow!("no cluster ARN"))?
                .to_string(),
        );
    }
    let created = env
        .ecs
        .create_gateway()
        .name(&gateway)
        .infrastructure_role_arn("arn:aws:iam::123456789012:role/gw")
        .deletion_protection(false)
        .configuration(ecs::GatewayConfiguration::HostSharedAlb(
            ecs::HostSharedAlbConfiguration::builder()
                .max_alb_count(3)
                .build(),
        ))
        .tags(ecs::Tag::builder().key("team").value("edge").build())
        .send()
        .await?;
    let gateway_arn = created
        .gateway_arn()
        .ok_or_else(|| anyhow!("no gateway ARN"))?
        .to_string();
    for name in [&cluster, &other] {
        env.ecs
            .associate_gateway_with_cluster()
            .gateway(&gateway)
            .cluster(name)
            .send()
            .await?;
    }
    let gateway_view = |g: &ecs::Gateway| {
        json!({
            "deletionProtection": g.deletion_protection(),
            "infrastructureRoleArn": g.infrastructure_role_arn(),
            "maxAlbCount": g.configuration().and_then(|c| c.as_host_shared_alb().ok()).and_then(|c| c.max_alb_count()),
            "tags": tag_map(g.tags().iter().map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()))),
        })
    };
    let read = |env: &TestEnv| {
        let env_ecs = env.ecs.clone();
        let gateway = gateway.clone();
        async move {
            let g = env_ecs.describe_gateway().gateway(&gateway).send().await?;
            let g = g.gateway().cloned().ok_or_else(|| anyhow!("no gateway"))?;
            let a = env_ecs
                .list_gateway_cluster_associations()
                .gateway(&gateway)
                .send()
                .await?;
            let mut clusters: Vec<String> = a
                .gateway_cluster_associations()
                .iter()
                .filter_map(|a| Some(format!("{}={}", a.cluster_arn()?, a.status()?.as_str())))
                .collect();
            clusters.sort();
            anyhow::Ok((g, clusters))
        }
    };
    let (g, clusters_before) = read(&env).await?;
    let before = gateway_view(&g);

    let out = tokio::process::Command::new(e2e::operator_binary())
        .args([
            "export",
            "--region",
            "us-east-1",
            "--cluster",
            &cluster,
            "--repositories",
            "false",
        ])
        .stdin(Stdio::null())
        .output()
        .await
        .context("run ecs-operator export")?;
    let (yaml, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    ensure!(out.status.success(), "export failed: {stderr}");
    let docs = documents(&yaml)?;
    let gw = one(&docs, "EcsGateway", |d| {
        d["spec"]["name"] == gateway.as_str()
    })?;
    let cluster_object = name_of(one(&docs, "EcsCluster", |_| true)?);
    ensure!(
        gw["spec"]["clusterRefs"] == json!([{"name": cluster_object}])
            && gw["spec"]["clusters"] == json!([arns[1]])
            && gw["spec"]["deletionProtection"] == false
            && gw["spec"]["configuration"]["hostSharedAlb"]["maxAlbCount"] == 3
            && gw["spec"]["tags"] == json!([{"key": "team", "value": "edge"}]),
        "{gw}"
    );
    ensure!(!stderr.contains("would still change"), "{stderr}");

    // Apply the cluster and the gateway, as a user would.
    let cluster_doc = one(&docs, "EcsCluster", |_| true)?;
    env.apply::<EcsCluster>(&serde_yaml::to_string(cluster_doc)?)
        .await?;
    env.apply::<EcsGateway>(&serde_yaml::to_string(gw)?).await?;
    let name = name_of(gw);
    env.wait_condition::<EcsGateway>(&name, "Synced", "True", None)
        .await?;
    let adopted = env.wait_ready::<EcsGateway>(&name).await?;
    ensure!(
        adopted.status.as_ref().and_then(|s| s.arn.as_deref()) == Some(gateway_arn.as_str()),
        "{adopted:?}"
    );
    let (g, clusters_after) = read(&env).await?;
    ensure!(
        without_ownership(gateway_view(&g)) == before && clusters_after == clusters_before,
        "AWS changed: {before} -> {}; {clusters_before:?} -> {clusters_after:?}",
        gateway_view(&g)
    );
    ensure!(
        g.tags().iter().any(|t| t.key() == Some(OWNER_UID_TAG)),
        "not adopted: {g:?}"
    );

    env.stop_operator();
    release::<EcsGateway>(&env).await?;
    release::<EcsCluster>(&env).await?;
    let _ = env
        .ecs
        .disassociate_gateway_from_cluster()
        .gateway(&gateway)
        .cluster(&cluster)
        .send()
        .await;
    let _ = env
        .ecs
        .disassociate_gateway_from_cluster()
        .gateway(&gateway)
        .cluster(&other)
        .send()
        .await;
    let _ = env.ecs.delete_gateway().gateway(&gateway).send().await;
    env.cleanup::<EcsGateway>().await
}
