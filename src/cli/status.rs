//! `unitask status <provider> <task-id>`: one request, one normalized answer.

use std::path::PathBuf;

use unitask::http::redact::Redactor;
use unitask::http::request::{Credentials, Inputs, auth_env_names};
use unitask::http::transport::{Fetched, Request};
use unitask::{Engine, Error, ErrorKind, Transport, TransportConfig, UploadTask};

use super::{EXIT_INVALID, EXIT_OK, EXIT_USAGE, logging};

#[derive(Debug, clap::Args)]
#[command(after_help = "`unitask providers` lists every provider with its inputs and credentials.")]
pub struct Args {
    /// The provider id: `unitask providers` lists them (add --definitions for your own).
    provider: String,
    /// The task id.
    task_id: String,
    /// Another input of the provider, e.g. `--param store_domain=my-store.myshoplaza.com`.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    params: Vec<(String, String)>,
    /// Send the request here instead of the definition's base URL (plain http only to loopback).
    #[arg(long, value_name = "URL")]
    base_url: Option<url::Url>,
    /// Fetch OAuth tokens here instead of the definition's token URL, as --base-url does for
    /// the API (https, or plain http to loopback only): the sandbox serves one per provider at
    /// `/_oauth/<id>/token`.
    #[arg(long, value_name = "URL")]
    auth_url: Option<url::Url>,
    /// More definitions (files or folders), loaded at run time; they replace built-ins of the same id.
    #[arg(long = "definitions", value_name = "PATH")]
    definitions: Vec<PathBuf>,
    /// Print the `UploadTask` (or the error) as JSON.
    #[arg(long)]
    json: bool,
    /// The longest one attempt may take, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    timeout: u64,
    /// Which engine answers: the client generated at build time (default for built-in providers)
    /// or the interpreter (always used for definitions loaded with --definitions).
    #[arg(long, value_enum)]
    engine: Option<EngineChoice>,
    /// Attempts in all on connection errors, timeouts, 429 and 5xx (1 = no retry).
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=20))]
    max_attempts: u32,
    /// The largest body read (`16MiB`, `500kB`, bytes), instead of the definition's
    /// `limits.max_body_bytes` (4 MiB by default).
    #[arg(long, value_name = "SIZE", value_parser = parse_max_body)]
    max_body: Option<usize>,
    /// Print the answer as an `examples:` entry named NAME, ready to paste into the definition
    /// (status, the headers the definition reads, body, and the `expect` it produced; every
    /// credential redacted); the summary goes to standard error.
    #[arg(long, value_name = "NAME", conflicts_with = "json")]
    save_example: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineChoice {
    /// The typed client generated from providers/ at build time.
    Generated,
    /// The interpreter, from the definition loaded at run time.
    Interpreted,
}

/// A `--max-body` size: bytes, or a number with a unit (`16MiB`).
pub fn parse_max_body(text: &str) -> Result<usize, String> {
    unitask::syntax::size::parse(&serde_json::Value::String(text.to_owned()))
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            format!("expected a size such as `16MiB`, `500kB` or `8388608`, got {text:?}")
        })
}

pub fn parse_param(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("expected NAME=VALUE, got {text:?}")),
    }
}

/// The engine that answers for `loaded`: the generated client by default for a built-in, the
/// interpreter for a definition loaded at run time (which has no generated client).
pub fn choose_engine(
    choice: Option<EngineChoice>,
    loaded: &unitask::interp::Loaded,
) -> Result<EngineChoice, String> {
    let built_in = loaded.source == unitask::interp::Source::BuiltIn;
    match (choice, built_in) {
        (Some(EngineChoice::Generated), false) => Err(format!(
            "`{}` was loaded at run time; only built-in providers have a generated client (use --engine interpreted)",
            loaded.provider.id
        )),
        (Some(choice), _) => Ok(choice),
        (None, true) => Ok(EngineChoice::Generated),
        (None, false) => Ok(EngineChoice::Interpreted),
    }
}

/// Loads the built-in definitions and any `--definitions`, printing diagnostics on failure.
pub fn engine(definitions: &[PathBuf]) -> Result<Engine, u8> {
    let loaded = Engine::builtin().and_then(|mut engine| {
        if !definitions.is_empty() {
            engine.load_paths(definitions)?;
        }
        Ok(engine)
    });
    loaded.map_err(|error| {
        match error {
            unitask::interp::LoadError::Invalid(reports) => {
                for report in reports {
                    eprint!("{}", report.render_human(false));
                }
            }
            other => eprintln!("error: {other}"),
        }
        EXIT_USAGE
    })
}

