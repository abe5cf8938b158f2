//! What the library's types serialize to reads back into equal values (tasks and every part of
//! them, errors without their live cause), states and error kinds parse from their names, an
//! error keeps the error underneath it, and a load error reads as diagnostics.

use std::error::Error as _;
use std::time::Duration;

use proptest::prelude::*;
use serde_json::Value;
use unitask::http::transport::Request;
use unitask::task::{Next, ProgressUnit};
use unitask::{Error, ErrorKind, File, Progress, State, TaskError, UploadTask, Warning};

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 _./:\\-é\"\\\\]{0,12}"
}

fn some_text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(text())
}

/// Finite numbers, whole (they print without a fraction) or not.
fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-1_000_000i64..1_000_000).prop_map(|n| n as f64),
        -1e12f64..1e12,
        Just(0.1),
        Just(f64::MAX),
    ]
}

fn timestamp() -> impl Strategy<Value = Option<jiff::Timestamp>> {
    proptest::option::of(
        (-2_000_000_000i64..4_000_000_000, 0i32..1_000_000_000)
            .prop_map(|(s, ns)| jiff::Timestamp::new(s, ns).expect("in range")),
    )
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e15f64..1e15).prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((text(), inner), 0..4)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

fn state() -> impl Strategy<Value = State> {
    prop::sample::select(State::ALL.to_vec())
}

fn kind() -> impl Strategy<Value = ErrorKind> {
    prop::sample::select(ErrorKind::ALL.to_vec())
}

fn progress() -> impl Strategy<Value = Progress> {
    (
        number(),
        proptest::option::of(number()),
        prop::sample::select(vec![
            ProgressUnit::Items,
            ProgressUnit::Bytes,
            ProgressUnit::Percent,
        ]),
    )
        .prop_map(|(done, total, unit)| Progress { done, total, unit })
}

fn file() -> impl Strategy<Value = File> {
    (
        (some_text(), some_text(), some_text(), some_text()),
        (some_text(), proptest::option::of(any::<u64>())),
        (some_text(), some_text()),
    )
        .prop_map(
            |((id, name, url, source_url), (path, size), (mime, md5))| File {
                id,
                name,
                url,
                source_url,
                path,
                size,
                mime,
                md5,
            },
        )
}

fn task_error() -> impl Strategy<Value = TaskError> {
    (some_text(), text(), some_text()).prop_map(|(code, message, item)| TaskError {
        code,
        message,
        item,
    })
}

fn task() -> impl Strategy<Value = UploadTask> {
    let head = (text(), text(), state(), text(), some_text(), any::<bool>());
    let times = (timestamp(), timestamp(), timestamp(), timestamp());
    let lists = (
        proptest::option::of(progress()),
        prop::collection::vec(file(), 0..3),
        prop::collection::vec(task_error(), 0..3),
        prop::collection::vec((text(), json()), 0..4),
        prop::collection::vec((text(), text()), 0..2),
    );
    let next = proptest::option::of((
        text(),
        text(),
        prop::collection::vec((text(), text()), 0..3),
    ));
    (head, times, lists, next, json()).prop_map(
        |(
            (provider, id, state, native_status, native_label, terminal),
            (created_at, started_at, updated_at, completed_at),
            (progress, files, errors, extra, warnings),
            next,
            raw,
        )| UploadTask {
            provider,
            id,
            state,
            native_status,
            native_label,
            terminal,
            progress,
            created_at,
            started_at,
            updated_at,
            completed_at,
            files,
            errors,
            extra: extra.into_iter().collect(),
            warnings: warnings
                .into_iter()
                .map(|(field, message)| Warning { field, message })
                .collect(),
            next: next.map(|(provider, task_id, inputs)| Next {
                provider,
                task_id,
                inputs: inputs.into_iter().collect(),
            }),
            raw,
        },
    )
}

