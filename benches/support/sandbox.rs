//! What the benchmarks that poll a sandbox share: `unitask sandbox` in its own process, so the
//! CPU and memory a benchmark measures in its own process are the poller's alone.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// `unitask sandbox --port 0` in its own process, killed when dropped. It plays HubSpot on a
/// plan with no rate limit (`--rate-limit hubspot=none`): these benchmarks measure the CPU and
/// memory of polling, not the pace of 100 requests per 10 s (`rate_limit` measures pacing).
pub struct SandboxProcess {
    child: Child,
    /// Its base URL, without a trailing slash (each provider is under `/<id>`).
    pub url: String,
}

impl SandboxProcess {
    pub fn start() -> SandboxProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_unitask"))
            .args(["sandbox", "--port", "0", "--quiet"])
            .args(["--rate-limit", "hubspot=none"])
            // The token the benchmarks send: the sandbox checks it where HubSpot puts it.
            .env("HUBSPOT_ACCESS_TOKEN", "bench")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the sandbox starts");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut banner = String::new();
        while !banner.contains("listening on") {
            if out.read_line(&mut banner).expect("banner") == 0 {
                panic!("the sandbox stopped: {banner}");
            }
        }
        // Its log is drained, so a full pipe never stalls it.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        let url = banner
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .expect("a URL")
            .trim_end_matches('/')
            .to_owned();
        SandboxProcess { child, url }
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
