use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;
use unitask::sandbox::{Outcome, Sandbox, TrackKind};
use unitask::watch;

/// Credentials for every built-in provider, each variable its own secret: the sandbox takes any
/// value where the definition puts it.
fn env() -> Vec<(String, String)> {
    let engine = crate::builtin_unlimited();
    let mut names: Vec<String> = engine
        .iter()
        .flat_map(|l| crate::test_scheme(&l.provider.auth).env_names())
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            let value = crate::credential_value(&name, &format!("sandbox-Secret-{}", i + 1));
            (name, value)
        })
        .collect()
}

/// `unitask sandbox --port 0` in its own process, killed when dropped. Its output is drained by
/// a thread, so the request log never fills the pipe.
struct SandboxProcess {
    child: Child,
    url: String,
    log: Option<std::thread::JoinHandle<String>>,
}

impl SandboxProcess {
    fn start() -> SandboxProcess {
        SandboxProcess::start_with(&[]).0
    }

    /// The sandbox with more arguments, and its whole banner.
    fn start_with(extra: &[&str]) -> (SandboxProcess, String) {
        let mut child = Command::cargo_bin("unitask")
            .expect("binary")
            .args(["sandbox", "--port", "0", "--slow", "1s"])
            .args(crate::unlimited_flags())
            .args(extra)
            // The secrets the clients sign with: the sandbox checks against them.
            .envs(env())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("sandbox starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut banner = String::new();
        while !banner.contains("log (Ctrl-C stops):") {
            let read = stdout.read_line(&mut banner).expect("banner");
            assert!(read > 0, "the sandbox stopped: {banner}");
        }
        let first = banner.lines().next().unwrap_or_default();
        let url = first.trim().rsplit(' ').next().expect("url").to_owned();
        assert!(url.starts_with("http://127.0.0.1:"), "{banner}");
        let log = std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = std::io::Read::read_to_string(&mut stdout, &mut rest);
            rest
        });
        let process = SandboxProcess {
            child,
            url,
            log: Some(log),
        };
        (process, banner)
    }

    /// Its exit code and the rest of its output, after a Ctrl-C.
    fn interrupt(mut self) -> (Option<i32>, String) {
        signal(self.child.id(), "INT");
        let status = wait(&mut self.child, Duration::from_secs(15));
        let log = self
            .log
            .take()
            .map(|log| log.join().unwrap_or_default())
            .unwrap_or_default();
        (status, log)
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signal(pid: u32, name: &str) {
    let sent = Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
}

/// Waits for `child` at most `limit`; kills it past that.
fn wait(child: &mut Child, limit: Duration) -> Option<i32> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.code();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn unitask() -> assert_cmd::Command {
    let mut command = assert_cmd::Command::cargo_bin("unitask").expect("binary");
    command
        .envs(env())
        .env_remove("RUST_LOG")
        .timeout(Duration::from_secs(60));
    command
}

fn quick_watch(url: &str) -> Vec<String> {
    [
        "watch",
        "--json",
        "--interval",
        "20ms",
        "--max-interval",
        "100ms",
        "--request-timeout",
        "300ms",
        "--base-url",
        &format!("{url}/{{provider}}"),
    ]
    .map(String::from)
    .into_iter()
    .chain(crate::unlimited_flags())
    .collect()
}

fn lines(output: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Every scenario and fault of every seed provider, three times each, from one `--from` file:
/// each task is reported done exactly once, where the plan says it ends, and the summary counts
/// them all. The credentials never reach watch's output or log (at trace) or the sandbox's log.
#[test]
fn watch_from_a_file_follows_every_scenario_and_fault_to_its_end() {
    let sandbox = SandboxProcess::start();
    let engine = crate::builtin_unlimited();
    let providers: Vec<_> = engine.iter().map(|l| l.provider.clone()).collect();
    let plans = Sandbox::new(&providers, unitask::sandbox::Options::default());
    let mut list = String::from("# provider,task_id[,name=value…]\n");
    let mut expected = std::collections::HashMap::new();
    for plan in plans.plans() {
        let params: String = plan
            .provider
            .sample_inputs()
            .iter()
            .map(|(n, v)| format!(",{n}={v}"))
            .collect();
        for track in &plan.tracks {
            if !matches!(track.kind, TrackKind::Scenario | TrackKind::Fault(_)) {
                continue;
            }
            for n in 1..=3 {
                let id = track.fresh_id(n).expect("a fresh id");
                list.push_str(&format!("{},{id}{params}\n", plan.provider.id));
                let end = match track.expected_end(watch::is_transient) {
                    Outcome::Task { state, .. } => state.to_string(),
                    Outcome::Error { .. } => "error".into(),
                };
                expected.insert((plan.provider.id.clone(), id), end);
            }
        }
    }
    // A repeated line is watched once.
    list.push_str("hubspot,import-succeeds-1\n");
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), &list).expect("list written");
    // At trace level every crate logs what it does: a secret must not be among it.
    let output = unitask()
        .args(quick_watch(&sandbox.url))
        .arg("--from")
        .arg(file.path())
        .env("RUST_LOG", "trace")
        .output()
        .expect("watch runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("watched once"), "{stderr}");
    // Some tasks end in a request error (an upload that expired, an envelope that says failure).
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let events = lines(&output.stdout);
    let mut done = std::collections::HashMap::new();
    for event in events.iter().filter(|e| e["event"] == "done") {
        let key = (
            event["provider"].as_str().unwrap_or_default().to_owned(),
            event["task_id"].as_str().unwrap_or_default().to_owned(),
        );
        let ending = event["ending"].as_str().unwrap_or_default().to_owned();
        assert!(
            done.insert(key.clone(), ending).is_none(),
            "{key:?} done twice"
        );
    }
    assert_eq!(done, expected);
    let summary = events.last().expect("summary");
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["tasks"], expected.len());
    assert!(
        stderr.contains(&format!("{} task(s)", expected.len())),
        "{stderr}"
    );
    assert!(stderr.contains("TRACE"), "logs at trace");
    for (_, secret) in env() {
        assert!(!String::from_utf8_lossy(&output.stdout).contains(secret.as_str()));
        assert!(!stderr.contains(secret.as_str()), "{secret} in watch's log");
    }
    let (status, log) = sandbox.interrupt();
    assert_eq!(status, Some(0), "{log}");
    assert!(log.contains("stopped after"), "{log}");
    assert!(
        log.contains("access_token=***"),
        "the query credential is masked: {log}"
    );
    for (_, secret) in env() {
        assert!(
            !log.contains(secret.as_str()),
            "{secret} in the sandbox log"
        );
    }
}

