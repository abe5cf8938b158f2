//! A webhook receiver for `unitask serve`: listens on 127.0.0.1:9000 (or the port given),
//! checks each webhook's Standard Webhooks signature with `UNITASK_WEBHOOK_SECRET`, answers
//! `204` (or `401` to a forged one), and prints one line per webhook: its `webhook-id`, type,
//! task and state. A receiver keeps the ids it has seen: delivery is at least once.
//!
//! ```sh
//! UNITASK_WEBHOOK_SECRET=whsec_… cargo run --example webhook_receiver
//! ```

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use unitask::serve::WebhookSecret;

#[derive(Clone)]
struct Receiver {
    secret: WebhookSecret,
    seen: Arc<Mutex<HashSet<String>>>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret: WebhookSecret = std::env::var("UNITASK_WEBHOOK_SECRET")
        .map_err(|_| "set UNITASK_WEBHOOK_SECRET to the secret `unitask serve` signs with")?
        .parse()?;
    let port: u16 = std::env::args()
        .nth(1)
        .map(|p| p.parse())
        .transpose()?
        .unwrap_or(9000);
    let receiver = Receiver {
        secret,
        seen: Arc::default(),
    };
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(receiver);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!(
        "receiving webhooks at http://{}/hook",
        listener.local_addr()?
    );
    axum::serve(listener, app).await?;
    Ok(())
}

async fn hook(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let id = match receiver.secret.verify_headers(&headers, &body, 300) {
        Ok(id) => id.to_owned(),
        Err(error) => {
            println!("refused ({error})");
            return StatusCode::UNAUTHORIZED;
        }
    };
    let first = receiver
        .seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id.clone());
    let event: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let data = &event["data"];
    println!(
        "{id}{}: {} {} {} {}",
        if first { "" } else { " (again)" },
        event["type"].as_str().unwrap_or("?"),
        data["provider"].as_str().unwrap_or("?"),
        data["task_id"].as_str().unwrap_or("?"),
        data["ending"]
            .as_str()
            .or(data["task"]["state"].as_str())
            .unwrap_or("-"),
    );
    StatusCode::NO_CONTENT
}
