//! `unitask serve`: a tracking service. Tasks are registered over HTTP ([`api`]), kept in a
//! [`Store`], polled by a [`Tracker`] until each ends, and every change is journaled, streamed
//! as Server-Sent Events and posted to the task's callback as a signed webhook ([`webhooks`]).
//! Several services on one PostgreSQL store share the work (claims with leases and heartbeats);
//! on SQLite one service owns the file.
//!
//! A stop (SIGTERM or Ctrl-C in the CLI) is graceful: the listener stops taking connections
//! and requests in flight finish; webhook attempts in flight are cancelled (made again later);
//! the polls in flight are cancelled and their tasks given back, due at once, so nothing is
//! lost and the next start (or another worker) takes them up.

pub mod api;
pub mod signature;
pub mod webhooks;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch as signal;

pub use api::ApiDoc;
pub use signature::{SignatureError, WebhookSecret};
pub use webhooks::{DeliveryMetrics, WebhookOptions};

use crate::track::{Store, StoreError, TrackOptions, TrackReport, Tracker};
use crate::watch::Endpoint;

/// How the service runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The bearer token every API call must carry (`UNITASK_API_TOKEN`); required when `addr`
    /// is not a loopback address.
    pub token: Option<String>,
    /// How tasks are polled.
    pub track: TrackOptions,
    /// How webhooks are delivered.
    pub webhooks: WebhookOptions,
}

/// Why the service could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// It would listen beyond loopback without a token.
    #[error(
        "{0} is reachable from other machines: set UNITASK_API_TOKEN (the bearer token every call must carry), or bind to 127.0.0.1"
    )]
    NoToken(SocketAddr),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The HTTP server failed.
    #[error("the HTTP server failed: {0}")]
    Http(std::io::Error),
}

/// A tracking service, set up: its store and the providers it can poll.
#[derive(Debug)]
pub struct Service {
    store: Store,
    endpoints: Vec<Endpoint>,
    options: ServeOptions,
}

/// A service bound to its address, not serving yet.
#[derive(Debug)]
pub struct Bound {
    service: Service,
    listener: tokio::net::TcpListener,
}

impl Service {
    /// A service of `store` with no provider yet.
    pub fn new(store: Store, options: ServeOptions) -> Service {
        Service {
            store,
            endpoints: Vec::new(),
            options,
        }
    }

    /// Makes a provider trackable (a later endpoint of the same id replaces it).
    pub fn add(&mut self, endpoint: Endpoint) -> &mut Service {
        self.endpoints.retain(|e| e.id() != endpoint.id());
        self.endpoints.push(endpoint);
        self
    }

    /// Binds its address (port 0 takes a free one); refuses to listen beyond loopback without
    /// a token.
    pub async fn bind(self) -> Result<Bound, ServeError> {
        let addr = self.options.addr;
        if !addr.ip().is_loopback() && self.options.token.as_deref().is_none_or(str::is_empty) {
            return Err(ServeError::NoToken(addr));
        }
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        Ok(Bound {
            service: self,
            listener,
        })
    }
}

impl Bound {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or(self.service.options.addr)
    }

    /// Serves until `stop` completes, then stops gracefully (see the module's docs).
    pub async fn run(self, stop: impl Future<Output = ()>) -> Result<TrackReport, ServeError> {
        let Service {
            store,
            endpoints,
            options,
        } = self.service;
        let mut tracker = Tracker::new(store.clone(), options.track.clone());
        for endpoint in &endpoints {
            tracker.add(endpoint.clone());
        }
        let webhook_metrics = Arc::new(DeliveryMetrics::default());
        let app = api::App {
            store: store.clone(),
            endpoints: Arc::new(
                endpoints
                    .into_iter()
                    .map(|e| (e.id().to_owned(), e))
                    .collect::<HashMap<_, _>>(),
            ),
            token: options.token.filter(|t| !t.is_empty()).map(Arc::from),
            polls: tracker.metrics(),
            webhooks: Arc::clone(&webhook_metrics),
        };
        let (stopping, stopped) = signal::channel(false);
        let (tracker_stopping, tracker_stopped) = signal::channel(false);
        let http = axum::serve(self.listener, api::router(app))
            .with_graceful_shutdown(until(stopped.clone()));
        let http = tokio::spawn(async move { http.await });
        let deliverer = tokio::spawn(webhooks::deliver(
            store.clone(),
            options.webhooks,
            options.track.worker.clone(),
            webhook_metrics,
            until(stopped),
        ));
        let tracking = tokio::spawn(tracker.run(until(tracker_stopped), |_| {}));
        stop.await;
        let _ = stopping.send(true);
        // Deliveries settle (or are cancelled) before the tracker gives back what this worker
        // holds, deliveries included.
        let _ = deliverer.await;
        let _ = tracker_stopping.send(true);
        let report = match tracking.await {
            Ok(report) => report?,
            Err(join) => {
                return Err(ServeError::Http(std::io::Error::other(join.to_string())));
            }
        };
        match http.await {
            Ok(Ok(())) => Ok(report),
            Ok(Err(e)) => Err(ServeError::Http(e)),
            Err(join) => Err(ServeError::Http(std::io::Error::other(join.to_string()))),
        }
    }
}

/// Completes once the flag is set (or its sender dropped).
async fn until(mut flag: signal::Receiver<bool>) {
    let _ = flag.wait_for(|set| *set).await;
}
