//! Programs run as processes by the tests: the workspace's examples, built on
//! first use, and a handle on a running one that reads its output line by
//! line (readiness from its own log lines, no sleeps), sends it SIGINT and
//! waits for its exit. Each process is SIGKILLed on drop and has a
//! [`Watchdog`], so none outlives the test process.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::watch;

use super::watchdog::Watchdog;

/// The upper bound on anything these helpers wait for.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The binary of the workspace example `name`, built by `cargo build
/// --example name` (once per test process) into this test binary's own
/// target dir and profile, so it is the code under test, never a stale
/// copy. (`cargo test` alone builds the examples too, but `cargo test --test
/// NAME` does not.)
pub fn example(name: &str) -> PathBuf {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let exe = std::env::current_exe().expect("this test binary");
    // <target dir>/<profile>/deps/<test binary>
    let profile_dir = exe.parent().and_then(Path::parent).expect("a profile dir");
    let target_dir = profile_dir.parent().expect("a target dir");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev".to_owned(),
        Some(other) => other.to_owned(),
        None => panic!("no profile in {}", profile_dir.display()),
    };
    let binary = profile_dir.join("examples").join(name);
    let mut built = BUILT.lock().unwrap_or_else(PoisonError::into_inner);
    if !built.iter().any(|b| b == name) {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        let mut command = std::process::Command::new(cargo);
        // What cargo sets for the test process it runs describes this
        // package; passed on, it would differ from what the outer cargo saw
        // (build scripts such as ring's rerun on `CARGO_PKG_NAME`,
        // `CARGO_MANIFEST_DIR`...), and the nested build would rebuild
        // half the dependency tree.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            let set_for_tests = key.starts_with("CARGO_PKG_")
                || ["CARGO_MANIFEST_DIR", "CARGO_MANIFEST_PATH", "CARGO_MANIFEST_LINKS", "CARGO_CRATE_NAME"]
                    .contains(&&*key)
                || ["CARGO_BIN_NAME", "CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR", "OUT_DIR"].contains(&&*key);
            if set_for_tests {
                command.env_remove(&*key);
            }
        }
        let out = command
            .args(["build", "--quiet", "--example", name, "--profile", &profile])
            .arg("--manifest-path")
            .arg(manifest)
            .arg("--target-dir")
            .arg(target_dir)
            .stdin(Stdio::null())
            .output()
            .expect("runs cargo");
        assert!(out.status.success(), "cargo build --example {name} failed:\n{}", String::from_utf8_lossy(&out.stderr));
        built.push(name.to_owned());
    }
    assert!(binary.exists(), "no example binary at {}", binary.display());
    binary
}

/// A running program: its output lines (stdout and stderr, as they come),
/// its stdin, and its exit.
pub struct Spawned {
    child: Child,
    pid: u32,
    watchdog: Option<Watchdog>,
    stdin: Option<ChildStdin>,
    lines: watch::Receiver<Vec<String>>,
    /// The tasks reading its stdout and stderr, until they close.
    readers: Vec<tokio::task::JoinHandle<()>>,
    status: Option<ExitStatus>,
}

impl Spawned {
    /// Starts `command` with piped stdin, stdout and stderr.
    pub fn start(mut command: Command) -> Spawned {
        let mut child = command
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawns the program");
        let pid = child.id().expect("a running child");
        let watchdog = Some(Watchdog::guard(pid, None));
        let (tx, lines) = watch::channel(Vec::new());
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let readers = vec![tokio::spawn(collect(stdout, tx.clone())), tokio::spawn(collect(stderr, tx))];
        let stdin = child.stdin.take();
        Spawned { child, pid, watchdog, stdin, lines, readers, status: None }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Everything it printed so far, for failure messages.
    pub fn output(&self) -> String {
        self.lines.borrow().join("\n")
    }

    /// The first line it printed that contains `needle` (waiting for it).
    pub async fn line(&mut self, needle: &str) -> String {
        self.lines_containing(needle, 1).await.remove(0)
    }

    /// The first `n` lines it printed that contain `needle` (waiting for them).
    pub async fn lines_containing(&mut self, needle: &str, n: usize) -> Vec<String> {
        let found = |lines: &Vec<String>| lines.iter().filter(|l| l.contains(needle)).count() >= n;
        let found = {
            let lines = &mut self.lines;
            match tokio::time::timeout(PATIENCE, lines.wait_for(found)).await {
                Ok(Ok(lines)) => Some(lines.iter().filter(|l| l.contains(needle)).take(n).cloned().collect()),
                _ => None,
            }
        };
        match found {
            Some(found) => found,
            None if self.has_exited() => {
                panic!(
                    "exited ({:?}) before printing {n} line(s) with {needle:?}; output:\n{}",
                    self.status,
                    self.output()
                )
            }
            None => panic!("no {n} line(s) with {needle:?} within {PATIENCE:?}; output:\n{}", self.output()),
        }
    }

    /// The address in its log line `<prefix><addr>` (e.g. `listening on
    /// http://`), once it printed it.
    pub async fn addr_after(&mut self, prefix: &str) -> std::net::SocketAddr {
        let line = self.line(prefix).await;
        let rest = &line[line.find(prefix).expect("the prefix") + prefix.len()..];
        let addr: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || ".:[]".contains(*c)).collect();
        addr.parse().unwrap_or_else(|e| panic!("no address in {line:?}: {e}"))
    }

    /// Writes `line` to its stdin.
    pub async fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(format!("{line}\n").as_bytes()).await.expect("writes to stdin");
        stdin.flush().await.expect("flushes stdin");
    }

    /// Sends SIGINT (what Ctrl-C in a terminal sends).
    pub fn interrupt(&self) {
        let status =
            std::process::Command::new("kill").args(["-INT", &self.pid.to_string()]).status().expect("runs kill");
        assert!(status.success(), "kill -INT {} failed", self.pid);
    }

    /// Whether it has exited (without waiting).
    pub fn has_exited(&mut self) -> bool {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("try_wait");
            self.reaped();
        }
        self.status.is_some()
    }

    /// Waits (at most `limit`) for it to exit; its status, or `None` if it
    /// still runs. Once it has exited, everything it printed is in
    /// [`Self::output`]: the readers are awaited to the end of its pipes (an
    /// exit can come before the last lines are read).
    pub async fn exit_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        if self.status.is_none() {
            if let Ok(status) = tokio::time::timeout(limit, self.child.wait()).await {
                self.status = Some(status.expect("waits for the child"));
                self.reaped();
                for reader in self.readers.drain(..) {
                    let _ = tokio::time::timeout(limit, reader).await;
                }
            }
        }
        self.status
    }

    /// Once it is reaped, its pid may go to another process: the watchdog
    /// must not kill it any more.
    fn reaped(&mut self) {
        if self.status.is_some() {
            self.watchdog.take();
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if self.status.is_none() {
            // Still unreaped, so the pid is still its own.
            let _ = self.child.start_kill();
        }
        // Disarmed before tokio reaps it (kill_on_drop).
        self.watchdog.take();
    }
}

/// Sends every line read from `from` to `to`, until the end of the stream.
async fn collect(from: impl AsyncRead + Unpin, to: watch::Sender<Vec<String>>) {
    let mut lines = BufReader::new(from).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        to.send_modify(|all| all.push(line));
    }
}
