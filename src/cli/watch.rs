//! `unitask watch`: polls tasks until each ends — live on a terminal (a bar per task and an
//! overall bar), else one JSON line per change — then prints a summary table and exits with a
//! code that says how they ended.

use std::collections::HashSet;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use unitask::http::redact::Redactor;
use unitask::http::request::{Credentials, Inputs};
use unitask::watch::{self, Answerer, Ending, Endpoint, RateLimit, Report, Target, Watcher};
use unitask::{Engine, RetryPolicy, Transport, TransportConfig};

use super::live::{Live, Mode, summary, summary_json};
use super::status::{EngineChoice, choose_engine, parse_param};
use super::{EXIT_OK, EXIT_USAGE, logging};

/// Exit code: a request failed in a way polling again would not fix.
pub const EXIT_REQUEST_ERROR: u8 = 1;
/// Exit code: a task ended failed, partial, canceled or expired.
pub const EXIT_TASK_FAILED: u8 = 3;
/// Exit code: the watch timed out with tasks still running.
pub const EXIT_TIMEOUT: u8 = 4;
/// Exit code: stopped by Ctrl-C (128 + SIGINT).
pub const EXIT_INTERRUPTED: u8 = 130;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The provider of the task ids given here.
    pub(super) provider: Option<String>,
    /// Task ids to watch.
    pub(super) task_ids: Vec<String>,
    /// Read tasks from a file (`-` for stdin): one `provider,task_id[,name=value…]` per line.
    #[arg(long, value_name = "FILE")]
    pub(super) from: Option<PathBuf>,
    /// An input for every task that does not set it, e.g. `--param library_id=smh01`.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub(super) params: Vec<(String, String)>,
    #[command(flatten)]
    pub(super) polling: Polling,
    /// Stop after this long; tasks still running count as timed out (exit code 4).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(super) timeout: Option<Duration>,
    /// Print one JSON line per change even on a terminal.
    #[arg(long)]
    pub(super) json: bool,
    /// Keep the tasks in this SQLite file (or `postgres://…` URL): the tasks given are tracked
    /// in it, every task it tracks is watched, and a watch stopped or killed resumes where it
    /// was when run again (with or without tasks), never polling an ended task again nor
    /// telling a change twice.
    #[arg(long, value_name = "PATH")]
    pub(super) store: Option<String>,
}

/// How tasks are polled and where: the flags `watch` and `serve` share.
#[derive(Debug, clap::Args)]
pub struct Polling {
    /// Polls in flight at once, across every task.
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub(super) concurrency: u32,
    /// The first wait between polls of a task [default: each definition's polling.interval].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(super) interval: Option<Duration>,
    /// The longest wait between polls [default: each definition's polling.max_interval].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(super) max_interval: Option<Duration>,
    /// The longest one request attempt may take.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "30s")]
    pub(super) request_timeout: Duration,
    /// Attempts per poll on connection errors, timeouts, 429 and 5xx (1 = no retry).
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub(super) max_attempts: u32,
    /// The largest body read (`16MiB`, `500kB`, bytes), instead of each definition's
    /// `limits.max_body_bytes` (4 MiB by default).
    #[arg(long, value_name = "SIZE", value_parser = super::status::parse_max_body)]
    pub(super) max_body: Option<usize>,
    /// Polls in a row that may fail (after their retries) before a task is given up.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub(super) max_errors: u32,
    /// Send requests here instead of each definition's base URL; `{provider}` is replaced by
    /// the provider id (the sandbox serves each provider under `/<id>`).
    #[arg(long, value_name = "URL")]
    pub(super) base_url: Option<String>,
    /// Fetch OAuth tokens here instead of each definition's token URL; `{provider}` is replaced
    /// by the provider id (the sandbox serves one at `/_oauth/<id>/token`).
    #[arg(long, value_name = "URL")]
    pub(super) auth_url: Option<String>,
    /// More definitions (files or folders), loaded at run time.
    #[arg(long = "definitions", value_name = "PATH")]
    pub(super) definitions: Vec<PathBuf>,
    /// Which engine answers built-in providers (run-time definitions always use the interpreter).
    #[arg(long, value_enum)]
    pub(super) engine: Option<EngineChoice>,
    /// A rate limit to keep instead of those the provider's definition declares: your plan's
    /// (`hubspot=190/10s`; `shopify-bulk-operation=2000/20s,burst=2000` for a bucket;
    /// `,scope=host` for one shared by the host; `hubspot=none` for none). Repeat it for
    /// several limits of one provider.
    #[arg(long = "rate-limit", value_name = "PROVIDER=LIMIT", value_parser = parse_rate_limit)]
    pub(super) rate_limits: Vec<(String, Option<RateLimit>)>,
}

