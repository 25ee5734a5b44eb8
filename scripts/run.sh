#!/usr/bin/env bash
# `make run`: start the bed (or reuse a running one), run the operator on it, apply examples/,
# wait until they are Ready and show both sides (Kubernetes and moto). Runs until Ctrl-C (or
# `make stop`); then stops the operator and the bed.
#
# Knobs: ECS_BED_DIR (state dir, default <repo>/.bed), ECS_OPERATOR_BIN (default the debug build),
# CARGO.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
export ECS_BED_DIR="${ECS_BED_DIR:-$REPO/.bed}"
BIN="${ECS_OPERATOR_BIN:-$REPO/target/debug/ecs-operator}"
CARGO="${CARGO:-cargo}"

eval "$(e2e/env up)"
op=""
stop() {
  if [[ -n "$op" ]]; then
    kill "$op" 2>/dev/null || true
    wait "$op" 2>/dev/null || true
  fi
  e2e/env down >&2
}
trap stop EXIT
trap 'exit 130' INT TERM

log="$ECS_BED_DIR/logs/operator.log"
"$BIN" run --resync-seconds 30 2>"$log" &
op=$!
echo "$op" >"$ECS_BED_DIR/operator.pid"

kubectl apply --server-side -f examples/
kubectl wait --for=condition=Ready -f examples/ --timeout=120s || { tail -n 30 "$log"; exit 1; }

echo; echo "== Kubernetes: kubectl get ecs -A"
kubectl get ecs -A
echo; echo "== AWS (moto at $AWS_ENDPOINT_URL)"
"$CARGO" run -q -p e2e --bin aws-view
echo; echo "Operator log: $log. In another shell: source $ECS_BED_DIR/env.sh"
echo "Ctrl-C (or 'make stop') stops the operator and the bed."
wait "$op" || true
