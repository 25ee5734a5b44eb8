//! What AWS holds, read and made with the SDK (moto on the bed), for tests to compare with.

use anyhow::{Context as _, Result, anyhow};
use serde_json::json;

use crate::{TestEnv, unique};

/// A subnet and a security group in moto (a Fargate task's network interface needs both),
/// as the `awsvpcConfiguration` of a Fargate run.
pub async fn fargate_network() -> Result<serde_json::Value> {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let vpc = ec2.create_vpc().cidr_block("10.30.0.0/16").send().await?;
    let vpc_id = vpc
        .vpc()
        .and_then(|v| v.vpc_id())
        .ok_or_else(|| anyhow!("no vpc"))?;
    let subnet = ec2
        .create_subnet()
        .vpc_id(vpc_id)
        .cidr_block("10.30.1.0/24")
        .send()
        .await?;
    let subnet_id = subnet
        .subnet()
        .and_then(|s| s.subnet_id())
        .ok_or_else(|| anyhow!("no subnet"))?;
    let sg = ec2
        .create_security_group()
        .vpc_id(vpc_id)
        .group_name(unique("job-sg"))
        .description("jobs")
        .send()
        .await?;
    let sg_id = sg.group_id().ok_or_else(|| anyhow!("no security group"))?;
    Ok(json!({"subnets": [subnet_id], "securityGroups": [sg_id]}))
}

impl TestEnv {
    /// The ECR repository `name` as AWS describes it; `None` when it does not exist.
    pub async fn ecr_repository(
        &self,
        name: &str,
    ) -> Result<Option<aws_sdk_ecr::types::Repository>> {
        match self
            .ecr
            .describe_repositories()
            .repository_names(name)
            .send()
            .await
        {
            Ok(out) => Ok(out.repositories().first().cloned()),
            Err(e) if format!("{e:?}").contains("RepositoryNotFoundException") => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// desiredCount of `service` in `cluster` as AWS (moto's DescribeServices) reports it.
    pub async fn aws_desired_count(&self, cluster: &str, service: &str) -> Result<i32> {
        let out = self
            .ecs
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await?;
        out.services()
            .first()
            .map(|s| s.desired_count())
            .with_context(|| format!("service {service} not in AWS"))
    }

    /// Registers a revision of `family` made with the SDK (one container `main` running `image`,
    /// 128 MiB) and returns its ARN.
    pub async fn register_revision(&self, family: &str, image: &str) -> Result<String> {
        let out = self
            .ecs
            .register_task_definition()
            .family(family)
            .container_definitions(
                aws_sdk_ecs::types::ContainerDefinition::builder()
                    .name("main")
                    .image(image)
                    .memory(128)
                    .build(),
            )
            .send()
            .await?;
        let arn = out.task_definition().and_then(|t| t.task_definition_arn());
        Ok(arn.ok_or_else(|| anyhow!("no revision"))?.to_string())
    }

    /// A cluster and a Fargate task definition (moto knobs as tags) made with the SDK; returns
    /// (cluster, family, revision ARN).
    pub async fn aws_run_target(
        &self,
        seconds: u32,
        exit_code: i32,
    ) -> Result<(String, String, String)> {
        let cluster = unique("jobs");
        self.ecs
            .create_cluster()
            .cluster_name(&cluster)
            .send()
            .await?;
        let family = unique("job");
        let td = self
            .ecs
            .register_task_definition()
            .family(&family)
            .network_mode(aws_sdk_ecs::types::NetworkMode::Awsvpc)
            .requires_compatibilities(aws_sdk_ecs::types::Compatibility::Fargate)
            .cpu("256")
            .memory("512")
            .container_definitions(
                aws_sdk_ecs::types::ContainerDefinition::builder()
                    .name("main")
                    .image("busybox")
                    .essential(true)
                    // moto's RunTask adds up container memory (it fails without it).
                    .memory(256)
                    .build(),
            )
            .tags(
                aws_sdk_ecs::types::Tag::builder()
                    .key("moto-ecs/task-seconds")
                    .value(seconds.to_string())
                    .build(),
            )
            .tags(
                aws_sdk_ecs::types::Tag::builder()
                    .key("moto-ecs/exit-code")
                    .value(exit_code.to_string())
                    .build(),
            )
            .send()
            .await?;
        let arn = td
            .task_definition()
            .and_then(|t| t.task_definition_arn())
            .ok_or_else(|| anyhow!("no arn"))?
            .to_string();
        Ok((cluster, family, arn))
    }
}
