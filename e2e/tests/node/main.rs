//! End-to-end tests on the node bed (`e2e/env up --node`): the chart's pod on a kubelet, with
//! the controller-manager and scheduler. `make e2e-node` runs one module at a time: some install
//! the chart cluster-wide, and two cluster-wide operators would fight over each other's objects.

mod chaos;
mod failover;
mod helm;
mod hpa;
mod image;
mod lifecycle;
mod shards;
mod watch_namespace;
