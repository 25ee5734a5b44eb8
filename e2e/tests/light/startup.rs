//! `ecs-operator run` fails fast with a message naming the fix.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Result, ensure};

fn binary() -> std::path::PathBuf {
    std::env::var_os("ECS_OPERATOR_BIN")
        .map(Into::into)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/ecs-operator")
        })
}

/// Runs the operator with extra env, expecting it to exit by itself (bounded wait).
async fn run_expecting_failure(envs: &[(&str, &str)], unset: &[&str]) -> Result<String> {
    let mut cmd = tokio::process::Command::new(binary());
    cmd.arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    for k in unset {
        cmd.env_remove(k);
    }
    let child = cmd.spawn()?;
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output()).await??;
    ensure!(!out.status.success(), "operator exited successfully");
    Ok(String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test]
async fn no_region_is_a_clear_error() -> Result<()> {
    // The bed's API server is up (KUBECONFIG from `e2e/env up`): only the region is missing.
    let stderr = run_expecting_failure(
        &[
            ("AWS_CONFIG_FILE", "/nonexistent"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
        &["AWS_REGION", "AWS_DEFAULT_REGION", "ECS_OPERATOR_REGION"],
    )
    .await?;
    ensure!(
        stderr.contains("no AWS region configured") && stderr.contains("--region"),
        "{stderr}"
    );
    Ok(())
}

#[tokio::test]
async fn unreachable_api_server_is_a_clear_error() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("ecs-startup-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}}]\n\
         users: [{name: u, user: {token: x}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n",
    )?;
    let stderr =
        run_expecting_failure(&[("KUBECONFIG", &kubeconfig.to_string_lossy())], &[]).await?;
    let _ = std::fs::remove_dir_all(&dir);
    ensure!(
        stderr.contains("Kubernetes API server unreachable"),
        "{stderr}"
    );
    Ok(())
}

/// `ecs-operator crds | head`: a reader that stops early is not an error (no panic, exit 0).
#[tokio::test]
async fn a_closed_output_pipe_is_not_a_panic() -> Result<()> {
    let mut child = tokio::process::Command::new(binary())
        .arg("crds")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    // Close the read end before the CRDs (far more than a pipe buffer) are written.
    drop(child.stdout.take());
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output()).await??;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(!stderr.contains("panicked"), "crds panicked: {stderr}");
    ensure!(
        out.status.success(),
        "crds exited {:?}: {stderr}",
        out.status
    );
    Ok(())
}