/// `unitask status` walks each scenario one step per call, through the real binary.
#[test]
fn status_walks_every_scenario_step_by_step() {
    let sandbox = SandboxProcess::start();
    let engine = crate::builtin_unlimited();
    for loaded in engine.iter() {
        let provider = &loaded.provider;
        let plan = unitask::sandbox::ProviderPlan::new(provider, Duration::from_secs(1), 16);
        for scenario in &provider.scenarios {
            // An id of its own, so no other test's polls advance it.
            let track = plan
                .tracks
                .iter()
                .find(|t| t.name == scenario.name)
                .expect("the scenario's track");
            let task = track.fresh_id(7).expect("a fresh id");
            for &step in &scenario.steps {
                let mut command = unitask();
                command
                    .args(["status", &provider.id, &task, "--json", "--base-url"])
                    .arg(format!("{}/{}", sandbox.url, provider.id));
                for (name, value) in provider.sample_inputs() {
                    command.arg("--param").arg(format!("{name}={value}"));
                }
                let output = command.output().expect("status runs");
                let answer: Value = serde_json::from_slice(&output.stdout).expect("json");
                match &provider.examples[step].expect {
                    unitask::model::Expectation::Task(expected) => {
                        assert_eq!(
                            output.status.code(),
                            Some(0),
                            "{} {task}: {}",
                            provider.id,
                            String::from_utf8_lossy(&output.stderr)
                        );
                        assert_eq!(answer["state"], expected["state"], "{task}");
                        assert_eq!(answer["id"], Value::from(task.clone()));
                    }
                    unitask::model::Expectation::Error(expected) => {
                        assert_eq!(output.status.code(), Some(1));
                        assert_eq!(answer["error"]["kind"], expected.kind.as_str(), "{task}");
                    }
                }
            }
        }
    }
}

