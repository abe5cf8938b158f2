use std::process::{Command, Output};

use crate::{at, root};

fn unitask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_unitask"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .output()
        .expect("run unitask")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn validate_defaults_to_providers_and_exits_zero() {
    let output = unitask(&["validate"]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let files = unitask::validate::definition_files(&at("providers"))
        .expect("providers")
        .len();
    assert!(
        stdout(&output).ends_with(&format!("{files} definitions valid\n")),
        "{}",
        stdout(&output)
    );
}

#[test]
fn validate_reports_every_file_and_exits_one() {
    let dir = at("tests/fixtures/invalid");
    let output = unitask(&[
        "validate",
        dir.to_str().expect("utf-8"),
        "providers/hubspot.yaml",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    let files = std::fs::read_dir(&dir).expect("fixtures").count();
    assert!(
        text.contains(&format!("found in {files} definitions of {}", files + 1)),
        "{text}"
    );
    assert!(text.contains("ok: providers/hubspot.yaml (hubspot)"));
    assert!(text.contains("error[UT101]"));
}

#[test]
fn validate_usage_errors_exit_two() {
    assert_eq!(
        unitask(&["validate", "no/such/folder"]).status.code(),
        Some(2)
    );
    assert_eq!(
        unitask(&["validate", "--format", "xml"]).status.code(),
        Some(2)
    );
    assert_eq!(unitask(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn a_rate_limit_flag_that_cannot_be_kept_is_a_usage_error() {
    for (args, says) in [
        (
            ["watch", "--rate-limit", "no-such=1/1s", "hubspot", "t"],
            "no provider `no-such`",
        ),
        (
            ["watch", "--rate-limit", "hubspot=fast", "hubspot", "t"],
            "REQUESTS/PER",
        ),
        (
            ["sandbox", "--rate-limit", "hubspot=0/1s", "--port", "0"],
            "from 1 to 1000000",
        ),
    ] {
        let output = unitask(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn json_format_gives_positions_and_codes() {
    let fixture = "tests/fixtures/invalid/ut002-unknown-key.yaml";
    let output = unitask(&["validate", "--format", "json", fixture]);
    assert_eq!(output.status.code(), Some(1));
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(document["files"], 1);
    assert_eq!(document["valid"], 0);
    let first = &document["diagnostics"][0];
    assert_eq!(first["code"], "UT002");
    assert_eq!(first["file"], fixture);
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_u64()),
        (Some(9), Some(3))
    );
    assert_eq!(first["help"], "did you mean `path`?");
}

#[test]
fn github_format_is_workflow_annotations() {
    let output = unitask(&[
        "validate",
        "--format",
        "github",
        "tests/fixtures/invalid/ut101-invalid-jsonpath.yaml",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.starts_with(
            "::error file=tests/fixtures/invalid/ut101-invalid-jsonpath.yaml,line=16,col=36,"
        ),
        "{text}"
    );
}

#[test]
fn explain_prints_the_rule_documentation() {
    let output = unitask(&["explain", "UT107"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert!(text.starts_with("# UT107 unconstrained-host\n"), "{text}");
    assert!(text.contains("## Why"));
    assert_eq!(
        stdout(&unitask(&["explain", "invalid-jsonpath"]))
            .lines()
            .next(),
        Some("# UT101 invalid-jsonpath")
    );
    assert_eq!(unitask(&["explain", "UT999"]).status.code(), Some(2));
}

#[test]
fn schema_command_prints_the_committed_schema() {
    let output = unitask(&["schema"]);
    assert_eq!(output.status.code(), Some(0));
    let committed = std::fs::read_to_string(at("providers/provider.schema.json")).expect("schema");
    assert_eq!(stdout(&output), committed);
}

#[test]
fn providers_lists_sources_inputs_auth_and_states() {
    let valid = at("tests/fixtures/valid");
    let output = unitask(&[
        "providers",
        "--json",
        "--definitions",
        valid.to_str().expect("utf-8"),
    ]);
    assert_eq!(output.status.code(), Some(0));
    let list: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let ids: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    for id in [
        "church-tech",
        "hubspot",
        "presence-jobs",
        "shoplazza",
        "tagged-jobs",
        "tencent-smh",
    ] {
        assert!(ids.contains(&id), "{id} in {ids:?}");
    }
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "sorted by id");
    let smh = list
        .as_array()
        .expect("array")
        .iter()
        .find(|p| p["id"] == "tencent-smh")
        .expect("smh");
    assert_eq!(smh["source"], "built-in, generated");
    assert_eq!(
        smh["auth"],
        serde_json::json!({"scheme": "query", "env": ["SMH_ACCESS_TOKEN"]})
    );
    assert_eq!(smh["inputs"][0]["name"], "confirm_key");
    assert_eq!(smh["inputs"][0]["task_id"], true);
    assert_eq!(
        smh["states"][1],
        serde_json::json!({"native": "confirmed=true", "label": null, "state": "succeeded", "refined_to": []})
    );
    let tagged = list
        .as_array()
        .expect("array")
        .iter()
        .find(|p| p["id"] == "tagged-jobs")
        .expect("tagged");
    assert!(
        tagged["source"]
            .as_str()
            .expect("path")
            .ends_with("tagged-jobs.yaml")
    );
    assert_eq!(tagged["states"][1]["label"], "Working");
    let text = stdout(&unitask(&["providers"]));
    assert!(
        text.contains("  status    1 (In progress) → running\n"),
        "{text}"
    );
    assert!(text.contains("church-tech — church.tech — upload [built-in, generated]\n  base URL  https://api.church.tech (unconfirmed: pass --base-url)"), "{text}");
}