/// The longest duration the command line takes.
const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);

/// `500ms`, `2s`, `1m`, `0s`; at most 30 days.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = text
        .parse::<jiff::SignedDuration>()
        .ok()
        .and_then(|d| Duration::try_from(d).ok())
        .ok_or_else(|| format!("expected a duration like `500ms`, `2s` or `1m`, got {text:?}"))?;
    if duration > MAX_DURATION {
        return Err(format!("{text:?} is longer than 30 days"));
    }
    Ok(duration)
}

/// `PROVIDER=LIMIT` or `PROVIDER=none`.
pub fn parse_rate_limit(text: &str) -> Result<(String, Option<RateLimit>), String> {
    let (id, limit) = text
        .split_once('=')
        .ok_or_else(|| format!("expected `PROVIDER=LIMIT` like `hubspot=190/10s`, got {text:?}"))?;
    match limit.trim() {
        "none" => Ok((id.trim().to_owned(), None)),
        limit => Ok((id.trim().to_owned(), Some(limit.parse()?))),
    }
}

/// The engine with the definitions given, and the `--rate-limit`s given in place of those the
/// definitions declare; an unknown provider is a usage error.
pub fn engine_with_limits(
    definitions: &[PathBuf],
    rate_limits: &[(String, Option<RateLimit>)],
) -> Result<Engine, u8> {
    let mut engine = super::status::engine(definitions)?;
    let mut ids: Vec<&str> = rate_limits.iter().map(|(id, _)| id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        let limits = rate_limits
            .iter()
            .filter(|(of, _)| of == id)
            .filter_map(|(_, limit)| *limit)
            .collect();
        if let Err(error) = engine.set_rate_limits(id, limits) {
            eprintln!("error: --rate-limit: {}", error.message);
            return Err(EXIT_USAGE);
        }
    }
    Ok(engine)
}

pub fn run(args: Args) -> u8 {
    let engine = match engine_with_limits(&args.polling.definitions, &args.polling.rate_limits) {
        Ok(engine) => engine,
        Err(code) => return code,
    };
    let targets = match targets(&args) {
        Ok(targets) => targets,
        // With a store, the tasks it tracks are the list.
        Err(_) if args.store.is_some() && args.provider.is_none() && args.from.is_none() => {
            Vec::new()
        }
        Err(message) => {
            eprintln!("error: {message}");
            return EXIT_USAGE;
        }
    };
    if targets.is_empty() && args.store.is_none() {
        // An empty list (generated, say) is not an error: nothing to watch, nothing failed.
        eprintln!("warning: the task list is empty; nothing to watch");
        return EXIT_OK;
    }
    let client = match transport(&args.polling) {
        Ok(client) => client,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_USAGE;
        }
    };
    if let Some(url) = &args.store {
        return super::watch_store::run(&args, &engine, url, targets, &client);
    }
    let (endpoints, redactor) = match endpoints(
        &engine,
        &targets,
        Urls {
            base: args.polling.base_url.as_deref(),
            auth: args.polling.auth_url.as_deref(),
        },
        args.polling.engine,
        Credentials::from_env,
        &client,
    ) {
        Ok(found) => found,
        Err(message) => {
            eprintln!("error: {message}");
            return EXIT_USAGE;
        }
    };
    if let Err(message) = check_targets(&endpoints, &targets) {
        eprintln!("error: {message}");
        return EXIT_USAGE;
    }
    logging::init(redactor.clone());
    let options = options(&args);
    let mode = mode(&args);
    // One thread: every poll runs in the watcher's own task, so more threads only add wake-ups.
    let runtime = match super::runtime(false) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let mut watcher = Watcher::new(options);
    for endpoint in endpoints {
        watcher.add(endpoint);
    }
    let mut live = Live::new(mode, &targets, &redactor);
    let report =
        runtime.block_on(watcher.run(targets.clone(), ctrl_c(), |event| live.on_event(event)));
    live.close();
    let code = exit_code(&report);
    let table = summary(&targets, &report, None);
    if mode == Mode::JsonLines {
        live.line(&summary_json(&report, code));
        live.close();
        eprint!("{}", redactor.redact(&table));
    } else {
        print!("{}", redactor.redact(&table));
    }
    code
}