pub fn run(args: Args) -> u8 {
    let engine = match engine(&args.definitions) {
        Ok(engine) => engine,
        Err(code) => return code,
    };
    let Some(loaded) = engine.get(&args.provider) else {
        let known: Vec<&str> = engine.iter().map(|l| l.provider.id.as_str()).collect();
        eprintln!(
            "error: no provider `{}` (known: {})",
            args.provider,
            known.join(", ")
        );
        return EXIT_USAGE;
    };
    let provider = &loaded.provider;
    let mut credentials = Credentials::from_env(&provider.auth);
    if let Some(url) = &args.auth_url {
        credentials.set_token_endpoint(url.clone());
    }
    // Everything this command writes goes through the redactor: logs, and what it prints (a
    // provider may echo the credential back in a body).
    let redactor = Redactor::new(&provider.auth, &credentials);
    logging::init(redactor.clone());
    if !provider.base_url_confirmed && args.base_url.is_none() {
        eprintln!(
            "warning: {}'s base URL ({}) is not confirmed by its documentation; pass --base-url if it fails",
            provider.id,
            provider
                .base_url
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        );
    }
    let inputs: Inputs = args.params.iter().cloned().collect();
    let defaults = TransportConfig::default();
    let config = TransportConfig {
        timeout: std::time::Duration::from_secs(args.timeout.max(1)),
        max_body_bytes: args.max_body,
        retry: unitask::RetryPolicy {
            max_attempts: args.max_attempts,
            ..defaults.retry.clone()
        },
        ..defaults
    };
    let runtime = match super::runtime(false) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let client = match Transport::new(config) {
        Ok(client) => client,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_USAGE;
        }
    };
    let engine = match choose_engine(args.engine, loaded) {
        Ok(engine) => engine,
        Err(message) => {
            eprintln!("error: {message}");
            return EXIT_USAGE;
        }
    };
    tracing::debug!(provider = %provider.id, engine = ?engine, "engine chosen");
    if let Some(name) = &args.save_example {
        // The answer itself is needed: the runtime keeps it (both engines share it).
        let request = Request {
            task_id: &args.task_id,
            inputs: &inputs,
            base_url: args.base_url.as_ref(),
            credentials: &credentials,
            quota: None,
        };
        let Fetched { result, answer, .. } =
            runtime.block_on(client.fetch_detailed(provider, request, true));
        let code = match &result {
            Ok(_) => EXIT_OK,
            Err(error) => exit_code(error),
        };
        let Some(answer) = answer else {
            let error = result.err().map(|e| e.to_string()).unwrap_or_default();
            eprint!(
                "{}",
                redactor.redact(&format!("error: no answer to save: {error}\n"))
            );
            return code;
        };
        let answer = redacted_answer(&redactor, answer);
        let entry =
            unitask::draft::example::entry(provider, name, &args.task_id, &args.params, &answer);
        print!("{}", redactor.redact(&entry));
        let summary = match &result {
            Ok(task) => summary(task),
            Err(error) => format!("error: {error}\n"),
        };
        eprint!("{}", redactor.redact(&summary));
        return code;
    }
    let request = Request {
        task_id: &args.task_id,
        inputs: &inputs,
        base_url: args.base_url.as_ref(),
        credentials: &credentials,
        quota: None,
    };
    let result = runtime.block_on(async {
        match engine {
            EngineChoice::Generated => unitask::providers::status(&provider.id, &client, request)
                .await
                .unwrap_or_else(|| {
                    Err(unitask::Error::local(
                        ErrorKind::Definition,
                        format!("no generated client for `{}`", provider.id),
                    ))
                }),
            EngineChoice::Interpreted => client.fetch(provider, request).await,
        }
    });
    let (stdout, stderr, code) = match result {
        Ok(task) => {
            let text = if args.json {
                format!(
                    "{}\n",
                    serde_json::to_string_pretty(&task).unwrap_or_default()
                )
            } else {
                summary(&task)
            };
            (text, String::new(), EXIT_OK)
        }
        Err(error) => {
            let code = exit_code(&error);
            if args.json {
                let body = serde_json::json!({ "error": error });
                (
                    format!(
                        "{}\n",
                        serde_json::to_string_pretty(&body).unwrap_or_default()
                    ),
                    String::new(),
                    code,
                )
            } else {
                let mut text = format!("error: {error}\n");
                if let Some(excerpt) = &error.excerpt {
                    text.push_str(&format!("  body: {excerpt}\n"));
                }
                if error.kind == ErrorKind::Unauthorized
                    && error.status.is_none()
                    && error
                        .message
                        .starts_with("no credential: set the environment variable")
                {
                    let names = auth_env_names(&provider.auth).join(" and ");
                    text.push_str(&format!(
                        "  help: {} reads its credential from {names}\n",
                        provider.id
                    ));
                }
                (String::new(), text, code)
            }
        }
    };
    // A provider may echo the credential back in any body: nothing is printed unredacted.
    print!("{}", redactor.redact(&stdout));
    eprint!("{}", redactor.redact(&stderr));
    code
}

