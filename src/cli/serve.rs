//! `unitask serve`: the tracking service on a store (a SQLite file by default), with the
//! polling flags of `watch`; `--sandbox` points every provider at an in-process sandbox, so it
//! runs with no credentials at all.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use unitask::Engine;
use unitask::http::request::Credentials;
use unitask::sandbox::{self, Sandbox, TrackKind};
use unitask::serve::{ServeOptions, Service, WebhookOptions, WebhookSecret};
use unitask::track::{Store, TrackOptions};
use unitask::watch::{self, Target};

use super::watch::{Polling, Urls, endpoints, transport};
use super::{EXIT_OK, EXIT_USAGE, logging};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    polling: Polling,
    /// The port to listen on (0 takes a free one, printed at start).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// The address to listen on; beyond loopback, UNITASK_API_TOKEN must be set.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Where tracked tasks live: `sqlite://PATH` (created if missing) or `postgres://…`; several
    /// services on one PostgreSQL database share the work.
    #[arg(long, value_name = "URL", default_value = "sqlite://unitask.db")]
    store: String,
    /// Attempts per webhook before it is marked failed.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=50))]
    webhook_attempts: u32,
    /// The wait after a webhook's first failed attempt (it doubles after each).
    #[arg(long, value_name = "DURATION", value_parser = super::watch::parse_duration, default_value = "1s")]
    webhook_retry: Duration,
    /// How often this worker says it is alive; a worker silent for five is taken for dead and
    /// its tasks are polled by the others.
    #[arg(long, value_name = "DURATION", value_parser = super::watch::parse_duration, default_value = "2s")]
    heartbeat: Duration,
    /// Serve an in-process sandbox of every provider and poll it, with placeholder credentials:
    /// the service runs with no setup.
    #[arg(long)]
    sandbox: bool,
}

pub fn run(args: Args) -> u8 {
    let engine = match super::watch::engine_with_limits(
        &args.polling.definitions,
        &args.polling.rate_limits,
    ) {
        Ok(engine) => engine,
        Err(code) => return code,
    };
    let runtime = match super::runtime(true) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    runtime.block_on(serve(args, engine))
}

async fn serve(args: Args, engine: Engine) -> u8 {
    let transport = match transport(&args.polling) {
        Ok(transport) => transport,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_USAGE;
        }
    };
    let secret = match std::env::var("UNITASK_WEBHOOK_SECRET") {
        Ok(text) if !text.is_empty() => match text.parse::<WebhookSecret>() {
            Ok(secret) => secret,
            Err(error) => {
                eprintln!("error: UNITASK_WEBHOOK_SECRET: {error}");
                return EXIT_USAGE;
            }
        },
        _ => {
            let secret = WebhookSecret::random();
            eprintln!(
                "webhooks are signed with a secret made for this run (set UNITASK_WEBHOOK_SECRET to keep one): {}",
                secret.expose()
            );
            secret
        }
    };
    // With --sandbox, every provider is polled there; else each whose credentials are set.
    let running = if args.sandbox {
        let providers: Vec<_> = engine.iter().map(|l| l.provider.clone()).collect();
        match Sandbox::new(&providers, sandbox::Options::default())
            .start(0)
            .await
        {
            Ok(running) => Some(running),
            Err(error) => {
                eprintln!("error: cannot start the sandbox on loopback: {error}");
                return EXIT_USAGE;
            }
        }
    } else {
        None
    };
    let mut found = Vec::new();
    let mut skipped = Vec::new();
    for loaded in engine.iter() {
        let id = loaded.id();
        match &running {
            Some(running) => match running.client(&engine, id) {
                Ok(client) => found.push(client.transport(transport.clone()).endpoint()),
                Err(error) => skipped.push(format!("{id}: {error}")),
            },
            None => {
                let urls = Urls {
                    base: args.polling.base_url.as_deref(),
                    auth: args.polling.auth_url.as_deref(),
                };
                let one = [Target::new(id, "")];
                match endpoints(
                    &engine,
                    &one,
                    urls,
                    args.polling.engine,
                    Credentials::from_env,
                    &transport,
                ) {
                    Ok((mut list, _)) => found.extend(list.drain(..).filter(|e| e.id() == id)),
                    Err(message) => skipped.push(message),
                }
            }
        }
    }
    if found.is_empty() {
        eprintln!(
            "error: no provider can be polled: set their credentials (see `unitask providers`), or run with --sandbox\n  {}",
            skipped.join("\n  ")
        );
        return EXIT_USAGE;
    }
    if !skipped.is_empty() {
        eprintln!(
            "{} provider(s) not served (tasks of theirs are refused):\n  {}",
            skipped.len(),
            skipped.join("\n  ")
        );
    }
    logging::init(unitask::http::redact::Redactor::default());
    let store = match Store::open(&args.store).await {
        Ok(store) => store,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_USAGE;
        }
    };
    let polling = &args.polling;
    let options = ServeOptions {
        addr: SocketAddr::new(args.bind, args.port),
        token: std::env::var("UNITASK_API_TOKEN").ok(),
        track: TrackOptions {
            watch: watch::Options {
                concurrency: polling.concurrency as usize,
                interval: polling.interval,
                max_interval: polling.max_interval,
                timeout: None,
                max_errors: polling.max_errors,
            },
            lease: polling
                .request_timeout
                .saturating_mul(polling.max_attempts)
                .saturating_add(Duration::from_secs(60)),
            heartbeat: args.heartbeat.max(Duration::from_millis(10)),
            ..TrackOptions::default()
        },
        webhooks: WebhookOptions {
            secret,
            attempts: args.webhook_attempts,
            first_retry: args.webhook_retry,
            ..WebhookOptions::default()
        },
    };
    let mut service = Service::new(store, options);
    for endpoint in found {
        service.add(endpoint);
    }
    let bound = match service.bind().await {
        Ok(bound) => bound,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_USAGE;
        }
    };
    let addr = bound.local_addr();
    println!("unitask serve: listening on http://{addr} (API at /v1, OpenAPI at /openapi.json)");
    if let Some(running) = &running {
        println!("sandbox: {} (placeholder credentials)", running.url());
        if let Some(id) = example_task(running) {
            println!(
                "try: curl -X POST http://{addr}/v1/tasks -H 'content-type: application/json' -d '{{\"provider\":\"hubspot\",\"task_id\":\"{id}\"}}'"
            );
        }
    }
    match bound.run(shutdown()).await {
        Ok(report) => {
            eprintln!(
                "stopped after {:.1}s: {} poll(s), tasks in flight given back",
                report.elapsed.as_secs_f64(),
                report.polls
            );
            EXIT_OK
        }
        Err(error) => {
            eprintln!("error: {error}");
            EXIT_USAGE
        }
    }
}

/// A HubSpot import of the sandbox that succeeds, for the banner's example.
fn example_task(running: &sandbox::Running) -> Option<String> {
    running
        .sandbox()
        .plan("hubspot")?
        .tracks
        .iter()
        .find(|t| t.kind == TrackKind::Scenario && t.name.contains("succeeds"))?
        .fresh_id(1)
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = super::watch::ctrl_c() => {}
        () = terminate => {}
    }
}
