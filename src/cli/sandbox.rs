//! `unitask sandbox`: serves every definition on loopback until Ctrl-C, printing what it serves
//! and a line per request (credentials masked).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use unitask::http::request::auth_env_names;
use unitask::sandbox::{self, ProviderPlan, Sandbox, TrackKind};

use super::watch::{ctrl_c, parse_duration};
use super::{EXIT_OK, EXIT_USAGE};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The loopback port (0: any free port).
    #[arg(long, default_value_t = 4747)]
    port: u16,
    /// More definitions (files or folders) to serve, loaded at run time.
    #[arg(long = "definitions", value_name = "PATH")]
    definitions: Vec<PathBuf>,
    /// How long the fault-slow answer waits (set it past your client's timeout).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "35s")]
    slow: Duration,
    /// Do not print a line per request.
    #[arg(long)]
    quiet: bool,
}

pub fn run(args: Args) -> u8 {
    let engine = match super::status::engine(&args.definitions) {
        Ok(engine) => engine,
        Err(code) => return code,
    };
    let log = (!args.quiet).then(request_log);
    let providers: Vec<_> = engine.iter().map(|l| l.provider.clone()).collect();
    let sandbox = Sandbox::new(
        &providers,
        sandbox::Options {
            slow: args.slow,
            log,
        },
    );
    let runtime = match super::runtime(true) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    runtime.block_on(async {
        let running = match sandbox.start(args.port).await {
            Ok(running) => running,
            Err(error) => {
                eprintln!("error: cannot listen on 127.0.0.1:{}: {error}", args.port);
                return EXIT_USAGE;
            }
        };
        // A closed stdout must not stop the sandbox: output errors are ignored.
        let mut out = std::io::stdout();
        let _ = write!(out, "{}", banner(&running)).and_then(|()| out.flush());
        ctrl_c().await;
        let served = running.served();
        let stopped = running.stop().await;
        let _ = writeln!(std::io::stdout(), "stopped after {served} request(s)");
        match stopped {
            Ok(()) => EXIT_OK,
            Err(error) => {
                eprintln!("error: {error}");
                EXIT_USAGE
            }
        }
    })
}

/// Request lines go through a bounded queue to one writer thread: a slow or closed stdout never
/// blocks or fails a request (lines past a full queue are counted and dropped).
fn request_log() -> sandbox::RequestLog {
    let (send, receive) = std::sync::mpsc::sync_channel::<String>(10_000);
    std::thread::spawn(move || {
        let mut out = std::io::stdout();
        for line in receive {
            if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                // stdout is gone: keep draining so senders never block.
                continue;
            }
        }
    });
    let dropped = Arc::new(std::sync::atomic::AtomicU64::new(0));
    Arc::new(move |served: &sandbox::Served| {
        if send.try_send(served.to_string()).is_err() {
            let n = dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                eprintln!("warning: {n} request log line(s) dropped: stdout is not keeping up");
            }
        }
    })
}

/// What the sandbox serves and how to reach it.
pub fn banner(running: &sandbox::Running) -> String {
    let mut out = format!(
        "unitask sandbox listening on {}\nEach provider lives under /<id>. Any non-empty credential is accepted, where the definition puts it.\nEvery task below also answers to <name>-<n> (e.g. fault-slow-7), each id with its own lifecycle.\n\n",
        running.url()
    );
    for plan in running.sandbox().plans() {
        out.push_str(&describe(plan, running));
    }
    out.push_str(&format!(
        "try:\n  HUBSPOT_ACCESS_TOKEN=any unitask watch hubspot import-succeeds-1 fault-rate-limited-1 --interval 200ms --base-url '{}/{{provider}}'\n\nlog (Ctrl-C stops):\n",
        running.url()
    ));
    out
}

fn describe(plan: &ProviderPlan, running: &sandbox::Running) -> String {
    let provider = &plan.provider;
    let mut out = format!("{}  {}\n", provider.id, running.base_url(&provider.id));
    let credential: Vec<String> = auth_env_names(&provider.auth)
        .into_iter()
        .map(|name| format!("{name}=<anything>"))
        .collect();
    if !credential.is_empty() {
        out.push_str(&format!("  credential  {}\n", credential.join(" ")));
    }
    let params: Vec<String> = provider
        .sample_inputs()
        .into_iter()
        .map(|(name, value)| format!("--param {name}={value}"))
        .collect();
    if !params.is_empty() {
        out.push_str(&format!("  inputs      {}\n", params.join(" ")));
    }
    for track in plan.tracks.iter().filter(|t| t.kind == TrackKind::Scenario) {
        let steps: Vec<&str> = track.steps.iter().map(|s| s.label.as_str()).collect();
        out.push_str(&format!(
            "  scenario    {} ({}): {}\n",
            track.name,
            track.task_id.as_deref().unwrap_or_default(),
            steps.join(" → ")
        ));
    }
    let faults: Vec<&str> = plan
        .tracks
        .iter()
        .filter(|t| matches!(t.kind, TrackKind::Fault(_)))
        .map(|t| t.name.as_str())
        .collect();
    if !faults.is_empty() {
        out.push_str(&format!("  faults      {}\n", faults.join(", ")));
    }
    // One line per reason: a definition without scenarios skips every fault for the same one.
    let mut reasons: Vec<(&str, Vec<&str>)> = Vec::new();
    for (fault, why) in &plan.skipped {
        match reasons.iter_mut().find(|(r, _)| r == why) {
            Some((_, faults)) => faults.push(fault.name()),
            None => reasons.push((why, vec![fault.name()])),
        }
    }
    for (why, faults) in reasons {
        out.push_str(&format!("  (no {}: {why})\n", faults.join(", ")));
    }
    let examples: Vec<&str> = plan
        .tracks
        .iter()
        .filter(|t| t.kind == TrackKind::Example)
        .map(|t| t.name.as_str())
        .collect();
    out.push_str(&format!("  examples    {}\n\n", examples.join(", ")));
    out
}
