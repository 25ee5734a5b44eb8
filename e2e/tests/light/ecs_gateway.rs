//! EcsGateway end to end against the bed's moto gateway model (e2e/moto/ecs_gateways.py): a
//! gateway associated with two clusters (one by clusterRef, one by name), a cluster removed from
//! the spec disassociated in AWS, a rename refused at admission, deletion with deletion
//! protection refused (DeleteBlocked, the gateway stays) until the spec turns it off; and an
//! EcsService with `gatewayRef` showing the URL of its route through that gateway.

use std::collections::BTreeMap;

use anyhow::{Result, anyhow, ensure};
use e2e::{TestEnv, manifest, unique};
use ecs_operator::api::ecs_service::EcsService;
use ecs_operator::api::{EcsCluster, EcsGateway, TaskDefinition};
use serde_json::{Value, json};

const ROLE: &str = "arn:aws:iam::123456789012:role/ecsInfrastructureRoleForGateways";

/// Cluster name -> association status of `gateway` in AWS.
async fn associations(env: &TestEnv, gateway: &str) -> Result<BTreeMap<String, String>> {
    let out = env
        .ecs
        .list_gateway_cluster_associations()
        .gateway(gateway)
        .send()
        .await?;
    Ok(out
        .gateway_cluster_associations()
        .iter()
        .filter_map(|a| {
            let name = a.cluster_arn()?.rsplit('/').next()?.to_string();
            Some((name, a.status()?.as_str().to_string()))
        })
        .collect())
}

/// The gateway's status in AWS; `None` when ECS knows none by that name.
async fn gateway_in_aws(env: &TestEnv, name: &str) -> Result<Option<String>> {
    match env.ecs.describe_gateway().gateway(name).send().await {
        Ok(out) => Ok(out
            .gateway()
            .and_then(|g| g.status())
            .map(|s| s.as_str().to_string())),
        Err(e) if format!("{e:?}").contains("GatewayNotFoundException") => Ok(None),
        Err(e) => Err(e.into()),
    }
}

async fn clusters(env: &TestEnv, names: &[(&str, &str)]) -> Result<()> {
    for (object, aws) in names {
        env.apply::<EcsCluster>(&manifest(
            "EcsCluster",
            object,
            &json!({"clusterName": aws}),
        ))
        .await?;
    }
    for (object, _) in names {
        env.wait_ready::<EcsCluster>(object).await?;
    }
    Ok(())
}

#[tokio::test]
async fn gateway_is_associated_with_two_clusters_and_disassociates_a_removed_one() -> Result<()> {
    let env = TestEnv::new("gateway").await?;
    let result = associated(&env).await;
    let _ = env.delete::<EcsGateway>("gw").await;
    let _ = env.wait_gone::<EcsGateway>("gw").await;
    for c in ["a", "b"] {
        let _ = env.delete::<EcsCluster>(c).await;
        let _ = env.wait_gone::<EcsCluster>(c).await;
    }
    env.cleanup::<EcsGateway>().await?;
    result
}

