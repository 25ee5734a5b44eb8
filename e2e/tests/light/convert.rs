//! `ecs-operator convert task-definition FILE|-` as a user runs it: the binary, on a file and on
//! standard input, prints a TaskDefinition manifest the API server accepts (response-only fields
//! and nulls dropped), and refuses JSON with a field the spec cannot hold.

use std::process::Stdio;

use anyhow::{Context, Result, ensure};
use e2e::TestEnv;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

/// `aws ecs describe-task-definition` output: response-only fields, a null, outer tags.
fn described() -> Value {
    json!({
        "taskDefinition": {
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/Web_App:3",
            "family": "Web_App", "revision": 3, "status": "ACTIVE",
            "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.docker-remote-api.1.18"}],
            "compatibilities": ["EC2", "FARGATE"], "registeredAt": "2026-11-01T10:00:00Z",
            "registeredBy": "arn:aws:iam::123456789012:root",
            "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
            "taskRoleArn": null,
            "containerDefinitions": [{"name": "web", "image": "public.ecr.aws/nginx/nginx:1.27",
                "essential": true, "portMappings": [{"containerPort": 80, "protocol": "tcp"}]}]
        },
        "tags": [{"key": "team", "value": "web"}]
    })
}

/// Runs `ecs-operator convert task-definition ARGS`, with `stdin` piped in when given.
async fn convert(args: &[&str], stdin: Option<&str>) -> Result<std::process::Output> {
    let mut child = tokio::process::Command::new(e2e::operator_binary())
        .args(["convert", "task-definition"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("run ecs-operator")?;
    let mut input = child.stdin.take().context("stdin")?;
    input
        .write_all(stdin.unwrap_or_default().as_bytes())
        .await?;
    drop(input);
    Ok(child.wait_with_output().await?)
}

#[tokio::test]
async fn convert_prints_a_manifest_the_api_server_accepts_from_a_file_and_stdin() -> Result<()> {
    let mut env = TestEnv::new("convert").await?;
    env.stop_operator();
    let file = std::env::temp_dir().join(format!("{}-described.json", env.namespace));
    std::fs::write(&file, described().to_string())?;
    let path = file.to_string_lossy().to_string();
    let from_file = convert(&[&path], None).await?;
    let from_stdin = convert(&["-", "--name", "web"], Some(&described().to_string())).await?;
    for (how, out) in [("file", &from_file), ("stdin", &from_stdin)] {
        ensure!(
            out.status.success(),
            "{how}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let manifest: Value = serde_yaml::from_slice(&from_file.stdout)?;
    // The family, lowercased with '-' for '_', names the object unless --name says otherwise.
    ensure!(manifest["metadata"]["name"] == "web-app", "{manifest}");
    let by_stdin: Value = serde_yaml::from_slice(&from_stdin.stdout)?;
    ensure!(by_stdin["metadata"]["name"] == "web", "{by_stdin}");
    ensure!(
        by_stdin["spec"] == manifest["spec"],
        "file and stdin differ"
    );
    let spec = manifest["spec"].as_object().context("spec")?;
    for gone in [
        "taskDefinitionArn",
        "revision",
        "status",
        "requiresAttributes",
        "compatibilities",
        "registeredAt",
        "registeredBy",
        "taskRoleArn",
    ] {
        ensure!(!spec.contains_key(gone), "{gone} kept: {manifest}");
    }
    ensure!(
        spec["family"] == "Web_App" && spec["cpu"] == "256",
        "{manifest}"
    );
    ensure!(
        spec["tags"] == json!([{"key": "team", "value": "web"}]),
        "outer tags: {manifest}"
    );

    // What it prints is a valid object (schema and CEL), as the user would apply it.
    let yaml = std::env::temp_dir().join(format!("{}-td.yaml", env.namespace));
    std::fs::write(&yaml, &from_file.stdout)?;
    let applied = env
        .kubectl(&["apply", "--dry-run=server", "-f", &yaml.to_string_lossy()])
        .await?;
    ensure!(
        applied.status.success(),
        "kubectl apply: {}",
        String::from_utf8_lossy(&applied.stderr)
    );

    // A field the spec cannot hold is an error naming it, not a silent drop.
    let mut unknown = described();
    unknown["taskDefinition"]["containerDefinitions"][0]["futureField"] = json!(1);
    let refused = convert(&["-"], Some(&unknown.to_string())).await?;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    ensure!(
        !refused.status.success() && refused.stdout.is_empty(),
        "accepted: {stderr}"
    );
    ensure!(
        stderr.contains("containerDefinitions[0].futureField"),
        "{stderr}"
    );
    for f in [&file, &yaml] {
        let _ = std::fs::remove_file(f);
    }
    env.cleanup_all().await
}
