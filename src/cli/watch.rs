//! `unitask watch`: polls tasks until each ends — live on a terminal (a bar per task and an
//! overall bar), else one JSON line per change — then prints a summary table and exits with a
//! code that says how they ended.

use std::collections::{BTreeMap, HashSet};
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use unitask::http::redact::Redactor;
use unitask::http::request::{Credentials, Inputs, auth_env_names};
use unitask::interp::Source;
use unitask::watch::{self, Answerer, Ending, Endpoint, Event, Finished, Report, Target, Watcher};
use unitask::{Client, ClientConfig, Engine, RetryPolicy, UploadTask};

use super::status::{EngineChoice, parse_param};
use super::{EXIT_OK, EXIT_USAGE, logging};

/// Exit code: a request failed in a way polling again would not fix.
pub const EXIT_REQUEST_ERROR: u8 = 1;
/// Exit code: a task ended failed, partial, canceled or expired.
pub const EXIT_TASK_FAILED: u8 = 3;
/// Exit code: the watch timed out with tasks still running.
pub const EXIT_TIMEOUT: u8 = 4;
/// Exit code: stopped by Ctrl-C (128 + SIGINT).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Up to this many tasks get a bar each on a terminal; more get the overall bar only.
const BARS_PER_TASK: usize = 40;
/// Up to this many tasks get a row each in the summary; more are grouped.
const ROWS_PER_TASK: usize = 40;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The provider of the task ids given here.
    provider: Option<String>,
    /// Task ids to watch.
    task_ids: Vec<String>,
    /// Read tasks from a file (`-` for stdin): one `provider,task_id[,name=value…]` per line.
    #[arg(long, value_name = "FILE")]
    from: Option<PathBuf>,
    /// An input for every task that does not set it, e.g. `--param library_id=smh01`.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    params: Vec<(String, String)>,
    /// Polls in flight at once, across every task.
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=4096))]
    concurrency: u32,
    /// The first wait between polls of a task [default: each definition's polling.interval].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    interval: Option<Duration>,
    /// The longest wait between polls [default: each definition's polling.max_interval].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    max_interval: Option<Duration>,
    /// Stop after this long; tasks still running count as timed out (exit code 4).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// The longest one request attempt may take.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "30s")]
    request_timeout: Duration,
    /// Attempts per poll on connection errors, timeouts, 429 and 5xx (1 = no retry).
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=20))]
    max_attempts: u32,
    /// Polls in a row that may fail (after their retries) before a task is given up.
    #[arg(long, value_name = "N", default_value_t = 5)]
    max_errors: u32,
    /// Send requests here instead of each definition's base URL; `{provider}` is replaced by
    /// the provider id (the sandbox serves each provider under `/<id>`).
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// More definitions (files or folders), loaded at run time.
    #[arg(long = "definitions", value_name = "PATH")]
    definitions: Vec<PathBuf>,
    /// Which engine answers built-in providers (run-time definitions always use the interpreter).
    #[arg(long, value_enum)]
    engine: Option<EngineChoice>,
    /// Print one JSON line per change even on a terminal.
    #[arg(long)]
    json: bool,
}

/// `500ms`, `2s`, `1m`, `0s`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    text.parse::<jiff::SignedDuration>()
        .ok()
        .and_then(|d| Duration::try_from(d).ok())
        .ok_or_else(|| format!("expected a duration like `500ms`, `2s` or `1m`, got {text:?}"))
}

