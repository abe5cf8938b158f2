//! Property tests of the invariants (docs/architecture.md) over arbitrary values, for every seed provider and
//! every valid fixture:
//! - a placeholder value never moves a request off its template (same scheme, host, port and
//!   path segments; each value decodes back from its own segment, query pair, header or body
//!   field), and exactly the values the rules name are refused;
//! - a host value lands in the host or is refused;
//! - a task id that is a URL is sent exactly where it says, or refused when its host is not one
//!   the definition allows (or it could carry a credential elsewhere);
//! - a refused value is refused before any I/O: no connection, no attempt;
//! - the generated client and the interpreter (loaded from the YAML file at run time) give the
//!   same answer to any response a real server sends;
//! - an undocumented native value reads as `unknown`, never as a terminal state.
//!
//! 256 cases per property (64 for the one over HTTP); `PROPTEST_CASES=N` for a longer hunt.

use std::collections::HashMap;
use std::sync::OnceLock;

use percent_encoding::percent_decode_str;
use proptest::prelude::*;
use serde_json::Value;
use unitask::http::transport::{Fetched, Request};
use unitask::model::{Expectation, NativePlan, Provider};
use unitask::runtime::{self, normalize::Response};
use unitask::spec::InputLocation;
use unitask::syntax::jsonpath::{Step as PathStep, locate_mut as locate};
use unitask::syntax::template::Part;
use unitask::{
    Credentials, Engine, ErrorKind, Inputs, RetryPolicy, State, Transport, TransportConfig,
};

fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// The seed providers and the valid fixtures, loaded from their files at run time.
fn interpreted() -> &'static [Provider] {
    static PROVIDERS: OnceLock<Vec<Provider>> = OnceLock::new();
    PROVIDERS.get_or_init(|| {
        let mut engine = Engine::empty();
        engine
            .load_paths(&[crate::at("providers"), crate::at("tests/fixtures/valid")])
            .expect("every definition loads");
        engine.iter().map(|l| (*l.provider).clone()).collect()
    })
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

fn credentials(provider: &Provider) -> Credentials {
    crate::credentials_with(provider, "invariant-token")
}

/// A value for every input the examples give one (host inputs included), besides the task id;
/// `1` for a required one they do not (it matches the fixtures' patterns).
fn example_values(provider: &Provider) -> Inputs {
    let task_input = &provider.task_id_input().name;
    let mut inputs = Inputs::new();
    for input in provider.inputs.iter().filter(|i| &i.name != task_input) {
        let example = provider
            .examples
            .iter()
            .flat_map(|e| e.inputs.iter())
            .find(|(name, _)| *name == input.name)
            .map(|(_, value)| value.as_str());
        if let Some(value) = example.or(input.required.then_some("1")) {
            inputs.set(input.name.as_str(), value);
        }
    }
    inputs
}

/// Values built to break out of wherever they are put: separators, dot segments, encodings,
/// control characters, non-ASCII, and arbitrary text.
fn hostile_value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            ".",
            "..",
            "../..",
            "%2e%2e",
            "a/b",
            "?x=1",
            "#frag",
            "a@b",
            "a:b",
            " ",
            "\t",
            "a\r\nX-Injected: 1",
            "\u{0}",
            "\u{7f}",
            "é",
            "😀",
            "%",
            "%zz",
            "+",
            "&x=y",
        ])
        .prop_map(str::to_owned),
        "[./%?#&=@:;+ \\\\a-zA-Z0-9é😀\\r\\n\\t\\x00\\x7f-]{0,12}",
        any::<String>().prop_map(|s| s.chars().take(24).collect()),
    ]
}

/// Whether the request rules refuse `value` wherever it goes: a line break anywhere, a value
/// that would collapse or vanish in a path, a control character HTTP cannot carry in a header.
fn must_refuse(value: &str, location: InputLocation) -> bool {
    value.contains(['\r', '\n'])
        || (location == InputLocation::Path && matches!(value, "" | "." | ".."))
        || (location == InputLocation::Header
            && value.chars().any(|c| c.is_ascii_control() && c != '\t'))
}