/// Exit codes: 0 all succeeded, 3 a task failed, 4 timed out, 1 a request error, 130 Ctrl-C
/// (with the summary still printed); usage errors are 2 and send nothing.
#[test]
fn watch_exit_codes_say_how_tasks_ended() {
    let sandbox = SandboxProcess::start();
    let cases: [(&[&str], i32); 4] = [
        (&["hubspot", "import-succeeds-5", "fault-server-error-5"], 0),
        (&["hubspot", "import-fails-5"], 3),
        (&["hubspot", "example-processing-5", "--timeout", "1s"], 4),
        (&["hubspot", "example-not-found-5"], 1),
    ];
    for (args, code) in cases {
        let output = unitask()
            .args(quick_watch(&sandbox.url))
            .args(args)
            .output()
            .expect("watch runs");
        assert_eq!(
            output.status.code(),
            Some(code),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // A task named twice, once with its input in the file and once through --param, is one task.
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(
        file.path(),
        "tencent-smh,multipart-upload-confirmed-9\ntencent-smh,multipart-upload-confirmed-9,library_id=smh0123456789abc\n",
    )
    .expect("list written");
    let output = unitask()
        .args(quick_watch(&sandbox.url))
        .arg("--from")
        .arg(file.path())
        .args(["--param", "library_id=smh0123456789abc"])
        .output()
        .expect("watch runs");
    assert_eq!(output.status.code(), Some(0));
    let done = lines(&output.stdout)
        .iter()
        .filter(|e| e["event"] == "done")
        .count();
    assert_eq!(done, 1);

    // Bad inputs are refused before anything is sent: usage errors.
    for args in [
        &["hubspot", "import-succeeds-6", "--param", "nope=1"][..],
        &["hubspot", "bad/id"][..],
        &["tencent-smh", "multipart-upload-confirmed-6"][..],
    ] {
        let output = unitask()
            .args(quick_watch(&sandbox.url))
            .args(args)
            .output()
            .expect("watch runs");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("nothing was sent"),
            "{args:?}"
        );
    }
    let missing = unitask()
        .env_remove("HUBSPOT_ACCESS_TOKEN")
        .args(quick_watch(&sandbox.url))
        .args(["hubspot", "import-succeeds-7"])
        .output()
        .expect("watch runs");
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("HUBSPOT_ACCESS_TOKEN"));

    let mut watching = Command::cargo_bin("unitask")
        .expect("binary")
        .envs(env())
        .args(quick_watch(&sandbox.url))
        .args(["hubspot", "example-processing-8", "import-succeeds-8"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("watch starts");
    // Ctrl-C once the finite task is done (its line is out, so the handler is installed).
    let (lines_out, lines_in) = std::sync::mpsc::channel::<String>();
    let stdout = BufReader::new(watching.stdout.take().expect("stdout"));
    let reader = std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            let _ = lines_out.send(line);
        }
    });
    let mut out = String::new();
    let started = Instant::now();
    while !out.contains(r#""event":"done""#) {
        let line = lines_in
            .recv_timeout(Duration::from_secs(30).saturating_sub(started.elapsed()))
            .expect("the finite task ends");
        out.push_str(&line);
        out.push('\n');
    }
    signal(watching.id(), "INT");
    assert_eq!(wait(&mut watching, Duration::from_secs(10)), Some(130));
    let _ = reader.join();
    out.extend(lines_in.try_iter().map(|l| l + "\n"));
    let events = lines(out.as_bytes());
    let done: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "done")
        .filter_map(|e| e["ending"].as_str())
        .collect();
    assert_eq!(done.len(), 2, "{out}");
    assert!(
        done.contains(&"interrupted") && done.contains(&"succeeded"),
        "{out}"
    );
    assert_eq!(
        events.last().map(|e| e["exit_code"].clone()),
        Some(Value::from(130))
    );
}

