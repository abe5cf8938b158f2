//! Fetch one HubSpot import task's status with the library:
//! `HUBSPOT_ACCESS_TOKEN=... cargo run --example fetch_status -- <task-id>`.

use unitask::{Client, ClientConfig, Credentials, Engine, Inputs};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let task_id = std::env::args()
        .nth(1)
        .ok_or("usage: fetch_status <task-id>")?;
    let engine = Engine::builtin()?;
    let hubspot = &engine.get("hubspot").ok_or("hubspot is built in")?.provider;
    let credentials = Credentials::from_env(&hubspot.auth); // or Credentials::new().with(NAME, secret)
    let client = Client::new(ClientConfig::default())?;
    let (task, _stats) = client
        .fetch(hubspot, &task_id, &Inputs::new(), None, &credentials)
        .await;
    println!("{}", serde_json::to_string_pretty(&task?)?);
    Ok(())
}