async fn associated(env: &TestEnv) -> Result<()> {
    let (a, b, gateway) = (unique("gw-a"), unique("gw-b"), unique("gw"));
    clusters(env, &[("a", a.as_str()), ("b", b.as_str())]).await?;
    let spec = |clusters: Value| {
        json!({"name": gateway, "infrastructureRoleArn": ROLE, "deletionProtection": false,
               "configuration": {"hostSharedAlb": {"maxAlbCount": 2}},
               "clusterRefs": [{"name": "a"}], "clusters": clusters,
               "tags": [{"key": "team", "value": "edge"}]})
    };
    env.apply::<EcsGateway>(&manifest("EcsGateway", "gw", &spec(json!([b]))))
        .await?;

    // Ready, associated with both clusters (by clusterRef and by name).
    let obj = env.wait_ready::<EcsGateway>("gw").await?;
    let status = obj.status.clone().ok_or_else(|| anyhow!("no status"))?;
    let arn = status
        .arn
        .clone()
        .ok_or_else(|| anyhow!("no arn: {status:?}"))?;
    ensure!(arn.ends_with(&format!(":gateway/{gateway}")), "{arn}");
    ensure!(status.cluster_count == Some(2), "{status:?}");
    ensure!(
        status.access_type.as_deref() == Some("PUBLIC"),
        "{status:?}"
    );
    let want: BTreeMap<String, String> =
        [(a.clone(), "ACTIVE".into()), (b.clone(), "ACTIVE".into())]
            .into_iter()
            .collect();
    ensure!(associations(env, &gateway).await? == want);
    let described = env.ecs.describe_gateway().gateway(&gateway).send().await?;
    let g = described.gateway().ok_or_else(|| anyhow!("no gateway"))?;
    ensure!(g.deletion_protection() == Some(false), "{g:?}");
    ensure!(
        g.tags()
            .iter()
            .any(|t| t.key() == Some("team") && t.value() == Some("edge")),
        "{g:?}"
    );

    // A rename is refused at admission, with its rule id.
    let mut renamed = spec(json!([b]));
    renamed["name"] = json!(format!("{gateway}-x"));
    let err = env
        .apply::<EcsGateway>(&manifest("EcsGateway", "gw", &renamed))
        .await
        .err()
        .ok_or_else(|| anyhow!("a rename was admitted"))?;
    ensure!(
        format!("{err:#}").contains("gateway-name-immutable"),
        "{err:#}"
    );

    // Removing cluster b from the spec disassociates it in AWS.
    env.apply::<EcsGateway>(&manifest("EcsGateway", "gw", &spec(json!([]))))
        .await?;
    env.wait_for("cluster b disassociated in AWS", || async {
        let now = associations(env, &gateway).await?;
        Ok((now.len() == 1 && now.get(&a).map(String::as_str) == Some("ACTIVE")).then_some(()))
    })
    .await?;
    let obj = env.wait_ready::<EcsGateway>("gw").await?;
    let status = obj.status.clone().ok_or_else(|| anyhow!("no status"))?;
    ensure!(status.cluster_count == Some(1), "{status:?}");
    ensure!(
        status.associated_clusters.len() == 1
            && status.associated_clusters[0]
                .cluster_arn
                .ends_with(&format!("/{a}")),
        "{status:?}"
    );

    // Deletion (no protection) disassociates the rest and deletes the gateway.
    env.delete::<EcsGateway>("gw").await?;
    env.wait_gone::<EcsGateway>("gw").await?;
    ensure!(
        gateway_in_aws(env, &gateway).await?.is_none(),
        "gateway left in AWS"
    );
    Ok(())
}

#[tokio::test]
async fn gateway_deletion_with_deletion_protection_is_refused_and_the_gateway_stays() -> Result<()>
{
    let env = TestEnv::new("gateway-protect").await?;
    let result = protected(&env).await;
    // Let it go whatever happened: protection off, then delete.
    let _ = env
        .apply::<EcsGateway>(&manifest(
            "EcsGateway",
            "gw",
            &json!({"name": "x", "infrastructureRoleArn": ROLE, "deletionProtection": false}),
        ))
        .await;
    let _ = env.wait_gone::<EcsGateway>("gw").await;
    env.cleanup::<EcsGateway>().await?;
    result
}

async fn protected(env: &TestEnv) -> Result<()> {
    let gateway = unique("gw-protected");
    let spec = |protection: bool| json!({"name": gateway, "infrastructureRoleArn": ROLE, "deletionProtection": protection});
    env.apply::<EcsGateway>(&manifest("EcsGateway", "gw", &spec(true)))
        .await?;
    env.wait_ready::<EcsGateway>("gw").await?;
    env.delete::<EcsGateway>("gw").await?;

    // Refused with a condition a person can read; the object and the gateway stay.
    let obj = env
        .wait_condition::<EcsGateway>("gw", "Synced", "False", Some("DeleteBlocked"))
        .await?;
    let message = e2e::condition_message(&obj, "Synced");
    ensure!(
        message.contains("deletion protection") && message.contains("spec.deletionProtection"),
        "Synced message: {message}"
    );
    let events = env.events_for("gw", "DeleteBlocked").await?;
    ensure!(!events.is_empty(), "no DeleteBlocked event");
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    ensure!(
        env.api::<EcsGateway>().get_opt("gw").await?.is_some(),
        "the object went although the gateway is protected"
    );
    ensure!(
        gateway_in_aws(env, &gateway).await?.as_deref() == Some("ACTIVE"),
        "the protected gateway is not ACTIVE in AWS"
    );

    // Turning protection off in the spec lets the deletion finish.
    env.apply::<EcsGateway>(&manifest("EcsGateway", "gw", &spec(false)))
        .await?;
    env.wait_gone::<EcsGateway>("gw").await?;
    ensure!(
        gateway_in_aws(env, &gateway).await?.is_none(),
        "gateway left in AWS"
    );
    Ok(())
}

