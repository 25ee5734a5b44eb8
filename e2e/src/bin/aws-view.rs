//! Prints the AWS-side view of what the operator manages (used by `make run`): every ECR
//! repository and task definition family at AWS_ENDPOINT_URL.

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
    Ok(())
}