/// A JSON document with every string emptied: what a value may change (nothing else).
fn shape(value: &Value) -> Value {
    match value {
        Value::String(_) => Value::String(String::new()),
        Value::Array(items) => Value::Array(items.iter().map(shape).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), shape(v))).collect())
        }
        other => other.clone(),
    }
}

/// The path segments the template gives, each value written raw inside its own segment.
fn template_segments(provider: &Provider, values: &HashMap<String, String>) -> Vec<String> {
    let mut segments = vec![String::new()];
    for part in &provider.request.path.parts {
        match part {
            Part::Literal(text) => {
                for (i, piece) in text.split('/').enumerate() {
                    if i > 0 {
                        segments.push(String::new());
                    }
                    segments.last_mut().expect("one segment").push_str(piece);
                }
            }
            Part::Placeholder { name, .. } => segments
                .last_mut()
                .expect("one segment")
                .push_str(values.get(name).map_or("", String::as_str)),
        }
    }
    // The template starts with `/`: its first segment is the empty one before it.
    segments.remove(0);
    segments
}

proptest! {
    #![proptest_config(cases(256))]

    /// Any value in any input but a host: refused exactly when the rules say, otherwise the
    /// request keeps its template's shape and the value arrives intact. Patterns are removed
    /// first: the encoding alone must hold, whatever a definition allows.
    #[test]
    fn no_value_moves_a_request_off_its_template(
        which in any::<prop::sample::Index>(),
        slot in any::<prop::sample::Index>(),
        value in hostile_value(),
    ) {
        let templated = templated();
        let mut provider = templated[which.index(templated.len())].clone();
        for input in &mut provider.inputs {
            if input.location != InputLocation::Host {
                input.pattern = None;
            }
        }
        let movable: Vec<usize> = (0..provider.inputs.len())
            .filter(|&i| provider.inputs[i].location != InputLocation::Host)
            .collect();
        let input = provider.inputs[movable[slot.index(movable.len())]].clone();
        let task_input = provider.task_id_input().name.clone();
        let credentials = credentials(&provider);
        // The reference gives the chosen input a plain value, so both requests carry it.
        let mut reference_inputs = example_values(&provider);
        if input.name != task_input {
            reference_inputs.set(input.name.as_str(), "t");
        }
        let reference = unitask::http::request::prepare(
            &provider, "t", &reference_inputs, None, &credentials,
        );
        let reference = reference.map_err(|e| TestCaseError::fail(format!("{}: the reference request: {e}", provider.id)))?;
        let (task_id, mut inputs) = (String::from("t"), reference_inputs.clone());
        let task_id = if input.name == task_input {
            value.clone()
        } else {
            inputs.set(input.name.as_str(), value.as_str());
            task_id
        };
        let result = unitask::http::request::prepare(&provider, &task_id, &inputs, None, &credentials);
        let request = match result {
            Err(error) => {
                prop_assert_eq!(error.kind, ErrorKind::InvalidRequest, "{}", error);
                prop_assert!(
                    must_refuse(&value, input.location),
                    "{}: {:?} in `{}` refused: {}", provider.id, value, input.name, error
                );
                return Ok(());
            }
            Ok(request) => request,
        };
        prop_assert!(
            !must_refuse(&value, input.location),
            "{}: {:?} in `{}` accepted", provider.id, value, input.name
        );
        prop_assert_eq!(request.url.scheme(), reference.url.scheme());
        prop_assert_eq!(request.url.host_str(), reference.url.host_str());
        prop_assert_eq!(request.url.port(), reference.url.port());
        let decoded = |url: &unitask::url::Url| -> Vec<String> {
            url.path_segments()
                .map(|s| s.map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned()).collect())
                .unwrap_or_default()
        };
        let (got, before) = (decoded(&request.url), decoded(&reference.url));
        prop_assert_eq!(got.len(), before.len(), "{}", request.url);
        let mut values: HashMap<String, String> = HashMap::new();
        for i in &provider.inputs {
            let given = if i.name == task_input { Some(task_id.clone()) } else { inputs.get(&i.name).map(str::to_owned) };
            if let Some(v) = given.or_else(|| i.default.clone()) {
                values.insert(i.name.clone(), v);
            }
        }
        let expected = template_segments(&provider, &values);
        prop_assert!(got.ends_with(&expected), "{}: {:?} is not {:?}", provider.id, got, expected);
        let pairs = |url: &unitask::url::Url| url.query_pairs().count();
        prop_assert_eq!(pairs(&request.url), pairs(&reference.url), "{}", request.url);
        prop_assert_eq!(request.headers.len(), reference.headers.len());
        match input.location {
            InputLocation::Query => prop_assert!(
                request.url.query_pairs().any(|(k, v)| k == input.wire_name.as_str() && v == value.as_str()),
                "{}", request.url
            ),
            InputLocation::Header => prop_assert!(
                request.headers.iter().any(|(k, v)| *k == input.wire_name && *v == value)
            ),
            InputLocation::Body => {
                let body: Value = serde_json::from_slice(request.body.as_deref().unwrap_or_default())
                    .expect("a JSON body");
                match &provider.request.body_template {
                    // A template's document keeps its shape, and the value is where the
                    // template prints it, whole.
                    Some(template) => {
                        let before: Value = serde_json::from_slice(reference.body.as_deref().unwrap_or_default())
                            .expect("a JSON body");
                        prop_assert_eq!(shape(&body), shape(&before));
                        let names: Vec<&str> = provider.inputs.iter().map(|i| i.name.as_str()).collect();
                        let placed = template
                            .placements(&names, "t")
                            .into_iter()
                            .find(|p| p.input == input.name)
                            .expect("the template prints every body input");
                        let text = unitask::syntax::jsonpath::locate(&body, &placed.path)
                            .and_then(Value::as_str)
                            .expect("a string where the template prints the value");
                        prop_assert_eq!(text, format!("{}{value}{}", placed.before, placed.after));
                    }
                    None => prop_assert_eq!(body.get(&input.wire_name), Some(&Value::from(value.as_str()))),
                }
            }
            InputLocation::Path | InputLocation::Host | InputLocation::Url | InputLocation::Next => {}
        }
    }

    /// A task id that is a URL is sent exactly when it is an absolute https URL (http to
    /// loopback), with no user, password or fragment, whose host the definition's `hosts`
    /// allows and whose whole text its pattern does; it then goes to that scheme, host, port,
    /// path and query, and nowhere else.
    #[test]
    fn a_url_task_id_goes_where_it_says_or_nowhere((which, value) in url_case()) {
        let provider = by_url()[which];
        let input = provider.task_id_input();
        let result = unitask::http::request::prepare(
            provider, &value, &example_values(provider), None, &credentials(provider),
        );
        let parsed = unitask::url::Url::parse(&value).ok();
        let allowed = !value.contains(['\r', '\n'])
            && parsed.as_ref().is_some_and(|url| {
                let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
                let loopback = matches!(host.as_str(), "localhost" | "127.0.0.1" | "[::1]");
                (url.scheme() == "https" || (url.scheme() == "http" && loopback))
                    && url.username().is_empty()
                    && url.password().is_none()
                    && url.fragment().is_none()
                    && input.hosts.as_ref().is_some_and(|h| h.is_match(&host))
            })
            && input.pattern.as_ref().is_none_or(|p| p.is_match(&value));
        match result {
            Ok(request) => {
                prop_assert!(allowed, "{}: {:?} accepted", provider.id, value);
                let url = parsed.expect("parsed");
                prop_assert_eq!(request.url.scheme(), url.scheme());
                prop_assert_eq!(request.url.host_str(), url.host_str());
                prop_assert_eq!(request.url.port(), url.port());
                prop_assert_eq!(request.url.path(), url.path());
                prop_assert!(
                    request.url.query().unwrap_or_default().starts_with(url.query().unwrap_or_default()),
                    "{} from {}", request.url, url
                );
            }
            Err(error) => {
                prop_assert_eq!(error.kind, ErrorKind::InvalidRequest);
                prop_assert!(!allowed, "{}: {:?} refused: {}", provider.id, value, error);
            }
        }
    }

    /// A host value is accepted exactly when it is a DNS name its pattern matches, and then it
    /// is the host: the base URL rendered with it, nothing else (no port, no user, no path).
    #[test]
    fn a_host_value_is_the_host_or_is_refused((which, value) in host_case()) {
        let provider = hosted()[which];
        let host = provider.inputs.iter().find(|i| i.location == InputLocation::Host).expect("a host input");
        let mut inputs = example_values(provider);
        inputs.set(host.name.as_str(), value.as_str());
        let task_id = provider.examples.first().map_or("t", |e| provider.example_task_id(e));
        let result = unitask::http::request::prepare(provider, task_id, &inputs, None, &credentials(provider));
        let dns_name = !value.is_empty()
            && value.len() <= 253
            && value.split('.').all(|label| {
                (1..=63).contains(&label.len())
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        let allowed = dns_name && host.pattern.as_ref().is_none_or(|p| p.is_match(&value));
        match result {
            Ok(request) => {
                prop_assert!(allowed, "{}: {:?} accepted", provider.id, value);
                let rendered = provider.base_url.as_ref().expect("a base URL").render(|name| {
                    if name == host.name { value.clone() } else { inputs.get(name).unwrap_or_default().to_owned() }
                });
                let expected = unitask::url::Url::parse(&rendered).expect("a URL");
                prop_assert_eq!(request.url.host_str(), expected.host_str());
                prop_assert_eq!(request.url.port(), None);
                prop_assert_eq!(request.url.username(), "");
                prop_assert!(request.url.password().is_none());
            }
            Err(error) => {
                prop_assert_eq!(error.kind, ErrorKind::InvalidRequest);
                prop_assert!(!allowed, "{}: {:?} refused: {}", provider.id, value, error);
            }
        }
    }

    /// With each definition's own patterns: whatever `prepare` refuses, `fetch` refuses the
    /// same way without an attempt and without opening a connection.
    #[test]
    fn a_refused_value_is_refused_before_any_io(
        which in any::<prop::sample::Index>(),
        slot in any::<prop::sample::Index>(),
        value in hostile_value(),
    ) {
        let provider = &interpreted()[which.index(interpreted().len())];
        let input = &provider.inputs[slot.index(provider.inputs.len())];
        let credentials = credentials(provider);
        let mut inputs = example_values(provider);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("non-blocking");
        let base = unitask::url::Url::parse(&format!("http://{}", listener.local_addr().expect("address"))).expect("url");
        // The value as generated, and with a line break (always refused): every case checks a
        // refusal at least once.
        for value in [value.clone(), format!("{value}\r\n")] {
            let task_id = if input.name == provider.task_id_input().name {
                value.clone()
            } else {
                inputs.set(input.name.as_str(), value.as_str());
                "t".to_owned()
            };
            let Err(refused) = unitask::http::request::prepare(provider, &task_id, &inputs, Some(&base), &credentials) else {
                continue;
            };
            static CLIENT: OnceLock<Transport> = OnceLock::new();
            let client = CLIENT.get_or_init(|| Transport::new(TransportConfig::default()).expect("client"));
            let sent = client.requests_sent();
            let Fetched { result, attempts, .. } = runtime().block_on(client.fetch_detailed(provider, Request { task_id: &task_id, inputs: &inputs, base_url: Some(&base), credentials: &credentials, quota: None }, false));
            prop_assert_eq!(result.expect_err("refused"), refused);
            prop_assert_eq!(attempts, 0);
            prop_assert_eq!(client.requests_sent(), sent);
            // A connection would sit in the listener's queue, accepted or not.
            prop_assert_eq!(
                listener.accept().map(|_| ()).map_err(|e| e.kind()),
                Err(std::io::ErrorKind::WouldBlock)
            );
        }
    }

    /// An undocumented native value, put where the definition reads it in any successful
    /// example, reads as `unknown`: not terminal, the value kept as the native status.
    #[test]
    fn an_undocumented_native_value_is_unknown(
        which in any::<prop::sample::Index>(),
        text in "[A-Za-z0-9_ .-]{1,16}",
        number in any::<i64>(),
    ) {
        let cases = undocumented_cases();
        let (provider, body) = &cases[which.index(cases.len())];
        let plan = &provider.response.state;
        let (path, value, native) = match &plan.native {
            NativePlan::String(path) => (path, Value::from(text.as_str()), text.clone()),
            NativePlan::Integer(path) => (path, Value::from(number), number.to_string()),
            NativePlan::TagKey(path) => (path, serde_json::json!({ text.as_str(): {} }), text.clone()),
            NativePlan::Boolean(..)
            | NativePlan::Presence(_)
            | NativePlan::HttpStatus
            | NativePlan::Header(_)
            | NativePlan::Axes(_) => {
                unreachable!("filtered out")
            }
        };
        prop_assume!(!plan.documented.iter().any(|d| d.eq_ignore_ascii_case(&native)));
        let mut body = body.clone();
        let slot = native_slot(provider, &mut body, path.steps().expect("a plain path"));
        *slot.expect("the example holds its native status") = value;
        let bytes = serde_json::to_vec(&body).expect("json");
        let task = runtime::normalize(provider, "t", Response { status: 200, headers: &[], body: &bytes })
            .expect("still a task");
        prop_assert_eq!(task.state, State::Unknown, "{}: {}", provider.id, native);
        prop_assert!(!task.terminal);
        prop_assert_eq!(task.native_status, native);
    }
}

/// The providers whose requests follow a base URL and a path template.
fn templated() -> Vec<&'static Provider> {
    interpreted()
        .iter()
        .filter(|p| p.base_url.is_some())
        .collect()
}