/// The README's first command: every provider's lifecycles and faults end as expected.
#[test]
fn the_demo_runs_every_provider_to_its_expected_end() {
    let output = unitask()
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .arg("demo")
        .output()
        .expect("demo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    for id in ["church-tech", "hubspot", "shoplazza", "tencent-smh"] {
        assert!(stdout.contains(id), "{id} missing: {stdout}");
    }
    assert!(
        stdout.contains("fault-slow-1") && !stdout.contains('✘'),
        "{stdout}"
    );
}

/// `GET` on the sandbox, over a plain socket: the body.
fn http_get(url: &str) -> String {
    use std::io::{Read, Write};
    let parsed = url::Url::parse(url).expect("url");
    let mut stream = std::net::TcpStream::connect((
        parsed.host_str().expect("host"),
        parsed.port().expect("port"),
    ))
    .expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let target = match parsed.query() {
        Some(query) => format!("{}?{query}", parsed.path()),
        None => parsed.path().to_owned(),
    };
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .expect("sends");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("reads");
    answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default()
}

/// Definitions whose task ids look like real providers' (each realistic pattern), served from
/// files: the banner's "try" lines, pasted as they are in another folder, watch their tasks to
/// the end; `GET /` lists, for every track, the same ids the plan gives in-process (the same
/// definition always gets the same ids); and `status` reaches every track by the id listed,
/// answering its first step.
#[test]
fn tightened_definitions_are_reachable_through_the_binary() {
    for (round, pattern) in crate::sandbox::REALISTIC_PATTERNS.iter().enumerate() {
        let engine = crate::sandbox::tightened_engine(pattern);
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, text) in crate::sandbox::tightened_definitions(pattern) {
            std::fs::write(dir.path().join(name), text).expect("written");
        }
        let folder = dir.path().to_str().expect("utf-8 path");
        let (sandbox, banner) = SandboxProcess::start_with(&["--definitions", folder]);
        let tries: Vec<&str> = banner
            .lines()
            .skip_while(|l| *l != "try:")
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            .collect();
        assert!(!tries.is_empty(), "{banner}");
        let elsewhere = tempfile::tempdir().expect("another folder");
        for line in &tries {
            assert!(line.contains(&format!("--definitions {folder}")), "{line}");
            let output = Command::new("sh")
                .arg("-c")
                .arg(format!("{} --json", line.trim()))
                .current_dir(elsewhere.path())
                .output()
                .expect("the try line runs");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                matches!(output.status.code(), Some(0 | 3)),
                "{pattern}: {line}\n{stderr}"
            );
            // `… watch --options… <provider> <id>...`: one `done` per id. Options take one value.
            let words: Vec<&str> = line.split_whitespace().collect();
            let mut at = words
                .iter()
                .position(|w| *w == "watch")
                .expect("a watch line")
                + 1;
            while words[at].starts_with("--") {
                at += if words[at] == "--" { 1 } else { 2 };
            }
            let ids = words.len() - at - 1;
            let done = lines(&output.stdout)
                .iter()
                .filter(|e| e["event"] == "done")
                .count();
            assert!(ids > 0 && done == ids, "{line}: {done} done");
        }
        let catalog: Value =
            serde_json::from_str(&http_get(&format!("{}/?ids=5", sandbox.url))).expect("catalogue");
        let providers: Vec<_> = engine.iter().map(|l| l.provider.clone()).collect();
        let plans = Sandbox::new(&providers, unitask::sandbox::Options::default());
        for plan in plans.plans() {
            let listed = catalog["providers"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["id"] == plan.provider.id.as_str())
                .expect("listed");
            for (track, shown) in plan
                .tracks
                .iter()
                .zip(listed["tracks"].as_array().expect("tracks"))
            {
                assert_eq!(shown["name"], track.name.as_str());
                assert_eq!(shown["task_id"], Value::from(track.first_id()), "{pattern}");
                let fresh: Vec<String> = (1..=5).map_while(|n| track.fresh_id(n)).collect();
                assert_eq!(shown["ids"], serde_json::json!(fresh), "{pattern}");
                assert!(shown["unreachable"].is_null());
                // One pattern is enough to walk every track through `status`.
                if round > 0 {
                    continue;
                }
                let id = track.fresh_id(2).expect("a fresh id");
                let mut command = unitask();
                command
                    .args([
                        "status",
                        &plan.provider.id,
                        &id,
                        "--json",
                        "--max-attempts",
                        "1",
                        "--timeout",
                        "1",
                    ])
                    .arg("--definitions")
                    .arg(folder)
                    .arg("--base-url")
                    .arg(format!("{}/{}", sandbox.url, plan.provider.id));
                for (name, value) in plan.provider.sample_inputs() {
                    command.arg("--param").arg(format!("{name}={value}"));
                }
                // The same secrets as the sandbox: the environment's where it has them, else
                // its placeholders.
                let given = env();
                let placeholders = crate::sandbox_credentials(&plan.provider);
                for name in crate::test_scheme(&plan.provider.auth).env_names() {
                    let value = given
                        .iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| v.clone())
                        .or_else(|| placeholders.value(name).map(str::to_owned))
                        .unwrap_or_default();
                    command.env(name, value);
                }
                let output = command.output().expect("status runs");
                let answer: Value = serde_json::from_slice(&output.stdout)
                    .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)));
                let label = format!("{pattern}: {} {} ({id})", plan.provider.id, track.name);
                match track.steps[0].outcome {
                    Outcome::Task { state, .. } => {
                        assert_eq!(answer["state"], state.as_str(), "{label}: {answer}");
                    }
                    Outcome::Error { kind, .. } => {
                        assert_eq!(answer["error"]["kind"], kind.as_str(), "{label}: {answer}");
                    }
                }
            }
        }
        drop(sandbox);
    }
}