pub fn run(args: Args) -> u8 {
    let engine = match super::status::engine(&args.definitions) {
        Ok(engine) => engine,
        Err(code) => return code,
    };
    let targets = match targets(&args) {
        Ok(targets) => targets,
        Err(message) => {
            eprintln!("error: {message}");
            return EXIT_USAGE;
        }
    };
    let (endpoints, redactor) = match endpoints(
        &engine,
        &targets,
        args.base_url.as_deref(),
        args.engine,
        Credentials::from_env,
    ) {
        Ok(found) => found,
        Err(message) => {
            eprintln!("error: {message}");
            return EXIT_USAGE;
        }
    };
    logging::init(redactor.clone());
    let defaults = ClientConfig::default();
    let config = ClientConfig {
        timeout: args.request_timeout.max(Duration::from_millis(1)),
        retry: RetryPolicy {
            max_attempts: args.max_attempts,
            ..defaults.retry.clone()
        },
        ..defaults
    };
    let options = watch::Options {
        concurrency: args.concurrency as usize,
        interval: args.interval,
        max_interval: args.max_interval,
        timeout: args.timeout,
        max_errors: args.max_errors,
    };
    let terminal = std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
    let mode = if args.json || !terminal {
        Mode::JsonLines
    } else {
        Mode::Bars
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return EXIT_USAGE;
        }
    };
    let client = match Client::new(config) {
        Ok(client) => client,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_USAGE;
        }
    };
    let mut watcher = Watcher::new(client, options);
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
        eprint!("{}", redactor.redact(&table));
    } else {
        print!("{}", redactor.redact(&table));
    }
    code
}

/// Completes on Ctrl-C (never, if the signal cannot be caught).
pub async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The tasks named on the command line and in `--from`, each once, with `--param` defaults.
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
    if let Some(path) = &args.from {
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
    if targets.is_empty() {
        return Err("nothing to watch: give a provider and task ids, or --from FILE".into());
    }
    // The same task named on the command line and in the file is watched once.
    let mut seen = HashSet::new();
    targets.retain(|t| seen.insert((t.provider.clone(), t.task_id.clone(), t.inputs.clone())));
    for target in &mut targets {
        for (name, value) in &args.params {
            if target.inputs.get(name).is_none() {
                target.inputs.set(name.as_str(), value.as_str());
            }
        }
    }
    Ok(targets)
}

/// One endpoint per provider the targets use, and a redactor for all their credentials. Fails
/// on an unknown provider, a missing credential or a bad base URL, before anything is sent.
pub fn endpoints(
    engine: &Engine,
    targets: &[Target],
    base_url: Option<&str>,
    choice: Option<EngineChoice>,
    credentials_for: impl Fn(&unitask::model::Auth) -> Credentials,
) -> Result<(Vec<Endpoint>, Redactor), String> {
    let mut ids: Vec<&str> = targets.iter().map(|t| t.provider.as_str()).collect();
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
        let credentials = credentials_for(&provider.auth);
        let missing: Vec<&str> = auth_env_names(&provider.auth)
            .into_iter()
            .filter(|name| credentials.value(name).is_none_or(str::is_empty))
            .collect();
        if !missing.is_empty() {
            problems.push(format!(
                "{id} reads its credential from {} (against the sandbox any value will do)",
                missing.join(" and ")
            ));
            continue;
        }
        let base_url = match base_url {
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
        let built_in = loaded.source == Source::BuiltIn;
        let answerer = match (choice, built_in) {
            (Some(EngineChoice::Generated), false) => {
                problems.push(format!(
                    "`{id}` was loaded at run time; only built-in providers have a generated client (use --engine interpreted)"
                ));
                continue;
            }
            (Some(EngineChoice::Interpreted), _) | (None, false) => Answerer::Interpreted,
            (Some(EngineChoice::Generated), true) | (None, true) => Answerer::Generated,
        };
        redactor.extend(&Redactor::new(&provider.auth, &credentials));
        endpoints.push(Endpoint {
            provider: provider.clone(),
            base_url,
            credentials,
            answerer,
        });
    }
    if problems.is_empty() {
        Ok((endpoints, redactor))
    } else {
        Err(problems.join("\nerror: "))
    }
}

/// How changes are shown while watching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// indicatif bars on stderr.
    Bars,
    /// One JSON object per line on stdout.
    JsonLines,
    /// One human line per change on stdout.
    Lines,
}

