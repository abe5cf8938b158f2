//! Webhook deliveries: every journaled event of a task with a callback URL is posted to it,
//! signed per Standard Webhooks, and retried with backoff until a `2xx` answers or the attempts
//! run out (the delivery is then `failed`, and listed by the service). Deliveries are rows of
//! the store claimed with a lease, like tasks, so several workers share them and a dead
//! worker's are taken over; the `webhook-id` is the event's, the same on every attempt, so a
//! receiver deduplicates (delivery is at least once).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::FutureExt as _;
use serde::Serialize;
use tokio::task::JoinSet;

use super::signature::WebhookSecret;
use crate::track::Store;
use crate::track::store::{Attempt, DeliveryClaim, Tracked, now_ms, webhook_id};

/// How webhooks are delivered.
#[derive(Debug, Clone)]
pub struct WebhookOptions {
    /// The signing secret.
    pub secret: WebhookSecret,
    /// Attempts per webhook before it is marked failed.
    pub attempts: u32,
    /// The wait after the first failed attempt; it doubles after each (with jitter).
    pub first_retry: Duration,
    /// The longest wait between attempts.
    pub max_retry: Duration,
    /// The longest an attempt may take.
    pub timeout: Duration,
    /// Attempts in flight at once.
    pub concurrency: usize,
    /// How often an idle deliverer looks for deliveries another process journaled.
    pub idle_check: Duration,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        WebhookOptions {
            secret: WebhookSecret::random(),
            attempts: 8,
            first_retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(600),
            timeout: Duration::from_secs(10),
            concurrency: 8,
            idle_check: Duration::from_millis(500),
        }
    }
}

/// What the deliverer counts, read while it runs.
#[derive(Debug, Default)]
pub struct DeliveryMetrics {
    /// Webhooks a receiver took (`2xx`).
    pub delivered: AtomicU64,
    /// Attempts that failed and will be tried again.
    pub retried: AtomicU64,
    /// Webhooks given up after their last attempt.
    pub failed: AtomicU64,
}

/// The body of a webhook.
#[derive(Serialize)]
struct Payload<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    timestamp: jiff::Timestamp,
    data: &'a Tracked,
}

/// Delivers due webhooks until `stop` completes; attempts in flight then are cancelled (and
/// made again later: at least once).
pub(crate) async fn deliver(
    store: Store,
    options: WebhookOptions,
    worker: String,
    metrics: Arc<DeliveryMetrics>,
    stop: impl Future<Output = ()>,
) {
    let client = match reqwest::Client::builder()
        .timeout(options.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!(
            "unitask/",
            env!("CARGO_PKG_VERSION"),
            " (webhooks)"
        ))
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!("cannot build the webhook client: {error}");
            return;
        }
    };
    let options = Arc::new(options);
    let lease = options.timeout.saturating_mul(2) + Duration::from_secs(10);
    let mut running: JoinSet<()> = JoinSet::new();
    let mut stop = std::pin::pin!(stop.fuse());
    loop {
        let free = options.concurrency.max(1).saturating_sub(running.len());
        let mut full = false;
        if free > 0 {
            match store.claim_deliveries(&worker, free, lease).await {
                Ok(claims) => {
                    full = claims.len() == free;
                    for claim in claims {
                        running.spawn(attempt(
                            store.clone(),
                            client.clone(),
                            Arc::clone(&options),
                            worker.clone(),
                            Arc::clone(&metrics),
                            claim,
                        ));
                    }
                }
                Err(error) => tracing::warn!("{error}"),
            }
        }
        if full {
            // More may be due: claim again once a slot frees.
            tokio::select! {
                biased;
                () = &mut stop => break,
                _ = running.join_next(), if !running.is_empty() => {}
            }
            continue;
        }
        tokio::select! {
            biased;
            () = &mut stop => break,
            _ = running.join_next(), if !running.is_empty() => {}
            () = store.journaled() => {}
            () = tokio::time::sleep(options.idle_check) => {}
        }
    }
    running.abort_all();
    while running.join_next().await.is_some() {}
}

/// One attempt of one webhook, and what it came to, written.
async fn attempt(
    store: Store,
    client: reqwest::Client,
    options: Arc<WebhookOptions>,
    worker: String,
    metrics: Arc<DeliveryMetrics>,
    claim: DeliveryClaim,
) {
    let event = &claim.event;
    let id = webhook_id(event.id);
    let body = serde_json::to_vec(&Payload {
        kind: &event.kind,
        timestamp: event.timestamp,
        data: &event.data,
    })
    .unwrap_or_default();
    let timestamp = now_ms() / 1000;
    let signature = options.secret.sign(&id, timestamp, &body);
    let answer = client
        .post(&claim.url)
        .header("content-type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    let failure = match answer {
        Ok(response) if response.status().is_success() => None,
        Ok(response) => Some(format!("the receiver answered {}", response.status())),
        Err(error) => Some(format!("cannot reach the receiver: {error}")),
    };
    let outcome = match failure {
        None => {
            metrics.delivered.fetch_add(1, Ordering::Relaxed);
            Attempt::Delivered
        }
        Some(error) if claim.attempts + 1 >= options.attempts => {
            metrics.failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("webhook {id} to {} failed for good: {error}", claim.url);
            Attempt::Failed { error }
        }
        Some(error) => {
            metrics.retried.fetch_add(1, Ordering::Relaxed);
            let grown = options
                .first_retry
                .saturating_mul(2u32.saturating_pow(claim.attempts.min(20)))
                .min(options.max_retry);
            let after = grown.mul_f64(0.8 + 0.4 * fastrand::f64());
            Attempt::Retry { after, error }
        }
    };
    if let Err(error) = store.settle_delivery(&worker, event.id, &outcome).await {
        tracing::warn!("{error}");
    }
}
