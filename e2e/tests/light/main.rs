//! End-to-end tests on the light bed (`e2e/env up`: kube-apiserver, etcd and moto; no pods).
//! One module per area, one binary for all of them: `cargo test -p e2e --test light ecs_task::`
//! runs one module. Each test has its own namespace and operator, so tests share the bed and run
//! in parallel; `make e2e-light` runs the chaos module after the others, as it restarts the bed's
//! API server and etcd.

mod admission;
mod autoscaling;
mod aws_calls;
mod chaos;
mod chart_rbac;
mod convert;
mod deployment_actions;
mod ecr_registry;
mod ecr_repository;
mod ecs_cluster;
mod ecs_express_service;
mod ecs_gateway;
mod ecs_schedule;
mod ecs_service;
mod ecs_task;
mod engine;
mod environment_errors;
mod examples;
mod export;
mod gitops;
mod helm;
mod pacing;
mod policies;
mod policy_text;
mod printer_columns;
mod refresh;
mod role_policy;
mod rollout;
mod runtime;
mod shards;
mod ssa_lists;
mod startup;
mod task_definition;
