#!/bin/bash
# RSS of one unsharded process (every object) against one shard (a third of them): N ObserveOnly
# EcrRepositories labelled round-robin for shards a, b and c, each process alone, RSS read from
# /proc 30 s and 60 s after its EcrRepository cache synced (docs/benchmarks.md, "Shards"). Run on a
# light bed: ECS_BED_DIR=.bed-shard-rss e2e/env with -- scripts/shard-rss.sh (N=12000 by default;
# BIN: the operator binary, default target/debug/ecs-operator).
set -euo pipefail
N=${N:-12000}
NS=shards-mem
BIN=${BIN:-$(dirname "$0")/../target/debug/ecs-operator}
OUT=${OUT:-$(mktemp -d)}
kubectl create namespace $NS >/dev/null
gen() {
  for i in $(seq 1 $N); do
    s=$(( i % 3 )); shard=(a b c); sh=${shard[$s]}
    cat <<Y
---
apiVersion: ecs.operator.dev/v1alpha1
kind: EcrRepository
metadata: {name: r$i, namespace: $NS, labels: {ecs.operator.dev/shard: $sh}}
spec: {repositoryName: shards-mem-r$i, managementPolicy: ObserveOnly}
Y
  done
}
gen > $OUT/objs.yaml
kubectl apply --server-side -f $OUT/objs.yaml >/dev/null
echo "applied $N objects"
rss() { awk '/VmRSS/{print $2}' /proc/$1/status; }
measure() { # label, args...: RSS 30 s and 60 s after the EcrRepository cache synced
  local label=$1; shift
  : > $OUT/$label.log
  $BIN run --region us-east-1 --watch-namespace $NS --resync-seconds 600 --metrics-bind-address 127.0.0.1:0 "$@" \
     2> $OUT/$label.log &
  local pid=$!
  local start=$(date +%s)
  until grep -q "controller cache synced kind=EcrRepository" $OUT/$label.log; do
    [ $(( $(date +%s) - start )) -gt 300 ] && { echo "$label: no sync"; break; }
    sleep 1
  done
  local synced=$(( $(date +%s) - start ))
  sleep 30; local r1=$(rss $pid); sleep 30; local r2=$(rss $pid)
  local n=$(grep -c "reconciled: in sync" $OUT/$label.log || true)
  echo "$label: synced after ${synced}s; rss_kib at +30s $r1, at +60s $r2; reconciles logged $n"
  kill $pid; wait $pid 2>/dev/null || true
}
export ECS_OPERATOR_LOG_LEVEL=ecs_operator=debug,info
measure unsharded
measure shard-a --shard a
measure unsharded-again
measure shard-a-again --shard a
kubectl delete namespace $NS --wait=false >/dev/null