/// The providers whose task id is a URL.
fn by_url() -> Vec<&'static Provider> {
    let found: Vec<&Provider> = interpreted()
        .iter()
        .filter(|p| p.base_url.is_none())
        .collect();
    assert!(!found.is_empty(), "a provider whose task id is a URL");
    found
}

/// A provider whose task id is a URL, and a value for it: an example's URL as it is, changed in
/// a part that decides where it goes (scheme, host, user, port, fragment, a look-alike host),
/// wrapped in junk, or hostile text.
fn url_case() -> impl Strategy<Value = (usize, String)> {
    (0..by_url().len()).prop_flat_map(|which| {
        let provider = by_url()[which];
        let name = &provider.task_id_input().name;
        let example = provider
            .examples
            .iter()
            .flat_map(|e| e.inputs.iter())
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .expect("an example URL");
        let url = unitask::url::Url::parse(&example).expect("a URL");
        let host = url.host_str().unwrap_or_default().to_owned();
        let rest = &example[example.find(&host).map_or(0, |i| i + host.len())..];
        let swaps = vec![
            example.clone(),
            example.replacen("https://", "http://", 1),
            example.replacen("https://", "ftp://", 1),
            example.replacen(&host, &host.to_ascii_uppercase(), 1),
            example.replacen(&host, &format!("{host}.evil.example"), 1),
            example.replacen(&host, &format!("evil{host}"), 1),
            example.replacen(&host, &format!("user:secret@{host}"), 1),
            example.replacen(&host, &format!("{host}:8443"), 1),
            example.replacen(&host, &format!("{host}@evil.example"), 1),
            example.replacen(&host, "127.0.0.1", 1),
            example.replacen(&host, "localhost", 1),
            format!("{example}#fragment"),
            format!("{example}?extra=1"),
            format!("https://evil.example{rest}"),
            format!("//{host}{rest}"),
        ];
        let affix = "[./@:#?%a-z0-9 -]{0,3}";
        let wrapped = example.clone();
        (
            Just(which),
            prop_oneof![
                prop::sample::select(swaps),
                (affix, affix).prop_map(move |(a, b)| format!("{a}{wrapped}{b}")),
                hostile_value(),
            ],
        )
    })
}

