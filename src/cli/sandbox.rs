//! `unitask sandbox`: serves every definition on loopback until Ctrl-C, printing what it serves
//! and a line per request (credentials masked).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use unitask::interp::Source;
use unitask::sandbox::{self, Ids, ProviderPlan, Sandbox, TrackKind};

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
    /// How long the tokens its OAuth endpoints issue live.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "60s")]
    token_lifetime: Duration,
    /// Ids per track where they are generated from the task-id pattern (`GET /?ids=N` lists them).
    #[arg(long, value_name = "N", default_value_t = sandbox::DEFAULT_IDS_PER_TRACK as u32, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    ids: u32,
    /// A rate limit to enforce instead of those the provider's definition declares, to play a
    /// plan (`hubspot=190/10s`, `hubspot=none`; as `watch --rate-limit`).
    #[arg(long = "rate-limit", value_name = "PROVIDER=LIMIT", value_parser = super::watch::parse_rate_limit)]
    rate_limits: Vec<(String, Option<unitask::watch::RateLimit>)>,
}

pub fn run(args: Args) -> u8 {
    let engine = match super::watch::engine_with_limits(&args.definitions, &args.rate_limits) {
        Ok(engine) => engine,
        Err(code) => return code,
    };
    let log = (!args.quiet).then(request_log);
    let providers: Vec<_> = engine.iter().map(|l| l.provider.clone()).collect();
    // Signatures and grants are checked against the environment's secrets where set, else the
    // placeholders (with the built-in service account's key file, written for the session).
    let key_dir = std::env::temp_dir().join(format!("unitask-sandbox-{}", std::process::id()));
    let key_file = match std::fs::create_dir_all(&key_dir)
        .and_then(|()| sandbox::auth::write_key_file(&key_dir))
    {
        Ok(path) => path,
        Err(error) => {
            eprintln!("error: cannot write the sandbox's key file: {error}");
            return EXIT_USAGE;
        }
    };
    let mut credentials = sandbox::auth::placeholder_credentials(&providers, &key_file);
    let names: Vec<String> = credentials.names().map(str::to_owned).collect();
    for name in names {
        if let Ok(value) = std::env::var(&name)
            && !value.is_empty()
        {
            credentials.set(name, value);
        }
    }
    let sandbox = Sandbox::new(
        &providers,
        sandbox::Options {
            slow: args.slow,
            log,
            ids_per_track: args.ids as usize,
            credentials: Some(credentials.clone()),
            token_lifetime: args.token_lifetime,
        },
    );
    // The providers loaded from files come first in the "try" lines: they are why the
    // sandbox was started with --definitions.
    let from_files: Vec<String> = engine
        .iter()
        .filter(|l| matches!(l.source, Source::File(_)))
        .map(|l| l.provider.id.clone())
        .collect();
    let tries = Tries {
        credentials,
        program: program_name(),
        // Absolute, so the line works from any folder.
        definitions: args
            .definitions
            .iter()
            .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()))
            .collect(),
        from_files,
    };
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
        let _ = write!(out, "{}", banner(&running, &tries)).and_then(|()| out.flush());
        ctrl_c().await;
        let served = running.served();
        let stopped = running.stop().await;
        let _ = std::fs::remove_dir_all(&key_dir);
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

/// What the "try" lines need to be pasted as they are.
#[derive(Debug)]
pub struct Tries {
    /// How to run this binary again.
    pub program: String,
    /// The `--definitions` the sandbox was given.
    pub definitions: Vec<PathBuf>,
    /// The ids of the providers loaded from them.
    pub from_files: Vec<String>,
    /// What the sandbox checks signatures and grants against.
    pub credentials: unitask::Credentials,
}

/// How to run this binary again from any folder: `unitask` when it was found on the `PATH`, else
/// its absolute path.
fn program_name() -> String {
    let invoked = std::env::args().next().unwrap_or_default();
    if !invoked.contains(std::path::MAIN_SEPARATOR) {
        return "unitask".to_owned();
    }
    std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or(invoked)
}

/// What the sandbox serves and how to reach it.
pub fn banner(running: &sandbox::Running, tries: &Tries) -> String {
    let mut out = format!(
        "unitask sandbox listening on {}\nEach provider lives under /<id>. Any non-empty credential is accepted, where the definition puts it.\nEvery id has its own lifecycle; GET / lists every track with its ids.\n\n",
        running.url()
    );
    let plans = running.sandbox().plans();
    for plan in plans {
        out.push_str(&describe(plan, running, tries));
    }
    // The file-loaded providers (at most three), else one built-in.
    let mut chosen: Vec<&ProviderPlan> = plans
        .iter()
        .filter(|p| tries.from_files.contains(&p.provider.id))
        .take(3)
        .collect();
    if chosen.is_empty() {
        chosen.extend(
            plans
                .iter()
                .find(|p| p.provider.id == "hubspot")
                .or(plans.first()),
        );
    }
    let lines: Vec<String> = chosen
        .iter()
        .filter_map(|plan| try_line(plan, running, tries))
        .collect();
    if !lines.is_empty() {
        out.push_str(&format!("try:\n{}\n", lines.join("\n")));
    }
    out.push_str("\nlog (Ctrl-C stops):\n");
    out
}

