use std::process::Command;

use proptest::prelude::*;
use serde_json::{Map, Value};
use unitask::Engine;
use unitask::draft::{self, Sample};
use unitask::spec::Method;

/// Drafts `body` and checks the draft passes `validate` as written.
fn drafts(body: &Value, url: Option<&url::Url>, method: Method) -> String {
    let text = draft::draft(&Sample {
        id: "drafted",
        body,
        url,
        method,
    })
    .unwrap_or_else(|e| panic!("{e}\nfor {body}"));
    if let Err(report) = unitask::validate::check_source("drafted.yaml", Some("drafted"), &text) {
        panic!("{}\n{text}", report.render_human(false));
    }
    text
}

/// Every JSON object body of every seed and fixture example (answers and error bodies alike)
/// drafts a definition that passes `validate`: without a URL, with the URL the example's request
/// went to, and as a POST.
#[test]
fn every_example_body_drafts_a_valid_definition() {
    let mut engine = Engine::builtin().expect("built-ins");
    engine
        .load_dir(&crate::at("tests/fixtures/valid"))
        .expect("fixtures");
    let mut drafted = 0;
    for loaded in engine.iter() {
        let provider = &loaded.provider;
        for example in &provider.examples {
            let Ok(body @ Value::Object(_)) = serde_json::from_slice(&example.response.body) else {
                continue;
            };
            let inputs = crate::example_inputs(provider, example).unwrap_or_default();
            let task_id = crate::example_task(provider, example);
            let prepared = unitask::http::request::prepare(
                provider,
                &task_id,
                &inputs,
                Some(&url::Url::parse("https://api.example.com").expect("url")),
                &crate::credentials_with(provider, "s3cr3t"),
            );
            drafts(&body, None, Method::Get);
            drafts(&body, None, Method::Post);
            if let Ok(prepared) = prepared {
                let text = drafts(&body, Some(&prepared.url), provider.request.method);
                assert!(
                    !text.contains("s3cr3t"),
                    "a credential was written down:\n{text}"
                );
            }
            drafted += 1;
        }
    }
    assert!(drafted > 30, "{drafted}");
}

/// What a draft finds in a realistic answer: the URL's ids as inputs with patterns, the status
/// with its value documented, times, progress, files and errors, and the sample as an example
/// whose `expect` is what the runtime makes of it.
#[test]
fn a_draft_reads_what_the_answer_says() {
    let body = serde_json::json!({
        "id": "2b3c6f1e-79f5-4b9c-b3f1-4f2c0d0c1e55",
        "status": "PROCESSING",
        "createdAt": "2024-05-02T10:00:00Z",
        "finished_at": 1714644000,
        "total": 3, "processed": 1,
        "result": {"files": [{"name": "a.png", "url": "https://cdn/a.png", "size": 12}]},
        "errors": ["https://src/b.png could not be read"],
        "owner": {"name": "x"}
    });
    let url = url::Url::parse(
        "https://api.acme.com/v2/accounts/8812/jobs/2b3c6f1e-79f5-4b9c-b3f1-4f2c0d0c1e55?verbose&access_token=SECRET-1&pwd=Hunter2x9&view=full&view=brief",
    )
    .expect("url");
    let text = drafts(&body, Some(&url), Method::Get);
    for expected in [
        "base_url: \"https://api.acme.com\"",
        "path: \"/v2/accounts/{account_id}/jobs/{job_id}\"",
        "  job_id:\n    in: path\n    role: task_id\n    pattern: \"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\"",
        "  account_id:\n    in: path\n    pattern: \"[0-9]{1,20}\"",
        "    - verbose",
        "  query:\n    param: access_token\n    env: DRAFTED_TOKEN",
        "      string: \"$.status\"",
        "      - \"PROCESSING\"",
        "      \"PROCESSING\": running",
        "    created_at: \"$.createdAt\"",
        "    completed_at: { path: \"$.finished_at\", format: \"epoch_seconds\" }",
        "    unit: items\n    done: \"$.processed\"\n    total: \"$.total\"",
        "    - each: \"$.result.files[*]\"",
        "    - each: \"$.errors[*]\"\n      message: \"$\"",
        "not mapped: `owner`",
        "      account_id: \"8812\"",
        "      native_status: PROCESSING",
        "      progress:\n        done: 1\n        total: 3\n        unit: items",
    ] {
        assert!(text.contains(expected), "no {expected:?} in:\n{text}");
    }
    for secret in ["SECRET-1", "Hunter2x9"] {
        assert!(!text.contains(secret), "{secret} written down:\n{text}");
    }
    // A parameter given twice is sent once, with its first value.
    assert!(
        text.contains("  query:  # guess: fixed values, from the URL\n    view: \"full\"\n\n"),
        "{text}"
    );
    // Every guess says so.
    assert!(text.matches("# guess:").count() >= 8, "{text}");
}

