//! Process concerns: logging, metrics, the health server, leader election, shutdown.

pub mod health;
pub mod leader;
pub mod metrics;

use std::sync::Arc;

use tokio::sync::watch;
use tracing::info;

pub use health::track_controller;

/// The process's metrics and health state, passed to everything that records into them (the
/// reconcile context through `Process`, the AWS call interceptor, the election, the
/// server) instead of living in globals.
#[derive(Clone, Debug, Default)]
pub struct Telemetry {
    pub metrics: Arc<metrics::Metrics>,
    pub health: Arc<health::Health>,
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Initialises tracing with the given filter (e.g. `info`, `ecs_operator=debug`) and format.
pub fn init_logging(filter: &str, format: LogFormat) {
    let env_filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(env_filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Settings of the process around the controllers.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// Address of the `/metrics`, `/healthz` and `/readyz` server; port 0 picks a free port.
    pub metrics_bind_address: String,
    /// `None`: this process always runs the controllers.
    pub leader_election: Option<leader::LeaderElectionConfig>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            metrics_bind_address: "0.0.0.0:8080".into(),
            leader_election: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Server(#[from] health::ServerError),
    #[error(transparent)]
    LeaderElection(#[from] leader::LeaderError),
    #[error(
        "lost leadership: {0}; stopped reconciling and exiting so that this replica restarts as a standby"
    )]
    LeadershipLost(String),
}

/// The running process around the controllers: the health server and, with leader election,
/// the held lease.
#[derive(Debug)]
pub struct Process {
    server: health::Server,
    election: Option<leader::Election>,
    shutdown: watch::Receiver<bool>,
}

impl Process {
    /// Starts the health server, then (with leader election) waits to lead. `None` when a
    /// shutdown signal arrived while waiting: nothing to run.
    pub async fn start(
        config: &RuntimeConfig,
        telemetry: &Telemetry,
    ) -> Result<Option<Self>, RuntimeError> {
        let shutdown = shutdown_requested();
        let server = health::Server::start(&config.metrics_bind_address, telemetry).await?;
        let Some(election_config) = &config.leader_election else {
            telemetry.metrics.set_leader(true);
            return Ok(Some(Self {
                server,
                election: None,
                shutdown,
            }));
        };
        let mut election = match leader::Election::start(election_config, telemetry).await {
            Ok(e) => e,
            Err(e) => {
                server.stop().await;
                return Err(e.into());
            }
        };
        let mut waiting = shutdown.clone();
        let signalled = async move {
            let _ = waiting.wait_for(|s| *s).await;
        };
        match election.wait_for_leadership(signalled).await {
            Ok(true) => Ok(Some(Self {
                server,
                election: Some(election),
                shutdown,
            })),
            Ok(false) => {
                info!("shutdown requested while standby");
                election.release().await;
                server.stop().await;
                Ok(None)
            }
            Err(e) => {
                server.stop().await;
                Err(e.into())
            }
        }
    }

    /// Runs `controllers` (which stop by themselves on SIGTERM/SIGINT after in-flight reconciles
    /// finish) while this process leads. Losing the lease drops them at once and returns
    /// [`RuntimeError::LeadershipLost`]. Afterwards the lease is released and the server stopped.
    pub async fn run(self, controllers: impl Future<Output = ()>) -> Result<(), RuntimeError> {
        let Self {
            server,
            mut election,
            shutdown,
        } = self;
        let result = if *shutdown.borrow() {
            // The signal came before the controllers installed their own handlers.
            info!("shutdown requested before the controllers started");
            Ok(())
        } else {
            match &mut election {
                Some(election) => tokio::select! {
                    () = controllers => Ok(()),
                    why = election.lost() => Err(RuntimeError::LeadershipLost(why)),
                },
                None => {
                    controllers.await;
                    Ok(())
                }
            }
        };
        if let (Ok(()), Some(election)) = (&result, election) {
            election.release().await;
        }
        server.stop().await;
        result
    }
}

/// Becomes true on the first SIGTERM or SIGINT. The controllers watch the signals themselves
/// (`shutdown_on_signal`); this serves the parts around them, e.g. a standby waiting to lead.
/// Called once per process, by [`Process::start`].
fn shutdown_requested() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        signal().await;
        info!("shutdown signal received");
        let _ = tx.send(true);
    });
    rx
}

async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    Ok(()) = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => ctrl_c().await,
        }
    }
    #[cfg(not(unix))]
    ctrl_c().await;
}

/// Ctrl-C; never resolves if it cannot be watched.
async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}
