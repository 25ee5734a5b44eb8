//! The image the node bed runs is the one the `Dockerfile` describes: `scripts/image.sh` builds it
//! without a container engine and `e2e/env image` imports it; every other node test runs it through
//! the chart. This reads it back from the node's containerd (`ctr images export`) and compares it
//! with the parsed Dockerfile: user, entrypoint, command, exposed port, the release build of the
//! binary at the entrypoint, and what a distroless `cc-debian12:nonroot` base gives (CA certificates,
//! the `nonroot` user 65532) and does not (a shell).

use std::os::unix::fs::PermissionsExt as _;

use anyhow::{Context as _, Result, ensure};
use e2e::image::{TarEntry, operator_version, parse_dockerfile, read_oci_archive};
use e2e::node::{NodeBed, operator_image};
use e2e::repo_root;
use serde_json::json;

#[tokio::test]
async fn the_node_bed_runs_the_image_the_dockerfile_describes() -> Result<()> {
    let dockerfile = parse_dockerfile(&std::fs::read_to_string(repo_root().join("Dockerfile"))?)?;
    let bed = NodeBed::from_env()?;
    let (repository, tag) = operator_image().await?;
    let reference = format!("{repository}:{tag}");
    let dir = std::env::temp_dir().join(e2e::unique("image"));
    std::fs::create_dir_all(&dir)?;
    let archive = dir.join("image.tar");
    let archive_arg = archive.display().to_string();
    bed.ctr(&["images", "export", &archive_arg, &reference])
        .await?;
    let result = compare(&dockerfile, &std::fs::read(&archive)?, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn compare(
    dockerfile: &e2e::image::DockerfileImage,
    archive: &[u8],
    dir: &std::path::Path,
) -> Result<()> {
    let image = read_oci_archive(archive)?;
    let config = &image.config;

    // The runtime stage's instructions.
    ensure!(
        config["User"].as_str() == dockerfile.user.as_deref(),
        "User: image {}, Dockerfile {:?}",
        config["User"],
        dockerfile.user
    );
    ensure!(
        config["Entrypoint"] == json!(dockerfile.entrypoint),
        "Entrypoint: image {}, Dockerfile {:?}",
        config["Entrypoint"],
        dockerfile.entrypoint
    );
    ensure!(
        config["Cmd"] == json!(dockerfile.cmd),
        "Cmd: image {}, Dockerfile {:?}",
        config["Cmd"],
        dockerfile.cmd
    );
    let mut exposed: Vec<&str> = config["ExposedPorts"]
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    exposed.sort_unstable();
    ensure!(
        exposed == dockerfile.exposed,
        "ExposedPorts: image {exposed:?}, Dockerfile {:?}",
        dockerfile.exposed
    );
    // The chart runs the pod as the image's user (values.yaml podSecurityContext).
    ensure!(
        dockerfile.user.as_deref() == Some("65532:65532"),
        "the Dockerfile's USER is {:?}, the chart's runAsUser 65532",
        dockerfile.user
    );

    // The binary: the Dockerfile builds it with --release and copies it to the entrypoint; the
    // image builder runs the same cargo command; the binary in the image says it is a release build.
    let cargo = dockerfile
        .cargo_build
        .as_deref()
        .context("no `cargo build` in the Dockerfile")?;
    ensure!(
        cargo.split_whitespace().any(|w| w == "--release"),
        "the Dockerfile builds without --release: {cargo}"
    );
    let script = std::fs::read_to_string(repo_root().join("scripts/image.sh"))?;
    ensure!(
        script
            .lines()
            .any(|l| !l.trim_start().starts_with('#')
                && l.contains(&cargo.replacen("cargo ", "", 1))),
        "scripts/image.sh does not run the Dockerfile's `{cargo}`"
    );
    let entry = dockerfile
        .entrypoint
        .first()
        .context("the Dockerfile has no ENTRYPOINT")?;
    let (_, built, _) = dockerfile
        .copies_from
        .iter()
        .find(|(_, _, dst)| dst == entry)
        .with_context(|| format!("no COPY --from=<builder> to {entry}"))?;
    ensure!(
        dockerfile
            .installs
            .iter()
            .any(|(src, dst)| src == "target/release/ecs-operator" && dst == built),
        "{built} is not target/release/ecs-operator: {:?}",
        dockerfile.installs
    );
    let path = entry.trim_start_matches('/');
    let Some(TarEntry::File { mode, data }) = image.files.get(path) else {
        anyhow::bail!("no file {entry} in the image");
    };
    ensure!(mode & 0o111 != 0, "{entry} is not executable: {mode:o}");
    let binary = dir.join("ecs-operator");
    std::fs::write(&binary, data)?;
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755))?;
    let version = e2e::tool(&binary.display().to_string(), &["--version"]).await?;
    ensure!(
        version.trim() == format!("ecs-operator {} (release build)", operator_version()?),
        "{entry} in the image reports {version:?}"
    );

    // What the distroless base gives: CA certificates and the nonroot user; no shell.
    match image.files.get("etc/ssl/certs/ca-certificates.crt") {
        Some(TarEntry::File { data, .. }) if data.starts_with(b"-----BEGIN CERTIFICATE-----") => {}
        other => anyhow::bail!("no CA bundle at /etc/ssl/certs/ca-certificates.crt: {other:?}"),
    }
    match image.files.get("etc/passwd") {
        Some(TarEntry::File { data, .. })
            if String::from_utf8_lossy(data)
                .lines()
                .any(|l| l.starts_with("nonroot:x:65532:65532:")) => {}
        other => anyhow::bail!("/etc/passwd without nonroot 65532: {other:?}"),
    }
    let shells: Vec<&String> = image
        .files
        .keys()
        .filter(|p| {
            let base = p.rsplit('/').next().unwrap_or_default();
            ["sh", "bash", "dash", "ash", "zsh", "busybox"].contains(&base)
        })
        .collect();
    ensure!(shells.is_empty(), "the image has a shell: {shells:?}");
    Ok(())
}
