//! The operator image two ways: what the `Dockerfile` says (parsed) and what an OCI image archive
//! holds (read). Pure: no bed, no I/O beyond the bytes given. `e2e/tests/node/image.rs` compares
//! the two for the image the node bed runs.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result, bail, ensure};
use serde_json::Value;

/// What the Dockerfile's runtime stage (the last `FROM`) and its build say about the image.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DockerfileImage {
    /// `USER`.
    pub user: Option<String>,
    /// `ENTRYPOINT` (exec form).
    pub entrypoint: Vec<String>,
    /// `CMD` (exec form).
    pub cmd: Vec<String>,
    /// `EXPOSE`, each as `PORT/PROTO` (`tcp` when not given).
    pub exposed: Vec<String>,
    /// `COPY --from=<stage> SRC DST` of the runtime stage: (stage, src, dst).
    pub copies_from: Vec<(String, String, String)>,
    /// The `cargo build ...` command of the builder stage's `RUN`s (up to `&&`), whitespace-joined.
    pub cargo_build: Option<String>,
    /// `install ... SRC DST` in a builder `RUN`: (src, dst).
    pub installs: Vec<(String, String)>,
}

/// The operator crate's version: `[package] version` of the repository's `Cargo.toml` (the e2e
/// crate has its own `CARGO_PKG_VERSION`).
pub fn package_version(cargo_toml: &str) -> Result<String> {
    let mut in_package = false;
    for line in cargo_toml.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package
            && let Some((key, value)) = line.split_once('=')
            && key.trim() == "version"
        {
            return Ok(value.trim().trim_matches('"').to_string());
        }
    }
    bail!("no [package] version in Cargo.toml")
}

/// [`package_version`] of the repository's `Cargo.toml`.
pub fn operator_version() -> Result<String> {
    package_version(&std::fs::read_to_string(
        crate::repo_root().join("Cargo.toml"),
    )?)
}

/// Instructions with their continuation lines joined, comments and blank lines dropped.
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if let Some(cont) = trimmed.strip_suffix('\\') {
            current.push_str(cont);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        let (word, rest) = current
            .split_once(char::is_whitespace)
            .unwrap_or((&current, ""));
        out.push((word.to_ascii_uppercase(), rest.trim().to_string()));
        current.clear();
    }
    out
}

fn exec_form(args: &str) -> Result<Vec<String>> {
    serde_json::from_str(args).with_context(|| format!("not the exec (JSON) form: {args}"))
}

