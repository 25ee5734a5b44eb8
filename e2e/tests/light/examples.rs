//! The manifests in `examples/` (what `make run` applies) become Ready on the bed. Each file is
//! applied as shipped except for two rewrites that let tests share a bed: the namespace is the
//! test's, and the top-level AWS names (clusterName, family, serviceName, repositoryName, an
//! EcsSchedule's name) get a unique suffix. The objects are deleted afterwards, also when the test
//! fails, so the test can run again on the same bed.

use anyhow::{Context, Result, ensure};
use e2e::{TestEnv, unique};

#[tokio::test]
async fn every_example_becomes_ready() -> Result<()> {
    let env = TestEnv::new("examples").await?;
    let suffix = unique("x").trim_start_matches("x-").to_string();
    let dir = e2e::repo_root().join("examples");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    ensure!(!files.is_empty(), "no examples in {}", dir.display());
    let out_dir = std::env::temp_dir().join(format!("{}-examples", env.namespace));
    std::fs::create_dir_all(&out_dir)?;
    for file in &files {
        let text = std::fs::read_to_string(file)?;
        let name = file.file_name().unwrap_or_default();
        std::fs::write(
            out_dir.join(name),
            e2e::rewrite_example(&text, &env.namespace, &suffix),
        )?;
    }
    let dir_arg = out_dir.to_string_lossy().to_string();
    let result = apply_and_wait(&env, &dir_arg).await;
    // With the operator still running, so finalizers delete what was created in AWS.
    let deleted = env
        .kubectl(&["delete", "-f", &dir_arg, "--timeout=120s"])
        .await;
    let _ = std::fs::remove_dir_all(&out_dir);
    env.cleanup_all().await?;
    result?;
    let deleted = deleted?;
    ensure!(
        deleted.status.success(),
        "kubectl delete of examples/: {}",
        String::from_utf8_lossy(&deleted.stderr)
    );
    Ok(())
}

/// `kubectl apply` of the rewritten examples, then what `make run` waits for.
async fn apply_and_wait(env: &TestEnv, dir_arg: &str) -> Result<()> {
    let out = env
        .kubectl(&["apply", "--server-side", "-f", dir_arg])
        .await?;
    ensure!(
        out.status.success(),
        "kubectl apply of examples/: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // What `make run` waits for.
    let out = env
        .kubectl(&[
            "wait",
            "--for=condition=Ready",
            "-f",
            dir_arg,
            "--timeout=120s",
        ])
        .await?;
    ensure!(
        out.status.success(),
        "examples not Ready: {}\n{}\noperator log tail:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        env.operator_log()
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .join("\n")
    );
    Ok(())
}

#[test]
fn rewrite_touches_only_namespace_and_aws_names() {
    let text = "kind: EcsService\nmetadata:\n  name: web\n  namespace: default\nspec:\n  serviceName: web\n  clusterRef: {name: demo}\n  tags:\n    - {key: family, value: x}\n---\nkind: EcrRepository\nmetadata:\n  name: worker\nspec: {}\n---\nkind: EcsSchedule\nmetadata:\n  name: nightly\nspec:\n  roleArn: r";
    let got = e2e::rewrite_example(text, "t1", "abc");
    assert_eq!(
        got,
        "kind: EcsService\nmetadata:\n  name: web\n  namespace: t1\nspec:\n  serviceName: web-abc\n  clusterRef: {name: demo}\n  tags:\n    - {key: family, value: x}\n---\nkind: EcrRepository\nmetadata:\n  name: worker\nspec:\n  repositoryName: worker-abc\n---\nkind: EcsSchedule\nmetadata:\n  name: nightly\nspec:\n  name: nightly-abc\n  roleArn: r"
    );
}
