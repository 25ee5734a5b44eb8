#!/usr/bin/env bash
# Builds the bed's tools once and caches them under ~/.cache/ecs-operator/<tool>-<version>/.
# Go and Python only build test tools here; the product is Rust.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
cache="${ECS_OPERATOR_CACHE:-$HOME/.cache/ecs-operator}"
KUBE_DIR="$cache/kubernetes-$KUBE_VERSION"
ETCD_DIR="$cache/etcd-$ETCD_VERSION"
HELM_DIR="$cache/helm-$HELM_VERSION"
MOTO_DIR="$cache/moto-$MOTO_VERSION"
KSTATUS_DIR="$cache/kstatus-$KSTATUS_VERSION"

log() { echo "[build-tools] $*" >&2; }
need() {
  command -v "$1" >/dev/null 2>&1 || { echo "error: '$1' is required to build the test bed ($2)" >&2; exit 1; }
}

# go_build <module dir> <out dir> <ldflags> <package>...: builds in a scratch copy so the repo stays clean.
go_build() {
  local mod="$1" out="$2" ldflags="$3"; shift 3
  local work="$out/.build"
  rm -rf "$work" && mkdir -p "$work" && cp "$mod"/* "$work"/
  (cd "$work" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "$ldflags" -o "$work/bin/" "$@")
  # Move finished binaries into place (rename is atomic), so an interrupted build never
  # leaves a half-written executable that the "already built" checks would accept.
  mkdir -p "$out/bin" && mv "$work"/bin/* "$out/bin/"
  rm -rf "$work"
}

build_kube() {
  [[ -x "$KUBE_DIR/bin/kube-apiserver" && -x "$KUBE_DIR/bin/kubectl" ]] && return
  need go "Go builds kube-apiserver and kubectl from k8s.io/kubernetes"
  log "building kube-apiserver and kubectl $KUBE_VERSION (first run only; several minutes)"
  local minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
  local date; date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  local ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ld+=" -X $p.gitTreeState=clean -X $p.buildDate=$date"
  done
  go_build "$here/kube" "$KUBE_DIR" "$ld" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl
}

build_etcd() {
  [[ -x "$ETCD_DIR/bin/etcd" ]] && return
  need go "Go builds etcd"
  log "building etcd $ETCD_VERSION"
  go_build "$here/etcd" "$ETCD_DIR" "-s -w" .
  mv "$ETCD_DIR/bin/etcd-tool" "$ETCD_DIR/bin/etcd" 2>/dev/null || true
  [[ -x "$ETCD_DIR/bin/etcd" ]] || mv "$ETCD_DIR"/bin/* "$ETCD_DIR/bin/etcd"
}

build_helm() {
  [[ -x "$HELM_DIR/bin/helm" ]] && return
  need go "Go builds helm"
  log "building helm $HELM_VERSION"
  rm -rf "$HELM_DIR/.build" && mkdir -p "$HELM_DIR/bin" "$HELM_DIR/.build"
  CGO_ENABLED=0 GOBIN="$HELM_DIR/.build" go install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  mv "$HELM_DIR/.build/helm" "$HELM_DIR/bin/helm" && rm -rf "$HELM_DIR/.build"
}

build_kstatus() {  # the e2e tests' checker: cli-utils' kstatus on JSON from stdin
  [[ -x "$KSTATUS_DIR/bin/kstatus" ]] && return
  need go "Go builds the kstatus checker from sigs.k8s.io/cli-utils"
  log "building kstatus (cli-utils $KSTATUS_VERSION)"
  go_build "$here/kstatus" "$KSTATUS_DIR" "-s -w" .
}

build_moto() {
  # pip creates bin/moto_server long before it finishes, so completion is marked separately.
  [[ -f "$MOTO_DIR/.complete" ]] && return
  if [[ -x "$MOTO_DIR/bin/moto_server" ]] && "$MOTO_DIR/bin/python" -c 'import moto.server' 2>/dev/null; then
    touch "$MOTO_DIR/.complete"; return   # installed before the marker existed
  fi
  need python3 "Python runs moto, the AWS-compatible endpoint"
  log "installing moto[server]==$MOTO_VERSION into $MOTO_DIR"
  rm -rf "$MOTO_DIR"
  python3 -m venv "$MOTO_DIR"
  "$MOTO_DIR/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
  touch "$MOTO_DIR/.complete"
}

# lock: serialise builds, so two callers (e.g. two `e2e/env up`) never build the same tool at once.
lock() {
  command -v flock >/dev/null 2>&1 || return 0
  mkdir -p "$cache"
  exec 9>"$cache/.build.lock"
  if ! flock -n 9; then
    log "another build is running; waiting for it to finish"
    flock 9
  fi
}

main() {
  local what="${1:-all}"
  case "$what" in
    kube) lock; build_kube ;; etcd) lock; build_etcd ;; helm) lock; build_helm ;; moto) lock; build_moto ;;
    kstatus) lock; build_kstatus ;;
    all) lock; build_moto; build_etcd; build_kube; build_helm; build_kstatus ;;
    paths) echo "KUBE_BIN=$KUBE_DIR/bin ETCD_BIN=$ETCD_DIR/bin HELM_BIN=$HELM_DIR/bin MOTO_BIN=$MOTO_DIR/bin KSTATUS_BIN=$KSTATUS_DIR/bin" ;;
    *) echo "usage: $0 [all|kube|etcd|helm|moto|kstatus|paths]" >&2; exit 2 ;;
  esac
}
main "$@"