/// `watch --store`, killed with SIGKILL a third of the way through and run again with the store
/// alone: every task ends exactly once in the store's journal, where its plan says; no task is
/// reported done by both runs; no change is journaled twice in a row.
#[test]
fn a_watch_with_a_store_killed_midway_resumes_from_the_store() {
    let sandbox = SandboxProcess::start();
    let engine = crate::builtin_unlimited();
    let providers: Vec<_> = engine.iter().map(|l| l.provider.clone()).collect();
    let plans = Sandbox::new(&providers, unitask::sandbox::Options::default());
    let mut list = String::new();
    let mut expected = std::collections::HashMap::new();
    for plan in plans.plans() {
        let params: String = plan
            .provider
            .sample_inputs()
            .iter()
            .map(|(n, v)| format!(",{n}={v}"))
            .collect();
        for track in &plan.tracks {
            if !matches!(track.kind, TrackKind::Scenario | TrackKind::Fault(_)) {
                continue;
            }
            for n in 1..=2 {
                let id = track.fresh_id(n).expect("a fresh id");
                list.push_str(&format!("{},{id}{params}\n", plan.provider.id));
                let end = match track.expected_end(watch::is_transient) {
                    Outcome::Task { state, .. } => state.to_string(),
                    Outcome::Error { .. } => "error".into(),
                };
                expected.insert((plan.provider.id.clone(), id), end);
            }
        }
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let list_file = dir.path().join("tasks.csv");
    std::fs::write(&list_file, &list).expect("list written");
    let store = dir.path().join("watch.db");
    let mut first = Command::cargo_bin("unitask")
        .expect("binary")
        .args(quick_watch(&sandbox.url))
        .arg("--store")
        .arg(&store)
        .arg("--from")
        .arg(&list_file)
        .envs(env())
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("watch starts");
    let mut done_first = Vec::new();
    {
        let stdout = BufReader::new(first.stdout.take().expect("stdout"));
        for line in stdout.lines() {
            let line = line.expect("a line");
            let event: Value = serde_json::from_str(&line).expect("JSON");
            if event["event"] == "done" {
                done_first.push((
                    event["provider"].as_str().unwrap_or_default().to_owned(),
                    event["task_id"].as_str().unwrap_or_default().to_owned(),
                ));
                if done_first.len() >= expected.len() / 3 {
                    break;
                }
            }
        }
    }
    // SIGKILL: no clean-up, leases left held.
    first.kill().expect("killed");
    let _ = first.wait();
    assert!(done_first.len() >= expected.len() / 3);
    let second = unitask()
        .args(quick_watch(&sandbox.url))
        .arg("--store")
        .arg(&store)
        .timeout(Duration::from_secs(120))
        .output()
        .expect("watch runs again");
    let stderr = String::from_utf8_lossy(&second.stderr);
    // How this run's tasks ended: some with a request error or a failed task, none cut short.
    assert!(
        matches!(second.status.code(), Some(1 | 3)),
        "{:?} {stderr}",
        second.status
    );
    for event in lines(&second.stdout)
        .iter()
        .filter(|e| e["event"] == "done")
    {
        let key = (
            event["provider"].as_str().unwrap_or_default().to_owned(),
            event["task_id"].as_str().unwrap_or_default().to_owned(),
        );
        assert!(!done_first.contains(&key), "{key:?} done in both runs");
    }
    // The store's journal: each task ended once, where its plan says.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let store = unitask::track::Store::open(&store.display().to_string())
            .await
            .expect("store");
        let journal = crate::tracking::journal(&store).await;
        assert_eq!(journal.len(), expected.len());
        for ((provider, task_id), ending) in &expected {
            let events = &journal[&(provider.clone(), task_id.clone())];
            let ends: Vec<_> = events.iter().filter(|(k, _)| k == "task.ended").collect();
            assert_eq!(ends.len(), 1, "{provider} {task_id}: {events:?}");
            let record = store
                .get(provider, task_id)
                .await
                .expect("get")
                .expect("tracked");
            assert_eq!(record.ending.as_ref(), Some(ending), "{provider} {task_id}");
            let changes: Vec<_> = events.iter().filter(|(k, _)| k == "task.changed").collect();
            for pair in changes.windows(2) {
                assert_ne!(pair[0], pair[1], "{provider} {task_id}: {events:?}");
            }
        }
        assert_eq!(store.counts().await.expect("counts").0, 0);
    });
}

