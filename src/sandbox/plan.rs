//! What the sandbox answers for one definition, built from the definition alone: each scenario
//! as a lifecycle, each example as a one-step task, and a fault scenario per fault the definition
//! can express. Every reply is checked through the real runtime when the plan is built, so the
//! sandbox knows what each poll must produce.
//!
//! Every track gets ids that the definition's task-id input accepts, so a client can reach it:
//! `<name>-<n>` for any `n` where the pattern allows (readable, and unbounded), else ids
//! generated from the pattern itself, deterministically (the same definition always gets the
//! same ids). A track the pattern leaves no room for is unreachable, with the reason.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::Value;

use crate::model::{Example, Expectation, NativePlan, Provider};
use crate::runtime::{ErrorKind, normalize};
use crate::syntax::jsonpath::Step as PathStep;
use crate::syntax::sample::{Sampler, seed};
use crate::task::State;

/// How a fault scenario misbehaves before it plays the provider's first lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// 429 with `Retry-After: 1` (the provider's own rate-limit body when it documents one).
    RateLimited,
    /// Two 5xx answers, then the lifecycle.
    ServerError,
    /// The first answer comes after the sandbox's slow delay, past a client's timeout.
    Slow,
    /// The connection closes halfway through the body.
    Truncated,
    /// A 200 whose body is cut JSON.
    MalformedJson,
    /// A native status the definition does not document.
    UnknownStatus,
    /// A 2xx body that reports a failure (an envelope that says so, or `failures.in_body`).
    EnvelopeFailure,
    /// The first answer with a field other than the status mistyped: the task stands, that
    /// field is null, and the task carries a warning.
    UnconvertibleField,
    /// At the second poll, the OAuth token the client presents expires: the provider's own 401,
    /// once per task id, without advancing the lifecycle. A client that replaces its token
    /// after a 401 reads the next step at once; a static credential never expires, so its
    /// client sees the plain lifecycle.
    TokenExpired,
}

impl Fault {
    /// Every fault, in the order the sandbox plans their tracks.
    pub const ALL: [Fault; 9] = [
        Fault::RateLimited,
        Fault::ServerError,
        Fault::Slow,
        Fault::Truncated,
        Fault::MalformedJson,
        Fault::UnknownStatus,
        Fault::EnvelopeFailure,
        Fault::UnconvertibleField,
        Fault::TokenExpired,
    ];

    /// The scenario name the sandbox serves it under.
    pub fn name(self) -> &'static str {
        match self {
            Fault::RateLimited => "fault-rate-limited",
            Fault::ServerError => "fault-server-error",
            Fault::Slow => "fault-slow",
            Fault::Truncated => "fault-truncated",
            Fault::MalformedJson => "fault-malformed-json",
            Fault::UnknownStatus => "fault-unknown-status",
            Fault::EnvelopeFailure => "fault-envelope-failure",
            Fault::UnconvertibleField => "fault-unconvertible-field",
            Fault::TokenExpired => "fault-token-expired",
        }
    }
}

/// What kind of task a track plays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackKind {
    /// A `scenarios:` entry of the definition.
    Scenario,
    /// One example, served on every poll.
    Example,
    /// A fault, then the provider's first scenario.
    Fault(Fault),
}

/// A task the sandbox serves: each poll of one of its ids answers the next step; the last step
/// repeats. Each id has its own lifecycle.
#[derive(Debug, Clone)]
pub struct Track {
    /// The scenario's name, `example-<name>` for an example, or the fault's
    /// scenario name (`fault-slow`).
    pub name: String,
    /// What the track plays.
    pub kind: TrackKind,
    /// What a numbered id has before and after `<name>-<n>`: nothing, or a URL's start and
    /// query when the task id is a URL.
    pub around: (String, String),
    /// The id the definition gives it (scenarios only).
    pub task_id: Option<String>,
    /// The fresh ids that reach it.
    pub ids: Ids,
    /// The answers, one per poll in order; the last repeats.
    pub steps: Vec<Step>,
}

/// Which fresh ids reach a track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ids {
    /// `<name>-<n>` for any `n` (and the bare name): the task-id input accepts them.
    Numbered,
    /// These ids, generated from the task-id pattern.
    Generated(Vec<String>),
    /// None reach it, for this reason.
    Unreachable(String),
}

impl Track {
    /// The `n`-th fresh id of this track (from 1), each with its own lifecycle: `None` past the
    /// generated ones, or when the track is unreachable.
    pub fn fresh_id(&self, n: usize) -> Option<String> {
        match &self.ids {
            Ids::Numbered => {
                (n > 0).then(|| format!("{}{}-{n}{}", self.around.0, self.name, self.around.1))
            }
            Ids::Generated(ids) => n.checked_sub(1).and_then(|i| ids.get(i)).cloned(),
            Ids::Unreachable(_) => None,
        }
    }

    /// An id that reaches this track: the scenario's own, else the first fresh one.
    pub fn first_id(&self) -> Option<String> {
        self.task_id.clone().or_else(|| self.fresh_id(1))
    }