/// The transport the flags describe.
pub(super) fn transport(polling: &Polling) -> Result<Transport, unitask::Error> {
    let defaults = TransportConfig::default();
    Transport::new(TransportConfig {
        timeout: polling.request_timeout.max(Duration::from_millis(1)),
        max_body_bytes: polling.max_body,
        retry: RetryPolicy {
            max_attempts: polling.max_attempts,
            ..defaults.retry.clone()
        },
        ..defaults
    })
}

/// How tasks are polled, from the flags.
pub(super) fn options(args: &Args) -> watch::Options {
    watch::Options {
        concurrency: args.polling.concurrency as usize,
        interval: args.polling.interval,
        max_interval: args.polling.max_interval,
        timeout: args.timeout,
        max_errors: args.polling.max_errors,
    }
}

/// Bars on a terminal, else (or with `--json`) JSON lines.
pub(super) fn mode(args: &Args) -> Mode {
    let terminal = std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
    if args.json || !terminal {
        Mode::JsonLines
    } else {
        Mode::Bars
    }
}

/// Completes on Ctrl-C (never, if the signal cannot be caught).
pub async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The tasks named on the command line and in `--from`, with `--param` defaults, each once.
fn targets(args: &Args) -> Result<Vec<Target>, String> {
    let mut targets = Vec::new();
    match (&args.provider, args.task_ids.is_empty()) {
        (Some(provider), false) => {
            for task_id in &args.task_ids {
                targets.push(Target {
                    provider: provider.clone(),
                    task_id: task_id.clone(),
                    inputs: Inputs::new(),
                });
            }
        }
        (Some(provider), true) => {
            return Err(format!("no task id given for `{provider}`"));
        }
        (None, _) => {}
    }
    match &args.from {
        Some(path) => {
            let text = if path.as_os_str() == "-" {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .map_err(|e| format!("cannot read stdin: {e}"))?;
                text
            } else {
                std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?
            };
            let parsed = watch::parse_list(&text).map_err(|errors| {
                let shown: Vec<String> = errors.iter().take(20).map(|e| e.to_string()).collect();
                let more = errors.len().saturating_sub(shown.len());
                let mut message = format!(
                    "{} is not a task list:\n  {}",
                    path.display(),
                    shown.join("\n  ")
                );
                if more > 0 {
                    message.push_str(&format!("\n  … and {more} more"));
                }
                message
            })?;
            if !parsed.duplicates.is_empty() {
                eprintln!(
                    "warning: {} line(s) repeat an earlier task and are watched once (first: line {})",
                    parsed.duplicates.len(),
                    parsed.duplicates[0]
                );
            }
            targets.extend(parsed.targets);
        }
        None if targets.is_empty() => {
            return Err("nothing to watch: give a provider and task ids, or --from FILE".into());
        }
        None => {}
    }
    for target in &mut targets {
        for (name, value) in &args.params {
            if target.inputs.get(name).is_none() {
                target.inputs.set(name.as_str(), value.as_str());
            }
        }
    }
    // The same task (provider, id and inputs, in any order) is watched once.
    let before = targets.len();
    let mut seen = HashSet::new();
    targets.retain(|t| {
        let mut inputs: Vec<(&str, &str)> = t.inputs.iter().collect();
        inputs.sort_unstable();
        let key: Vec<(String, String)> = inputs
            .into_iter()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        seen.insert((t.provider.clone(), t.task_id.clone(), key))
    });
    if targets.len() < before {
        eprintln!(
            "warning: {} task(s) named more than once are watched once",
            before - targets.len()
        );
    }
    Ok(targets)
}

/// Every target's request is built once before anything is sent, so a bad input (an unknown
/// name, a value its pattern refuses, a missing required input) is a usage error, not a task
/// that fails halfway through a run.
pub(super) fn check_targets(endpoints: &[Endpoint], targets: &[Target]) -> Result<(), String> {
    let mut problems = Vec::new();
    let mut count = 0;
    for target in targets {
        let Some(endpoint) = endpoints.iter().find(|e| e.id() == target.provider) else {
            continue;
        };
        if let Err(error) = endpoint.check(target) {
            count += 1;
            if problems.len() < 20 {
                problems.push(format!(
                    "{} {}: {}",
                    target.provider, target.task_id, error.message
                ));
            }
        }
    }
    match count {
        0 => Ok(()),
        _ => {
            let mut message = format!(
                "{count} task(s) cannot be requested; nothing was sent:\n  {}",
                problems.join("\n  ")
            );
            if count > problems.len() {
                message.push_str(&format!("\n  … and {} more", count - problems.len()));
            }
            Err(message)
        }
    }
}

