//! Serving: accepts TCP connections, completes the TLS handshake, attaches what it learned (the
//! verified client certificate) to every request of the connection, and shuts down gracefully —
//! stop accepting, let in-flight requests finish within a deadline, then return.

use crate::caller::{ClientCert, ConnectionInfo};
use crate::metrics::Metrics;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// How long in-flight requests get to finish after a shutdown signal.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `shutdown` resolves; TLS when `tls` is given.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    metrics: Metrics,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = tls.map(TlsAcceptor::from);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let router = router.clone();
        let acceptor = acceptor.clone();
        let metrics = metrics.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            metrics.active_connections.inc();
            match acceptor {
                Some(acceptor) => match acceptor.accept(tcp).await {
                    Ok(stream) => {
                        let info = ConnectionInfo {
                            client_cert: client_cert(stream.get_ref().1),
                        };
                        let builder = builder();
                        let connection = builder.serve_connection_with_upgrades(
                            TokioIo::new(stream),
                            service(router, info),
                        );
                        if let Err(error) = watcher.watch(connection.into_owned()).await {
                            tracing::debug!(%peer, %error, "connection ended with an error");
                        }
                    }
                    Err(error) => tracing::info!(%peer, %error, "TLS handshake refused"),
                },
                None => {
                    let builder = builder();
                    let connection = builder.serve_connection_with_upgrades(
                        TokioIo::new(tcp),
                        service(router, ConnectionInfo::default()),
                    );
                    if let Err(error) = watcher.watch(connection.into_owned()).await {
                        tracing::debug!(%peer, %error, "connection ended with an error");
                    }
                }
            }
            metrics.active_connections.dec();
        });
    }
    drop(listener);
    tracing::info!("shutting down: draining in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(DRAIN_DEADLINE) => tracing::warn!(deadline_secs = DRAIN_DEADLINE.as_secs(), "drain deadline passed; closing"),
    }
}

fn builder() -> auto::Builder<TokioExecutor> {
    auto::Builder::new(TokioExecutor::new())
}

fn service(
    router: Router,
    info: ConnectionInfo,
) -> hyper_util::service::TowerToHyperService<
    impl tower::Service<
            hyper::Request<hyper::body::Incoming>,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
            Future = impl Send,
        > + Clone,
> {
    let svc = tower::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(info.clone());
        router.clone().oneshot(request.map(axum::body::Body::new))
    });
    hyper_util::service::TowerToHyperService::new(svc)
}

fn client_cert(connection: &rustls::ServerConnection) -> Option<ClientCert> {
    let der = connection.peer_certificates()?.first()?;
    let name = x509_common_name(der.as_ref()).unwrap_or_else(|| "unknown".into());
    Some(ClientCert {
        name,
        fingerprint: jamey_core::pki::cert_fingerprint(der.as_ref()),
    })
}

fn x509_common_name(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let cn = cert
        .subject()
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    Some(cn)
}