    /// Why no id reaches this track, if none does.
    pub fn unreachable(&self) -> Option<&str> {
        match &self.ids {
            Ids::Unreachable(why) if self.task_id.is_none() => Some(why),
            _ => None,
        }
    }
}

/// One answer.
#[derive(Debug, Clone)]
pub struct Step {
    /// What is served, e.g. `processing` or `fault: 429`.
    pub label: String,
    /// What the sandbox sends.
    pub reply: Reply,
    /// What the runtime makes of it.
    pub outcome: Outcome,
    /// Before this step is served, an OAuth token the sandbox issued expires (once per task
    /// id): the request gets the provider's 401 and the step waits for the next request.
    pub expires_token: bool,
}

/// What a poll produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A task.
    Task {
        /// Its unified state.
        state: State,
        /// Whether that state is final.
        terminal: bool,
    },
    /// A request error.
    Error {
        /// What went wrong.
        kind: ErrorKind,
        /// Whether trying again may succeed.
        retryable: bool,
    },
}

impl Outcome {
    /// What a poll's answer was.
    pub fn of(answer: &Result<crate::task::UploadTask, crate::runtime::Error>) -> Outcome {
        match answer {
            Ok(task) => Outcome::Task {
                state: task.state,
                terminal: task.terminal,
            },
            Err(error) => Outcome::Error {
                kind: error.kind,
                retryable: error.retryable,
            },
        }
    }

    /// Whether two outcomes are the same state, or the same kind of error.
    pub fn same_as(self, other: Outcome) -> bool {
        match (self, other) {
            (Outcome::Task { state, .. }, Outcome::Task { state: s, .. }) => state == s,
            (Outcome::Error { kind, .. }, Outcome::Error { kind: k, .. }) => kind == k,
            _ => false,
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Task { state, .. } => write!(f, "{state}"),
            Outcome::Error { kind, .. } => write!(f, "error: {kind}"),
        }
    }
}

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// Response headers, as name and value, in order.
    pub headers: Vec<(String, String)>,
    /// The body, rendered for the requested task id.
    pub body: Body,
    /// Wait this long before answering.
    pub delay: Duration,
    /// Announce the whole body, send half of it, and close the connection.
    pub truncate: bool,
}

/// A body; JSON bodies put the requested task id where the example had its own.
#[derive(Debug, Clone)]
pub enum Body {
    /// Bytes sent as they are: no task id is put in.
    Bytes(Vec<u8>),
    /// Serialized JSON split around each `"<example task id>"` string.
    Json(Vec<Vec<u8>>),
    /// An XML body split around each occurrence of the example task id (escaped as XML text),
    /// an ARN's tail included.
    Xml(Vec<Vec<u8>>),
}

impl Body {
    fn json(value: &Value, task_id: &str) -> Body {
        let text = serde_json::to_vec(value).unwrap_or_default();
        let needle = serde_json::to_vec(task_id).unwrap_or_default();
        let mut pieces = Vec::new();
        let mut rest = &text[..];
        while let Some(at) = find(rest, &needle) {
            pieces.push(rest[..at].to_vec());
            rest = &rest[at + needle.len()..];
        }
        pieces.push(rest.to_vec());
        Body::Json(pieces)
    }

    fn xml(text: &[u8], task_id: &str) -> Body {
        let needle = xml_escape(task_id).into_bytes();
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(at) = (!needle.is_empty())
            .then(|| {
                rest.windows(needle.len())
                    .position(|w| w == needle.as_slice())
            })
            .flatten()
        {
            pieces.push(rest[..at].to_vec());
            rest = &rest[at + needle.len()..];
        }
        pieces.push(rest.to_vec());
        Body::Xml(pieces)
    }

    /// The body for `task_id`.
    pub fn render(&self, task_id: &str) -> Vec<u8> {
        match self {
            Body::Bytes(bytes) => bytes.clone(),
            Body::Xml(pieces) => pieces.join(xml_escape(task_id).as_bytes()),
            Body::Json(pieces) => {
                let id = serde_json::to_vec(task_id).unwrap_or_default();
                let mut out = Vec::with_capacity(
                    pieces.iter().map(Vec::len).sum::<usize>() + id.len() * (pieces.len() - 1),
                );
                for (i, piece) in pieces.iter().enumerate() {
                    if i > 0 {
                        out.extend_from_slice(&id);
                    }
                    out.extend_from_slice(piece);
                }
                out
            }
        }
    }
}

/// `text` as XML character data.
fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The first occurrence of `needle` that is a whole JSON string (not preceded by a backslash).
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    (0..=haystack.len().checked_sub(needle.len())?)
        .find(|&i| &haystack[i..i + needle.len()] == needle && (i == 0 || haystack[i - 1] != b'\\'))
}

