# shellcheck shell=bash
# e2e/node.sh: the node half of the test bed (`e2e/env up --node`), sourced by e2e/env.
#
# Network design (no packet leaves the machine):
#   - The bed creates network namespace ecsbed-<id> whose loopback also holds BED_ADDR
#     (10.213.255.1/32), with no route out. containerd and the kubelet run inside it (nsenter
#     --net only, so they share the host's mount namespace), so the CNI bridge `ecsbr0` and
#     every pod's veth live there; pods get 10.213.0.0/24 with the bridge as gateway.
#   - bed_forward.py is the only bridge: it listens on BED_ADDR:<apiserver port> and
#     BED_ADDR:<moto port> inside the netns and connects to 127.0.0.1:<same port> in the host
#     netns; and it serves the API server's egress selector (HTTP CONNECT on a unix socket) by
#     dialling only 10.213.0.0/16 inside the netns (kubelet logs/exec, pod proxy).
#   - Nothing is added to the host's interfaces, routes, iptables or sysctls. The bridge plugin's
#     ip_forward is the netns's own sysctl. kube-controller-manager and kube-scheduler run in the
#     host netns and talk to 127.0.0.1.
#   - Pods reach the API server at BED_ADDR:<port> (chart value extraEnv KUBERNETES_SERVICE_HOST
#     / _PORT: there is no kube-proxy, so the `kubernetes` Service IP leads nowhere) and moto at
#     http://BED_ADDR:<port>: the ECS_BED_POD_* exports. The host shell keeps 127.0.0.1.
# Everything else lives under $BED/node (containerd root/state, runc state, pod netns mounts,
# kubelet root, pod logs) and cgroup root /ecsbed-<id>; `down` removes all of it.

BED_ADDR=10.213.255.1
POD_CIDR=10.213.0.0/24
BED_CIDR=10.213.0.0/16
NODE_NAME=ecsbed-node
NODE_ID="$(printf %s "$BED" | sha1sum | cut -c1-8)"
NETNS="ecsbed-$NODE_ID"
CG_ROOT="/ecsbed-$NODE_ID"
NODE_DIR="$BED/node"
CTR_SOCK="$NODE_DIR/containerd.sock"
PAUSE_REF="ecsbed.local/pause:bed"

node_want() {
  case "$1" in
    bed-forward) echo "$REPO/e2e/tools/bed_forward.py" ;;
    containerd) echo "--config=$NODE_DIR/containerd.toml" ;;
    kubelet | kube-controller-manager | kube-scheduler) echo "$KUBE_BIN/$1" ;;
    *) echo "/nonexistent/$1" ;;
  esac
}

node_url() {
  case "$1" in
    bed-forward) echo "$BED_ADDR:{$APISERVER_PORT,$MOTO_PORT} in netns $NETNS -> 127.0.0.1" ;;
    containerd) echo "unix://$CTR_SOCK" ;;
    kubelet) echo "https://$BED_ADDR:10250 (netns $NETNS)" ;;
    kube-controller-manager) echo "https://127.0.0.1:$KCM_PORT" ;;
    kube-scheduler) echo "https://127.0.0.1:$SCHED_PORT" ;;
  esac
}

ctr_() { ctr --address "$CTR_SOCK" --namespace k8s.io "$@"; }
ctr_quiet() { ctr_ "$@" >/dev/null 2>&1; }
in_netns() { nsenter --net="/run/netns/$NETNS" -- "$@"; }

