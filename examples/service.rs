//! A service that tracks upload tasks with the library, against the sandbox started in-process
//! (no credentials, no network): it watches tasks, updates one row per task on every event (an
//! `async` write, as a database's would be), and adds tasks while the watch runs.
//!
//! ```sh
//! cargo run --example service
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use tokio::sync::Mutex;
use unitask::Engine;
use unitask::sandbox::{self, Sandbox};
use unitask::watch::{self, Event, Target, Watcher};

/// One row per task, as a table would hold it.
#[derive(Debug, Default)]
struct Row {
    state: String,
    native_status: String,
    polls: u32,
    ended: Option<String>,
}

/// Stands in for a database: every write awaits, as a real one does.
#[derive(Debug, Default, Clone)]
struct Table(Arc<Mutex<BTreeMap<String, Row>>>);

impl Table {
    async fn write(&self, event: &Event) {
        // A write takes a while; the watch waits for it (nothing is polled meanwhile).
        tokio::time::sleep(Duration::from_millis(5)).await;
        let target = event.target();
        let mut rows = self.0.lock().await;
        let row = rows
            .entry(format!("{}/{}", target.provider, target.task_id))
            .or_default();
        match event {
            Event::Changed { task, polls, .. } => {
                row.state = task.state.to_string();
                row.native_status.clone_from(&task.native_status);
                row.polls = *polls;
            }
            Event::Failed { polls, .. } => row.polls = *polls,
            Event::Finished { finished, .. } => {
                row.polls = finished.polls;
                row.ended = Some(finished.ending.name().to_owned());
            }
            _ => {}
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let engine = Engine::builtin()?;
    // The sandbox plays every built-in definition on a free loopback port.
    let running = Sandbox::of(&engine, sandbox::Options::default())
        .start(0)
        .await?;

    let mut watcher = Watcher::new(watch::Options {
        interval: Some(Duration::from_millis(100)),
        max_interval: Some(Duration::from_millis(400)),
        ..watch::Options::default()
    });
    watcher.add(running.client(&engine, "hubspot")?.endpoint());
    let (handle, mut events) = watcher.start();

    // Two tasks to begin with: a scenario, and a fault that recovers (429, then the scenario).
    handle.add(Target::new("hubspot", "import-succeeds-1"))?;
    handle.add(Target::new("hubspot", "fault-rate-limited-1"))?;
    // More arrive while the watch runs, as uploads are started; then no more.
    let adder = handle.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        for id in ["import-fails-1", "import-succeeds-2"] {
            let _ = adder.add(Target::new("hubspot", id));
        }
        adder.close();
    });
    drop(handle);

    let table = Table::default();
    while let Some(event) = events.next().await {
        if let Event::Finished {
            target, finished, ..
        } = &event
        {
            println!(
                "{} {}: ended {}",
                target.provider,
                target.task_id,
                finished.ending.name()
            );
        }
        table.write(&event).await;
    }

    for (task, row) in table.0.lock().await.iter() {
        println!(
            "{task:<36} {:<10} {:<12} {:>2} polls  {}",
            row.state,
            row.native_status,
            row.polls,
            row.ended.as_deref().unwrap_or("-")
        );
    }
    running.stop().await?;
    Ok(())
}