/// Everything the sandbox serves for one provider.
#[derive(Debug, Clone)]
pub struct ProviderPlan {
    /// The definition it plays.
    pub provider: Provider,
    /// Its tracks: the scenarios, then the faults, then the examples.
    pub tracks: Vec<Track>,
    /// By the key of a scenario task id, a track name or a generated id ([`ProviderPlan::key`]).
    ids: HashMap<String, usize>,
    /// When the task id is a URL: the origin the sandbox reads requests as addressed to, and
    /// what numbered ids have around `<name>-<n>`.
    pub url_shape: Option<UrlShape>,
    /// Where each input lands in a templated body, so the sandbox can read it back.
    pub body_placements: Vec<crate::syntax::body::Placement>,
    /// The answer to a request without the credential where the definition puts it.
    pub unauthorized: Reply,
    /// The answer for a task id the sandbox does not serve.
    pub not_found: Reply,
    /// Faults this definition cannot express, and why.
    pub skipped: Vec<(Fault, &'static str)>,
}

impl ProviderPlan {
    /// Plans every track of `provider`; `ids_per_track` ids are generated for each track that
    /// `<name>-<n>` ids cannot reach.
    pub fn new(provider: &Provider, slow: Duration, ids_per_track: usize) -> ProviderPlan {
        let url_shape = UrlShape::of(provider);
        let around = url_shape
            .as_ref()
            .map(|s| (format!("{}{}", s.origin, s.dir), s.query.clone()))
            .unwrap_or_default();
        let mut tracks = Vec::new();
        for scenario in &provider.scenarios {
            tracks.push(Track {
                name: scenario.name.clone(),
                kind: TrackKind::Scenario,
                task_id: Some(scenario.task_id.clone()),
                around: around.clone(),
                ids: Ids::Numbered,
                steps: scenario
                    .steps
                    .iter()
                    .map(|&i| example_step(provider, &provider.examples[i]))
                    .collect(),
            });
        }
        let mut skipped = Vec::new();
        let lifecycle = tracks.first().map(|t| t.steps.clone());
        for fault in Fault::ALL {
            let Some(lifecycle) = &lifecycle else {
                skipped.push((fault, "the definition has no scenario to recover into"));
                continue;
            };
            match fault_steps(provider, fault, &lifecycle[0], slow) {
                Ok(mut steps) => {
                    steps.extend(lifecycle.iter().cloned());
                    if fault == Fault::TokenExpired {
                        // Mid-watch: the client has used its token once already.
                        let at = steps.len().min(2) - 1;
                        steps[at].expires_token = true;
                        steps[at].label = format!("{}: {}", fault.name(), steps[at].label);
                    }
                    tracks.push(Track {
                        name: fault.name().to_owned(),
                        kind: TrackKind::Fault(fault),
                        task_id: None,
                        around: around.clone(),
                        ids: Ids::Numbered,
                        steps,
                    });
                }
                Err(why) => skipped.push((fault, why)),
            }
        }
        for example in &provider.examples {
            tracks.push(Track {
                name: format!("example-{}", example.name),
                kind: TrackKind::Example,
                task_id: None,
                around: around.clone(),
                ids: Ids::Numbered,
                steps: vec![example_step(provider, example)],
            });
        }
        let ids = assign_ids(provider, &mut tracks, ids_per_track, url_shape.as_ref());
        let unauthorized = error_reply(provider, ErrorKind::Unauthorized, 401, "unauthorized");
        let not_found = error_reply(provider, ErrorKind::NotFound, 404, "task not found");
        let names: Vec<&str> = provider.inputs.iter().map(|i| i.name.as_str()).collect();
        let body_placements = provider
            .request
            .body_template
            .as_ref()
            .map(|t| t.placements(&names, "sandbox"))
            .unwrap_or_default();
        ProviderPlan {
            provider: provider.clone(),
            tracks,
            ids,
            url_shape,
            body_placements,
            unauthorized,
            not_found,
            skipped,
        }
    }

    /// How the sandbox knows a task id: itself, or the path and query of a URL task id (the
    /// origin is the one `--base-url` replaced).
    pub fn key(&self, task_id: &str) -> String {
        match &self.provider.base_url {
            Some(_) => task_id.to_owned(),
            None => url_key(task_id),
        }
    }

    /// The track a requested task id plays, by its [`key`](Self::key): a scenario's own id, a
    /// generated id, a track name, or `<track name>-<n>` where the pattern allows.
    pub fn resolve(&self, key: &str) -> Option<&Track> {
        if let Some(&i) = self.ids.get(key) {
            return Some(&self.tracks[i]);
        }
        let bare = match &self.url_shape {
            Some(shape) => key.strip_prefix(&shape.dir)?.strip_suffix(&shape.query)?,
            None => key,
        };
        let (name, _) = numbered(bare)?;
        // The first track of that name whose `<name>-<n>` ids are its own (a bare name the
        // pattern refuses is not in the table, but its numbered ids still reach it).
        self.tracks
            .iter()
            .find(|t| t.name == name && t.ids == Ids::Numbered)
    }
}

/// Where a definition whose task id is a URL is reached: the sandbox reads each request as
/// addressed to `origin` (the client's `--base-url` replaced it), and numbered ids are
/// `{origin}{dir}<name>-<n>{query}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlShape {
    /// `https://host[:port]` of a URL the task-id input accepts.
    pub origin: String,
    /// That URL's path up to and with its last `/`.
    pub dir: String,
    /// That URL's query with its `?`, or nothing.
    pub query: String,
}

