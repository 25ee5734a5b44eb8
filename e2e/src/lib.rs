//! Harness for end-to-end tests against the real bed (`e2e/env up`): a real kube-apiserver +
//! etcd and moto. Each test gets its own namespace and its own operator process watching only
//! that namespace; the process is killed when the test's [`TestEnv`] is dropped.

//!
//! By concern: [`env`] (the test's namespace and the objects in it), [`operator`] (operator
//! processes and their metrics server), [`waits`] (deadline-bound polling), [`aws`] (what AWS
//! holds, via the SDK), [`manifests`] (manifests and conditions; pure), [`tools`] (the bed's
//! CLIs and kubeconfigs), [`fault`] (the AWS fault proxy), [`kstatus`] and [`node`] (the node
//! bed). The items tests use are re-exported here: `e2e::TestEnv`, `e2e::manifest`, ...

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

pub use ecs_operator::api;

pub mod aws;
pub mod env;
pub mod fault;
pub mod image;
pub mod kstatus;
pub mod manifests;
pub mod node;
pub mod operator;
pub mod tools;
pub mod waits;

pub use aws::fargate_network;
pub use env::TestEnv;
pub use manifests::{condition, condition_message, manifest, rewrite_example, yaml_documents};
pub use operator::{
    OperatorBuilder, OperatorProcess, SERVING_METRICS, http_get, metric_value, metrics_addr_in,
    operator_binary,
};
pub use tools::{impersonating_kubeconfig, token_kubeconfig, tool, tool_output};
pub use waits::DEADLINE;

/// Unique suffix for namespaces and AWS names: pid + counter + time, so parallel tests and
/// re-runs against a long-lived bed never collide.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() % 1_000_000)
        .unwrap_or(0);
    format!("{prefix}-{}-{n}-{t}", std::process::id())
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}
