//! The metrics endpoint: a small HTTP server on the broker's tokio runtime answering
//! `GET /metrics` (and `GET /`, as the JMX exporter's agent answered any path) with the
//! registry in the format the scraper's `Accept` header asks for.

use super::{encode, Format};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A running endpoint; [`MetricsServer::shutdown`] stops it.
pub struct MetricsServer {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

async fn scrape(State(registry): State<Arc<Registry>>, headers: HeaderMap) -> Response {
    let format = Format::negotiate(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    // Encoding reads atomics and walks the partitions: short, but not an await point.
    match encode(&registry, format) {
        Ok(body) => ([(header::CONTENT_TYPE, format.content_type())], body).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode the metrics\n").into_response(),
    }
}

impl MetricsServer {
    /// Bind `host:port` (port 0: any free port) and serve `registry`.
    pub async fn start(host: &str, port: u16, registry: Registry) -> std::io::Result<MetricsServer> {
        let listener = TcpListener::bind((host, port)).await?;
        let local_addr = listener.local_addr()?;
        let app = Router::new().route("/metrics", get(scrape)).route("/", get(scrape)).with_state(Arc::new(registry));
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
                log::error!("metrics endpoint stopped: {}", e);
            }
        });
        Ok(MetricsServer { local_addr, stop, task })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stop accepting; a scrape in progress is cut off (the broker is going away).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        self.task.abort();
        let _ = self.task.await;
    }
}
