//! `[observe] listen`: while `serve` runs, `GET /healthz` (the process
//! answers), `GET /readyz` (it can do its work: [`crate::health`]) and
//! `GET /metrics` ([`crate::metrics`], in the Prometheus text format).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ALLOW, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, Semaphore};

use crate::clock::Clock;
use crate::health::{self, Seen};
use crate::metrics::Metrics;
use crate::service::Shutdown;
use crate::store::{Gauges, Store};

/// A probe gives up on the store after this long: a hung database makes
/// the process unready, not the probe hang.
const STORE_TIMEOUT: Duration = Duration::from_secs(5);

/// What the store said is reused this long: however many scrapes and
/// probes come, the store is asked at most once in it, so the intake and
/// the sender keep their database connections.
const PROBE_FRESH: Duration = Duration::from_secs(2);

/// A client that has not sent its request by then is dropped (a scraper
/// sends it at once).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// No connection lives longer, slow reader or not.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);

/// Connections served at once; more are closed unanswered. A monitoring
/// system needs two or three; more would only cost the descriptors the
/// service needs for its mail and database connections.
const MAX_CONNECTIONS: usize = 64;

type Asked = tokio::task::JoinHandle<Result<Gauges, crate::store::StoreError>>;

/// The last answer, and the question still out when it took too long.
#[derive(Default)]
struct Probe {
    answer: Option<(Instant, Result<Gauges, String>)>,
    asking: Option<Asked>,
}

pub struct Observer {
    metrics: Arc<Metrics>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    poll_interval: Duration,
    probe: Mutex<Probe>,
}

impl Observer {
    pub fn new(
        metrics: Arc<Metrics>,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        poll_interval: Duration,
    ) -> Observer {
        Observer {
            metrics,
            store,
            clock,
            poll_interval,
            probe: Mutex::new(Probe::default()),
        }
    }

    /// The store's gauges, which also say whether it answers: asked once
    /// per [`PROBE_FRESH`], one question at a time, and a question that
    /// outlives its timeout is waited for again rather than asked anew, so
    /// a slow database holds one connection for the probes, never more.
    /// What went wrong is logged, not shown: whoever reaches the endpoints
    /// learns only that it failed.
    async fn store_probe(&self) -> Result<Gauges, String> {
        let mut probe = self.probe.lock().await;
        if let Some((at, answer)) = probe.answer.as_ref()
            && at.elapsed() < PROBE_FRESH
        {
            return answer.clone();
        }
        let asking = probe.asking.get_or_insert_with(|| {
            let store = self.store.clone();
            tokio::spawn(async move { store.gauges().await })
        });
        let answer = match tokio::time::timeout(STORE_TIMEOUT, asking).await {
            Ok(joined) => {
                probe.asking = None;
                match joined {
                    Ok(Ok(g)) => Ok(g),
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "the store did not answer the health probe");
                        Err("its query failed".to_owned())
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "the health probe failed (a bug)");
                        Err("the probe failed".to_owned())
                    }
                }
            }
            Err(_) => {
                tracing::warn!("the store did not answer the health probe in time");
                Err(format!("no answer in {} s", STORE_TIMEOUT.as_secs()))
            }
        };
        probe.answer = Some((Instant::now(), answer.clone()));
        answer
    }
}

#[derive(Debug, thiserror::Error)]
#[error(
    "cannot listen on {addr} for /healthz, /readyz and /metrics ([observe] listen): {source}; \
     pick a free port, or leave [observe] out"
)]
pub struct ListenError {
    addr: SocketAddr,
    source: std::io::Error,
}

/// Binds before the service starts, so that a taken port stops `serve` at
/// once with a clear word rather than leave it unmonitored.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ListenError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ListenError { addr, source })
}

/// Answers until `stop` says so.
pub async fn serve(listener: TcpListener, observer: Arc<Observer>, mut stop: Shutdown) {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "answering /healthz, /readyz and /metrics");
    }
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "could not accept a connection on the observe port");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // All slots taken: the connection is closed unanswered.
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue;
        };
        let observer = observer.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let service = service_fn(move |req| {
                let observer = observer.clone();
                async move { Ok::<_, Infallible>(answer(&req, &observer).await) }
            });
            // One request per connection: nothing is pipelined behind it.
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(REQUEST_TIMEOUT)
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            match tokio::time::timeout(CONNECTION_TIMEOUT, conn).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!(error = %e, "an observe connection ended badly"),
                Err(_) => tracing::debug!("an observe connection took too long; closed"),
            }
        });
    }
}

fn text(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("Content-Type", content_type)
        .header("Cache-Control", "no-store")
        .body(Full::new(Bytes::from(body)))
        .expect("a response of constant headers")
}

const PLAIN: &str = "text/plain; charset=utf-8";
/// What prometheus-client writes: OpenMetrics text, which Prometheus reads.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

async fn answer(req: &Request<Incoming>, o: &Observer) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut refused = text(
            StatusCode::METHOD_NOT_ALLOWED,
            PLAIN,
            "only GET is answered here\n".into(),
        );
        refused
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return refused;
    }
    match req.uri().path() {
        "/healthz" => text(StatusCode::OK, PLAIN, "ok\n".into()),
        "/readyz" => {
            let source = o.metrics.source_seen();
            let seen = Seen {
                store: o.store_probe().await.map(|_| ()),
                lease_held: o.metrics.holds_lease(),
                source_reached: source.reached,
                source_failed: source.failed,
                busy: o.metrics.is_busy(),
                started: o.metrics.started(),
            };
            let r = health::judge(&seen, o.poll_interval, o.clock.now());
            let status = if r.ready {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            text(status, PLAIN, r.text)
        }
        "/metrics" => {
            let gauges = o.store_probe().await.ok();
            let body = o.metrics.render(gauges.as_ref(), o.clock.now());
            text(StatusCode::OK, OPENMETRICS, body)
        }
        _ => text(
            StatusCode::NOT_FOUND,
            PLAIN,
            "not found: /healthz, /readyz and /metrics are answered here\n".into(),
        ),
    }
}