impl UrlShape {
    /// The shape of the first example's URL (else one generated from the task-id pattern), for
    /// a definition whose task id is a URL.
    fn of(provider: &Provider) -> Option<UrlShape> {
        if provider.base_url.is_some() {
            return None;
        }
        let input = provider.task_id_input();
        let reference = provider
            .examples
            .iter()
            .find_map(|e| e.inputs.iter().find(|(n, _)| *n == input.name))
            .map(|(_, v)| v.clone())
            .or_else(|| input.sample())?;
        let url = input.url_value(&reference).ok()?;
        let path = url.path();
        Some(UrlShape {
            origin: url.origin().ascii_serialization(),
            dir: path[..path.rfind('/').map_or(0, |i| i + 1)].to_owned(),
            query: url.query().map(|q| format!("?{q}")).unwrap_or_default(),
        })
    }
}

/// `id`, a URL, moved to `origin`'s scheme, host and port.
fn on_origin(id: &str, origin: &str) -> Option<String> {
    let mut url = url::Url::parse(id).ok()?;
    let origin = url::Url::parse(origin).ok()?;
    url.set_scheme(origin.scheme()).ok()?;
    url.set_host(origin.host_str()).ok()?;
    url.set_port(origin.port()).ok()?;
    Some(url.to_string())
}

/// The path and query of a URL (the text itself when it is not one).
pub fn url_key(task_id: &str) -> String {
    match url::Url::parse(task_id) {
        Ok(url) => match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        },
        Err(_) => task_id.to_owned(),
    }
}

/// `<name>-<n>` split into its name and number (at most 12 digits).
fn numbered(task_id: &str) -> Option<(&str, &str)> {
    let (name, number) = task_id.rsplit_once('-')?;
    let numeric =
        !number.is_empty() && number.len() <= 12 && number.bytes().all(|b| b.is_ascii_digit());
    numeric.then_some((name, number))
}

/// Gives every track its fresh ids and returns the resolver's table (scenario ids, names, and
/// generated ids). A track is `Numbered` when the task-id input accepts `<name>-<n>` for short
/// and long `n` alike; the others get ids generated from the pattern, round-robin so a pattern
/// with little room still reaches as many tracks as it can, each id distinct from every other.
/// Without a value for every other required input, no track is reachable.
fn assign_ids(
    provider: &Provider,
    tracks: &mut [Track],
    per_track: usize,
    url_shape: Option<&UrlShape>,
) -> HashMap<String, usize> {
    let input = provider.task_id_input();
    let accepts = |id: &str| input.refusal(id).is_none();
    let key = |id: &str| match url_shape {
        Some(_) => url_key(id),
        None => id.to_owned(),
    };
    // The `<name>-<n>` inside a key, for a URL task id.
    let bare = |key: &str| -> Option<String> {
        match url_shape {
            Some(shape) => key
                .strip_prefix(&shape.dir)?
                .strip_suffix(&shape.query)
                .map(str::to_owned),
            None => Some(key.to_owned()),
        }
    };
    let mut table = HashMap::new();
    // A definition's own scenario wins over a fault or example track of the same name.
    for (i, track) in tracks.iter().enumerate().rev() {
        if accepts(&track.name) {
            table.insert(key(&track.name), i);
        }
    }
    for (i, track) in tracks.iter().enumerate().rev() {
        if let Some(id) = &track.task_id {
            table.insert(key(id), i);
        }
    }
    let samples = provider.sample_inputs();
    let missing: Vec<&str> = provider
        .inputs
        .iter()
        .filter(|i| {
            i.required && i.default.is_none() && i.location != crate::spec::InputLocation::Host
        })
        .filter(|i| i.name != input.name)
        .filter(|i| !samples.iter().any(|(n, _)| *n == i.name))
        .map(|i| i.name.as_str())
        .collect();
    if !missing.is_empty() {
        let why = format!(
            "no value for the required input(s) {} can be found in the examples or generated from a pattern",
            missing.join(", ")
        );
        for track in tracks.iter_mut() {
            track.ids = Ids::Unreachable(why.clone());
        }
        return table;
    }
    let mut generated: Vec<usize> = Vec::new();
    for (i, track) in tracks.iter_mut().enumerate() {
        // Short and long numbers alike (a pattern could take some and not others).
        let (before, after) = &track.around;
        let numbered = (url_shape.is_some() || provider.base_url.is_some())
            && ["1", "2", "7", "42", "123", "4096", "999999999999"]
                .iter()
                .all(|n| accepts(&format!("{before}{}-{n}{after}", track.name)));
        track.ids = if numbered {
            Ids::Numbered
        } else {
            generated.push(i);
            Ids::Generated(Vec::new())
        };
    }
    if generated.is_empty() {
        return table;
    }
    let pattern = input.pattern_text().unwrap_or_default();
    let sampler = match Sampler::new(pattern) {
        Ok(sampler) => sampler,
        Err(error) => {
            let why =
                format!("no id can be generated from the task-id pattern `{pattern}`: {error}");
            for &i in &generated {
                tracks[i].ids = Ids::Unreachable(why.clone());
            }
            return table;
        }
    };
    let numbered_names: HashSet<String> = tracks
        .iter()
        .filter(|t| t.ids == Ids::Numbered)
        .map(|t| t.name.clone())
        .collect();
    let free = |id: &str, table: &HashMap<String, usize>| {
        let key = key(id);
        accepts(id)
            && !table.contains_key(&key)
            && bare(&key).is_none_or(|bare| {
                numbered(&bare).is_none_or(|(name, _)| !numbered_names.contains(name))
            })
    };
    // A URL pattern generates paths the URL parser rewrites (dot segments): more tries.
    let attempts = if url_shape.is_some() { 32 } else { 8 };
    for n in 0..per_track {
        for &i in &generated {
            let name = tracks[i].name.clone();
            let found = (0..attempts).find_map(|attempt| {
                let id = sampler.sample(seed(&[
                    &provider.id,
                    &name,
                    &n.to_string(),
                    &attempt.to_string(),
                ]));
                // A URL generated from a pattern names any host: move it to the example's.
                let id = match url_shape {
                    Some(shape) => on_origin(&id, &shape.origin)?,
                    None => id,
                };
                free(&id, &table).then_some(id)
            });
            if let (Some(id), Ids::Generated(ids)) = (found, &mut tracks[i].ids) {
                table.insert(key(&id), i);
                ids.push(id);
            }
        }
    }
    for &i in &generated {
        if matches!(&tracks[i].ids, Ids::Generated(ids) if ids.is_empty()) {
            let room = sampler.room();
            let needed = (generated.len() * per_track) as u64;
            let why = if room < needed {
                format!(
                    "the task-id pattern `{pattern}` leaves room for {room} id(s), fewer than the {needed} the tracks need, and the others took them"
                )
            } else {
                format!(
                    "no id generated from the task-id pattern `{pattern}` passed it (the pattern may use look-around)"
                )
            };
            tracks[i].ids = Ids::Unreachable(why);
        }
    }
    table
}

