//! A process that a test starts must not outlive the test process, however
//! that ends: a panic or a failed assert (drop runs), a timeout, Ctrl-C or
//! `kill -9` (no drop runs).
//!
//! [`Watchdog::guard`] starts a tiny `sh` whose stdin is a pipe held by this
//! process only. When this process ends, whatever ends it, the kernel closes
//! the pipe, the `sh`'s `read` returns and it SIGKILLs the guarded process
//! (and removes its temp dir). The guarded process stays this process's own
//! child, so its exit status and signals work as usual. Dropping the
//! watchdog disarms it (its `sh` is killed): do that before reaping the
//! guarded child, so its pid can never be reused by another process by the
//! time the `sh` sends its kill.

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Waits for its stdin to end (or yield a line), then kills `$1` (a pid, or
/// `-pgid`: a process group) and removes `$2` if given.
const GUARD: &str = r#"read -r _ || true
kill -9 "$1" 2>/dev/null
if [ -n "$2" ]; then rm -rf "$2"; fi
exit 0"#;

/// Kills a child process when this process ends without dropping it.
pub struct Watchdog {
    sh: Child,
}

impl Watchdog {
    /// Guards the process `pid`; `dir` (if any) is removed after killing it.
    pub fn guard(pid: u32, dir: Option<&Path>) -> Watchdog {
        Watchdog::arm(&pid.to_string(), dir)
    }

    /// Guards the whole process group `pgid` (a process started with
    /// `process_group(0)` and everything it started that stayed in its
    /// group, such as chromedriver's Chromium); `dir` as in [`Self::guard`].
    pub fn guard_group(pgid: u32, dir: Option<&Path>) -> Watchdog {
        Watchdog::arm(&format!("-{pgid}"), dir)
    }

    /// `target` as `kill` takes it: a pid, or `-pgid` for a group.
    fn arm(target: &str, dir: Option<&Path>) -> Watchdog {
        let dir = dir.map(|d| d.to_string_lossy().into_owned()).unwrap_or_default();
        let sh = Command::new("sh")
            .args(["-c", GUARD, "sh", target, &dir])
            // std's pipes are close-on-exec: no other child inherits this one,
            // so it closes exactly when this process ends.
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn sh (the watchdog)");
        Watchdog { sh }
    }
}

impl Drop for Watchdog {
    /// Disarms: the `sh` is killed before it could act, and reaped.
    fn drop(&mut self) {
        let _ = self.sh.kill();
        let _ = self.sh.wait();
    }
}

/// A child process with its watchdog: killed and reaped on drop (or when this
/// process dies, by the watchdog).
pub struct GuardedChild {
    child: Child,
    watchdog: Option<Watchdog>,
}

impl GuardedChild {
    /// Guards `child` (see [`Watchdog::guard`]).
    pub fn new(child: Child, dir: Option<&Path>) -> GuardedChild {
        let watchdog = Some(Watchdog::guard(child.id(), dir));
        GuardedChild { child, watchdog }
    }

    /// The child's pid.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The child itself (for its pipes, `try_wait`, `wait`).
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Waits for the child to exit and reaps it, then disarms the watchdog
    /// (guarded while waiting; the `sh` only acts if this process dies, so
    /// the moment between reaping and disarming is no risk in practice).
    pub fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        let status = self.child.wait();
        self.watchdog.take();
        status
    }

    /// SIGKILLs the child and reaps it.
    pub fn kill(&mut self) {
        // The child is still unreaped here, so its pid is still its own.
        let _ = self.child.kill();
        self.watchdog.take();
        let _ = self.child.wait();
    }
}

impl Drop for GuardedChild {
    fn drop(&mut self) {
        self.kill();
    }
}