/// A `watch` command line that reaches `plan`'s first scenario (else its first example) and its
/// rate-limit fault.
fn try_line(plan: &ProviderPlan, running: &sandbox::Running, tries: &Tries) -> Option<String> {
    let provider = &plan.provider;
    // Only tracks that end: the pasted line must finish.
    let pick = |kind: &dyn Fn(&TrackKind) -> bool| {
        plan.tracks
            .iter()
            .filter(|t| kind(&t.kind) && t.end_step(unitask::watch::is_transient).is_some())
            .find_map(|t| t.fresh_id(1))
    };
    let ids: Vec<String> = [
        pick(&|k| *k == TrackKind::Scenario).or_else(|| pick(&|k| *k == TrackKind::Example)),
        pick(&|k| *k == TrackKind::Fault(sandbox::Fault::RateLimited)),
    ]
    .into_iter()
    .flatten()
    .collect();
    if ids.is_empty() {
        return None;
    }
    let mut line = credential_words(&provider.auth, &tries.credentials);
    line.push(shell_word(&tries.program));
    line.push("watch".into());
    line.push("--interval 200ms".into());
    line.push(format!("--base-url '{}'", running.base_url_template()));
    if matches!(
        sandbox::auth::schemes(&provider.auth).first(),
        Some(unitask::model::Auth::OAuth2(_))
    ) {
        line.push(format!("--auth-url '{}'", running.token_url_template()));
    }
    if tries.from_files.contains(&provider.id) {
        for path in &tries.definitions {
            line.push(format!(
                "--definitions {}",
                shell_word(&path.display().to_string())
            ));
        }
    }
    for (name, value) in provider.sample_inputs() {
        line.push(format!(
            "--param {}",
            shell_word(&format!("{name}={value}"))
        ));
    }
    // After `--`, an id that starts with `-` is not taken for an option.
    if ids.iter().any(|id| id.starts_with('-')) {
        line.push("--".into());
    }
    line.push(provider.id.clone());
    line.extend(ids.iter().map(|id| shell_word(id)));
    Some(format!("  {}", line.join(" ")))
}

/// `text` as one shell word: as it is when it is plain, else single-quoted.
fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

fn describe(plan: &ProviderPlan, running: &sandbox::Running, tries: &Tries) -> String {
    let provider = &plan.provider;
    let mut out = format!("{}  {}\n", provider.id, running.base_url(&provider.id));
    let credential = credential_words(&provider.auth, &tries.credentials);
    if !credential.is_empty() {
        out.push_str(&format!("  credential  {}\n", credential.join(" ")));
    }
    if matches!(
        sandbox::auth::schemes(&provider.auth).first(),
        Some(unitask::model::Auth::OAuth2(_))
    ) {
        out.push_str(&format!(
            "  tokens      {}\n",
            running.token_url(&provider.id)
        ));
    }
    let params: Vec<String> = provider
        .sample_inputs()
        .into_iter()
        .map(|(name, value)| format!("--param {name}={value}"))
        .collect();
    if !params.is_empty() {
        out.push_str(&format!("  inputs      {}\n", params.join(" ")));
    }
    let numbered = plan.tracks.iter().any(|t| t.ids == Ids::Numbered);
    if numbered {
        out.push_str("  task ids    <name>-<n> for any n (e.g. fault-slow-7)\n");
    }
    for track in plan.tracks.iter().filter(|t| t.kind == TrackKind::Scenario) {
        let steps: Vec<&str> = track.steps.iter().map(|s| s.label.as_str()).collect();
        let fresh = match &track.ids {
            Ids::Generated(ids) => ids
                .first()
                .map(|id| format!(", then {id} …"))
                .unwrap_or_default(),
            _ => String::new(),
        };
        out.push_str(&format!(
            "  scenario    {} ({}{fresh}): {}\n",
            track.name,
            track.task_id.as_deref().unwrap_or_default(),
            steps.join(" → ")
        ));
    }
    for (kind, label) in [("fault", "faults"), ("example", "examples")] {
        let tracks: Vec<&sandbox::Track> = plan
            .tracks
            .iter()
            .filter(|t| match t.kind {
                TrackKind::Fault(_) => kind == "fault",
                TrackKind::Example => kind == "example",
                TrackKind::Scenario => false,
            })
            .collect();
        let numbered: Vec<&str> = tracks
            .iter()
            .filter(|t| t.ids == Ids::Numbered)
            .map(|t| t.name.as_str())
            .collect();
        if !numbered.is_empty() {
            out.push_str(&format!("  {label:<11} {}\n", numbered.join(", ")));
        }
        for track in &tracks {
            if let Ids::Generated(ids) = &track.ids
                && let Some(first) = ids.first()
            {
                out.push_str(&format!(
                    "  {kind:<11} {} {first} (and {} more)\n",
                    track.name,
                    ids.len() - 1
                ));
            }
        }
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
    for track in &plan.tracks {
        if let Some(why) = track.unreachable() {
            out.push_str(&format!("  unreachable {}: {why}\n", track.name));
        }
    }
    out.push('\n');
    out
}

/// `NAME=value` words for the first scheme of `auth`: any value for a secret the sandbox only
/// looks for, the sandbox's own for one it computes a signature or checks a grant with.
fn credential_words(
    auth: &unitask::model::Auth,
    credentials: &unitask::Credentials,
) -> Vec<String> {
    let Some(first) = sandbox::auth::schemes(auth).first().copied() else {
        return Vec::new();
    };
    let checked = matches!(
        first,
        unitask::model::Auth::OAuth2(_)
            | unitask::model::Auth::Sign(_)
            | unitask::model::Auth::QueryString { .. }
    );
    first
        .required_env()
        .into_iter()
        .map(|name| {
            let value = if checked {
                shell_word(credentials.value(name).unwrap_or("any"))
            } else {
                "any".to_owned()
            };
            format!("{name}={value}")
        })
        .collect()
}