/// `unitask serve` in its own process on `store`, polling the sandbox process at `sandbox`;
/// killed when dropped.
struct ServeProcess {
    child: Child,
    addr: String,
}

impl ServeProcess {
    fn start(sandbox: &str, store: &str, secret: &str) -> ServeProcess {
        let mut child = Command::cargo_bin("unitask")
            .expect("binary")
            .args([
                "serve",
                "--port",
                "0",
                "--store",
                store,
                "--interval",
                "20ms",
                "--max-interval",
                "100ms",
                "--request-timeout",
                "300ms",
                "--heartbeat",
                "200ms",
                "--webhook-retry",
                "50ms",
                "--base-url",
                &format!("{sandbox}/{{provider}}"),
            ])
            .args(crate::unlimited_flags())
            .envs(env())
            .env("UNITASK_WEBHOOK_SECRET", secret)
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut banner = String::new();
        let read = stdout.read_line(&mut banner).expect("banner");
        assert!(read > 0, "serve stopped before listening");
        let addr = banner
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {banner:?}"))
            .to_owned();
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        ServeProcess { child, addr }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every scenario and fault of every provider, with the ending its plan gives (a state, or
/// `error`), as JSON registrations for `serve` posting to `callback`.
fn registrations(
    callback: &str,
) -> (
    Vec<Value>,
    std::collections::HashMap<(String, String), String>,
) {
    let engine = crate::builtin_unlimited();
    let providers: Vec<_> = engine.iter().map(|l| l.provider.clone()).collect();
    let plans = Sandbox::new(&providers, unitask::sandbox::Options::default());
    let mut bodies = Vec::new();
    let mut expected = std::collections::HashMap::new();
    for plan in plans.plans() {
        let inputs: std::collections::BTreeMap<String, String> =
            plan.provider.sample_inputs().into_iter().collect();
        for track in &plan.tracks {
            if !matches!(track.kind, TrackKind::Scenario | TrackKind::Fault(_)) {
                continue;
            }
            let id = track.fresh_id(1).expect("a fresh id");
            let end = match track.expected_end(watch::is_transient) {
                Outcome::Task {
                    terminal: false, ..
                } => continue,
                Outcome::Task { state, .. } => state.to_string(),
                Outcome::Error { .. } => "error".into(),
            };
            bodies.push(serde_json::json!({
                "provider": plan.provider.id,
                "task_id": id,
                "inputs": inputs,
                "callback_url": callback,
            }));
            expected.insert((plan.provider.id.clone(), id), end);
        }
    }
    (bodies, expected)
}

/// Tasks ended so far, as the service lists them (every page).
async fn ended(client: &reqwest::Client, addr: &str) -> usize {
    let mut count = 0;
    let mut after = 0;
    loop {
        let Ok(response) = client
            .get(format!(
                "http://{addr}/v1/tasks?ended=true&limit=1000&after={after}"
            ))
            .send()
            .await
        else {
            return count;
        };
        let page: Value = response.json().await.unwrap_or(Value::Null);
        count += page["tasks"].as_array().map_or(0, Vec::len);
        match page["next"].as_i64() {
            Some(next) => after = next,
            None => return count,
        }
    }
}

/// Kills serve workers with SIGKILL a third of the way through, and checks what the store and a
/// webhook receiver saw once `survivors` finished: every task ended once in the journal, where
/// its plan says, and every journaled event was delivered (and signed).
fn killed_workers_lose_nothing(store: &str, two_workers: bool) {
    let sandbox = SandboxProcess::start();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let secret = unitask::serve::WebhookSecret::random();
    let (receiver, callback) =
        runtime.block_on(crate::serve::Receiver::start(secret.clone(), false, false));
    let (bodies, expected) = registrations(&callback);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let doomed = ServeProcess::start(&sandbox.url, store, &secret.expose());
    let survivor = two_workers.then(|| ServeProcess::start(&sandbox.url, store, &secret.expose()));
    runtime.block_on(async {
        for body in &bodies {
            let response = client
                .post(format!("http://{}/v1/tasks", doomed.addr))
                .json(body)
                .send()
                .await
                .expect("POST");
            assert_eq!(response.status(), 201);
        }
        let started = Instant::now();
        while ended(&client, &doomed.addr).await < bodies.len() / 3 {
            assert!(started.elapsed() < Duration::from_secs(60), "no progress");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    drop(doomed);
    // One worker goes on, or (SQLite) the same one starts again on its file.
    let survivor =
        survivor.unwrap_or_else(|| ServeProcess::start(&sandbox.url, store, &secret.expose()));
    runtime.block_on(async {
        let started = Instant::now();
        while ended(&client, &survivor.addr).await < bodies.len() {
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "{} of {} ended",
                ended(&client, &survivor.addr).await,
                bodies.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let store = unitask::track::Store::open(store).await.expect("store");
        let started = Instant::now();
        loop {
            let pending = store
                .deliveries(Some("pending"), 0, 10)
                .await
                .expect("deliveries");
            if pending.is_empty() {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "{pending:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let journal = crate::tracking::journal(&store).await;
        assert_eq!(journal.len(), expected.len());
        for ((provider, task_id), ending) in &expected {
            let events = &journal[&(provider.clone(), task_id.clone())];
            let ends = events.iter().filter(|(k, _)| k == "task.ended").count();
            assert_eq!(ends, 1, "{provider} {task_id}: {events:?}");
            let record = store
                .get(provider, task_id)
                .await
                .expect("get")
                .expect("tracked");
            assert_eq!(record.ending.as_ref(), Some(ending), "{provider} {task_id}");
        }
        let events: usize = journal.values().map(Vec::len).sum();
        receiver.seen(|seen| {
            assert_eq!(seen.forged, 0);
            assert_eq!(seen.attempts.len(), events, "every event's webhook arrived");
        });
    });
    let mut survivor = survivor;
    signal(survivor.child.id(), "TERM");
    assert_eq!(wait(&mut survivor.child, Duration::from_secs(15)), Some(0));
}

/// `serve` on SQLite killed with SIGKILL mid-watch and started again on its file.
#[test]
fn a_serve_killed_and_restarted_on_its_sqlite_file_loses_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    killed_workers_lose_nothing(&crate::tracking::temp_store_url(&dir), false);
}

/// Two `serve` workers on one PostgreSQL database, one killed with SIGKILL mid-watch.
#[test]
fn two_serve_workers_on_postgres_one_killed_lose_nothing() {
    let cluster = crate::postgres::Cluster::start();
    killed_workers_lose_nothing(&cluster.url(), true);
}