impl Track {
    /// The step at which a client that keeps polling stops: the first terminal task, or the
    /// first error `transient` does not forgive; `None` when the track never ends (its last
    /// step repeats forever). Every request advances a track by one step, retries included, so
    /// a client that reaches this end has sent exactly one request more than this index.
    pub fn end_step(&self, transient: impl Fn(ErrorKind, bool) -> bool) -> Option<usize> {
        self.steps.iter().position(|step| match step.outcome {
            Outcome::Task { terminal, .. } => terminal,
            Outcome::Error { kind, retryable } => !transient(kind, retryable),
        })
    }

    /// Where a client that keeps polling ends up: the step [`Track::end_step`] names, or the
    /// last step if the track repeats it forever without ending.
    pub fn expected_end(&self, transient: impl Fn(ErrorKind, bool) -> bool) -> Outcome {
        let end = self.end_step(transient).or(self.steps.len().checked_sub(1));
        end.map_or(
            Outcome::Task {
                state: State::Unknown,
                terminal: false,
            },
            |i| self.steps[i].outcome,
        )
    }
}

/// An example as a reply, and what it produces.
fn example_step(provider: &Provider, example: &Example) -> Step {
    let task_id = provider.example_task_id(example);
    let response = &example.response;
    let mut headers = response.headers.clone();
    let json: Option<Value> = serde_json::from_slice(&response.body).ok();
    let has_type = headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
    if !has_type {
        let xml = provider.response.format == crate::spec::BodyFormat::Xml;
        let content_type = if json.is_some() {
            "application/json"
        } else if xml && response.body.trim_ascii_start().starts_with(b"<") {
            "application/xml"
        } else {
            "text/plain; charset=utf-8"
        };
        headers.push(("Content-Type".into(), content_type.into()));
    }
    let xml = provider.response.format == crate::spec::BodyFormat::Xml;
    let body = match &json {
        Some(value) => Body::json(value, task_id),
        None if xml => Body::xml(&response.body, task_id),
        None => Body::Bytes(response.body.clone()),
    };
    let reply = Reply {
        status: response.status,
        headers,
        body,
        delay: Duration::ZERO,
        truncate: false,
    };
    // What the definition says the example produces (`validate` holds the runtime to it), at
    // its own clock: an example read at a fixed `now` is what a client makes of it today.
    let outcome = match &example.expect {
        _ if example.now.is_some() => outcome(provider, task_id, &reply),
        Expectation::Task(expected) => {
            let state = expected
                .get("state")
                .and_then(Value::as_str)
                .and_then(State::from_name)
                .unwrap_or(State::Unknown);
            Outcome::Task {
                state,
                terminal: expected
                    .get("terminal")
                    .and_then(Value::as_bool)
                    .unwrap_or(state.is_terminal()),
            }
        }
        Expectation::Error(expected) => Outcome::Error {
            kind: expected.kind,
            retryable: expected.retryable.unwrap_or_else(|| {
                matches!(
                    outcome(provider, task_id, &reply),
                    Outcome::Error {
                        retryable: true,
                        ..
                    }
                )
            }),
        },
    };
    Step {
        label: example.name.clone(),
        outcome,
        reply,
        expires_token: false,
    }
}

