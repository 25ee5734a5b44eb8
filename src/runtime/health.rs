//! Health and readiness, and the HTTP server for `/metrics`, `/healthz` and `/readyz`.
//!
//! `/healthz` answers 200 while the process runs. `/readyz` answers 503 until every
//! controller's reflector store has synced, then 200; a standby replica (leader election on,
//! not the leader) answers 200 `standby`, so a Deployment with two replicas can roll.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use kube::Resource;
use kube::runtime::reflector::Store;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{debug, info};

use super::{Telemetry, metrics};
use crate::api::common::Condition;

/// What `/readyz` reports. Pure, so the state machine is tested without a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readyz {
    /// Leader election is on and another replica leads: ready to stand by.
    Standby,
    /// Controllers not started yet, or some caches not synced (their kinds).
    NotSynced(Vec<String>),
    Ready,
}

impl Readyz {
    pub fn status(&self) -> StatusCode {
        match self {
            Readyz::Standby | Readyz::Ready => StatusCode::OK,
            Readyz::NotSynced(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn body(&self) -> String {
        match self {
            Readyz::Standby => "standby".into(),
            Readyz::Ready => "ok".into(),
            Readyz::NotSynced(kinds) if kinds.is_empty() => {
                "not ready: controllers not started".into()
            }
            Readyz::NotSynced(kinds) => {
                format!("not ready: caches not synced: {}", kinds.join(", "))
            }
        }
    }
}

#[derive(Debug)]
struct Cache {
    kind: String,
    synced: bool,
}

/// Process health: the leader-election role and the controllers' cache sync state.
#[derive(Debug, Default)]
pub struct Health {
    standby: AtomicBool,
    caches: Mutex<Vec<Cache>>,
}

impl Health {
    /// Standby while leader election is on and this replica does not lead.
    pub fn set_standby(&self, standby: bool) {
        self.standby.store(standby, Ordering::SeqCst);
    }

    /// Registers a controller's cache; returns its index for [`Health::mark_synced`].
    pub fn register_cache(&self, kind: &str) -> usize {
        let mut caches = self.caches.lock().unwrap_or_else(|p| p.into_inner());
        caches.push(Cache {
            kind: kind.into(),
            synced: false,
        });
        caches.len() - 1
    }

    pub fn mark_synced(&self, index: usize) {
        let mut caches = self.caches.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(cache) = caches.get_mut(index) {
            cache.synced = true;
        }
    }

    pub fn readiness(&self) -> Readyz {
        if self.standby.load(Ordering::SeqCst) {
            return Readyz::Standby;
        }
        let caches = self.caches.lock().unwrap_or_else(|p| p.into_inner());
        let pending: Vec<String> = caches
            .iter()
            .filter(|c| !c.synced)
            .map(|c| c.kind.clone())
            .collect();
        if caches.is_empty() || !pending.is_empty() {
            Readyz::NotSynced(pending)
        } else {
            Readyz::Ready
        }
    }
}

/// Tracks one controller: `/readyz` waits for its store to sync, and `/metrics` counts its
/// objects by condition. Registers at once; the returned future marks the cache synced and then
/// never completes: run it alongside the controller, in the same task (see
/// `engine::controller::run_with`).
///
/// Call it before the controller is first polled. All controllers are started together
/// (`tokio::join!` polls each once before any can finish its initial list), so no controller
/// can report ready before every other one has registered.
pub fn track_controller<K>(
    telemetry: &Telemetry,
    store: Store<K>,
    conditions: fn(&K) -> &[Condition],
) -> Pin<Box<dyn Future<Output = ()> + Send>>
where
    K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
{
    let kind = K::kind(&()).into_owned();
    let health = telemetry.health.clone();
    let index = health.register_cache(&kind);
    telemetry.metrics.track_objects(store.clone(), conditions);
    Box::pin(async move {
        // Err: the controller stopped before its first list; nothing to report.
        if store.wait_until_ready().await.is_ok() {
            debug!(%kind, "controller cache synced");
            health.mark_synced(index);
        }
        std::future::pending::<()>().await;
    })
}

/// Errors of the metrics and health server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(
        "cannot serve metrics and health on {addr}: {source} (choose another address with --metrics-bind-address)"
    )]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

/// The running metrics and health server.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Binds `addr` (e.g. `0.0.0.0:8080`, or `127.0.0.1:0` for any free port) and serves in
    /// the background. Logs the bound address.
    pub async fn start(addr: &str, telemetry: &Telemetry) -> Result<Self, ServerError> {
        let bind_error = |source| ServerError::Bind {
            addr: addr.to_string(),
            source,
        };
        let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
        let bound = listener.local_addr().map_err(bind_error)?;
        info!("serving metrics and health on {bound}");
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, stopped, telemetry.clone()));
        Ok(Self {
            addr: bound,
            stop,
            task,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections and waits for the accept loop to end.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn accept_loop(
    listener: TcpListener,
    mut stopped: watch::Receiver<bool>,
    telemetry: Telemetry,
) {
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let telemetry = telemetry.clone();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(|req| {
                            let telemetry = telemetry.clone();
                            async move { handle(req, &telemetry) }
                        });
                        if let Err(e) = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await
                        {
                            debug!(error = %e, "metrics/health connection");
                        }
                    });
                }
                // E.g. too many open files: keep serving the connections we have.
                Err(e) => {
                    debug!(error = %e, "accepting a metrics/health connection");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
        }
    }
}

fn handle<B>(req: Request<B>, telemetry: &Telemetry) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(match req.uri().path() {
        "/healthz" | "/livez" => text(StatusCode::OK, "ok".into()),
        "/readyz" => {
            let readiness = telemetry.health.readiness();
            text(readiness.status(), readiness.body())
        }
        "/metrics" => match telemetry.metrics.encode() {
            Ok(body) => {
                let mut resp = Response::new(Full::new(Bytes::from(body)));
                resp.headers_mut().insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static(metrics::CONTENT_TYPE),
                );
                resp
            }
            Err(e) => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("encoding metrics: {e}"),
            ),
        },
        _ => text(StatusCode::NOT_FOUND, "not found".into()),
    })
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_state_machine() {
        let h = Health::default();
        // Nothing registered yet: not ready (the controllers have not started).
        assert_eq!(h.readiness(), Readyz::NotSynced(vec![]));
        assert_eq!(h.readiness().status(), StatusCode::SERVICE_UNAVAILABLE);
        // Standby wins over sync state: a standby never starts controllers.
        h.set_standby(true);
        assert_eq!(h.readiness(), Readyz::Standby);
        assert_eq!(h.readiness().status(), StatusCode::OK);
        assert_eq!(h.readiness().body(), "standby");
        // Became leader: not ready until every cache has synced.
        h.set_standby(false);
        let a = h.register_cache("EcrRepository");
        let b = h.register_cache("EcsService");
        assert_eq!(
            h.readiness(),
            Readyz::NotSynced(vec!["EcrRepository".into(), "EcsService".into()])
        );
        h.mark_synced(b);
        assert_eq!(
            h.readiness(),
            Readyz::NotSynced(vec!["EcrRepository".into()])
        );
        assert_eq!(
            h.readiness().body(),
            "not ready: caches not synced: EcrRepository"
        );
        h.mark_synced(a);
        assert_eq!(h.readiness(), Readyz::Ready);
        assert_eq!(h.readiness().status(), StatusCode::OK);
        // An unknown index is ignored.
        h.mark_synced(99);
        assert_eq!(h.readiness(), Readyz::Ready);
    }
}
