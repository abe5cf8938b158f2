//! Watch tasks to their end with the library, against the sandbox started in-process: no
//! credentials, no network.
//!
//! ```sh
//! cargo run --example watch_sandbox
//! ```

use std::time::Duration;

use unitask::sandbox::{self, Sandbox};
use unitask::watch::{self, Answerer, Endpoint, Event, Target, Watcher};
use unitask::{Client, ClientConfig, Credentials, Engine, Inputs};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let engine = Engine::builtin()?;
    let hubspot = engine
        .get("hubspot")
        .ok_or("hubspot is built in")?
        .provider
        .clone();

    // The sandbox plays HubSpot from its definition on a free loopback port.
    let running = Sandbox::new([&hubspot], sandbox::Options::default())
        .start(0)
        .await?;

    let mut watcher = Watcher::new(
        Client::new(ClientConfig::default())?,
        watch::Options {
            interval: Some(Duration::from_millis(200)),
            ..watch::Options::default()
        },
    );
    let credentials = Credentials::new().with(
        "HUBSPOT_ACCESS_TOKEN",
        "any value: the sandbox checks where it is",
    );
    watcher.add(Endpoint {
        base_url: Some(running.base_url("hubspot")),
        provider: hubspot,
        credentials,
        answerer: Answerer::Generated,
    });

    // A scenario (pending → processing → complete) and a fault that recovers (429, then the same).
    let targets: Vec<Target> = ["import-succeeds-1", "fault-rate-limited-1"]
        .into_iter()
        .map(|id| Target {
            provider: "hubspot".into(),
            task_id: id.into(),
            inputs: Inputs::new(),
        })
        .collect();
    let report = watcher
        .run(targets, std::future::pending(), |event| match event {
            Event::Changed { target, task, .. } => {
                println!(
                    "{}: {} ({})",
                    target.task_id, task.state, task.native_status
                )
            }
            Event::Failed { target, error, .. } => println!("{}: {error}", target.task_id),
            Event::Finished {
                target, finished, ..
            } => {
                println!("{}: ended {}", target.task_id, finished.ending.name())
            }
        })
        .await;
    println!("{} requests in {:?}", report.requests, report.elapsed);
    running.stop().await?;
    Ok(())
}
