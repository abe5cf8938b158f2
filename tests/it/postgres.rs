//! A throwaway PostgreSQL cluster for one test: `initdb` in a temporary folder, the server on
//! a free loopback port (and its socket in the folder), stopped and removed when dropped. As
//! root it runs as Debian's `postgres` user (PostgreSQL refuses root). `.ci/run` installs
//! Debian's `postgresql` package; without it the tests fail saying so, never skip.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    /// `Some("postgres")` when the server runs as that user (the tests run as root).
    user: Option<&'static str>,
}

impl Cluster {
    /// Starts a cluster; panics with what to install if PostgreSQL is missing.
    pub fn start() -> Cluster {
        let bin = binaries().unwrap_or_else(|| {
            panic!(
                "PostgreSQL's initdb and pg_ctl are not installed: run .ci/run (it installs \
                 Debian's `postgresql` package), or `apt-get install postgresql`"
            )
        });
        let root = is_root();
        let user = root.then_some("postgres");
        let dir = tempfile::Builder::new()
            .prefix("unitask-pg-")
            .tempdir()
            .expect("a temporary folder");
        let data = dir.path().join("data");
        if root {
            // The server's user must own its folder.
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown runs");
            assert!(
                status.success(),
                "cannot give the folder to the postgres user"
            );
        }
        let port = free_port();
        let cluster = Cluster {
            dir,
            bin,
            port,
            user,
        };
        cluster.run(
            "initdb",
            &[
                "-D",
                &data.display().to_string(),
                "-U",
                "unitask",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ],
        );
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            cluster.dir.path().display()
        );
        cluster.run(
            "pg_ctl",
            &[
                "-D",
                &data.display().to_string(),
                "-l",
                &cluster.dir.path().join("server.log").display().to_string(),
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        cluster
    }

    /// The URL of database `postgres` as the cluster's superuser.
    pub fn url(&self) -> String {
        format!("postgres://unitask@127.0.0.1:{}/postgres", self.port)
    }

    fn run(&self, program: &str, args: &[&str]) {
        let path = self.bin.join(program);
        let output = match self.user {
            Some(user) => Command::new("runuser")
                .args(["-u", user, "--"])
                .arg(&path)
                .args(args)
                .current_dir(self.dir.path())
                .output(),
            None => Command::new(&path).args(args).output(),
        }
        .unwrap_or_else(|e| panic!("{} does not run: {e}", path.display()));
        let log = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        assert!(
            output.status.success(),
            "{program} failed: {}{}\n{log}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.dir.path().join("data").display().to_string();
        let path = self.bin.join("pg_ctl");
        let args = ["-D", data.as_str(), "-m", "immediate", "-w", "stop"];
        let _ = match self.user {
            Some(user) => Command::new("runuser")
                .args(["-u", user, "--"])
                .arg(&path)
                .args(args)
                .output(),
            None => Command::new(&path).args(args).output(),
        };
    }
}

/// The folder of `initdb` and `pg_ctl`: Debian keeps them off the PATH, in
/// `/usr/lib/postgresql/<version>/bin` (the newest is taken).
fn binaries() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("initdb").is_file() && bin.join("pg_ctl").is_file())
        .collect();
    versions.sort_by_key(|bin| {
        bin.parent()
            .and_then(Path::file_name)
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    versions.pop().or_else(|| {
        std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
        })
    })
}

fn is_root() -> bool {
    let output = Command::new("id").arg("-u").output().expect("id runs");
    String::from_utf8_lossy(&output.stdout).trim() == "0"
}

/// A loopback port nobody listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}
