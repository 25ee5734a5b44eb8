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
PAUSE_DIR="$cache/pause-$PAUSE_VERSION"
KEDA_DIR="$cache/keda-$KEDA_VERSION"
ARGOLUA_DIR="$cache/argolua-$ARGOLUA_VERSION"
CNI_BIN="${ECS_BED_CNI_BIN:-/usr/lib/cni}"

log() { echo "[build-tools] $*" >&2; }
need() {
  command -v "$1" >/dev/null 2>&1 || { echo "error: '$1' is required to build the test bed ($2)" >&2; exit 1; }
}

# go_build <module dir> <out dir> <ldflags> <package>...: builds in a scratch copy so the repo stays clean.
# GO_BUILD_WORK names the scratch dir (default <out>/.build), so two builds can share one <out>.
go_build() {
  local mod="$1" out="$2" ldflags="$3"; shift 3
  local work="${GO_BUILD_WORK:-$out/.build}"
  rm -rf "$work" && mkdir -p "$work" && cp "$mod"/* "$work"/
  (cd "$work" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "$ldflags" -o "$work/bin/" "$@")
  # Move finished binaries into place (rename is atomic), so an interrupted build never
  # leaves a half-written executable that the "already built" checks would accept.
  mkdir -p "$out/bin" && mv "$work"/bin/* "$out/bin/"
  rm -rf "$work"
}

kube_ldflags() {
  local minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
  local date; date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  local ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ld+=" -X $p.gitTreeState=clean -X $p.buildDate=$date"
  done
  echo "$ld"
}

build_kube() {
  [[ -x "$KUBE_DIR/bin/kube-apiserver" && -x "$KUBE_DIR/bin/kubectl" ]] && return
  need go "Go builds kube-apiserver and kubectl from k8s.io/kubernetes"
  log "building kube-apiserver and kubectl $KUBE_VERSION (first run only; several minutes)"
  go_build "$here/kube" "$KUBE_DIR" "$(kube_ldflags)" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl
}

# The node bed's control plane and kubelet: same module and version as the apiserver.
build_kube_node() {
  [[ -x "$KUBE_DIR/bin/kubelet" && -x "$KUBE_DIR/bin/kube-controller-manager" && -x "$KUBE_DIR/bin/kube-scheduler" ]] && return
  need go "Go builds kubelet, kube-controller-manager and kube-scheduler from k8s.io/kubernetes"
  log "building kubelet, kube-controller-manager and kube-scheduler $KUBE_VERSION (first run only; several minutes)"
  GO_BUILD_WORK="$KUBE_DIR/.build-node" go_build "$here/kube" "$KUBE_DIR" "$(kube_ldflags)" \
    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler
}

# The pause image's program: a static binary that sleeps until signalled (no registry here).
build_pause() {
  [[ -x "$PAUSE_DIR/bin/pause" ]] && return
  need gcc "gcc builds the node bed's pause program"
  log "building the pause program"
  mkdir -p "$PAUSE_DIR/bin"
  gcc -static -O2 -o "$PAUSE_DIR/bin/pause.tmp" "$here/pause/pause.c"
  mv "$PAUSE_DIR/bin/pause.tmp" "$PAUSE_DIR/bin/pause"
}

# Node runtime from Debian: containerd, runc, CNI plugins (bridge, host-local, loopback).
need_node_packages() {
  local missing=()
  command -v containerd >/dev/null 2>&1 || missing+=(containerd)
  command -v runc >/dev/null 2>&1 || missing+=(runc)
  [[ -x "$CNI_BIN/bridge" && -x "$CNI_BIN/host-local" && -x "$CNI_BIN/loopback" ]] || missing+=(containernetworking-plugins)
  ((${#missing[@]} == 0)) && return
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    log "installing ${missing[*]} with apt-get"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  else
    echo "error: the node bed needs ${missing[*]} (Debian: apt-get install -y ${missing[*]})" >&2; exit 1
  fi
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

# KEDA's operator (the part that activates 0 <-> 1 and runs the scalers), its metrics adapter (the
# external.metrics.k8s.io API server the HPA reads through the aggregation layer, for 1 <-> N) and
# its CRDs, from the module source (its go.mod has replace directives, so `go install pkg@version`
# refuses it).
build_keda() {
  [[ -x "$KEDA_DIR/bin/keda-operator" && -x "$KEDA_DIR/bin/keda-adapter" && -d "$KEDA_DIR/crds" ]] && return
  need go "Go builds the KEDA operator and metrics adapter from github.com/kedacore/keda/v2"
  log "building the KEDA operator and metrics adapter $KEDA_VERSION (first run only; tens of minutes)"
  local src work="$KEDA_DIR/.build"
  src="$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "github.com/kedacore/keda/v2@$KEDA_VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [[ -d "$src" ]] || { echo "error: go mod download of keda $KEDA_VERSION gave no source dir" >&2; exit 1; }
  rm -rf "$work" && mkdir -p "$work/out" && cp -r "$src"/. "$work"/ && chmod -R u+w "$work"
  (cd "$work" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath \
    -ldflags "-s -w -X github.com/kedacore/keda/v2/version.Version=$KEDA_VERSION" -o "$work/out/" ./cmd/operator ./cmd/adapter)
  mkdir -p "$KEDA_DIR/bin" "$KEDA_DIR/.crds"
  cp "$work"/config/crd/bases/*.yaml "$KEDA_DIR/.crds/"
  rm -rf "$KEDA_DIR/crds" && mv "$KEDA_DIR/.crds" "$KEDA_DIR/crds"
  mv "$work/out/adapter" "$KEDA_DIR/bin/keda-adapter"
  mv "$work/out/operator" "$KEDA_DIR/bin/keda-operator"
  rm -rf "$work"
}

build_argolua() {  # the e2e tests' Argo CD health runner: gopher-lua, as Argo CD embeds it
  [[ -x "$ARGOLUA_DIR/bin/argolua" ]] && return
  need go "Go builds the Argo CD health runner from github.com/yuin/gopher-lua"
  log "building argolua (gopher-lua, $ARGOLUA_VERSION)"
  go_build "$here/argolua" "$ARGOLUA_DIR" "-s -w" .
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
lock() {  # lock [name]
  command -v flock >/dev/null 2>&1 || return 0
  mkdir -p "$cache"
  exec 9>"$cache/.build${1:+-$1}.lock"
  if ! flock -n 9; then
    log "another build is running; waiting for it to finish"
    flock 9
  fi
}

main() {
  local what="${1:-all}"
  case "$what" in
    kube) lock; build_kube ;; etcd) lock; build_etcd ;; helm) lock; build_helm ;; moto) lock; build_moto ;;
    kstatus) lock; build_kstatus ;; argolua) lock; build_argolua ;;
    all) lock; build_moto; build_etcd; build_kube; build_helm; build_kstatus; build_argolua ;;
    # The node bed's extras, under their own lock so they can build while `all` does.
    node) lock node; need_node_packages; build_pause; build_kube_node ;;
    keda) lock keda; build_keda ;;
    paths) echo "KUBE_BIN=$KUBE_DIR/bin ETCD_BIN=$ETCD_DIR/bin HELM_BIN=$HELM_DIR/bin MOTO_BIN=$MOTO_DIR/bin KSTATUS_BIN=$KSTATUS_DIR/bin ARGOLUA_BIN=$ARGOLUA_DIR/bin PAUSE_BIN=$PAUSE_DIR/bin CNI_BIN=$CNI_BIN KEDA_DIR=$KEDA_DIR" ;;
    *) echo "usage: $0 [all|node|keda|kube|etcd|helm|moto|kstatus|argolua|paths]" >&2; exit 2 ;;
  esac
}
main "$@"