/// Shows a watch as it happens.
pub struct Live<'a> {
    mode: Mode,
    redactor: &'a Redactor,
    multi: MultiProgress,
    overall: Option<ProgressBar>,
    bars: Vec<Option<ProgressBar>>,
    endings: BTreeMap<&'static str, usize>,
    stdout: std::io::Stdout,
}

impl<'a> Live<'a> {
    pub fn new(mode: Mode, targets: &[Target], redactor: &'a Redactor) -> Live<'a> {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let (overall, bars) = if mode == Mode::Bars {
            let width = targets
                .iter()
                .map(|t| t.provider.len() + t.task_id.len() + 1)
                .max()
                .unwrap_or(0)
                .min(60);
            let task_style = ProgressStyle::with_template(&format!(
                "{{prefix:{width}}} {{spinner}} {{wide_msg}} {{elapsed:>4}}"
            ))
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
            let bars = if targets.len() <= BARS_PER_TASK {
                targets
                    .iter()
                    .map(|t| {
                        let bar = multi.add(ProgressBar::new_spinner());
                        bar.set_style(task_style.clone());
                        bar.set_prefix(format!("{} {}", t.provider, t.task_id));
                        bar.set_message("waiting");
                        bar.enable_steady_tick(Duration::from_millis(120));
                        Some(bar)
                    })
                    .collect()
            } else {
                vec![None; targets.len()]
            };
            let overall = multi.add(ProgressBar::new(targets.len() as u64));
            overall.set_style(
                ProgressStyle::with_template(
                    "[{bar:30}] {pos}/{len} done  {wide_msg} {elapsed:>4}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            overall.enable_steady_tick(Duration::from_millis(250));
            (Some(overall), bars)
        } else {
            (None, vec![None; targets.len()])
        };
        Live {
            mode,
            redactor,
            multi,
            overall,
            bars,
            endings: BTreeMap::new(),
            stdout: std::io::stdout(),
        }
    }

    /// Writes one line to stdout, redacted.
    pub fn line(&mut self, text: &str) {
        let text = self.redactor.redact(text);
        let mut out = self.stdout.lock();
        let _ = writeln!(out, "{text}");
    }

    pub fn on_event(&mut self, event: Event<'_>) {
        match event {
            Event::Changed {
                index,
                target,
                task,
                polls,
                elapsed,
            } => match self.mode {
                Mode::JsonLines => {
                    let line = json!({
                        "event": "state",
                        "provider": target.provider,
                        "task_id": target.task_id,
                        "polls": polls,
                        "elapsed_ms": elapsed.as_millis() as u64,
                        "task": task,
                    });
                    self.line(&line.to_string());
                }
                Mode::Lines => {
                    let line = format!(
                        "{:>7}  {} {}: {}",
                        seconds(elapsed),
                        target.provider,
                        target.task_id,
                        describe(task)
                    );
                    self.line(&line);
                }
                Mode::Bars => {
                    if let Some(Some(bar)) = self.bars.get(index) {
                        bar.set_message(self.redactor.redact(&describe(task)));
                    }
                }
            },
            Event::Failed {
                index,
                target,
                error,
                polls,
                elapsed,
                gives_up,
            } => match self.mode {
                Mode::JsonLines => {
                    let line = json!({
                        "event": "error",
                        "provider": target.provider,
                        "task_id": target.task_id,
                        "polls": polls,
                        "elapsed_ms": elapsed.as_millis() as u64,
                        "gives_up": gives_up,
                        "error": error,
                    });
                    self.line(&line.to_string());
                }
                Mode::Lines => {
                    let then = if gives_up {
                        "giving up"
                    } else {
                        "will poll again"
                    };
                    let line = format!(
                        "{:>7}  {} {}: {error} ({then})",
                        seconds(elapsed),
                        target.provider,
                        target.task_id
                    );
                    self.line(&line);
                }
                Mode::Bars => {
                    if let Some(Some(bar)) = self.bars.get(index) {
                        bar.set_message(self.redactor.redact(&format!("{error} (polling again)")));
                    }
                }
            },
            Event::Finished {
                index,
                target,
                finished,
            } => {
                *self.endings.entry(finished.ending.name()).or_default() += 1;
                match self.mode {
                    Mode::JsonLines => {
                        let line = done_json(target, finished);
                        self.line(&line.to_string());
                    }
                    Mode::Lines => {
                        let line = format!(
                            "{:>7}  {} {}: ended {}",
                            seconds(finished.elapsed),
                            target.provider,
                            target.task_id,
                            ending_text(finished)
                        );
                        self.line(&line);
                    }
                    Mode::Bars => {
                        if let Some(Some(bar)) = self.bars.get(index) {
                            bar.finish_with_message(
                                self.redactor
                                    .redact(&format!("ended {}", ending_text(finished))),
                            );
                        }
                        if let Some(overall) = &self.overall {
                            overall.inc(1);
                            let counts: Vec<String> = self
                                .endings
                                .iter()
                                .map(|(k, v)| format!("{v} {k}"))
                                .collect();
                            overall.set_message(counts.join(", "));
                        }
                    }
                }
            }
        }
    }

    /// Stops drawing.
    pub fn close(&mut self) {
        if let Some(overall) = &self.overall {
            overall.finish();
        }
        let _ = self.multi.clear();
    }
}

fn done_json(target: &Target, finished: &Finished) -> serde_json::Value {
    let error = match &finished.ending {
        Ending::Failed(error) => Some(error),
        _ => None,
    };
    json!({
        "event": "done",
        "provider": target.provider,
        "task_id": target.task_id,
        "ending": finished.ending.name(),
        "state": finished.state,
        "native_status": finished.native_status,
        "progress": finished.progress,
        "polls": finished.polls,
        "elapsed_ms": finished.elapsed.as_millis() as u64,
        "error": error,
    })
}

fn summary_json(report: &Report, exit_code: u8) -> String {
    let mut endings: BTreeMap<&str, usize> = BTreeMap::new();
    for task in &report.tasks {
        *endings.entry(task.ending.name()).or_default() += 1;
    }
    json!({
        "event": "summary",
        "tasks": report.tasks.len(),
        "endings": endings,
        "requests": report.requests,
        "elapsed_ms": report.elapsed.as_millis() as u64,
        "requests_per_second": rate(report),
        "exit_code": exit_code,
    })
    .to_string()
}

fn rate(report: &Report) -> u64 {
    let secs = report.elapsed.as_secs_f64();
    if secs > 0.0 {
        (report.requests as f64 / secs).round() as u64
    } else {
        0
    }
}

/// `running (PROCESSING) 3/10 items`.
fn describe(task: &UploadTask) -> String {
    let mut text = format!("{} ({})", task.state, task.native_status);
    if let Some(progress) = &task.progress {
        text.push(' ');
        text.push_str(&progress_text(progress));
    }
    text
}

fn progress_text(progress: &unitask::Progress) -> String {
    let unit = serde_json::to_value(progress.unit)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    match progress.total {
        Some(total) => format!("{}/{} {unit}", progress.done, total),
        None => format!("{} {unit}", progress.done),
    }
}

fn ending_text(finished: &Finished) -> String {
    match &finished.ending {
        Ending::Failed(error) => format!("error: {error}"),
        ending => ending.name().to_owned(),
    }
}

fn seconds(elapsed: Duration) -> String {
    format!("{:.1}s", elapsed.as_secs_f64())
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

/// The summary table: a row per task (with an `expected` column when given), or for many tasks
/// the count of each ending per provider and the tasks that did not succeed; then the totals.
pub fn summary(targets: &[Target], report: &Report, expected: Option<&[String]>) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let row = |target: &Target, task: &Finished| {
        vec![
            target.provider.clone(),
            target.task_id.clone(),
            ending_text(task),
            task.native_status.clone().unwrap_or_else(|| "-".into()),
            task.progress
                .as_ref()
                .map_or_else(|| "-".into(), progress_text),
            task.polls.to_string(),
            seconds(task.elapsed),
        ]
    };
    let mut out = String::new();
    if targets.len() <= ROWS_PER_TASK || expected.is_some() {
        let mut header: Vec<String> = [
            "PROVIDER", "TASK", "ENDED", "NATIVE", "PROGRESS", "POLLS", "ELAPSED",
        ]
        .map(String::from)
        .to_vec();
        if expected.is_some() {
            header.extend(["EXPECTED".into(), "OK".into()]);
        }
        rows.push(header);
        for (i, (target, task)) in targets.iter().zip(&report.tasks).enumerate() {
            let mut cells = row(target, task);
            if let Some(expected) = expected {
                let wanted = expected.get(i).cloned().unwrap_or_default();
                let ok = ending_matches(task, &wanted);
                cells.extend([wanted, if ok { "✔".into() } else { "✘".into() }]);
            }
            rows.push(cells);
        }
        out.push_str(&table(&rows));
    } else {
        let mut counts: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        for (target, task) in targets.iter().zip(&report.tasks) {
            *counts
                .entry((target.provider.as_str(), task.ending.name()))
                .or_default() += 1;
        }
        rows.push(["PROVIDER", "ENDED", "TASKS"].map(String::from).to_vec());
        for ((provider, ending), count) in counts {
            rows.push(vec![provider.into(), ending.into(), count.to_string()]);
        }
        out.push_str(&table(&rows));
        let unsuccessful: Vec<Vec<String>> = targets
            .iter()
            .zip(&report.tasks)
            .filter(|(_, t)| t.ending != Ending::Terminal(unitask::State::Succeeded))
            .map(|(target, task)| row(target, task))
            .collect();
        if !unsuccessful.is_empty() {
            out.push_str("\nnot succeeded:\n");
            let mut rows = vec![
                [
                    "PROVIDER", "TASK", "ENDED", "NATIVE", "PROGRESS", "POLLS", "ELAPSED",
                ]
                .map(String::from)
                .to_vec(),
            ];
            rows.extend(unsuccessful.iter().take(ROWS_PER_TASK).cloned());
            out.push_str(&table(&rows));
            if unsuccessful.len() > ROWS_PER_TASK {
                out.push_str(&format!(
                    "… and {} more\n",
                    unsuccessful.len() - ROWS_PER_TASK
                ));
            }
        }
    }
    let mut endings: BTreeMap<&str, usize> = BTreeMap::new();
    for task in &report.tasks {
        *endings.entry(task.ending.name()).or_default() += 1;
    }
    let counts: Vec<String> = endings.iter().map(|(k, v)| format!("{v} {k}")).collect();
    out.push_str(&format!(
        "\n{} task(s): {}; {} request(s) in {:.1}s ({} req/s)\n",
        report.tasks.len(),
        counts.join(", "),
        report.requests,
        report.elapsed.as_secs_f64(),
        rate(report)
    ));
    out
}

/// Whether a task ended as `expected` describes it (`succeeded`, `error: not_found`, …).
pub fn ending_matches(task: &Finished, expected: &str) -> bool {
    match &task.ending {
        Ending::Failed(error) => expected == format!("error: {}", error.kind),
        ending => ending.name() == expected,
    }
}

/// Columns padded to their widest cell.
fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.chars().count().min(60))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let cell: String = if cell.chars().count() > 60 {
                cell.chars().take(59).chain(['…']).collect()
            } else {
                cell.clone()
            };
            if c + 1 == row.len() {
                line.push_str(&cell);
            } else {
                let pad = widths[c].saturating_sub(cell.chars().count());
                line.push_str(&cell);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
