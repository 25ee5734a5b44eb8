//! Leader election on a `coordination.k8s.io/v1` Lease (crate `kube-lease-manager`), so that
//! with several replicas only one runs the controllers.
//!
//! The leader renews the lease `grace` seconds before it expires; a standby checks it when it
//! expires and takes it over if it was not renewed, so a standby leads within about one lease
//! duration after the leader dies. A leader whose renewal fails or that finds another holder
//! reports the loss; the caller stops reconciling at once and exits non-zero (as
//! controller-runtime does), and Kubernetes restarts it as a standby.
//!
//! Limit of the crate (0.13): a standby takes over an expired lease by force-releasing it and
//! then acquiring it, so with three or more replicas two standbys racing for the same expired
//! lease can both believe they lead until the loser's next renewal (at most the lease duration
//! minus grace). With the chart's two replicas only one standby exists and this cannot happen.

use std::time::Duration;

use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use tokio::sync::watch;
use tracing::{info, warn};

use super::Telemetry;

/// Leader-election settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderElectionConfig {
    pub namespace: String,
    pub lease_name: String,
    /// Seconds a lease stays valid after its last renewal (at least 2).
    pub lease_seconds: u64,
    /// Unique per replica: the pod name, or hostname and PID.
    pub identity: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error("--leader-election-lease-seconds must be at least 2, got {0}")]
    LeaseTooShort(u64),
    #[error("leader election: cannot load a Kubernetes client configuration: {0}")]
    Config(String),
    #[error("leader election on Lease {namespace}/{name}: {message}")]
    Lease {
        namespace: String,
        name: String,
        message: String,
    },
}

/// Holder identity, unique per process: `<POD_NAME>_<start>` when `POD_NAME` is set (the
/// Deployment passes it), else `<hostname>-<pid>_<start>`, where `<start>` is this process's start
/// time in nanoseconds (hex). A container the kubelet restarts after a crash keeps its pod name
/// (and PID 1) but gets a new identity, so it cannot mistake the dead process's Lease for its own
/// and must wait for the Lease to expire like any standby (client-go adds a UUID for the same
/// reason). Tools map an identity back to its pod with [`pod_of_identity`].
pub fn default_identity() -> String {
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let base = match std::env::var("POD_NAME") {
        Ok(pod) if !pod.is_empty() => pod,
        _ => {
            let host = hostname::get()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_else(|| "ecs-operator".into());
            format!("{host}-{}", std::process::id())
        }
    };
    format!("{base}_{start:x}")
}

/// The pod (or host-pid) part of a holder identity made by [`default_identity`].
pub fn pod_of_identity(identity: &str) -> &str {
    identity.rsplit_once('_').map_or(identity, |(base, _)| base)
}

/// Lease namespace: `POD_NAMESPACE` when set, else `default`.
pub fn default_namespace() -> String {
    std::env::var("POD_NAMESPACE")
        .ok()
        .filter(|ns| !ns.is_empty())
        .unwrap_or_else(|| "default".into())
}

/// Seconds before expiry at which the leader renews: a third of the lease, at least 1 s.
/// It is also the time left to finish a renewal, so it bounds each lease request.
pub fn grace_seconds(lease_seconds: u64) -> u64 {
    lease_seconds
        .div_ceil(3)
        .clamp(1, lease_seconds.saturating_sub(1).max(1))
}

/// The role of this replica, published by the election task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    Standby,
    Leader,
    /// Was leader and is no longer (why); terminal.
    Lost(String),
}

/// Pure transition of the election loop: the role after the lease manager reported
/// `outcome` (`Ok(is_holder)`, or an error message) while in `role`.
pub fn next_role(role: &Role, outcome: Result<bool, String>) -> Role {
    match (role, outcome) {
        (Role::Lost(why), _) => Role::Lost(why.clone()),
        (_, Ok(true)) => Role::Leader,
        (Role::Leader, Ok(false)) => Role::Lost("another replica holds the lease".into()),
        // A failed renewal may leave the lease to someone else before we can tell: give up.
        (Role::Leader, Err(e)) => Role::Lost(format!("renewing the lease failed: {e}")),
        (Role::Standby, _) => Role::Standby,
    }
}

/// A running election: this replica's role, and the task that keeps (or waits for) the lease.
#[derive(Debug)]
pub struct Election {
    role: watch::Receiver<Role>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    namespace: String,
    name: String,
}

impl Election {
    /// Creates the Lease if needed and starts competing for it in the background.
    pub async fn start(
        config: &LeaderElectionConfig,
        telemetry: &Telemetry,
    ) -> Result<Self, LeaderError> {
        if config.lease_seconds < 2 {
            return Err(LeaderError::LeaseTooShort(config.lease_seconds));
        }
        let grace = grace_seconds(config.lease_seconds);
        let lease = format!("{}/{}", config.namespace, config.lease_name);
        let lease_error = |e: kube_lease_manager::LeaseManagerError| LeaderError::Lease {
            namespace: config.namespace.clone(),
            name: config.lease_name.clone(),
            message: e.to_string(),
        };
        // A client of its own whose requests time out within the grace period: a hung renewal
        // must fail (and end leadership) before the lease can pass to another replica.
        let mut kube_config = kube::Config::infer()
            .await
            .map_err(|e| LeaderError::Config(e.to_string()))?;
        let timeout = Some(Duration::from_secs(grace));
        kube_config.connect_timeout = timeout;
        kube_config.read_timeout = timeout;
        kube_config.write_timeout = timeout;
        let client =
            kube::Client::try_from(kube_config).map_err(|e| LeaderError::Config(e.to_string()))?;
        let manager = LeaseManagerBuilder::new(client, &config.lease_name)
            .with_namespace(&config.namespace)
            .with_identity(&config.identity)
            .with_duration(config.lease_seconds)
            .with_grace(grace)
            .build()
            .await
            .map_err(lease_error)?;
        telemetry.health.set_standby(true);
        telemetry.metrics.set_leader(false);
        info!(%lease, identity = %config.identity, "standby: waiting to acquire the leader lease");
        let (role_tx, role) = watch::channel(Role::Standby);
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(elect(manager, role_tx, stopped, lease, telemetry.clone()));
        Ok(Self {
            role,
            stop,
            task,
            namespace: config.namespace.clone(),
            name: config.lease_name.clone(),
        })
    }

