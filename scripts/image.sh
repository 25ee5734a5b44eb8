#!/usr/bin/env bash
# scripts/image.sh: the operator image the Dockerfile describes, built without a container engine.
#
#   scripts/image.sh [--ref NAME:TAG | --repository NAME] [--out FILE.tar]
#
# Builds the release binary with the Dockerfile's own command (`cargo build --release --locked
# --package ecs-operator --bin ecs-operator`) and writes an OCI image archive (an OCI image layout
# in a tar; `ctr images import`, `podman load`, `skopeo copy oci-archive:FILE docker://...`) with
# what the Dockerfile's runtime stage (gcr.io/distroless/cc-debian12:nonroot) gives it:
#   /usr/local/bin/ecs-operator   the release binary, unstripped, as `install` copies it
#   glibc                         the libraries the binary links, from this Debian 12 host: the same
#                                 glibc (2.36) as the Dockerfile's builder and distroless runtime
#   /etc/ssl/certs/ca-certificates.crt, /etc/passwd and /etc/group (root, nonroot = 65532), /tmp,
#   /home/nonroot; no shell, no package manager, nothing else
#   USER 65532:65532, EXPOSE 8080, ENTRYPOINT ["/usr/local/bin/ecs-operator"], CMD ["run"]
# e2e/tests/node/image.rs reads the Dockerfile and the imported image and fails when they differ.
#
# Prints the image reference and the archive path (REF=..., ARCHIVE=...) on stdout. Default ref
# ecs-operator:<crate version>; --repository NAME: NAME:<crate version>-<binary sha256, 12 digits>,
# a tag per build. Default out <target dir>/image/ecs-operator.oci.tar.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$REPO/Cargo.toml" | head -n1)"
REF="ecs-operator:$VERSION"
REPOSITORY=""
OUT="$TARGET/image/ecs-operator.oci.tar"
while (($#)); do
  case "$1" in
    --ref) REF="$2"; shift ;;
    --repository) REPOSITORY="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    *) echo "usage: $0 [--ref NAME:TAG | --repository NAME] [--out FILE.tar]" >&2; exit 2 ;;
  esac
  shift
done

log() { echo "[image] $*" >&2; }

# The Dockerfile's build command, verbatim (a test compares the two).
(cd "$REPO" && ${CARGO:-cargo} build --release --locked --package ecs-operator --bin ecs-operator >&2)
bin="$TARGET/release/ecs-operator"
[[ -x "$bin" ]] || { log "no $bin after the build"; exit 1; }
[[ -z "$REPOSITORY" ]] || REF="$REPOSITORY:$VERSION-$(sha256sum "$bin" | cut -c1-12)"

files=("$bin=/usr/local/bin/ecs-operator"
  "/etc/ssl/certs/ca-certificates.crt=/etc/ssl/certs/ca-certificates.crt")
# The glibc libraries the binary links (and the loader), at the paths the loader looks in.
while read -r lib; do
  files+=("$(realpath "$lib")=$lib")
done < <(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')

mkdir -p "$(dirname "$OUT")"
python3 "$REPO/e2e/tools/oci_image.py" --out "$OUT" --ref "$REF" \
  --entrypoint /usr/local/bin/ecs-operator --cmd run --user 65532:65532 --passwd nonroot:65532 \
  --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt --expose 8080/tcp \
  --label "org.opencontainers.image.version=$VERSION" \
  --label "org.opencontainers.image.title=ecs-operator" \
  "${files[@]}" >/dev/null
log "wrote $OUT ($REF, $(du -h "$OUT" | cut -f1))"
echo "REF=$REF"
echo "ARCHIVE=$OUT"