cgroup_dirs() {  # the bed's cgroup root in every mounted v1 hierarchy (or the v2 root)
  local m
  if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
    echo "/sys/fs/cgroup$CG_ROOT"
    return
  fi
  for m in /sys/fs/cgroup/*/; do
    [[ -d "$m" && ! -L "${m%/}" ]] && echo "${m%/}$CG_ROOT"
  done
}

node_prepare() {  # before the API server starts: files, netns, cgroups, forwarder, containerd
  need nsenter "it runs containerd and the kubelet in the bed's network namespace"
  need ip "it creates the bed's network namespace"
  need containerd "the node runs pods with it (apt-get install containerd runc containernetworking-plugins)"
  local ports d
  read -r KCM_PORT SCHED_PORT < <(free_ports 2)
  printf 'KCM_PORT=%s\nSCHED_PORT=%s\n' "$KCM_PORT" "$SCHED_PORT" >>"$BED/bed.env"
  rm -rf "$NODE_DIR"
  mkdir -p "$NODE_DIR"/{containerd,runc,cni,cni-ipam,kubelet,pod-logs,image}

  # The network namespace: one address, no route out.
  ip netns del "$NETNS" 2>/dev/null || true
  ip netns add "$NETNS"
  ip -n "$NETNS" link set lo up
  # On the netns's loopback (no dummy module here): local to the netns, reached from the bridge.
  ip -n "$NETNS" addr add "$BED_ADDR/32" dev lo
  for d in $(cgroup_dirs); do mkdir -p "$d"; done

  cat >"$NODE_DIR/egress.yaml" <<EOF
apiVersion: apiserver.k8s.io/v1beta1
kind: EgressSelectorConfiguration
egressSelections:
- name: cluster
  connection:
    proxyProtocol: HTTPConnect
    transport:
      uds:
        udsName: $NODE_DIR/egress.sock
EOF
  cat >"$NODE_DIR/containerd.toml" <<EOF
version = 2
root = "$NODE_DIR/containerd/root"
state = "$NODE_DIR/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$CTR_SOCK"
[ttrpc]
  address = "$CTR_SOCK.ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$NODE_DIR/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_REF"
  # No CAP_SYS_RESOURCE in this sandbox: runc may not lower oom_score_adj below ours.
  restrict_oom_score_adj = true
  disable_apparmor = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "$NODE_DIR/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN"
    conf_dir = "$NODE_DIR/cni"
EOF
  # ipMasq off: nothing is NATed, and no iptables rule is written anywhere.
  cat >"$NODE_DIR/cni/10-ecsbed.conflist" <<EOF
{"cniVersion": "0.4.0", "name": "ecsbed", "plugins": [
  {"type": "bridge", "bridge": "ecsbr0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$NODE_DIR/cni-ipam",
            "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}]}}]}
EOF
  : >"$NODE_DIR/resolv.conf"  # pods get no nameserver: nothing they need has a DNS name
  cat >"$NODE_DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $BED_ADDR
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
containerRuntimeEndpoint: unix://$CTR_SOCK
# This host: cgroup v1, cgroupfs, swap may be on.
cgroupDriver: cgroupfs
cgroupRoot: $CG_ROOT
failCgroupV1: false
failSwapOn: false
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $BED/pki/ca.crt}
authorization: {mode: AlwaysAllow}
podLogsDir: $NODE_DIR/pod-logs
resolvConf: $NODE_DIR/resolv.conf
# A shared CI disk must not evict the bed's pods or garbage-collect its imported images.
evictionHard: {memory.available: "1Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
# Imported images cannot be pulled again: never garbage-collect them (a full disk would).
imageMinimumGCAge: 87600h
nodeStatusUpdateFrequency: 4s
syncFrequency: 10s
serializeImagePulls: false
maxPods: 30
# Tests kill the operator's container again and again: restart it within 2 s each time instead
# of the default crash-loop back-off (10 s doubling to 5 min). Beta and on by default in 1.35.
crashLoopBackOff: {maxContainerRestartPeriod: 2s}
EOF
  sed -e "s#server: https://127.0.0.1:$APISERVER_PORT#server: https://$BED_ADDR:$APISERVER_PORT#" \
    "$BED/kubeconfig" >"$NODE_DIR/kubelet.kubeconfig"
  chmod 600 "$NODE_DIR/kubelet.kubeconfig"

  start bed-forward python3 "$REPO/e2e/tools/bed_forward.py" --netns "/run/netns/$NETNS" \
    --into "$BED_ADDR:$APISERVER_PORT=$APISERVER_PORT" --into "$BED_ADDR:$MOTO_PORT=$MOTO_PORT" \
    --connect-uds "$NODE_DIR/egress.sock" --allow "$BED_CIDR"
  start containerd nsenter --net="/run/netns/$NETNS" -- containerd --config="$NODE_DIR/containerd.toml"
}

pause_image() {  # builds the pause image archive (once per bed) and imports it
  local tar="$NODE_DIR/image/pause.tar"
  python3 "$REPO/e2e/tools/oci_image.py" --out "$tar" --ref "$PAUSE_REF" --entrypoint /pause \
    --user 65535:65535 "$PAUSE_BIN/pause=/pause" >/dev/null
  ctr_ images import "$tar" >&2
}

node_start() {  # after the API server is ready
  wait_for "containerd" ctr_quiet version
  pause_image
  local kc_admin="$BED/kubeconfig"
  start kube-controller-manager "$KUBE_BIN/kube-controller-manager" \
    --kubeconfig="$kc_admin" --authentication-kubeconfig="$kc_admin" --authorization-kubeconfig="$kc_admin" \
    --bind-address=127.0.0.1 --secure-port="$KCM_PORT" --leader-elect=false \
    --use-service-account-credentials=false \
    --root-ca-file="$BED/pki/ca.crt" --service-account-private-key-file="$BED/pki/sa.key" \
    --service-cluster-ip-range=10.0.0.0/24 \
    --horizontal-pod-autoscaler-sync-period=3s \
    --controllers='*,-nodeipam,-service-lb-controller,-cloud-node-lifecycle-controller,-node-route-controller,-persistentvolume-expander-controller,-ttl-controller,-bootstrap-signer-controller,-token-cleaner-controller' \
    --profiling=false
  start kube-scheduler "$KUBE_BIN/kube-scheduler" \
    --kubeconfig="$kc_admin" --authentication-kubeconfig="$kc_admin" --authorization-kubeconfig="$kc_admin" \
    --bind-address=127.0.0.1 --secure-port="$SCHED_PORT" --leader-elect=false --profiling=false
  start kubelet nsenter --net="/run/netns/$NETNS" -- "$KUBE_BIN/kubelet" \
    --config="$NODE_DIR/kubelet.yaml" --kubeconfig="$NODE_DIR/kubelet.kubeconfig" \
    --root-dir="$NODE_DIR/kubelet" --cert-dir="$NODE_DIR/kubelet/pki" \
    --hostname-override="$NODE_NAME" --node-ip="$BED_ADDR" --v=1
}

node_ready() {
  [[ "$(kc get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]
}
default_sa_ready() { kc get serviceaccount default --namespace=default >/dev/null 2>&1; }

node_wait_ready() {
  wait_for "node $NODE_NAME Ready" node_ready
  wait_for "the controller-manager's default ServiceAccount" default_sa_ready
  log "node $NODE_NAME is Ready (netns $NETNS, pods $POD_CIDR, bed address $BED_ADDR)"
}

node_healthy() {
  local name
  for name in "${NODE_COMPONENTS[@]}"; do alive "$name" || return 1; done
  node_ready
}

node_exports() {
  echo 'export ECS_BED_NODE=1'
  printf 'export ECS_BED_NETNS=%q\n' "$NETNS"
  printf 'export ECS_BED_CONTAINERD=%q\n' "$CTR_SOCK"
  printf 'export ECS_BED_POD_KUBERNETES_SERVICE_HOST=%q\n' "$BED_ADDR"
  printf 'export ECS_BED_POD_KUBERNETES_SERVICE_PORT=%q\n' "$APISERVER_PORT"
  printf 'export ECS_BED_POD_AWS_ENDPOINT_URL=%q\n' "http://$BED_ADDR:$MOTO_PORT"
}

# node_status: node Ready, the netns has no route out, and what reached the forwarder from pods.
node_status() {
  local ok=0 routes peers
  if node_ready; then echo "node $NODE_NAME: Ready"; else echo "node $NODE_NAME: not Ready"; ok=1; fi
  routes="$(ip -n "$NETNS" -4 route show 2>/dev/null)" || { echo "netns $NETNS: missing"; return 1; }
  if grep -q '^default' <<<"$routes"; then
    echo "netns $NETNS: HAS A DEFAULT ROUTE"; ok=1
  else
    echo "netns $NETNS: no default route; routes: $(tr '\n' ';' <<<"$routes")"
  fi
  peers="$(grep -oE 'accept peer=10\.213\.0\.[0-9]+' "$BED/logs/bed-forward.log" 2>/dev/null | sort | uniq -c | tr '\n' ';')" || true
  echo "pod connections through the forwarder (count peer): ${peers:-none yet}"
  return "$ok"
}

# node_stop: kubelet and control plane, every container, containerd and its shims, whatever
# still runs in the bed's cgroups, mounts under $BED, cgroups, the netns, then $NODE_DIR.
node_stop() {
  local name pid left d m
  [[ -d "$NODE_DIR" ]] || { ip netns del "$NETNS" 2>/dev/null || true; return 0; }
  stop_group kubelet kube-scheduler kube-controller-manager
  if alive containerd; then
    for name in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s SIGKILL "$name" >/dev/null 2>&1 || true; done
    sleep 0.5
    for name in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete -f "$name" >/dev/null 2>&1 || true; done
  fi
  stop_group containerd
  # Shims outlive containerd; ours are the ones whose -address is our socket.
  for pid in $(pgrep -f -- "-address $CTR_SOCK" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
  for d in $(cgroup_dirs); do
    [[ -d "$d" ]] || continue
    while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done < <(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null)
  done
  stop_group bed-forward
  for ((left = 0; left < 20; left++)); do
    m="$(findmnt -rn -o TARGET | awk -v p="$BED/" 'index($0, p) == 1' | sort -r)"
    [[ -z "$m" ]] && break
    while read -r d; do umount "$d" 2>/dev/null || umount -l "$d" 2>/dev/null || true; done <<<"$m"
  done
  for d in $(cgroup_dirs); do
    [[ -d "$d" ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    [[ -d "$d" ]] && log "warning: could not remove cgroup $d"
  done
  ip netns del "$NETNS" 2>/dev/null || true
  if findmnt -rn -o TARGET | awk -v p="$BED/" 'index($0, p) == 1' | grep -q .; then
    die "mounts under $BED remain; not deleting $NODE_DIR"
  fi
  rm -rf "$NODE_DIR"
  return 0
}

# cmd_image [TAG]: the operator's release image (scripts/image.sh: what the Dockerfile builds,
# without a container engine), imported into the node.
cmd_image() {
  exec 3>&1 1>&2
  load_bed_env && ((${NODE:-0})) && alive containerd || die "no node bed in $BED (run: e2e/env up --node)"
  local out="$NODE_DIR/image" ref
  local -a which=(--repository ecsbed.local/ecs-operator)
  [[ -z "${1:-}" ]] || which=(--ref "ecsbed.local/ecs-operator:$1")
  ref="$("$REPO/scripts/image.sh" "${which[@]}" --out "$out/operator.tar" | sed -n 's/^REF=//p')"
  [[ -n "$ref" ]] || die "scripts/image.sh printed no REF="
  ctr_ images import "$out/operator.tar" >&2
  rm -f "$out/operator.tar"
  ctr_quiet images check "name==$PAUSE_REF" && ctr_ images ls -q | grep -qx "$PAUSE_REF" || pause_image
  log "imported $ref"
  echo "IMAGE=$ref" >&3
}