/// What the runtime makes of `reply` for `task_id`.
fn outcome(provider: &Provider, task_id: &str, reply: &Reply) -> Outcome {
    let body = reply.body.render(task_id);
    let response = normalize::Response {
        status: reply.status,
        headers: &reply.headers,
        body: &body,
    };
    Outcome::of(&normalize(provider, task_id, response))
}

/// The provider's own answer for an error of `kind` (preferring one with `status`), or a plain
/// JSON one.
fn error_reply(provider: &Provider, kind: ErrorKind, status: u16, message: &str) -> Reply {
    let of_kind: Vec<&Example> = provider
        .examples
        .iter()
        .filter(|e| matches!(&e.expect, crate::model::Expectation::Error(x) if x.kind == kind))
        .collect();
    let chosen = of_kind
        .iter()
        .find(|e| e.response.status == status)
        .or(of_kind.first());
    match chosen {
        Some(example) => example_step(provider, example).reply,
        None => generic(status, message),
    }
}

fn generic(status: u16, message: &str) -> Reply {
    let body = serde_json::json!({ "message": format!("{message} (unitask sandbox)") });
    Reply {
        status,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: Body::Bytes(serde_json::to_vec(&body).unwrap_or_default()),
        delay: Duration::ZERO,
        truncate: false,
    }
}

/// The steps a fault plays before `first`, the lifecycle's first step.
fn fault_steps(
    provider: &Provider,
    fault: Fault,
    first: &Step,
    slow: Duration,
) -> Result<Vec<Step>, &'static str> {
    let task_id = provider
        .examples
        .iter()
        .find(|e| e.name == first.label)
        .map_or(crate::model::EXAMPLE_TASK_ID, |e| {
            provider.example_task_id(e)
        });
    let with = |label: &str, reply: Reply, outcome: Outcome| Step {
        label: format!("{}: {label}", fault.name()),
        outcome,
        reply,
        expires_token: false,
    };
    let documented = |status: &dyn Fn(u16) -> bool| {
        provider
            .examples
            .iter()
            .find(|e| status(e.response.status))
            .map(|e| example_step(provider, e).reply)
    };
    Ok(match fault {
        Fault::RateLimited => {
            let mut reply = documented(&|s| s == 429).unwrap_or_else(|| generic(429, "slow down"));
            let header = provider
                .failures
                .retry_after_header
                .clone()
                .unwrap_or_else(|| "Retry-After".into());
            reply.headers.retain(|(n, _)| {
                !n.eq_ignore_ascii_case(&header) && !n.eq_ignore_ascii_case("retry-after")
            });
            reply.headers.push((header, "1".into()));
            reply.status = 429;
            // What the runtime makes of it: the body's own code may name another kind.
            let outcome = outcome(provider, task_id, &reply);
            vec![with("429, retry after 1s", reply, outcome)]
        }
        Fault::ServerError => {
            // The provider's own 5xx body, as a 500.
            let mut reply =
                documented(&|s| s >= 500).unwrap_or_else(|| generic(500, "internal server error"));
            reply.status = 500;
            // The body's own code may name another kind (`SlowDown` is a rate limit).
            let outcome = outcome(provider, task_id, &reply);
            vec![
                with("500", reply.clone(), outcome),
                with("500", reply, outcome),
            ]
        }
        Fault::Slow => {
            let reply = Reply {
                delay: slow,
                ..first.reply.clone()
            };
            vec![Step {
                label: format!("{}: {} after {slow:?}", fault.name(), first.label),
                outcome: Outcome::Error {
                    kind: ErrorKind::Timeout,
                    retryable: true,
                },
                reply,
                expires_token: false,
            }]
        }
        Fault::Truncated | Fault::MalformedJson if !has_body(provider, first, task_id) => {
            return Err("the first step's answer has no body to cut");
        }
        Fault::Truncated => {
            let reply = Reply {
                truncate: true,
                ..first.reply.clone()
            };
            vec![Step {
                label: format!("{}: {} cut short", fault.name(), first.label),
                outcome: Outcome::Error {
                    kind: ErrorKind::Transport,
                    retryable: true,
                },
                reply,
                expires_token: false,
            }]
        }
        Fault::MalformedJson => {
            let body = first.reply.body.render(task_id);
            let mut reply = generic(200, "");
            reply.body = Body::Bytes(body[..body.len() / 2].to_vec());
            let outcome = Outcome::Error {
                kind: ErrorKind::Decode,
                retryable: false,
            };
            vec![with("cut JSON", reply, outcome)]
        }
        Fault::UnknownStatus
            if matches!(provider.response.state.native, NativePlan::HttpStatus) =>
        {
            let reply = undocumented_success(provider, task_id, &first.reply)?;
            let outcome = Outcome::Task {
                state: State::Unknown,
                terminal: false,
            };
            vec![with("undocumented status", reply, outcome)]
        }
        Fault::UnknownStatus => {
            let Body::Json(_) = &first.reply.body else {
                return Err("the first step's body is not JSON");
            };
            let body: Value = serde_json::from_slice(&first.reply.body.render(task_id))
                .map_err(|_| "the first step's body is not JSON")?;
            let reply = undocumented_status(provider, task_id, &body, &first.reply)?;
            let outcome = Outcome::Task {
                state: State::Unknown,
                terminal: false,
            };
            vec![with("undocumented status", reply, outcome)]
        }
        Fault::EnvelopeFailure => {
            let example = provider
                .examples
                .iter()
                .find(|e| {
                    (200..300).contains(&e.response.status)
                        && matches!(e.expect, crate::model::Expectation::Error(_))
                })
                .ok_or("no example reports a failure inside a 2xx body")?;
            let mut step = example_step(provider, example);
            step.label = format!("{}: {}", fault.name(), example.name);
            vec![step]
        }
        Fault::TokenExpired => {
            let oauth = super::auth::schemes(&provider.auth)
                .iter()
                .any(|scheme| matches!(scheme, crate::model::Auth::OAuth2(_)));
            if !oauth {
                return Err("the definition has no OAuth grant whose token could expire");
            }
            // The lifecycle itself, one of its steps marked.
            Vec::new()
        }
        Fault::UnconvertibleField => {
            // A body that is not JSON still has headers to mistype.
            let body: Value = match &first.reply.body {
                Body::Json(_) => {
                    serde_json::from_slice(&first.reply.body.render(task_id)).unwrap_or(Value::Null)
                }
                Body::Bytes(_) | Body::Xml(_) => Value::Null,
            };
            let (reply, field) = mistyped_field(provider, task_id, &body, &first.reply)?;
            let outcome = outcome(provider, task_id, &reply);
            vec![with(&format!("`{field}` mistyped"), reply, outcome)]
        }
    })
}