/// Where requests go instead of each definition's own URLs; `{provider}` is replaced by the
/// provider id.
#[derive(Debug, Clone, Copy, Default)]
pub struct Urls<'a> {
    /// The API (`--base-url`).
    pub base: Option<&'a str>,
    /// The OAuth token endpoint (`--auth-url`).
    pub auth: Option<&'a str>,
}

/// One endpoint per provider the targets use, and a redactor for all their credentials. Fails
/// on an unknown provider, a missing credential or a bad base URL, before anything is sent.
pub fn endpoints(
    engine: &Engine,
    targets: &[Target],
    urls: Urls<'_>,
    choice: Option<EngineChoice>,
    credentials_for: impl Fn(&unitask::model::Auth) -> Credentials,
    transport: &Transport,
) -> Result<(Vec<Endpoint>, Redactor), String> {
    let mut ids: Vec<&str> = targets.iter().map(|t| t.provider.as_str()).collect();
    // And every definition a follow-up hands over to, so `watch` can follow it.
    let mut at = 0;
    while at < ids.len() {
        if let Some(next) = engine
            .get(ids[at])
            .and_then(|l| l.provider.response.next.as_ref())
            && !ids.contains(&next.provider.as_str())
        {
            ids.push(next.provider.as_str());
        }
        at += 1;
    }
    ids.sort_unstable();
    ids.dedup();
    let mut endpoints = Vec::new();
    let mut redactor = Redactor::default();
    let mut problems = Vec::new();
    for id in ids {
        let Some(loaded) = engine.get(id) else {
            let known: Vec<&str> = engine.iter().map(|l| l.provider.id.as_str()).collect();
            problems.push(format!("no provider `{id}` (known: {})", known.join(", ")));
            continue;
        };
        let provider = &loaded.provider;
        let mut credentials = credentials_for(&provider.auth);
        // Of alternatives, the one whose variables are set; none set is a usage error now.
        let missing: Vec<&str> = match unitask::http::auth::choose(&provider.auth, &credentials) {
            Ok(chosen) => chosen
                .required_env()
                .into_iter()
                .filter(|name| credentials.value(name).is_none_or(str::is_empty))
                .collect(),
            Err(error) => {
                problems.push(format!("{id}: {}", error.message));
                continue;
            }
        };
        if !missing.is_empty() {
            problems.push(format!(
                "{id} reads its credential from {} (against the sandbox any value will do)",
                missing.join(" and ")
            ));
            continue;
        }
        if let Some(template) = urls.auth {
            let text = template.replace("{provider}", id);
            match url::Url::parse(&text) {
                Ok(url) => {
                    credentials.set_token_endpoint(url);
                }
                Err(error) => {
                    problems.push(format!("--auth-url {text:?} is not a URL: {error}"));
                    continue;
                }
            }
        }
        let base_url = match urls.base {
            Some(template) => {
                let text = template.replace("{provider}", id);
                match url::Url::parse(&text) {
                    Ok(url) => Some(url),
                    Err(error) => {
                        problems.push(format!("--base-url {text:?} is not a URL: {error}"));
                        continue;
                    }
                }
            }
            None => None,
        };
        let answerer = match choose_engine(choice, loaded) {
            Ok(EngineChoice::Generated) => Answerer::Generated,
            Ok(EngineChoice::Interpreted) => Answerer::Interpreted,
            Err(message) => {
                problems.push(message);
                continue;
            }
        };
        redactor.extend(&Redactor::new(&provider.auth, &credentials));
        endpoints.push(Endpoint::new(
            Arc::clone(provider),
            transport.clone(),
            base_url,
            credentials,
            answerer,
        ));
    }
    if problems.is_empty() {
        Ok((endpoints, redactor))
    } else {
        Err(problems.join("\nerror: "))
    }
}

/// 130 if interrupted, else 1 if any request error, else 4 if any timed out, else 3 if any
/// task ended failed, partial, canceled or expired, else 0.
pub fn exit_code(report: &Report) -> u8 {
    let any = |f: &dyn Fn(&Ending) -> bool| report.tasks.iter().any(|t| f(&t.ending));
    if any(&|e| *e == Ending::Interrupted) {
        EXIT_INTERRUPTED
    } else if any(&|e| matches!(e, Ending::Failed(_))) {
        EXIT_REQUEST_ERROR
    } else if any(&|e| *e == Ending::TimedOut) {
        EXIT_TIMEOUT
    } else if any(&|e| matches!(e, Ending::Terminal(s) if *s != unitask::State::Succeeded)) {
        EXIT_TASK_FAILED
    } else {
        EXIT_OK
    }
}