/// The providers with a host input.
fn hosted() -> Vec<&'static Provider> {
    interpreted()
        .iter()
        .filter(|p| p.inputs.iter().any(|i| i.location == InputLocation::Host))
        .collect()
}

/// A provider with a host input, and a value for it: hostile text, its example value as it is,
/// upper-cased or wrapped in characters that would end a host, or a look-alike host name.
fn host_case() -> impl Strategy<Value = (usize, String)> {
    (0..hosted().len()).prop_flat_map(|which| {
        let provider = hosted()[which];
        let input = provider
            .inputs
            .iter()
            .find(|i| i.location == InputLocation::Host)
            .expect("a host input");
        let example = example_values(provider)
            .get(&input.name)
            .unwrap_or("eu")
            .to_owned();
        let affix = "[./@:#?%a-z0-9 -]{0,3}";
        let wrapped = example.clone();
        (
            Just(which),
            prop_oneof![
                hostile_value(),
                Just(example.clone()),
                Just(example.to_ascii_uppercase()),
                (affix, affix).prop_map(move |(a, b)| format!("{a}{wrapped}{b}")),
                "[a-z0-9-]{1,12}\\.myshoplazz?a\\.com",
                "eu|us|xx",
            ],
        )
    })
}

/// Every successful JSON example of every provider whose native status can hold an undocumented
/// value at a plain path, and whose rules all name the values they refine (a rule for any value
/// may rightly decide an undocumented one).
fn undocumented_cases() -> &'static [(Provider, Value)] {
    static CASES: OnceLock<Vec<(Provider, Value)>> = OnceLock::new();
    CASES.get_or_init(|| {
        let mut cases = Vec::new();
        for provider in interpreted() {
            let plan = &provider.response.state;
            let path = match &plan.native {
                NativePlan::String(p) | NativePlan::Integer(p) | NativePlan::TagKey(p) => p,
                // An undocumented HTTP status is the sandbox's `fault-unknown-status`; a header's
                // is `an_undocumented_header_status_is_unknown`.
                NativePlan::Boolean(..)
                | NativePlan::Presence(_)
                | NativePlan::HttpStatus
                | NativePlan::Header(_)
                | NativePlan::Axes(_) => {
                    continue;
                }
            };
            if path.steps().is_none() || plan.rules.iter().any(|r| r.native.is_empty()) {
                continue;
            }
            for example in &provider.examples {
                let Ok(mut body) = serde_json::from_slice::<Value>(&example.response.body) else {
                    continue;
                };
                let ok = (200..300).contains(&example.response.status)
                    && matches!(example.expect, Expectation::Task(_));
                if ok && native_slot(provider, &mut body, path.steps().expect("plain")).is_some() {
                    cases.push((provider.clone(), body));
                }
            }
        }
        let providers: std::collections::HashSet<&str> =
            cases.iter().map(|(p, _)| p.id.as_str()).collect();
        for id in ["hubspot", "church-tech", "shoplazza", "tagged-jobs"] {
            assert!(providers.contains(id), "no case for {id}");
        }
        cases
    })
}