    /// Waits until this replica leads. `Ok(false)` if `shutdown` resolves first.
    pub async fn wait_for_leadership(
        &mut self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<bool, LeaderError> {
        let role = tokio::select! {
            role = self.role.wait_for(|r| *r != Role::Standby) => role.map(|r| r.clone()).ok(),
            () = shutdown => return Ok(false),
        };
        match role {
            Some(Role::Leader) => Ok(true),
            Some(Role::Lost(why)) => Err(self.error(why)),
            Some(Role::Standby) | None => Err(self.error("the election task ended".into())),
        }
    }

    /// Resolves when leadership is lost, with the reason.
    pub async fn lost(&mut self) -> String {
        match self.role.wait_for(|r| matches!(r, Role::Lost(_))).await {
            Ok(role) => match &*role {
                Role::Lost(why) => why.clone(),
                _ => "leadership lost".into(),
            },
            Err(_) => "the election task ended".into(),
        }
    }

    fn error(&self, message: String) -> LeaderError {
        LeaderError::Lease {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            message,
        }
    }

    /// Stops competing and, if this replica holds the lease, releases it so a standby takes
    /// over at once instead of after the lease expires.
    pub async fn release(self) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .is_err()
        {
            warn!(namespace = %self.namespace, name = %self.name, "releasing the leader lease timed out");
        }
    }
}

/// The election loop: publishes role changes until stopped or leadership is lost.
async fn elect(
    manager: LeaseManager,
    role_tx: watch::Sender<Role>,
    mut stopped: watch::Receiver<bool>,
    lease: String,
    telemetry: Telemetry,
) {
    let mut role = Role::Standby;
    let mut retry = Duration::from_millis(500);
    loop {
        let outcome = tokio::select! {
            biased;
            _ = stopped.changed() => {
                if role == Role::Leader {
                    match manager.release().await {
                        Ok(()) => info!(%lease, "released the leader lease"),
                        Err(e) => warn!(%lease, error = %e, "could not release the leader lease"),
                    }
                }
                telemetry.metrics.set_leader(false);
                return;
            }
            outcome = manager.changed() => outcome.map_err(|e| e.to_string()),
        };
        if let (Role::Standby, Err(e)) = (&role, &outcome) {
            warn!(%lease, error = %e, "leader election: lease request failed; retrying");
            tokio::time::sleep(retry).await;
            retry = (retry * 2).min(Duration::from_secs(5));
            continue;
        }
        retry = Duration::from_millis(500);
        let next = next_role(&role, outcome);
        if next == role {
            continue;
        }
        match &next {
            Role::Leader => {
                info!(%lease, "acquired the leader lease: this replica leads");
                telemetry.health.set_standby(false);
                telemetry.metrics.set_leader(true);
            }
            Role::Lost(why) => {
                warn!(%lease, reason = %why, "lost the leader lease");
                telemetry.metrics.set_leader(false);
            }
            Role::Standby => {}
        }
        role = next;
        let lost = matches!(role, Role::Lost(_));
        let _ = role_tx.send(role.clone());
        if lost {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grace_is_a_third_of_the_lease_and_below_it() {
        for (lease, grace) in [(2, 1), (3, 1), (4, 2), (6, 2), (15, 5), (60, 20)] {
            assert_eq!(grace_seconds(lease), grace, "lease {lease}");
            assert!(grace_seconds(lease) < lease);
        }
    }

    #[test]
    fn role_transitions() {
        let lost = |s: &str| Role::Lost(s.into());
        let cases = [
            (Role::Standby, Ok(false), Role::Standby),
            (Role::Standby, Err("timeout".to_string()), Role::Standby),
            (Role::Standby, Ok(true), Role::Leader),
            (Role::Leader, Ok(true), Role::Leader),
            (
                Role::Leader,
                Ok(false),
                lost("another replica holds the lease"),
            ),
            (
                Role::Leader,
                Err("timeout".to_string()),
                lost("renewing the lease failed: timeout"),
            ),
            (lost("x"), Ok(true), lost("x")),
        ];
        for (from, outcome, want) in cases {
            assert_eq!(
                next_role(&from, outcome.clone()),
                want,
                "{from:?} {outcome:?}"
            );
        }
    }

    #[test]
    fn identity_is_unique_per_process_start() {
        let a = default_identity();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = default_identity();
        assert_ne!(
            a, b,
            "two starts of one pod must not share a Lease identity"
        );
        assert_eq!(pod_of_identity(&a), pod_of_identity(&b));
        if std::env::var_os("POD_NAME").is_none() {
            assert!(pod_of_identity(&a).ends_with(&format!("-{}", std::process::id())));
        }
    }

    #[test]
    fn pod_of_identity_strips_the_start_suffix() {
        for (identity, pod) in [
            (
                "ops-ecs-operator-5d8f-abcde_18a2b3c4d5e6f708",
                "ops-ecs-operator-5d8f-abcde",
            ),
            ("host-42_1", "host-42"),
            ("no-suffix", "no-suffix"),
        ] {
            assert_eq!(pod_of_identity(identity), pod, "{identity}");
        }
    }
}
