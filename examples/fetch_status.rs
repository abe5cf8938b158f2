//! Fetch one HubSpot import task's status with the library:
//! `HUBSPOT_ACCESS_TOKEN=... cargo run --example fetch_status -- <task-id>`.

use unitask::Engine;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let task_id = std::env::args()
        .nth(1)
        .ok_or("usage: fetch_status <task-id>")?;
    let engine = Engine::builtin()?;
    // Credentials come from HUBSPOT_ACCESS_TOKEN; `.credentials(Credentials::new().with(..))`
    // gives others.
    let task = engine.provider("hubspot")?.status(&task_id).await?;
    println!("{}", serde_json::to_string_pretty(&task)?);
    Ok(())
}
