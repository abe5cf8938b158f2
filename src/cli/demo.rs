//! `unitask demo`: the whole job with no credentials. Starts the sandbox in-process on a free
//! loopback port, watches every scenario and every fault scenario of every built-in provider, and
//! prints how each task ended next to how its definition says it must end. Exits 0 when every
//! task ended as expected.

use std::time::Duration;

use unitask::sandbox::{self, Outcome, Sandbox, TrackKind};
use unitask::watch::{self, Target, Watcher};
use unitask::{Engine, Inputs, RetryPolicy, Transport, TransportConfig};

use super::live::{Live, Mode, ending_matches, summary};
use super::status::EngineChoice;
use super::watch::ctrl_c;
use super::{EXIT_INVALID, EXIT_OK, EXIT_USAGE, logging};
use std::io::IsTerminal;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which engine answers: the generated clients (default) or the interpreter.
    #[arg(long, value_enum)]
    engine: Option<EngineChoice>,
}

/// The sandbox's slow answer, past the demo client's one-second timeout.
const SLOW: Duration = Duration::from_secs(3);

pub fn run(args: Args) -> u8 {
    let engine = match Engine::builtin() {
        Ok(engine) => engine,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_USAGE;
        }
    };
    let runtime = match super::runtime(true) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    runtime.block_on(demo(engine, args.engine))
}

/// What each provider's credentials did, as the sandbox checked them: tokens issued (a token
/// lives two seconds here, so a task's watch sees renewals) and expired, requests signed.
fn credential_lines(
    providers: &[std::sync::Arc<unitask::model::Provider>],
    activity: &[(&str, sandbox::auth::Activity)],
) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if activity.is_empty() {
        return out;
    }
    out.push_str("credentials, as the sandbox checked them:\n");
    for (id, done) in activity {
        let schemes = providers
            .iter()
            .find(|p| p.id == *id)
            .map(|p| sandbox::auth::schemes(&p.auth))
            .unwrap_or_default();
        use unitask::model::Auth;
        let named =
            |kind: fn(&Auth) -> bool| schemes.iter().find(|s| kind(s)).map_or("", |s| s.name());
        let mut parts = Vec::new();
        if done.tokens_issued > 0 {
            parts.push(format!(
                "{} token(s) issued ({})",
                done.tokens_issued,
                named(|s| matches!(s, Auth::OAuth2(_)))
            ));
        }
        if done.tokens_expired > 0 {
            parts.push(format!(
                "{} expired mid-watch ({})",
                done.tokens_expired,
                sandbox::Fault::TokenExpired.name()
            ));
        }
        if done.signed_requests > 0 {
            parts.push(format!(
                "{} request(s) signed afresh ({})",
                done.signed_requests,
                named(|s| matches!(s, Auth::Sign(_)))
            ));
        }
        let _ = writeln!(out, "  {id:<26} {}", parts.join(", "));
    }
    out
}

