//! Prints the AWS-side view of what the operator manages (used by `make run`): every ECR
//! repository, task definition family, cluster and service at AWS_ENDPOINT_URL.

use anyhow::Result;

#[tokio::main]
async fn main() -> Result<()> {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let ecr = aws_sdk_ecr::Client::new(&config);
    let mut pages = ecr.describe_repositories().into_paginator().items().send();
    println!(
        "{:<40} {:<6} {:<26} {:<6} URI",
        "ECR REPOSITORY", "TAGS", "MUTABILITY", "SCAN"
    );
    while let Some(repo) = pages.next().await {
        let repo = repo?;
        let arn = repo.repository_arn().unwrap_or_default();
        let tags = ecr
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await?
            .tags()
            .len();
        println!(
            "{:<40} {:<6} {:<26} {:<6} {}",
            repo.repository_name().unwrap_or_default(),
            tags,
            repo.image_tag_mutability()
                .map(|m| m.as_str())
                .unwrap_or_default(),
            repo.image_scanning_configuration()
                .is_some_and(|c| c.scan_on_push()),
            repo.repository_uri().unwrap_or_default(),
        );
    }
    let ecs = aws_sdk_ecs::Client::new(&config);
    println!();
    println!(
        "{:<40} {:<9} {:<8} IMAGES",
        "TASK DEFINITION (latest)", "REVISION", "STATUS"
    );
    let mut families = ecs
        .list_task_definition_families()
        .into_paginator()
        .items()
        .send();
    while let Some(family) = families.next().await {
        let family = family?;
        let out = ecs
            .describe_task_definition()
            .task_definition(&family)
            .send()
            .await?;
        if let Some(td) = out.task_definition() {
            let images: Vec<&str> = td
                .container_definitions()
                .iter()
                .filter_map(|c| c.image())
                .collect();
            println!(
                "{:<40} {:<9} {:<8} {}",
                family,
                td.revision(),
                td.status().map(|s| s.as_str()).unwrap_or_default(),
                images.join(", ")
            );
        }
    }
    println!();
    println!(
        "{:<24} {:<24} {:<8} {:<8} {:<8} TASK DEFINITION",
        "CLUSTER", "SERVICE", "DESIRED", "RUNNING", "ROLLOUT"
    );
    let clusters = ecs.list_clusters().send().await?;
    for cluster in clusters.cluster_arns() {
        let name = cluster.rsplit('/').next().unwrap_or(cluster);
        let services = ecs.list_services().cluster(cluster).send().await?;
        if services.service_arns().is_empty() {
            println!("{name:<24} {:<24}", "-");
            continue;
        }
        for chunk in services.service_arns().chunks(10) {
            let out = ecs
                .describe_services()
                .cluster(cluster)
                .set_services(Some(chunk.to_vec()))
                .send()
                .await?;
            for svc in out
                .services()
                .iter()
                .filter(|s| s.status() != Some("INACTIVE"))
            {
                let rollout = svc
                    .deployments()
                    .first()
                    .and_then(|d| d.rollout_state())
                    .map(|r| r.as_str())
                    .unwrap_or("-");
                println!(
                    "{name:<24} {:<24} {:<8} {:<8} {:<8} {}",
                    svc.service_name().unwrap_or_default(),
                    svc.desired_count(),
                    svc.running_count(),
                    rollout,
                    svc.task_definition().unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}
