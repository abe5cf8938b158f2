//! Hostile definitions: each is refused with a diagnostic that points into the file, quickly and
//! without a panic, whatever the file holds.

use std::process::Command;

use unitask::validate::{FileReport, check_source};

fn refused(name: &str, text: &str) -> FileReport {
    match check_source(name, None, text) {
        Ok(provider) => panic!("{name} was accepted as {}", provider.id),
        Err(report) => report,
    }
}

fn codes(report: &FileReport) -> Vec<&'static str> {
    report.diagnostics.iter().map(|d| d.code.as_str()).collect()
}

/// Ten aliases of ten aliases, eleven deep: 10¹¹ nodes if expanded. The YAML parser's budget stops
/// it, reported as a syntax problem at the alias that breached it.
#[test]
fn an_alias_bomb_is_stopped_by_the_budget() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    text.push_str("id: bomb\n");
    let report = refused("bomb.yaml", &text);
    assert_eq!(codes(&report), ["UT001"], "{}", report.render_human(false));
    let rendered = report.render_human(false);
    assert!(
        rendered.contains("more than 250000 nodes")
            && rendered.contains("an alias used over and over"),
        "{rendered}"
    );
}

/// 100,000 nested flow sequences, and 3,000 nested block mappings.
#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let flow = format!(
        "id: deep\nx: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert_eq!(codes(&refused("deep.yaml", &flow)), ["UT001"]);
    let mut block = String::from("id: deep\nx:\n");
    for depth in 1..3000 {
        block.push_str(&"  ".repeat(depth));
        block.push_str("k:\n");
    }
    assert_eq!(codes(&refused("deep-block.yaml", &block)), ["UT001"]);
}

/// A 10 MB scalar in an otherwise incomplete definition: every problem is reported, and the
/// rendering quotes a bounded excerpt, not the scalar.
#[test]
fn a_ten_megabyte_definition_is_read_and_reported() {
    let text = format!("id: huge\nname: \"{}\"\n", "a".repeat(10_000_000));
    let report = refused("huge.yaml", &text);
    assert!(codes(&report).contains(&"UT004"), "{:?}", codes(&report));
    let rendered = report.render_human(false);
    assert!(
        rendered.len() < 100_000,
        "{} bytes rendered",
        rendered.len()
    );
}

/// Bytes that are not UTF-8: a diagnostic at the line and column of the first invalid byte, like
/// any other problem of the file (exit 1), in every output format.
#[test]
fn invalid_utf8_is_a_diagnostic_at_its_byte() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bad.yaml");
    std::fs::write(&path, b"id: bad\nname: ok \xff\xfe\n").expect("written");
    let run = |format: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_unitask"))
            .args(["validate", "--format", format])
            .arg(&path)
            .output()
            .expect("validate runs");
        assert_eq!(output.status.code(), Some(1), "{format}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let human = run("human");
    assert!(human.contains("error[UT005]"), "{human}");
    assert!(human.contains("bad.yaml:2:10"), "{human}");
    assert!(human.contains("0xff"), "{human}");
    let github = run("github");
    assert!(github.starts_with("::error file="), "{github}");
    assert!(github.contains(",line=2,col=10,"), "{github}");
    let json: serde_json::Value = serde_json::from_str(&run("json")).expect("json");
    assert_eq!(json["diagnostics"][0]["code"], "UT005");
    assert_eq!(json["diagnostics"][0]["line"], 2);
}

/// No public type that holds a credential shows it in `Debug`, in any wire form (raw,
/// percent-encoded, JSON-escaped, base64 for basic auth): every seed provider, every auth scheme
/// the fixtures use.
#[test]
fn debug_never_shows_a_credential() {
    use unitask::http::redact::Redactor;
    use unitask::watch::{Answerer, Endpoint, Watcher};
    use unitask::{Engine, Transport, TransportConfig};

    const SECRET: &str = "s3cr3t-T0ken+/= \"x\"";
    let mut engine = Engine::builtin().expect("built-ins");
    engine
        .load_paths(&[crate::at("tests/fixtures/valid")])
        .expect("fixtures load");
    let http = Transport::new(TransportConfig::default()).expect("client");
    for loaded in engine.iter() {
        let provider = &loaded.provider;
        let credentials = crate::credentials_with(provider, SECRET);
        let redactor = Redactor::new(&provider.auth, &credentials);
        if credentials.values().next().is_some() {
            // The check below can fail: the redactor sees the secret when it is there.
            assert_ne!(redactor.redact(SECRET), SECRET, "{}", provider.id);
        }
        let endpoint = Endpoint::new(
            provider.clone(),
            http.clone(),
            None,
            credentials.clone(),
            Answerer::Interpreted,
        );
        let mut watcher = Watcher::new(unitask::watch::Options::default());
        watcher.add(endpoint.clone());
        let sample: unitask::Inputs = provider.sample_inputs().into_iter().collect();
        let prepared =
            unitask::http::request::prepare(provider, "task-1", &sample, None, &credentials);
        let mut shown = vec![
            format!("{credentials:?}"),
            format!("{endpoint:?}"),
            format!("{watcher:?}"),
            format!("{redactor:?}"),
            format!("{prepared:?}"),
        ];
        if let Ok(prepared) = &prepared {
            shown.push(prepared.redacted_url());
        }
        if provider.id == "hubspot" {
            let generated = unitask::providers::hubspot::Client::builder()
                .transport(http.clone())
                .credentials(credentials)
                .build()
                .expect("client");
            shown.push(format!("{generated:?}"));
        }
        for text in shown {
            assert_eq!(redactor.redact(&text), text, "{}: {text}", provider.id);
        }
    }
}

/// A real definition followed by 10 MB of nodes (250,000 small mappings): the parser's node
/// budget stops it at the node that breached it, with a message that says which limit and why;
/// the rendering quotes that one line.
#[test]
fn a_ten_megabyte_definition_of_many_nodes_is_stopped_by_the_budget() {
    let mut text = std::fs::read_to_string(crate::at("providers/hubspot.yaml")).expect("hubspot");
    text.push_str("\npadding:\n");
    while text.len() < 10_000_000 {
        text.push_str("  - { name: file-0000000.png, size: 1234567, ok: true }\n");
    }
    let report = refused("hubspot.yaml", &text);
    assert_eq!(codes(&report), ["UT001"], "{}", report.render_human(false));
    let rendered = report.render_human(false);
    assert!(
        rendered.contains("more than 250000 nodes")
            && rendered.contains("generated data pasted in"),
        "{rendered}"
    );
    assert!(rendered.len() < 2_000, "{} bytes rendered", rendered.len());
}