/// Objects with keys and values of every kind: status-like names, time-like names and values,
/// numbers in strings, quotes, colons, control characters, emoji, empty keys, deep nesting.
fn json_object() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("status".to_owned()),
        Just("state".to_owned()),
        Just("jobStatus".to_owned()),
        Just("done".to_owned()),
        Just("id".to_owned()),
        Just("created_at".to_owned()),
        Just("updatedTime".to_owned()),
        Just("progress".to_owned()),
        Just("total".to_owned()),
        Just("finished".to_owned()),
        Just("files".to_owned()),
        Just("errors".to_owned()),
        Just("url".to_owned()),
        Just("name".to_owned()),
        Just("size".to_owned()),
        Just("type".to_owned()),
        "[a-z_]{1,8}",
        any::<String>(),
        Just(String::new()),
        Just("a'b".to_owned()),
        Just("x: y".to_owned()),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        (1_000_000_000i64..2_000_000_000).prop_map(Value::from),
        (1_000_000_000_000i64..2_000_000_000_000).prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        Just(Value::from("2024-05-02T10:00:00Z")),
        Just(Value::from("2024-05-02 10:00:00")),
        Just(Value::from("42.5")),
        Just(Value::from("RUNNING")),
        Just(Value::from("https://cdn.example.com/a.png")),
        Just(Value::from("image/png")),
        Just(Value::from("\u{7f}\u{feff}\t\n\"'\\")),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
    .prop_map(|value| match value {
        object @ Value::Object(_) => object,
        other => serde_json::json!({ "status": "RUNNING", "data": other }),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("UNITASK_DRAFT_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(256)
    ))]

    /// Any JSON object drafts a definition that passes `validate` as written.
    #[test]
    fn any_object_drafts_a_valid_definition(body in json_object(), post in any::<bool>()) {
        let method = if post { Method::Post } else { Method::Get };
        drafts(&body, None, method);
        let url = url::Url::parse("https://api.example.com/v1/jobs/9f1c2a77b3/status").expect("url");
        drafts(&body, Some(&url), method);
    }
}

/// The authoring loop through the binary: `init` writes a draft; `validate` passes it; the
/// sandbox serves it; `status --save-example` against the sandbox prints an entry that, pasted
/// under `examples:`, still validates.
#[test]
fn init_validate_sandbox_save_example() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sample = dir.path().join("answer.json");
    std::fs::write(
        &sample,
        r#"{"id": "42", "status": "QUEUED", "created": "2024-05-02T10:00:00Z"}"#,
    )
    .expect("sample");
    let file = dir.path().join("acme-jobs.yaml");
    let unitask = env!("CARGO_BIN_EXE_unitask");
    let init = Command::new(unitask)
        .args(["init", "acme-jobs", "--from-response"])
        .arg(&sample)
        .args(["--url", "https://api.acme.com/v1/jobs/42", "-o"])
        .arg(&file)
        .output()
        .expect("init runs");
    assert_eq!(
        init.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    // It never writes over a file.
    let again = Command::new(unitask)
        .args(["init", "acme-jobs", "--from-response"])
        .arg(&sample)
        .arg("-o")
        .arg(&file)
        .output()
        .expect("init runs");
    assert_eq!(again.status.code(), Some(2));
    let validate = Command::new(unitask)
        .arg("validate")
        .arg(&file)
        .output()
        .expect("validate runs");
    assert_eq!(
        validate.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&validate.stdout)
    );
    let mut sandbox = Command::new(unitask)
        .args(["sandbox", "--port", "0", "--quiet", "--definitions"])
        .arg(&file)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("sandbox starts");
    let mut out = std::io::BufReader::new(sandbox.stdout.take().expect("stdout"));
    let mut banner = String::new();
    while !banner.contains("log (Ctrl-C stops):") {
        let read = std::io::BufRead::read_line(&mut out, &mut banner).expect("banner");
        assert!(read > 0, "{banner}");
    }
    let url = banner
        .lines()
        .next()
        .and_then(|l| l.rsplit(' ').next())
        .expect("url")
        .to_owned();
    // The sample's own track, under an id generated from the inferred pattern.
    let id = banner
        .lines()
        .find_map(|l| l.trim().strip_prefix("example     example-sample "))
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("no id for example-sample in:\n{banner}"))
        .to_owned();
    assert!(id.bytes().all(|b| b.is_ascii_digit()), "{id}");
    let saved = Command::new(unitask)
        .args(["status", "acme-jobs", &id, "--save-example", "queued-again"])
        .arg("--definitions")
        .arg(&file)
        .arg("--base-url")
        .arg(format!("{url}/acme-jobs"))
        .env("ACME_JOBS_TOKEN", "token-Secret-7")
        .output()
        .expect("status runs");
    let _ = sandbox.kill();
    let _ = sandbox.wait();
    let entry = String::from_utf8_lossy(&saved.stdout).into_owned();
    assert_eq!(
        saved.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&saved.stderr)
    );
    assert!(entry.starts_with("  - name: queued-again\n"), "{entry}");
    assert!(entry.contains("      native_status: QUEUED"), "{entry}");
    let mut text = std::fs::read_to_string(&file).expect("draft");
    text.push_str(&entry);
    std::fs::write(&file, &text).expect("pasted");
    let validate = Command::new(unitask)
        .arg("validate")
        .arg(&file)
        .output()
        .expect("validate runs");
    assert_eq!(
        validate.status.code(),
        Some(0),
        "{}\n{text}",
        String::from_utf8_lossy(&validate.stdout)
    );
}
