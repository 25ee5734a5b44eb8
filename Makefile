# ecs-operator: `make run` (local bed + operator + examples) and `make test` (what CI runs).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CARGO ?= cargo
# Build output follows CARGO_TARGET_DIR like cargo does; the e2e tests run the same binary.
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
BIN := $(TARGET_DIR)/debug/ecs-operator
export ECS_OPERATOR_BIN ?= $(abspath $(BIN))
RUN_BED := $(CURDIR)/.bed
TEST_BED := $(CURDIR)/.bed-test
NODE_BED := $(CURDIR)/.bed-test-node
CHAOS_BED := $(CURDIR)/.bed-chaos
BENCH_BED := $(CURDIR)/.bed-bench
EXTENDED_BED := $(CURDIR)/.bed-test-extended
# Tests run in parallel on the light bed and on the node bed (make e2e-light E2E_THREADS=2).
E2E_THREADS ?= 3
E2E_NODE_THREADS ?= 2
# Three e2e test binaries (e2e/tests/<name>/main.rs): `light` runs on the light bed, `node` needs
# the node bed (pods, controller-manager), `extended` needs tools too heavy for CI (KEDA) and
# runs on the node bed (its HPA controller).
E2E_TEST := $(CARGO) test -p e2e --test

.PHONY: help
help: ## list targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

.PHONY: tools
tools: ## build/cache kube-apiserver, kubectl, etcd, helm, moto and the node bed's kubelet etc.
	e2e/tools/build.sh all
	e2e/tools/build.sh node

.PHONY: build
build: ## build the operator and the e2e crate
	$(CARGO) build --workspace --bins --tests

.PHONY: crds
crds: build ## regenerate crds/ (and the Helm chart's copy) from the Rust types
	$(BIN) crds > crds/ecs.operator.dev.yaml
	cp crds/ecs.operator.dev.yaml charts/ecs-operator/crds/ecs.operator.dev.yaml

.PHONY: check-crds
check-crds: build ## fail if crds/ or the chart's copy differs from what the code generates
	@$(BIN) crds | diff -u crds/ecs.operator.dev.yaml - \
	  || { echo "crds/ is stale: run 'make crds' and commit the result" >&2; exit 1; }
	@$(BIN) crds | diff -u charts/ecs-operator/crds/ecs.operator.dev.yaml - \
	  || { echo "charts/ecs-operator/crds/ is stale: run 'make crds' and commit the result" >&2; exit 1; }

.PHONY: image
image: ## the release image as an OCI archive, target/image/ecs-operator.oci.tar (scripts/image.sh; no Docker)
	CARGO=$(CARGO) scripts/image.sh --out $(abspath $(TARGET_DIR))/image/ecs-operator.oci.tar

.PHONY: lint
lint: ## rustfmt check and clippy -D warnings
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

.PHONY: chart
chart: ## helm lint the chart and package it (into a temporary dir; helm from the tool cache)
	@e2e/tools/build.sh helm
	@eval "$$(e2e/tools/build.sh paths)"; out="$$(mktemp -d)"; trap 'rm -rf "$$out"' EXIT; \
	  "$$HELM_BIN/helm" lint charts/ecs-operator; \
	  "$$HELM_BIN/helm" package charts/ecs-operator --destination "$$out"

.PHONY: unit
unit: ## unit tests (pure mapping, diffing, normalisation, engine logic; the e2e crate's own, e.g. the fault proxy)
	$(CARGO) test --lib --bins
	$(CARGO) test -p e2e --lib

.PHONY: e2e
e2e: e2e-light e2e-node ## end-to-end tests: the light bed, then the node bed

# The chaos module restarts the bed's API server and etcd, so it runs alone, after the rest.
.PHONY: e2e-light
e2e-light: tools build ## end-to-end tests against a fresh light bed (own state dir; torn down afterwards)
	@ECS_BED_DIR=$(TEST_BED) e2e/env with -- bash -euo pipefail -c '\
	  $(E2E_TEST) light -- --skip chaos:: --test-threads=$(E2E_THREADS); \
	  $(E2E_TEST) light chaos:: -- --test-threads=$(E2E_THREADS)'

# One module of the node tests at a time, as when each was its own binary: some install the chart
# cluster-wide, and two cluster-wide operators would fight over each other's objects. `--image`
# builds the release image (scripts/image.sh, the Dockerfile's image) and the chart runs it.
NODE_MODULES := $(filter-out main,$(sort $(basename $(notdir $(wildcard e2e/tests/node/*.rs)))))
.PHONY: e2e-node
e2e-node: tools build ## the node tests against a fresh node bed (the chart's pod on a kubelet, from the release image: cargo build --release)
	@ECS_BED_DIR=$(NODE_BED) e2e/env with --node --image -- bash -euo pipefail -c '\
	  for module in $(NODE_MODULES); do \
	    $(E2E_TEST) node "$$module::" -- --test-threads=$(E2E_NODE_THREADS); \
	  done'

.PHONY: e2e-extended
e2e-extended: tools build ## tests outside CI: KEDA (operator + metrics adapter) scaling an EcsService 0 -> 3 -> 0 on the node bed (builds KEDA once)
	e2e/tools/build.sh keda
	@ECS_BED_DIR=$(EXTENDED_BED) e2e/env with --node -- $(E2E_TEST) extended

.PHONY: chaos
chaos: tools build ## chaos tests only (AWS faults, SIGKILLs, API server/etcd restarts; also part of e2e-light)
	@ECS_BED_DIR=$(CHAOS_BED) e2e/env with -- $(E2E_TEST) light chaos:: -- --test-threads=1

# The benchmark measures what users run: the release operator, unless ECS_OPERATOR_BIN names one.
BENCH_OPERATOR := $(if $(filter file,$(origin ECS_OPERATOR_BIN)),$(abspath $(TARGET_DIR)/release/ecs-operator),$(ECS_OPERATOR_BIN))
.PHONY: bench
bench: tools ## benchmark the release operator on its own bed: BENCH_N=100,1000 pairs + 200 ECR repos, AWS buckets emulated (BENCH_BUCKET_SCALE raises them)
	$(CARGO) build --release --bin ecs-operator
	$(CARGO) build -p e2e --bin bench
	@ECS_BED_DIR=$(BENCH_BED) ECS_OPERATOR_BIN=$(BENCH_OPERATOR) e2e/env with -- $(TARGET_DIR)/debug/bench

.PHONY: test
test: lint check-crds chart unit e2e ## everything CI runs (the chaos tests run in e2e-light)

.PHONY: run
run: tools build ## start the bed, run the operator on it, apply examples/, show both sides; Ctrl-C stops all
	@ECS_BED_DIR=$(RUN_BED) CARGO=$(CARGO) scripts/run.sh

.PHONY: stop
stop: ## stop what `make run` started
	@if [[ -f $(RUN_BED)/operator.pid ]]; then kill $$(cat $(RUN_BED)/operator.pid) 2>/dev/null || true; rm -f $(RUN_BED)/operator.pid; fi
	ECS_BED_DIR=$(RUN_BED) e2e/env down

.PHONY: clean
clean: stop ## stop everything and remove build output (keeps the tool cache)
	$(CARGO) clean
