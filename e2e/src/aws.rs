//! What AWS holds, read and made with the SDK (moto on the bed), for tests to compare with.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result, anyhow, ensure};
use serde_json::{Value, json};

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
    /// Every task ECS holds in `cluster` (running and stopped), with tags.
    pub async fn tasks_in(&self, cluster: &str) -> Result<Vec<aws_sdk_ecs::types::Task>> {
        let mut arns = Vec::new();
        for status in [
            aws_sdk_ecs::types::DesiredStatus::Running,
            aws_sdk_ecs::types::DesiredStatus::Stopped,
        ] {
            let page: Vec<String> = self
                .ecs
                .list_tasks()
                .cluster(cluster)
                .desired_status(status)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<_, _>>()
                .await?;
            arns.extend(page);
        }
        arns.sort();
        arns.dedup();
        let mut tasks = Vec::new();
        for chunk in arns.chunks(100) {
            let out = self
                .ecs
                .describe_tasks()
                .cluster(cluster)
                .set_tasks(Some(chunk.to_vec()))
                .include(aws_sdk_ecs::types::TaskField::Tags)
                .send()
                .await?;
            tasks.extend(out.tasks().iter().cloned());
        }
        Ok(tasks)
    }

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

/// The value of tag `key` of a task.
pub fn task_tag<'a>(t: &'a aws_sdk_ecs::types::Task, key: &str) -> Option<&'a str> {
    t.tags()
        .iter()
        .find(|x| x.key() == Some(key))
        .and_then(|x| x.value())
}

/// The registry scanning rules' filters of a region (empty: ECR's default).
pub async fn scan_filters(ecr: &aws_sdk_ecr::Client) -> Result<Vec<String>> {
    let out = ecr.get_registry_scanning_configuration().send().await?;
    Ok(out
        .scanning_configuration()
        .map(|s| {
            s.rules()
                .iter()
                .flat_map(|r| {
                    r.repository_filters()
                        .iter()
                        .map(|f| f.filter().to_string())
                })
                .collect()
        })
        .unwrap_or_default())
}

/// The schedules of the default group whose names start with `prefix`: name -> (ARN, creation
/// time, the target's task definition ARN).
pub async fn schedules(
    scheduler: &aws_sdk_scheduler::Client,
    prefix: &str,
) -> Result<BTreeMap<String, (String, i64, String)>> {
    let names: Vec<String> = scheduler
        .list_schedules()
        .name_prefix(prefix)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await?
        .into_iter()
        .filter_map(|s| s.name().map(str::to_string))
        .collect();
    let mut out = BTreeMap::new();
    for name in names {
        let s = scheduler
            .get_schedule()
            .name(&name)
            .group_name("default")
            .send()
            .await?;
        let revision = s
            .target()
            .and_then(|t| t.ecs_parameters())
            .map(|e| e.task_definition_arn().to_string())
            .unwrap_or_default();
        out.insert(
            name,
            (
                s.arn().unwrap_or_default().to_string(),
                s.creation_date().map(|d| d.secs()).unwrap_or_default(),
                revision,
            ),
        );
    }
    Ok(out)
}

/// (bounds of the scalable targets, policy name -> target value) moto holds for `rid`.
pub async fn auto_scaling(
    aas: &aws_sdk_applicationautoscaling::Client,
    rid: &str,
) -> Result<(Vec<(i32, i32)>, BTreeMap<String, f64>)> {
    use aws_sdk_applicationautoscaling::types::ServiceNamespace;
    let targets = aas
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_ids(rid)
        .send()
        .await?;
    let policies = aas
        .describe_scaling_policies()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(rid)
        .send()
        .await?;
    Ok((
        targets
            .scalable_targets()
            .iter()
            .map(|t| (t.min_capacity, t.max_capacity))
            .collect(),
        policies
            .scaling_policies()
            .iter()
            .map(|p| {
                let value = p
                    .target_tracking_scaling_policy_configuration()
                    .map(|c| c.target_value)
                    .unwrap_or_default();
                (p.policy_name.clone(), value)
            })
            .collect(),
    ))
}

/// moto's request recorder (`/moto-api/recorder/`): every request the bed's moto receives while
/// it records, to count the calls that reached AWS where no fault proxy sits in between (the node
/// bed's pods talk to moto directly). moto keeps one recording: one test at a time may use it.
pub struct MotoRecorder {
    addr: std::net::SocketAddr,
}

impl MotoRecorder {
    /// Clears moto's recording and starts recording (moto at `AWS_ENDPOINT_URL`).
    pub async fn start() -> Result<Self> {
        let url = std::env::var("AWS_ENDPOINT_URL").context("AWS_ENDPOINT_URL (the bed's moto)")?;
        let addr = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .with_context(|| format!("AWS_ENDPOINT_URL {url} is not http://<ip>:<port>"))?;
        let recorder = Self { addr };
        recorder.call("reset-recording").await?;
        recorder.call("start-recording").await?;
        Ok(recorder)
    }

    async fn call(&self, what: &str) -> Result<String> {
        let (status, body) =
            crate::http_get(self.addr, &format!("/moto-api/recorder/{what}")).await?;
        ensure!(status == 200, "moto recorder {what}: HTTP {status}: {body}");
        Ok(body)
    }

    /// The JSON bodies of the recorded calls of one awsJson action (its `X-Amz-Target` ends in
    /// `.{action}`), in the order moto received them.
    pub async fn calls(&self, action: &str) -> Result<Vec<Value>> {
        let text = self.call("download-recording").await?;
        let suffix = format!(".{action}");
        let mut out = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let entry: Value = serde_json::from_str(line)
                .with_context(|| format!("a recording line that is not JSON: {line}"))?;
            let target = entry["headers"]
                .as_object()
                .and_then(|h| {
                    h.iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("x-amz-target"))
                        .and_then(|(_, v)| v.as_str())
                })
                .unwrap_or_default();
            if !target.ends_with(&suffix) {
                continue;
            }
            let body = entry["body"].as_str().unwrap_or_default();
            let body = if entry["body_encoded"] == true {
                String::from_utf8_lossy(&base64_decode(body)?).into_owned()
            } else {
                body.to_string()
            };
            out.push(serde_json::from_str(&body).unwrap_or(Value::Null));
        }
        Ok(out)
    }

    /// Stops recording (the recording is kept until the next start).
    pub async fn stop(&self) -> Result<()> {
        self.call("stop-recording").await.map(drop)
    }
}

/// Standard base64 (with padding), as moto's recorder writes request bodies.
fn base64_decode(text: &str) -> Result<Vec<u8>> {
    let value = |c: u8| -> Result<u32> {
        Ok(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => anyhow::bail!("not base64: {c:?}"),
        } as u32)
    };
    let bytes: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for chunk in bytes.chunks(4) {
        let data: Vec<u8> = chunk.iter().copied().filter(|c| *c != b'=').collect();
        let mut n = 0u32;
        for (i, c) in data.iter().enumerate() {
            n |= value(*c)? << (18 - 6 * i);
        }
        let keep = data.len().saturating_sub(1);
        out.extend(n.to_be_bytes()[1..].iter().take(keep));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_what_moto_writes() {
        for (text, want) in [
            ("", ""),
            ("YQ==", "a"),
            ("YWI=", "ab"),
            ("YWJj", "abc"),
            ("eyJ0YXNrIjoiYXJuIn0=", r#"{"task":"arn"}"#),
        ] {
            assert_eq!(
                base64_decode(text).expect("decodes"),
                want.as_bytes(),
                "{text}"
            );
        }
        assert!(base64_decode("a*==").is_err());
    }
}