/// Where the native status sits in `body`: inside the envelope's payload when there is one.
fn native_slot<'a>(
    provider: &Provider,
    body: &'a mut Value,
    steps: &[PathStep],
) -> Option<&'a mut Value> {
    let root: &[PathStep] = provider
        .response
        .envelope
        .as_ref()
        .and_then(|e| e.root.steps())
        .unwrap_or(&[]);
    let enveloped = locate(body, root).is_some_and(|payload| locate(payload, steps).is_some());
    let node = if enveloped { locate(body, root)? } else { body };
    locate(node, steps)
}

/// One response a real server sends: an example's, its body damaged or cut, its status and
/// `Retry-After` perhaps replaced.
#[derive(Debug, Clone)]
struct Served {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn served() -> impl Strategy<Value = (usize, usize, Served)> {
    let statuses = prop::sample::select(vec![
        200u16, 201, 202, 204, 400, 401, 403, 404, 408, 409, 410, 422, 429, 500, 502, 503, 504,
    ]);
    (
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        prop::option::of(statuses),
        prop::option::of(prop_oneof!["[0-9]{1,4}", "[ -~]{0,20}"]),
        prop::collection::vec((any::<usize>(), crate::mutations::damage()), 0..3),
        prop::option::of(any::<prop::sample::Index>()),
    )
        .prop_map(|(which, example, status, retry_after, damages, cut)| {
            let seeds = generated_seeds();
            let provider = &seeds[which.index(seeds.len())];
            let index = example.index(provider.examples.len());
            let response = &provider.examples[index].response;
            let mut body = response.body.clone();
            if let Ok(mut value) = serde_json::from_slice::<Value>(&body) {
                for (at, damage) in &damages {
                    crate::mutations::apply(&mut value, *at, damage);
                }
                body = serde_json::to_vec(&value).expect("json");
            }
            if let Some(cut) = cut {
                body.truncate(cut.index(body.len() + 1));
            }
            let mut headers = response.headers.clone();
            if let Some(retry_after) = retry_after {
                headers.retain(|(n, _)| !n.eq_ignore_ascii_case("retry-after"));
                headers.push(("Retry-After".into(), retry_after));
            }
            let status = status.unwrap_or(response.status);
            (
                which.index(seeds.len()),
                index,
                Served {
                    status,
                    headers,
                    body,
                },
            )
        })
}

/// The built-in providers, as their generated modules compiled them.
fn generated_seeds() -> &'static [Provider] {
    static SEEDS: OnceLock<Vec<Provider>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        unitask::providers::GENERATED
            .iter()
            .map(|id| {
                Provider::clone(
                    unitask::providers::definition(id)
                        .expect("generated")
                        .expect("compiles"),
                )
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(cases(64))]

    /// The same response from a real loopback server, fetched by the generated client (typed
    /// `Params` in, typed `Record` out) and by the interpreter with the definition loaded from
    /// its file at run time: the same task or the same error.
    #[test]
    fn the_generated_client_and_the_interpreter_agree_over_http(
        (which, example, response) in served(),
    ) {
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let generated = &generated_seeds()[which];
        let interpreter = interpreted()
            .iter()
            .find(|p| p.id == generated.id)
            .expect("loaded from its file");
        let client = Transport::new(TransportConfig {
            retry: RetryPolicy { max_attempts: 1, ..RetryPolicy::default() },
            ..TransportConfig::default()
        })
        .expect("client");
        let example = &generated.examples[example];
        let task_id = generated.example_task_id(example).to_owned();
        let inputs = crate::example_inputs(generated, example).unwrap_or_default();
        let credentials = credentials(generated);
        let (by_generated, by_interpreter) = runtime().block_on(async {
            let server = MockServer::start().await;
            let mut template = ResponseTemplate::new(response.status).set_body_bytes(response.body.clone());
            for (name, value) in &response.headers {
                template = template.append_header(name.as_str(), value.as_str());
            }
            Mock::given(wiremock::matchers::any()).respond_with(template).mount(&server).await;
            let base = unitask::url::Url::parse(&server.uri()).expect("url");
            let request = Request { task_id: &task_id, inputs: &inputs, base_url: Some(&base), credentials: &credentials, quota: None };
            let by_generated = unitask::providers::status(&generated.id, &client, request)
                .await
                .expect("a generated client");
            let by_interpreter = client.fetch(interpreter, request).await;
            (by_generated, by_interpreter)
        });
        prop_assert_eq!(by_generated, by_interpreter);
    }
}

/// A status read from a header: any value the definition does not document reads `unknown`.
#[test]
fn an_undocumented_header_status_is_unknown() {
    let mut checked = 0;
    for provider in interpreted() {
        let NativePlan::Header(name) = &provider.response.state.native else {
            continue;
        };
        let Some(example) = provider.examples.iter().find(|e| {
            e.response.status == 200
                && e.response
                    .headers
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case(name))
        }) else {
            continue;
        };
        for value in ["SANDBOX_UNDOCUMENTED", "Pending ", "42"] {
            let headers: Vec<(String, String)> = example
                .response
                .headers
                .iter()
                .map(|(n, v)| {
                    if n.eq_ignore_ascii_case(name) {
                        (n.clone(), value.to_owned())
                    } else {
                        (n.clone(), v.clone())
                    }
                })
                .collect();
            let documented = provider
                .response
                .state
                .documented
                .iter()
                .any(|d| d == value.trim());
            let task = runtime::normalize(
                provider,
                "t",
                Response {
                    status: 200,
                    headers: &headers,
                    body: &example.response.body,
                },
            )
            .expect("still a task");
            if !documented {
                assert_eq!(task.state, State::Unknown, "{}: {value}", provider.id);
                assert_eq!(task.native_status, value.trim());
            }
        }
        checked += 1;
    }
    assert!(checked >= 1, "a built-in reads its status from a header");
}