/// Whether `first` carries a body a client receives (a HEAD's never does).
fn has_body(provider: &Provider, first: &Step, task_id: &str) -> bool {
    provider.request.method != crate::spec::Method::Head
        && !first.reply.body.render(task_id).is_empty()
}

/// `first`'s body with one value that a field other than the status reads replaced by one it
/// cannot convert, checked to give the same state with a warning; the warning's field.
fn mistyped_field(
    provider: &Provider,
    task_id: &str,
    body: &Value,
    first: &Reply,
) -> Result<(Reply, String), &'static str> {
    let plan = &provider.response;
    let before = outcome(provider, task_id, first);
    // Payload-level fields only: their paths are relative to the payload root.
    let fields = [
        &plan.id,
        &plan.created_at,
        &plan.started_at,
        &plan.updated_at,
        &plan.completed_at,
    ]
    .into_iter()
    .flatten()
    .chain(
        plan.progress
            .iter()
            .flat_map(|p| std::iter::once(&p.done).chain(&p.total)),
    )
    .chain(plan.extra.iter().map(|(_, field)| field))
    .filter(|field| field.kind != crate::spec::ValueType::Json);
    let mut prefixes: Vec<&[PathStep]> = Vec::new();
    if let Some(root) = plan.envelope.as_ref().and_then(|e| e.root.steps()) {
        prefixes.push(root);
    }
    prefixes.push(&[]);
    // No field of any type reads an object.
    let mistyped = serde_json::json!({ "sandbox": "not a value this field can read" });
    let same_with_warning = |reply: &Reply| {
        let rendered = reply.body.render(task_id);
        let response = normalize::Response {
            status: reply.status,
            headers: &reply.headers,
            body: &rendered,
        };
        match normalize(provider, task_id, response) {
            Ok(task) if Outcome::of(&Ok(task.clone())).same_as(before) => {
                task.warnings.first().map(|w| w.field.clone())
            }
            _ => None,
        }
    };
    for field in fields {
        // A header a typed field reads, sent as text no number or time reads.
        if let crate::model::FieldSource::Header(name) = &field.source {
            if field.kind == crate::spec::ValueType::String {
                continue;
            }
            let mut reply = first.clone();
            let bad = "sandbox: not a value this field can read";
            reply
                .headers
                .retain(|(header, _)| !header.eq_ignore_ascii_case(name));
            reply.headers.push((name.clone(), bad.into()));
            if let Some(field) = same_with_warning(&reply) {
                return Ok((reply, field));
            }
            continue;
        }
        let crate::model::FieldSource::Path(path) = &field.source else {
            continue;
        };
        let Some(steps) = path.steps() else {
            continue;
        };
        for prefix in &prefixes {
            let mut changed = body.clone();
            let full: Vec<PathStep> = prefix.iter().chain(steps).cloned().collect();
            let Some(slot) = crate::syntax::jsonpath::locate_mut(&mut changed, &full) else {
                continue;
            };
            if slot.is_null() {
                continue;
            }
            *slot = mistyped.clone();
            let reply = Reply {
                body: Body::json(&changed, task_id),
                ..first.clone()
            };
            if let Some(field) = same_with_warning(&reply) {
                return Ok((reply, field));
            }
        }
    }
    Err("the first step holds no value, besides the status, that a typed field reads")
}