#[tokio::test]
async fn a_service_with_gateway_ref_shows_the_url_of_its_route() -> Result<()> {
    let env = TestEnv::new("gateway-route").await?;
    let result = routed(&env).await;
    let _ = env.delete::<EcsService>("web").await;
    let _ = env.wait_gone::<EcsService>("web").await;
    for g in ["gw", "other"] {
        let _ = env.delete::<EcsGateway>(g).await;
        let _ = env.wait_gone::<EcsGateway>(g).await;
    }
    let _ = env.delete::<TaskDefinition>("web").await;
    let _ = env.delete::<EcsCluster>("c").await;
    let _ = env.wait_gone::<EcsCluster>("c").await;
    env.cleanup_all().await?;
    result
}

async fn routed(env: &TestEnv) -> Result<()> {
    let (cluster, family, service) = (unique("gwr"), unique("gwr-web"), unique("web"));
    let (gateway, other) = (unique("gwr-main"), unique("gwr-other"));
    clusters(env, &[("c", cluster.as_str())]).await?;
    // Two gateways on the cluster: the service gets a route on each; gatewayRef picks one.
    for (object, name) in [("gw", &gateway), ("other", &other)] {
        env.apply::<EcsGateway>(&manifest(
            "EcsGateway",
            object,
            &json!({"name": name, "infrastructureRoleArn": ROLE, "deletionProtection": false,
                    "clusterRefs": [{"name": "c"}]}),
        ))
        .await?;
    }
    env.apply::<TaskDefinition>(&manifest(
        "TaskDefinition",
        "web",
        &json!({"family": family, "networkMode": "bridge", "requiresCompatibilities": ["EC2"],
                "containerDefinitions": [{"name": "web", "image": "nginx:1", "memory": 128,
                    "portMappings": [{"name": "http", "containerPort": 80, "hostPort": 0}]}]}),
    ))
    .await?;
    let gw = env.wait_ready::<EcsGateway>("gw").await?;
    env.wait_ready::<EcsGateway>("other").await?;
    let gateway_arn = gw
        .status
        .and_then(|s| s.arn)
        .ok_or_else(|| anyhow!("gateway without arn"))?;

    let spec = json!({"serviceName": service, "clusterRef": {"name": "c"},
        "taskDefinitionRef": {"name": "web"}, "desiredCount": 1, "launchType": "EC2",
        "gatewayRef": {"name": "gw"}, "gatewayConnectors": [{"portName": "http"}]});
    // gatewayRef without a connector is refused at admission, with its rule id.
    let mut bare = spec.clone();
    if let Some(o) = bare.as_object_mut() {
        o.remove("gatewayConnectors");
    }
    let err = env
        .apply::<EcsService>(&manifest("EcsService", "web", &bare))
        .await
        .err()
        .ok_or_else(|| anyhow!("gatewayRef without gatewayConnectors was admitted"))?;
    ensure!(
        format!("{err:#}").contains("gatewayRef-needs-gatewayConnectors"),
        "{err:#}"
    );
    env.apply::<EcsService>(&manifest("EcsService", "web", &spec))
        .await?;

    // The URL of the route through the referenced gateway, in the service's status.
    let want = format!("https://{service}.{gateway}.gateway.ecs.");
    let status = env
        .wait_for("status.gatewayUrl", || async {
            let s = env.status_json::<EcsService>("web").await?;
            let url = s["gatewayUrl"].as_str().unwrap_or_default();
            Ok(url.starts_with(&want).then_some(s))
        })
        .await?;
    let routes = status["gatewayRoutes"]
        .as_array()
        .ok_or_else(|| anyhow!("no gatewayRoutes: {status}"))?;
    ensure!(
        routes.len() == 1 && routes[0]["gatewayArn"] == gateway_arn.as_str(),
        "only the route through gatewayRef's gateway: {routes:?}"
    );
    ensure!(
        routes[0]["status"] == "ACTIVE" && routes[0]["portName"] == "http",
        "{routes:?}"
    );
    // AWS has a route on both gateways: gatewayRef chose.
    let all = env
        .ecs
        .list_gateway_routes()
        .cluster(&cluster)
        .send()
        .await?;
    ensure!(all.gateway_routes().len() == 2, "{all:?}");
    Ok(())
}
