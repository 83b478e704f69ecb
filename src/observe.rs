//! `[observe] listen`: while `serve` runs, `GET /healthz` (the process
//! answers), `GET /readyz` (it can do its work: [`crate::health`]) and
//! `GET /metrics` ([`crate::metrics`], in the Prometheus text format).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::clock::Clock;
use crate::health::{self, Seen};
use crate::metrics::Metrics;
use crate::service::Shutdown;
use crate::store::Store;

/// A probe gives up on the store after this long: a hung database makes
/// the process unready, not the probe hang.
const STORE_TIMEOUT: Duration = Duration::from_secs(5);

/// A client that sends its request this slowly is dropped.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Observer {
    pub metrics: Arc<Metrics>,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub poll_interval: Duration,
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

/// Binds before anything else starts, so that a taken port stops `serve`
/// at once with a clear word rather than leave it unmonitored.
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
        let observer = observer.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let observer = observer.clone();
                async move { Ok::<_, Infallible>(answer(&req, &observer).await) }
            });
            let conn = http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(REQUEST_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "an observe connection ended badly");
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
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            PLAIN,
            "only GET is answered here\n".into(),
        );
    }
    match req.uri().path() {
        "/healthz" => text(StatusCode::OK, PLAIN, "ok\n".into()),
        "/readyz" => {
            let store = match tokio::time::timeout(STORE_TIMEOUT, o.store.schema_version()).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("no answer in {} s", STORE_TIMEOUT.as_secs())),
            };
            let seen = Seen {
                store,
                lease_held: o.metrics.holds_lease(),
                source_reached: o.metrics.last_source_contact(),
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
            let gauges = match tokio::time::timeout(STORE_TIMEOUT, o.store.gauges()).await {
                Ok(Ok(g)) => Some(g),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "the store did not answer the metrics scrape");
                    None
                }
                Err(_) => {
                    tracing::warn!("the store did not answer the metrics scrape in time");
                    None
                }
            };
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
