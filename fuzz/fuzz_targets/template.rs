//! Request building on arbitrary input values: a value is refused before any I/O, or it lands
//! inside its own path segment; the scheme, host, port and number of path segments never change;
//! a task id that is a URL goes only to a host its definition allows (https, or http to
//! loopback, no user); a templated body is JSON of the template's own shape; no header carries
//! a control character.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use unitask::{Credentials, Engine, Inputs};

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::builtin().expect("built-in definitions compile"))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut values = text.split('\u{0}');
    let task_id = values.next().unwrap_or_default();
    for loaded in engine().iter() {
        let provider = &loaded.provider;
        let mut credentials = Credentials::new();
        for name in unitask::http::request::auth_env_names(&provider.auth) {
            credentials.set(name, "fuzz-secret");
        }
        let mut inputs = Inputs::new();
        let mut reference = Inputs::new();
        for (input, value) in provider.inputs.iter().zip(values.clone()) {
            // An empty value stands for "not given", so seeds can skip optional inputs.
            if input.name != provider.task_id_input().name && !value.is_empty() {
                inputs.set(input.name.as_str(), value);
            }
        }
        for (name, value) in provider.sample_inputs() {
            reference.set(name, value);
        }
        let Ok(request) =
            unitask::http::request::prepare(provider, task_id, &inputs, None, &credentials)
        else {
            continue;
        };
        // Every header value is one HTTP can carry: no line break, no other control character.
        assert!(
            !request
                .headers
                .iter()
                .any(|(_, v)| v.chars().any(|c| c.is_ascii_control() && c != '\t'))
        );
        if provider.base_url.is_none() {
            // The task id is the URL: its host is one the definition allows.
            let input = provider.task_id_input();
            let host = request.url.host_str().unwrap_or_default().to_ascii_lowercase();
            let hosts = input.hosts.as_ref().expect("a URL input names its hosts");
            assert!(hosts.is_match(&host), "{}", request.url);
            assert_eq!(request.url.username(), "", "{}", request.url);
            assert!(request.url.password().is_none(), "{}", request.url);
            let loopback = unitask::http::request::is_loopback(&request.url);
            assert!(
                request.url.scheme() == "https" || (request.url.scheme() == "http" && loopback),
                "{}",
                request.url
            );
            continue;
        }
        let Ok(expected) =
            unitask::http::request::prepare(provider, "t", &reference, None, &credentials)
        else {
            continue;
        };
        if provider.request.body_template.is_some() {
            // A templated body keeps its shape: values only ever fill strings.
            let shape = |body: &Option<Vec<u8>>| {
                let value: unitask::serde_json::Value =
                    unitask::serde_json::from_slice(body.as_deref().unwrap_or_default())
                        .expect("a JSON body");
                blank(&value)
            };
            assert_eq!(shape(&request.body), shape(&expected.body));
        }
        assert_eq!(request.url.scheme(), expected.url.scheme());
        assert_eq!(request.url.port(), expected.url.port(), "{}", request.url);
        assert_eq!(request.url.username(), "", "{}", request.url);
        let segments = |url: &unitask::url::Url| url.path_segments().map_or(0, Iterator::count);
        assert_eq!(
            segments(&request.url),
            segments(&expected.url),
            "{}",
            request.url
        );
        if !provider
            .inputs
            .iter()
            .any(|i| i.location == unitask::spec::InputLocation::Host)
        {
            assert_eq!(
                request.url.host_str(),
                expected.url.host_str(),
                "{}",
                request.url
            );
        }
    }
});

/// A JSON document with every string emptied: what a value may change (nothing else).
fn blank(value: &unitask::serde_json::Value) -> unitask::serde_json::Value {
    use unitask::serde_json::Value;
    match value {
        Value::String(_) => Value::String(String::new()),
        Value::Array(items) => Value::Array(items.iter().map(blank).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), blank(v))).collect()),
        other => other.clone(),
    }
}
