//! A throwaway `redis-server` on a free loopback port, for tests.
//!
//! Readiness is detected from the server's own "Ready to accept connections"
//! log line (no sleeps). Only ever binds 127.0.0.1.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

const READY_LINE: &str = "Ready to accept connections";
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A running `redis-server` child process, killed on drop.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it accepts connections.
    pub fn start() -> RedisServer {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let port = free_port();
        let dir = std::env::temp_dir().join(format!(
            "uapi-redis-{}-{}-{port}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create redis temp dir");
        let mut server = RedisServer { child: None, port, dir };
        // Another process may grab the port between our probe and redis'
        // bind; the server then exits at once (EOF, no waiting), so retry.
        for _ in 0..5 {
            match server.try_spawn() {
                Ok(()) => return server,
                Err(e) => eprintln!("{e}; retrying on another port"),
            }
            server.port = free_port();
        }
        panic!("could not start redis-server");
    }

    fn spawn(&mut self) {
        if let Err(e) = self.try_spawn() {
            panic!("{e}");
        }
    }

    fn try_spawn(&mut self) -> Result<(), String> {
        let mut child = Command::new("redis-server")
            .args(["--save", "", "--appendonly", "no", "--bind", "127.0.0.1"])
            .args(["--port", &self.port.to_string(), "--protected-mode", "yes"])
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn redis-server (is it installed?)");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        // Keeps draining stdout after readiness so the server never blocks on
        // a full pipe; ends at EOF when the process dies.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.contains(READY_LINE) {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(());
                    }
                }
            }
        });
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(()) => {
                self.child = Some(child);
                Ok(())
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("redis-server on port {} not ready: {e}", self.port))
            }
        }
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// SIGKILLs the server and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills (if running) and starts again on the same port; waits for ready.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// A plain client for assertions and inspection.
    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).expect("redis url")
    }

    /// A reconnecting connection with short timeouts, so fault tests stay fast.
    pub async fn connection_manager(&self) -> redis::aio::ConnectionManager {
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(500)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(200));
        self.client().get_connection_manager_with_config(config).await.expect("connection manager")
    }

    /// uapi's own pipelining connection, with the same short timeouts.
    pub async fn pipelined_connection(&self) -> uapi::sessions::redis::PipelinedConnection {
        let timeout = Duration::from_millis(500);
        uapi::sessions::redis::PipelinedConnection::connect_with_timeouts(self.url(), timeout, timeout)
            .await
            .expect("pipelined connection")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A port that was free a moment ago (bind :0, read it, release it).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}