/// `answer` with every credential replaced by `***`, in its headers and its body (the example's
/// `expect` is then worked out from what is written, so it stays true to it).
fn redacted_answer(
    redactor: &Redactor,
    answer: unitask::http::transport::Answer,
) -> unitask::http::transport::Answer {
    let headers = answer
        .headers
        .into_iter()
        .map(|(name, value)| (name, redactor.redact(&value)))
        .collect();
    let body = match String::from_utf8(answer.body) {
        Ok(text) => redactor.redact(&text).into_bytes(),
        Err(bytes) => bytes.into_bytes(),
    };
    unitask::http::transport::Answer {
        status: answer.status,
        headers,
        body,
    }
}

/// 2 when nothing was sent (bad input, missing credential, definition), else 1.
fn exit_code(error: &Error) -> u8 {
    let before_sending = error.status.is_none()
        && matches!(
            error.kind,
            ErrorKind::InvalidRequest | ErrorKind::Definition | ErrorKind::Unauthorized
        );
    if before_sending {
        EXIT_USAGE
    } else {
        EXIT_INVALID
    }
}

/// A short human summary of a task.
pub fn summary(task: &UploadTask) -> String {
    let label = task
        .native_label
        .as_deref()
        .map(|label| format!(", {label}"))
        .unwrap_or_default();
    let mut out = format!(
        "{} {}: {}{} (native {}{label})\n",
        task.provider,
        task.id,
        task.state,
        if task.terminal { ", final" } else { "" },
        task.native_status
    );
    if let Some(progress) = &task.progress {
        let unit = progress.unit.as_str();
        match progress.total {
            Some(total) => out.push_str(&format!(
                "  progress   {} of {} {unit}\n",
                progress.done, total
            )),
            None => out.push_str(&format!("  progress   {} {unit}\n", progress.done)),
        }
    }
    for (label, time) in [
        ("created", task.created_at),
        ("started", task.started_at),
        ("updated", task.updated_at),
        ("completed", task.completed_at),
    ] {
        if let Some(time) = time {
            out.push_str(&format!("  {label:<10} {time}\n"));
        }
    }
    for file in &task.files {
        out.push_str(&format!("  file       {}\n", describe_file(file)));
    }
    for error in &task.errors {
        let code = error
            .code
            .as_deref()
            .map(|c| format!("[{c}] "))
            .unwrap_or_default();
        let item = error
            .item
            .as_deref()
            .map(|i| format!(" ({i})"))
            .unwrap_or_default();
        out.push_str(&format!("  error      {code}{}{item}\n", error.message));
    }
    for (name, value) in &task.extra {
        let shown = match value {
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        out.push_str(&format!("  extra      {name}: {shown}\n"));
    }
    for warning in &task.warnings {
        out.push_str(&format!(
            "  warning    {}: {}\n",
            warning.field, warning.message
        ));
    }
    out
}

/// What a file has, most telling first: its name (else path, else id), where it is (its URL, or
/// the URL it came from), its size and type, and what else identifies it.
fn describe_file(file: &unitask::File) -> String {
    let mut parts: Vec<String> = Vec::new();
    let first = file
        .name
        .as_deref()
        .or(file.path.as_deref())
        .or(file.id.as_deref());
    parts.extend(first.map(str::to_owned));
    if let Some(path) = file.path.as_deref().filter(|p| Some(*p) != first) {
        parts.push(format!("at {path}"));
    }
    match (&file.url, &file.source_url) {
        (Some(url), _) => parts.push(url.clone()),
        (None, Some(source)) => parts.push(format!("from {source}")),
        (None, None) => {}
    }
    if let Some(size) = file.size {
        parts.push(format!("{size} bytes"));
    }
    parts.extend(file.mime.clone());
    if let Some(id) = file.id.as_deref().filter(|id| Some(*id) != first) {
        parts.push(format!("id {id}"));
    }
    if let Some(md5) = &file.md5 {
        parts.push(format!("md5 {md5}"));
    }
    if parts.is_empty() {
        "(the provider says nothing about it)".to_owned()
    } else {
        parts.join("  ")
    }
}