/// Parses the parts of a Dockerfile that describe the image.
pub fn parse_dockerfile(text: &str) -> Result<DockerfileImage> {
    let all = instructions(text);
    let last_from = all
        .iter()
        .rposition(|(w, _)| w == "FROM")
        .context("no FROM in the Dockerfile")?;
    let mut image = DockerfileImage::default();
    for (i, (word, args)) in all.iter().enumerate() {
        let runtime = i > last_from;
        match word.as_str() {
            "RUN" if !runtime => {
                for part in args.split("&&").map(str::trim) {
                    let words: Vec<&str> = part
                        .split_whitespace()
                        .filter(|w| !w.starts_with("--mount="))
                        .collect();
                    if let Some(at) = words.windows(2).position(|w| w == ["cargo", "build"]) {
                        image.cargo_build = Some(words[at..].join(" "));
                    }
                    if words.first() == Some(&"install") && words.len() >= 3 {
                        let n = words.len();
                        image
                            .installs
                            .push((words[n - 2].to_string(), words[n - 1].to_string()));
                    }
                }
            }
            "USER" if runtime => image.user = Some(args.clone()),
            "ENTRYPOINT" if runtime => image.entrypoint = exec_form(args)?,
            "CMD" if runtime => image.cmd = exec_form(args)?,
            "EXPOSE" if runtime => {
                for port in args.split_whitespace() {
                    image.exposed.push(if port.contains('/') {
                        port.to_string()
                    } else {
                        format!("{port}/tcp")
                    });
                }
            }
            "COPY" if runtime => {
                let words: Vec<&str> = args.split_whitespace().collect();
                if let Some(stage) = words.iter().find_map(|w| w.strip_prefix("--from=")) {
                    let paths: Vec<&str> = words
                        .iter()
                        .filter(|w| !w.starts_with("--"))
                        .copied()
                        .collect();
                    if let [src, dst] = paths[..] {
                        image.copies_from.push((
                            stage.to_string(),
                            src.to_string(),
                            dst.to_string(),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(image)
}

/// The regular files, directories and links of a tar (ustar/GNU/PAX long names): name -> entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TarEntry {
    File { mode: u32, data: Vec<u8> },
    Dir,
    Link(String),
}

fn octal(field: &[u8]) -> Result<u64> {
    let s = std::str::from_utf8(field)?.trim_matches(|c: char| c == '\0' || c == ' ');
    if s.is_empty() {
        return Ok(0);
    }
    Ok(u64::from_str_radix(s, 8)?)
}

fn cstr(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// Reads an uncompressed tar into a map of normalised paths (no leading `./` or `/`).
pub fn read_tar(bytes: &[u8]) -> Result<BTreeMap<String, TarEntry>> {
    let mut out = BTreeMap::new();
    let mut at = 0;
    let mut long_name: Option<String> = None;
    while at + 512 <= bytes.len() {
        let header = &bytes[at..at + 512];
        if header.iter().all(|&b| b == 0) {
            break;
        }
        let size = usize::try_from(octal(&header[124..136])?)?;
        let mode = u32::try_from(octal(&header[100..108])?)?;
        let kind = header[156];
        let data_start = at + 512;
        let data_end = data_start + size;
        ensure!(data_end <= bytes.len(), "tar entry runs past the end");
        let data = &bytes[data_start..data_end];
        at = data_start + size.div_ceil(512) * 512;
        let mut name = cstr(&header[0..100]);
        let prefix = cstr(&header[345..500]);
        if &header[257..262] == b"ustar" && !prefix.is_empty() {
            name = format!("{prefix}/{name}");
        }
        match kind {
            // GNU long name: the next entry's name.
            b'L' => {
                long_name = Some(cstr(data));
                continue;
            }
            // PAX extended header: `path=` overrides the next entry's name.
            b'x' => {
                let text = String::from_utf8_lossy(data);
                for record in text.lines() {
                    if let Some((_, kv)) = record.split_once(' ')
                        && let Some(path) = kv.strip_prefix("path=")
                    {
                        long_name = Some(path.to_string());
                    }
                }
                continue;
            }
            b'g' => continue,
            _ => {}
        }
        if let Some(n) = long_name.take() {
            name = n;
        }
        let key = name
            .trim_start_matches("./")
            .trim_start_matches('/')
            .trim_end_matches('/')
            .to_string();
        let entry = match kind {
            b'0' | 0 | b'7' => TarEntry::File {
                mode,
                data: data.to_vec(),
            },
            b'5' => TarEntry::Dir,
            b'1' | b'2' => TarEntry::Link(cstr(&header[157..257])),
            other => bail!("tar entry {key}: unsupported type {:?}", other as char),
        };
        if !key.is_empty() {
            out.insert(key, entry);
        }
    }
    Ok(out)
}

/// One image of an OCI image layout archive: its config (`config` of the image config JSON) and
/// its layers applied in order (whiteouts are not expected and rejected).
#[derive(Clone, Debug)]
pub struct OciImage {
    pub config: Value,
    pub files: BTreeMap<String, TarEntry>,
}

fn blob<'a>(layout: &'a BTreeMap<String, TarEntry>, digest: &str) -> Result<&'a [u8]> {
    let path = format!("blobs/{}", digest.replacen(':', "/", 1));
    match layout.get(&path) {
        Some(TarEntry::File { data, .. }) => Ok(data),
        _ => bail!("blob {digest} is not in the archive"),
    }
}

/// Reads the first image of an OCI image layout archive (index -> [index ->] manifest).
pub fn read_oci_archive(bytes: &[u8]) -> Result<OciImage> {
    let layout = read_tar(bytes)?;
    let index: Value = match layout.get("index.json") {
        Some(TarEntry::File { data, .. }) => serde_json::from_slice(data)?,
        _ => bail!("no index.json: not an OCI image layout"),
    };
    let mut descriptor = index["manifests"][0].clone();
    let manifest: Value = loop {
        let digest = descriptor["digest"]
            .as_str()
            .context("descriptor without digest")?;
        let doc: Value = serde_json::from_slice(blob(&layout, digest)?)?;
        if doc["manifests"].is_array() {
            descriptor = doc["manifests"][0].clone();
            continue;
        }
        break doc;
    };
    let config_digest = manifest["config"]["digest"].as_str().context("no config")?;
    let config: Value = serde_json::from_slice(blob(&layout, config_digest)?)?;
    let mut files = BTreeMap::new();
    for layer in manifest["layers"].as_array().into_iter().flatten() {
        let digest = layer["digest"].as_str().context("layer without digest")?;
        let media = layer["mediaType"].as_str().unwrap_or_default();
        ensure!(
            !media.ends_with("gzip") && !media.ends_with("zstd"),
            "compressed layer {media}: only uncompressed layers are read"
        );
        for (path, entry) in read_tar(blob(&layout, digest)?)? {
            let base = path.rsplit('/').next().unwrap_or_default();
            ensure!(!base.starts_with(".wh."), "whiteout {path} in a layer");
            files.insert(path, entry);
        }
    }
    Ok(OciImage {
        config: config["config"].clone(),
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCKERFILE: &str = r#"# syntax=docker/dockerfile:1
FROM rust:1.95-bookworm AS builder
WORKDIR /src
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    cargo build --release --locked --bin x \
    && install -D -m 0755 target/release/x /out/x
# a comment
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /out/x /usr/local/bin/x
USER 65532:65532
EXPOSE 8080 9090/udp
ENTRYPOINT ["/usr/local/bin/x"]
CMD ["run"]
"#;

    #[test]
    fn the_runtime_stage_and_the_build_are_read() {
        let got = parse_dockerfile(DOCKERFILE).unwrap();
        assert_eq!(
            got,
            DockerfileImage {
                user: Some("65532:65532".into()),
                entrypoint: vec!["/usr/local/bin/x".into()],
                cmd: vec!["run".into()],
                exposed: vec!["8080/tcp".into(), "9090/udp".into()],
                copies_from: vec![("builder".into(), "/out/x".into(), "/usr/local/bin/x".into())],
                cargo_build: Some("cargo build --release --locked --bin x".into()),
                installs: vec![("target/release/x".into(), "/out/x".into())],
            }
        );
        // A USER in the builder stage is not the image's.
        let builder_user = DOCKERFILE.replace("WORKDIR /src", "USER 1000");
        assert_eq!(
            parse_dockerfile(&builder_user).unwrap().user.as_deref(),
            Some("65532:65532")
        );
        assert!(parse_dockerfile("ENTRYPOINT x").is_err(), "no FROM");
        assert!(
            parse_dockerfile("FROM a\nENTRYPOINT /bin/x run").is_err(),
            "shell form"
        );
    }

    #[test]
    fn the_package_version_is_read_from_the_package_section() {
        let toml = "[package]\nname = \"x\"\nversion = \"1.2.3\"\n\n[workspace.dependencies]\nversion = \"9\"\n";
        assert_eq!(package_version(toml).unwrap(), "1.2.3");
        assert!(package_version("[dependencies]\nversion = \"1\"\n").is_err());
    }

    fn header(name: &str, kind: u8, size: usize) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(b"0000755\0");
        h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
        h[156] = kind;
        h[257..263].copy_from_slice(b"ustar\0");
        h
    }

    #[test]
    fn a_tar_with_long_names_reads_back() {
        let long = format!("usr/{}/f", "d".repeat(120));
        let mut tar = header("usr/", b'5', 0);
        tar.extend(header("./etc/passwd", b'0', 3));
        tar.extend(b"abc".iter().copied().chain(std::iter::repeat_n(0, 509)));
        let pax = format!("{} path={long}\n", long.len() + 10);
        tar.extend(header("pax", b'x', pax.len()));
        tar.extend(pax.bytes().chain(std::iter::repeat_n(0, 512 - pax.len())));
        tar.extend(header("short", b'0', 0));
        tar.extend(vec![0u8; 1024]);
        let files = read_tar(&tar).unwrap();
        assert_eq!(files.get("usr"), Some(&TarEntry::Dir));
        assert_eq!(
            files.get("etc/passwd"),
            Some(&TarEntry::File {
                mode: 0o755,
                data: b"abc".to_vec()
            })
        );
        assert!(files.contains_key(&long), "{:?}", files.keys());
        assert!(!files.contains_key("short"));
    }
}