fn error() -> impl Strategy<Value = Error> {
    (
        (
            kind(),
            proptest::option::of(100u16..600),
            some_text(),
            text(),
        ),
        (
            any::<bool>(),
            proptest::option::of(0u64..100_000),
            some_text(),
        ),
        prop::collection::vec(task_error(), 0..3),
    )
        .prop_map(
            |((kind, status, code, message), (retryable, retry_after, excerpt), details)| {
                let mut error = Error::local(kind, message);
                error.status = status;
                error.code = code;
                error.retryable = retryable;
                error.retry_after = retry_after.map(Duration::from_secs);
                error.excerpt = excerpt;
                error.details = details.into();
                error
            },
        )
}

/// `value` through JSON and back.
fn again<T: serde::Serialize + serde::de::DeserializeOwned>(value: &T) -> T {
    let text = serde_json::to_string(value).expect("serializes");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn tasks_read_back_what_they_write(task in task()) {
        prop_assert_eq!(again(&task), task);
    }

    #[test]
    fn errors_read_back_what_they_write(error in error()) {
        prop_assert_eq!(again(&error), error);
    }

    #[test]
    fn parts_read_back_what_they_write(
        state in state(),
        kind in kind(),
        progress in progress(),
        file in file(),
        task_error in task_error(),
    ) {
        prop_assert_eq!(again(&state), state);
        prop_assert_eq!(again(&kind), kind);
        prop_assert_eq!(again(&progress), progress);
        prop_assert_eq!(again(&file), file);
        prop_assert_eq!(again(&task_error), task_error);
    }
}

#[test]
fn states_and_kinds_parse_from_their_names() {
    for state in State::ALL {
        assert_eq!(state.to_string().parse::<State>(), Ok(state));
    }
    for kind in ErrorKind::ALL {
        assert_eq!(kind.to_string().parse::<ErrorKind>(), Ok(kind));
    }
    let wrong = "done".parse::<State>().expect_err("not a state");
    assert_eq!(
        wrong.to_string(),
        "unknown state `done`; expected one of pending, running, succeeded, partial, failed, canceled, expired, unknown"
    );
    assert!("NotFound".parse::<ErrorKind>().is_err());
}

/// A refused connection is a transport error whose `source()` is the HTTP client's own error;
/// a deserialized error has none.
#[tokio::test]
async fn a_transport_error_keeps_the_error_underneath() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed = format!("http://{}", listener.local_addr().expect("address"));
    drop(listener);
    let engine = unitask::Engine::builtin().expect("built-ins");
    let provider = &engine.get("hubspot").expect("hubspot").provider;
    let client = unitask::Transport::new(unitask::TransportConfig {
        retry: unitask::RetryPolicy {
            max_attempts: 1,
            ..unitask::RetryPolicy::default()
        },
        ..unitask::TransportConfig::default()
    })
    .expect("client");
    let mut credentials = unitask::Credentials::new();
    for name in provider.auth.env_names() {
        credentials.set(name, "token");
    }
    let result = client
        .fetch(
            provider,
            Request {
                task_id: "1",
                inputs: &unitask::Inputs::default(),
                base_url: Some(&url::Url::parse(&closed).expect("url")),
                credentials: &credentials,
                quota: None,
            },
        )
        .await;
    let error = result.expect_err("nothing listens");
    assert_eq!(error.kind, ErrorKind::Transport, "{error}");
    let source = error.source().expect("the HTTP client's error");
    assert!(
        source.downcast_ref::<reqwest::Error>().is_some(),
        "{source:?}"
    );
    assert!(again(&error).source().is_none());
}

/// A load error renders the diagnostics `validate` prints, and its `Debug` does not dump the
/// definition.
#[test]
fn a_load_error_reads_as_its_diagnostics() {
    let source = "id: broken\nname: Broken\nbase_url: https://api.example.com\nrequest:\n  path: /x\n# SECRET-LOOKING-LINE\n";
    let mut engine = unitask::Engine::empty();
    let error = engine.load_str("broken.yaml", source).expect_err("invalid");
    let shown = error.to_string();
    assert!(shown.contains("broken.yaml"), "{shown}");
    assert!(shown.contains("error[UT"), "{shown}");
    assert!(
        shown.trim_end().ends_with("1 invalid definition"),
        "{shown}"
    );
    let debug = format!("{error:?}");
    assert!(!debug.contains("SECRET-LOOKING-LINE"), "{debug}");
    assert!(debug.contains("missing required key"), "{debug}");
}
