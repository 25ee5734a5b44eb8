//! The bed's command-line tools (`helm`, `kubectl`, `e2e/env`) and kubeconfigs for other users.

use std::process::Stdio;

use anyhow::{Context as _, Result, bail};
use serde_json::json;

/// Runs a tool from the bed's PATH (`helm`, `kubectl`) and returns its output whatever the exit status.
pub async fn tool_output(program: &str, args: &[&str]) -> Result<std::process::Output> {
    tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| format!("run {program} (is the bed's PATH exported?)"))
}

/// Runs a tool from the bed's PATH and returns its stdout; fails with stderr unless it exits 0.
pub async fn tool(program: &str, args: &[&str]) -> Result<String> {
    let out = tool_output(program, args).await?;
    if !out.status.success() {
        bail!(
            "{program} {} failed ({}): {}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Writes a kubeconfig for the bed's API server (server and CA from KUBECONFIG) that authenticates
/// with `token` only, e.g. a ServiceAccount token from `kubectl create token`.
pub fn token_kubeconfig(token: &str, path: &std::path::Path) -> Result<()> {
    let admin = std::env::var_os("KUBECONFIG").context("KUBECONFIG is not set")?;
    let admin: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(&admin).context("read the bed's kubeconfig")?,
    )?;
    let cluster = &admin["clusters"][0]["cluster"];
    let server = cluster["server"]
        .as_str()
        .context("kubeconfig without clusters[0].cluster.server")?;
    let ca = cluster["certificate-authority-data"]
        .as_str()
        .context("kubeconfig without certificate-authority-data")?;
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "bed", "cluster": {"server": server, "certificate-authority-data": ca}}],
        "users": [{"name": "token", "user": {"token": token.trim()}}],
        "contexts": [{"name": "bed", "context": {"cluster": "bed", "user": "token"}}],
        "current-context": "bed",
    });
    std::fs::write(path, serde_yaml::to_string(&config)?)
        .with_context(|| format!("write {}", path.display()))
}

/// Writes a copy of the bed's kubeconfig (KUBECONFIG) whose users impersonate `user` in `groups`
/// (`as` / `as-groups`, which kube-rs and kubectl send as Impersonate-* headers): every request
/// made with it is authorized as that user by the API server's RBAC.
pub fn impersonating_kubeconfig(user: &str, groups: &[&str], path: &std::path::Path) -> Result<()> {
    let admin = std::env::var_os("KUBECONFIG").context("KUBECONFIG is not set")?;
    let mut config: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(&admin).context("read the bed's kubeconfig")?,
    )?;
    let users = config["users"]
        .as_sequence_mut()
        .filter(|u| !u.is_empty())
        .context("kubeconfig without users")?;
    for entry in users {
        let user_entry = entry
            .get_mut("user")
            .and_then(serde_yaml::Value::as_mapping_mut)
            .context("kubeconfig user entry without `user`")?;
        user_entry.insert("as".into(), user.into());
        user_entry.insert(
            "as-groups".into(),
            groups.iter().map(|g| serde_yaml::Value::from(*g)).collect(),
        );
    }
    std::fs::write(path, serde_yaml::to_string(&config)?)
        .with_context(|| format!("write {}", path.display()))
}
