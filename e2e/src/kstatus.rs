//! Health as GitOps tools compute it, on objects read from the bed: kstatus (Flux, kpt,
//! cli-utils) through the e2e/tools/kstatus checker (cli-utils' own code, built by
//! e2e/tools/build.sh), and the chart's Argo CD Lua health check through e2e/tools/argolua
//! (gopher-lua, the Lua VM Argo CD embeds). Every kstatus check also checks the Lua verdict.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use kube::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::sync::OnceCell;

use crate::TestEnv;

/// A Go test tool `name` from e2e/tools, built on first use (build.sh caches it and serialises
/// builds); `key` is its entry in `build.sh paths`.
async fn go_tool(name: &str, key: &str) -> Result<PathBuf> {
    let build = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tools/build.sh");
    let build = build.to_string_lossy().into_owned();
    crate::tool(&build, &[name]).await?;
    let paths = crate::tool(&build, &["paths"]).await?;
    let prefix = format!("{key}=");
    let dir = paths
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(prefix.as_str()))
        .ok_or_else(|| anyhow!("build.sh paths names no {key}: {paths}"))?;
    Ok(PathBuf::from(dir).join(name))
}

/// The kstatus checker (cli-utils' own status code).
pub async fn kstatus_bin() -> Result<PathBuf> {
    static BIN: OnceCell<PathBuf> = OnceCell::const_new();
    BIN.get_or_try_init(|| go_tool("kstatus", "KSTATUS_BIN"))
        .await
        .cloned()
}

/// The Argo CD health runner (gopher-lua).
pub async fn argolua_bin() -> Result<PathBuf> {
    static BIN: OnceCell<PathBuf> = OnceCell::const_new();
    BIN.get_or_try_init(|| go_tool("argolua", "ARGOLUA_BIN"))
        .await
        .cloned()
}

/// Runs `bin args` with `object` as JSON on stdin; its stdout.
async fn run_on_json(
    bin: &std::path::Path,
    args: &[&std::ffi::OsStr],
    object: &Value,
) -> Result<String> {
    let mut child = tokio::process::Command::new(bin)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("run {}", bin.display()))?;
    let mut stdin = child.stdin.take().ok_or_else(|| anyhow!("no stdin"))?;
    stdin.write_all(&serde_json::to_vec(object)?).await?;
    drop(stdin);
    let out = child.wait_with_output().await?;
    ensure!(
        out.status.success(),
        "{}: {}",
        bin.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// kstatus of one object JSON: (status, message).
pub async fn kstatus_of(object: &Value) -> Result<(String, String)> {
    let out = run_on_json(&kstatus_bin().await?, &[], object).await?;
    let line = out.trim().to_string();
    let mut parts = line.splitn(3, ' ');
    let _object = parts.next();
    let status = parts.next().unwrap_or_default().to_string();
    let message = parts.next().unwrap_or_default().to_string();
    Ok((status, message))
}

pub async fn kstatus<K>(env: &TestEnv, name: &str) -> Result<(String, String)>
where
    K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Serialize
        + std::fmt::Debug,
{
    let obj = serde_json::to_value(env.api::<K>().get(name).await?)?;
    let (status, message) = kstatus_of(&obj).await?;
    // Argo CD must agree with kstatus: Current = Healthy, Failed = Degraded, else Progressing.
    let want = match status.as_str() {
        "Current" => "Healthy",
        "Failed" => "Degraded",
        _ => "Progressing",
    };
    if observed_value(&obj) {
        let (health, health_message) = argocd_health(&obj).await?;
        ensure!(
            health == want,
            "Argo CD health {health} ({health_message}) but kstatus {status} ({message}): {obj}"
        );
    }
    Ok((status, message))
}

/// The chart's Argo CD health script (one script for every kind).
pub fn health_script_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../charts/ecs-operator/health/ecs.operator.dev.lua")
}

pub fn health_script() -> Result<String> {
    let path = health_script_path();
    std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))
}

/// Runs the Argo CD health script on `obj` as Argo CD does (gopher-lua): (status, message).
pub async fn argocd_health(obj: &Value) -> Result<(String, String)> {
    let script = health_script_path();
    let text = run_on_json(&argolua_bin().await?, &[script.as_os_str()], obj).await?;
    let (status, message) = text.split_once('\n').unwrap_or((text.as_str(), ""));
    Ok((status.to_string(), message.to_string()))
}

/// Whether the operator has written a status. kstatus calls an object without one Current (it
/// cannot tell "no controller" from "done"), so every check waits for the first status write.
async fn observed<K>(env: &TestEnv, name: &str) -> Result<bool>
where
    K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Serialize
        + std::fmt::Debug,
{
    let obj = serde_json::to_value(env.api::<K>().get(name).await?)?;
    Ok(observed_value(&obj))
}

fn observed_value(obj: &Value) -> bool {
    obj["status"]["conditions"]
        .as_array()
        .is_some_and(|c| !c.is_empty())
}

/// Waits until kstatus reports `want` (once the operator has written a status).
pub async fn wait_kstatus<K>(env: &TestEnv, name: &str, want: &str) -> Result<String>
where
    K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Serialize
        + std::fmt::Debug,
{
    env.wait_for(&format!("kstatus {want} for {name}"), || async {
        if !observed::<K>(env, name).await? {
            return Ok(None);
        }
        let (status, message) = kstatus::<K>(env, name).await?;
        Ok((status == want).then_some(message))
    })
    .await
}

/// Samples kstatus for `during`: never Current, and InProgress at the end (the operator has
/// retried a few times by then). Also `kubectl wait --for=condition=Ready` must not return.
pub async fn stays_in_progress<K>(env: &TestEnv, plural: &str, name: &str) -> Result<String>
where
    K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Serialize
        + std::fmt::Debug,
{
    env.wait_for(&format!("a status on {name}"), || async {
        Ok(observed::<K>(env, name).await?.then_some(()))
    })
    .await?;
    let start = Instant::now();
    let mut last = (String::new(), String::new());
    while start.elapsed() < Duration::from_secs(8) {
        last = kstatus::<K>(env, name).await?;
        if last.0 == "Current" {
            bail!(
                "kstatus says Current for a change that cannot converge: {last:?}\n{:?}",
                env.api::<K>().get(name).await?
            );
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    ensure!(last.0 == "InProgress", "{last:?}");
    let target = format!("{plural}/{name}");
    let out = env
        .kubectl(&["wait", "--for=condition=Ready", &target, "--timeout=3s"])
        .await?;
    ensure!(
        !out.status.success(),
        "kubectl wait --for=condition=Ready returned for a change that did not converge: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    Ok(last.1)
}

/// [`wait_kstatus`] with its own deadline (for slow retries).
pub async fn wait_kstatus_within<K>(
    env: &TestEnv,
    name: &str,
    want: &str,
    within: Duration,
) -> Result<String>
where
    K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Serialize
        + std::fmt::Debug,
{
    let start = Instant::now();
    loop {
        let (status, message) = kstatus::<K>(env, name).await?;
        if status == want && observed::<K>(env, name).await? {
            return Ok(message);
        }
        if start.elapsed() > within {
            bail!(
                "kstatus still {status} ({message}) after {within:?}, want {want}\n{}",
                env.operator_log()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