/// `first` answered with a 2xx status the definition does not document (its status is the
/// HTTP status), checked to read as `unknown`.
fn undocumented_success(
    provider: &Provider,
    task_id: &str,
    first: &Reply,
) -> Result<Reply, &'static str> {
    let documented = &provider.response.state.documented;
    for status in [203, 204, 205, 206, 207, 208, 226, 299] {
        if documented.iter().any(|d| *d == status.to_string()) {
            continue;
        }
        let reply = Reply {
            status,
            ..first.clone()
        };
        if matches!(
            outcome(provider, task_id, &reply),
            Outcome::Task {
                state: State::Unknown,
                ..
            }
        ) {
            return Ok(reply);
        }
    }
    Err("no undocumented 2xx status reads as `unknown`")
}

/// Where a native status is read, and values to put there that the definition does not
/// document (for axes, in the first axis that can hold one).
fn undocumented_values<'a>(
    native: &'a NativePlan,
    documented: &[String],
) -> Result<(&'a crate::syntax::jsonpath::JsonPath, Vec<Value>), &'static str> {
    Ok(match native {
        NativePlan::String(path) => (path, vec![Value::from("SANDBOX_UNDOCUMENTED")]),
        NativePlan::Integer(path) => {
            // Past every documented number (an axis's are inside `name=value` texts).
            let highest = documented
                .iter()
                .flat_map(|d| d.split([',', '=', ' ']))
                .filter_map(|d| d.parse::<i64>().ok())
                .max()
                .unwrap_or(0);
            (path, vec![Value::from(highest.saturating_add(100))])
        }
        NativePlan::TagKey(path) => (
            path,
            vec![serde_json::json!({ "sandbox_undocumented": {} })],
        ),
        // Anything else in a boolean is mistyped, which is the malformed fault's business.
        NativePlan::Boolean(..) => return Err("a boolean status has no undocumented value"),
        NativePlan::Presence(_) => {
            return Err("a status read from which field is present has no undocumented value");
        }
        NativePlan::HttpStatus => return Err("the HTTP status is the native status"),
        NativePlan::Header(_) => return Err("the status is read from a header, not the body"),
        NativePlan::Axes(axes) => axes
            .iter()
            .find_map(|(_, axis)| undocumented_values(axis, documented).ok())
            .ok_or("no axis of the status can hold an undocumented value")?,
    })
}

/// `first`'s body with a native status the definition does not document, checked to read as
/// `unknown`.
fn undocumented_status(
    provider: &Provider,
    task_id: &str,
    body: &Value,
    first: &Reply,
) -> Result<Reply, &'static str> {
    let state = &provider.response.state;
    let (path, candidates) = undocumented_values(&state.native, &state.documented)?;
    let steps = path
        .steps()
        .ok_or("the native status is read by a query, not a plain path")?;
    let mut prefixes: Vec<&[PathStep]> = Vec::new();
    if let Some(root) = provider
        .response
        .envelope
        .as_ref()
        .and_then(|e| e.root.steps())
    {
        prefixes.push(root);
    }
    prefixes.push(&[]);
    for prefix in prefixes {
        for candidate in &candidates {
            let mut changed = body.clone();
            let full: Vec<PathStep> = prefix.iter().chain(steps).cloned().collect();
            let Some(slot) = crate::syntax::jsonpath::locate_mut(&mut changed, &full) else {
                continue;
            };
            *slot = candidate.clone();
            let reply = Reply {
                body: Body::json(&changed, task_id),
                ..first.clone()
            };
            let read = outcome(provider, task_id, &reply);
            if matches!(
                read,
                Outcome::Task {
                    state: State::Unknown,
                    ..
                }
            ) {
                return Ok(reply);
            }
        }
    }
    Err("the first step's body does not hold the native status where the definition reads it")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_bodies_carry_the_requested_id() {
        let body = Body::json(
            &serde_json::json!({"id": "abc", "note": "x\"abc\"", "other": "abcd", "list": ["abc"]}),
            "abc",
        );
        let rendered = String::from_utf8(body.render("job-7")).unwrap_or_default();
        assert_eq!(
            rendered,
            r#"{"id":"job-7","note":"x\"abc\"","other":"abcd","list":["job-7"]}"#
        );
        let quoted = String::from_utf8(body.render("a\"b")).unwrap_or_default();
        assert!(quoted.starts_with(r#"{"id":"a\"b""#), "{quoted}");
    }
}