async fn demo(engine: Engine, choice: Option<EngineChoice>) -> u8 {
    let providers: Vec<_> = engine.iter().map(|l| l.provider.clone()).collect();
    let options = sandbox::Options {
        slow: SLOW,
        log: None,
        // Tokens outlive a poll but not the demo: each grant's token is seen renewed.
        token_lifetime: Duration::from_secs(2),
        ..sandbox::Options::default()
    };
    let running = match Sandbox::new(&providers, options).start(0).await {
        Ok(running) => running,
        Err(error) => {
            eprintln!("error: cannot start the sandbox on loopback: {error}");
            return EXIT_USAGE;
        }
    };
    let mut targets = Vec::new();
    let mut expected = Vec::new();
    for plan in running.sandbox().plans() {
        let inputs: Inputs = plan.provider.sample_inputs().into_iter().collect();
        for track in &plan.tracks {
            let task_id = match track.kind {
                TrackKind::Scenario => track.first_id(),
                TrackKind::Fault(_) => track.fresh_id(1),
                TrackKind::Example => continue,
            };
            let Some(task_id) = task_id else {
                println!(
                    "{} {}: not played, {}",
                    plan.provider.id,
                    track.name,
                    track.unreachable().unwrap_or("no id reaches it")
                );
                continue;
            };
            targets.push(Target {
                provider: plan.provider.id.clone(),
                task_id,
                inputs: inputs.clone(),
            });
            expected.push(match track.expected_end(watch::is_transient) {
                Outcome::Task {
                    terminal: false, ..
                } => "timeout".to_owned(),
                outcome => outcome.to_string(),
            });
        }
    }
    let template = running.base_url_template();
    let token_template = running.token_url_template();
    // The sandbox's placeholders: the same values it checks grants and signatures against.
    let key_dir = std::env::temp_dir().join(format!("unitask-demo-{}", std::process::id()));
    let key_file =
        std::fs::create_dir_all(&key_dir).and_then(|()| sandbox::auth::write_key_file(&key_dir));
    let key_file = match key_file {
        Ok(path) => path,
        Err(error) => {
            eprintln!("error: cannot write the sandbox's key file: {error}");
            return EXIT_USAGE;
        }
    };
    let placeholders = sandbox::auth::placeholder_credentials(&providers, &key_file);
    let client = match Transport::new(TransportConfig {
        timeout: Duration::from_secs(1),
        retry: RetryPolicy {
            max_attempts: 4,
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            total_budget: Duration::from_secs(10),
        },
        ..TransportConfig::default()
    }) {
        Ok(client) => client,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_USAGE;
        }
    };
    let (endpoints, redactor) = match super::watch::endpoints(
        &engine,
        &targets,
        super::watch::Urls {
            base: Some(&template),
            auth: Some(&token_template),
        },
        choice,
        |_| placeholders.clone(),
        &client,
    ) {
        Ok(found) => found,
        Err(message) => {
            eprintln!("error: {message}");
            return EXIT_USAGE;
        }
    };
    logging::init(redactor.clone());
    let mut watcher = Watcher::new(watch::Options {
        concurrency: 16,
        interval: Some(Duration::from_millis(100)),
        max_interval: Some(Duration::from_millis(400)),
        timeout: Some(Duration::from_secs(50)),
        max_errors: 5,
    });
    for endpoint in endpoints {
        watcher.add(endpoint);
    }
    let faults = running
        .sandbox()
        .plans()
        .iter()
        .flat_map(|p| &p.tracks)
        .filter(|t| matches!(t.kind, TrackKind::Fault(_)))
        .count();
    println!(
        "unitask demo: a sandbox of {} providers on {}; watching {} tasks ({} lifecycles, {faults} through faults)\n",
        running.sandbox().plans().len(),
        running.url(),
        targets.len(),
        targets.len() - faults,
    );
    let terminal = std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
    let mode = if terminal { Mode::Bars } else { Mode::Lines };
    let mut live = Live::new(mode, &targets, &redactor);
    let report = watcher
        .run(targets.clone(), ctrl_c(), |event| live.on_event(event))
        .await;
    live.close();
    let served = running.served();
    let tokens = running.sandbox().tokens_issued();
    let credentials = credential_lines(&providers, &running.sandbox().auth_activity());
    let _ = running.stop().await;
    let _ = std::fs::remove_dir_all(&key_dir);
    println!();
    print!(
        "{}",
        redactor.redact(&summary(&targets, &report, Some(&expected)))
    );
    let wrong = report
        .tasks
        .iter()
        .zip(&expected)
        .filter(|(task, want)| !ending_matches(task, want))
        .count();
    print!("{credentials}");
    println!("the sandbox answered {served} request(s) and issued {tokens} OAuth token(s)");
    if wrong == 0 {
        println!(
            "every task ended as its definition says it must: the sandbox played each definition, and the runtime read each answer"
        );
        EXIT_OK
    } else {
        println!("{wrong} task(s) did not end as their definition says");
        EXIT_INVALID
    }
}
