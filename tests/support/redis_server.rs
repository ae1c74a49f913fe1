//! A throwaway `redis-server` on a free loopback port, for tests.
//!
//! Readiness is detected from the server's own "Ready to accept connections"
//! log line (no sleeps). Only ever binds 127.0.0.1.
//!
//! [`RedisServer::builder`] adds TLS (TLS only: the plain port is off, with
//! certificates from a fresh test CA), ACL users, and any other
//! `redis-server` arguments (`--replicaof`, say). [`spawn_until`] starts any
//! `redis-server` command and waits for a line of its log (a sentinel's,
//! say).
//!
//! Every server (plain or TLS) has a [`Watchdog`]: it is SIGKILLed, and its
//! temp dir removed, when the test process ends without dropping it (a
//! timeout, Ctrl-C, `kill -9`), as the cluster nodes are by their guard.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use super::tls::TestCa;
use super::watchdog::GuardedChild;

const READY_LINE: &str = "Ready to accept connections";
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`RedisServer::restart`] keeps trying to get its port back.
const RESTART_PATIENCE: Duration = Duration::from_secs(10);

/// A running `redis-server` child process, killed on drop (or by its
/// watchdog if this process dies first).
pub struct RedisServer {
    child: Option<GuardedChild>,
    port: u16,
    dir: PathBuf,
    tls: Option<ServerTls>,
    acl_users: Vec<Vec<String>>,
    /// More `redis-server` arguments, kept for restarts.
    args: Vec<String>,
}

/// The TLS side of a server.
struct ServerTls {
    ca: TestCa,
    client_auth: bool,
}

/// How to start a [`RedisServer`]: plain TCP with the open default user,
/// unless told otherwise.
#[derive(Default)]
pub struct RedisServerBuilder {
    tls: bool,
    client_auth: bool,
    acl_users: Vec<Vec<String>>,
    args: Vec<String>,
}

impl RedisServerBuilder {
    /// TLS only: `--port 0`, and the port is a `--tls-port` serving a
    /// certificate for 127.0.0.1 issued by a fresh CA ([`RedisServer::ca`]).
    /// Clients need no certificate of their own.
    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    /// [`Self::tls`], and clients must show a certificate issued by the CA
    /// (`--tls-auth-clients yes`).
    pub fn tls_client_auth(mut self) -> Self {
        self.tls = true;
        self.client_auth = true;
        self
    }

    /// An ACL user as `redis.conf`'s `user` line would give it, e.g.
    /// `acl_user("alice", &["on", ">s3cret", "~app1:*", "+@all"])`, or
    /// `acl_user("default", &["off"])` to refuse unauthenticated clients.
    pub fn acl_user(mut self, name: &str, rules: &[&str]) -> Self {
        let mut line = vec![name.to_owned()];
        line.extend(rules.iter().map(|r| (*r).to_owned()));
        self.acl_users.push(line);
        self
    }

    /// More `redis-server` arguments, e.g. `args(&["--replicaof", "127.0.0.1", "6379"])`;
    /// a restart passes them again.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }

    /// Starts the server on a free port and waits until it accepts connections.
    pub fn start(self) -> RedisServer {
        let tls = self.tls.then(|| ServerTls { ca: TestCa::new("uapi test CA"), client_auth: self.client_auth });
        RedisServer::launch(tls, self.acl_users, self.args)
    }
}

impl RedisServer {
    /// Starts a plain server on a free port and waits until it accepts connections.
    pub fn start() -> RedisServer {
        RedisServer::builder().start()
    }

    /// A server with TLS or ACL users; see [`RedisServerBuilder`].
    pub fn builder() -> RedisServerBuilder {
        RedisServerBuilder::default()
    }

    fn launch(tls: Option<ServerTls>, acl_users: Vec<Vec<String>>, args: Vec<String>) -> RedisServer {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let port = free_port();
        let dir = std::env::temp_dir().join(format!(
            "uapi-redis-{}-{}-{port}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create redis temp dir");
        if let Some(tls) = &tls {
            let server_cert = tls.ca.server_cert();
            std::fs::write(dir.join("ca.pem"), tls.ca.pem()).expect("write ca.pem");
            std::fs::write(dir.join("server.pem"), server_cert.cert_pem).expect("write server.pem");
            std::fs::write(dir.join("server.key"), server_cert.key_pem).expect("write server.key");
        }
        let mut server = RedisServer { child: None, port, dir, tls, acl_users, args };
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

    fn try_spawn(&mut self) -> Result<(), String> {
        let mut command = Command::new("redis-server");
        command.args(["--save", "", "--appendonly", "no", "--bind", "127.0.0.1", "--protected-mode", "yes"]);
        match &self.tls {
            None => {
                command.args(["--port", &self.port.to_string()]);
            }
            Some(tls) => {
                command.args(["--port", "0", "--tls-port", &self.port.to_string()]);
                command.arg("--tls-cert-file").arg(self.dir.join("server.pem"));
                command.arg("--tls-key-file").arg(self.dir.join("server.key"));
                command.arg("--tls-ca-cert-file").arg(self.dir.join("ca.pem"));
                command.args(["--tls-auth-clients", if tls.client_auth { "yes" } else { "no" }]);
            }
        }
        for user in &self.acl_users {
            command.arg("--user").args(user);
        }
        command.args(&self.args).arg("--dir").arg(&self.dir);
        let child = spawn_until(command, READY_LINE, &self.dir)
            .map_err(|e| format!("redis-server on port {} not ready: {e}", self.port))?;
        self.child = Some(child);
        Ok(())
    }

    /// `redis://127.0.0.1:<port>/`, or `rediss://` for a TLS server.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}/", self.port)
    }

    /// [`Self::url`] logging in as `user` with `password` (ACL `AUTH`).
    pub fn url_as(&self, user: &str, password: &str) -> String {
        self.url().replacen("://", &format!("://{user}:{password}@"), 1)
    }

    /// The CA that issued a TLS server's certificate.
    pub fn ca(&self) -> &TestCa {
        &self.tls.as_ref().expect("a TLS server").ca
    }

    /// A client for `url`; for a `rediss://` one, trusting only this server's
    /// CA (and showing a client certificate if the server demands one).
    pub fn client_for(&self, url: &str) -> redis::Client {
        let Some(tls) = &self.tls else { return redis::Client::open(url).expect("redis url") };
        let client_tls = tls.client_auth.then(|| {
            let cert = tls.ca.client_cert();
            redis::ClientTlsConfig { client_cert: cert.cert_pem.into_bytes(), client_key: cert.key_pem.into_bytes() }
        });
        let certificates = redis::TlsCertificates { client_tls, root_cert: Some(tls.ca.pem().as_bytes().to_vec()) };
        redis::Client::build_with_tls(url, certificates).expect("redis TLS client")
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server process's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("a running server").id()
    }

    /// SIGKILLs the server and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill();
        }
    }

    /// Kills (if running) and starts again on the same port (clients keep
    /// their URL); waits for ready. The port may be taken meanwhile (another
    /// test's connection or server got it): retries for a while.
    pub fn restart(&mut self) {
        self.restart_observed(|failure| eprintln!("{failure}; retrying"));
    }

    /// [`Self::restart`] with other extra `redis-server` arguments (those
    /// [`RedisServerBuilder::args`] gave are dropped), e.g. a primary killed
    /// by a test coming back as a replica of the node that took its place.
    pub fn restart_with_args(&mut self, args: &[&str]) {
        self.args = args.iter().map(|a| (*a).to_owned()).collect();
        self.restart();
    }

    /// [`Self::restart`], calling `on_retry` with each failed attempt's error.
    pub fn restart_observed(&mut self, mut on_retry: impl FnMut(&str)) {
        self.kill();
        let deadline = std::time::Instant::now() + RESTART_PATIENCE;
        loop {
            match self.try_spawn() {
                Ok(()) => return,
                Err(e) if std::time::Instant::now() < deadline => on_retry(&e),
                Err(e) => panic!("{e} (gave up retrying after {RESTART_PATIENCE:?})"),
            }
            // No event tells when another process lets go of a port: retry
            // at a modest pace.
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A plain client for assertions and inspection.
    pub fn client(&self) -> redis::Client {
        self.client_for(&self.url())
    }

    /// A reconnecting connection with short timeouts, so fault tests stay fast.
    pub async fn connection_manager(&self) -> redis::aio::ConnectionManager {
        self.connection_manager_for(&self.url()).await.expect("connection manager")
    }

    /// [`Self::connection_manager`] on `url` (see [`Self::client_for`]); the
    /// error when its first connection fails.
    pub async fn connection_manager_for(&self, url: &str) -> redis::RedisResult<redis::aio::ConnectionManager> {
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(500)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(200));
        self.client_for(url).get_connection_manager_with_config(config).await
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

/// Spawns `command` (a `redis-server`), guarded (killed with this process,
/// `dir` removed), and waits until its log (stdout) has a line containing
/// `ready`; the error if it exits or takes over 10 s first (killed then).
pub fn spawn_until(mut command: Command, ready: &str, dir: &Path) -> Result<GuardedChild, String> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn redis-server (is it installed?)");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    let ready = ready.to_owned();
    // Keeps draining stdout after readiness so the server never blocks on
    // a full pipe; ends at EOF when the process dies.
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.contains(&ready) {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(());
                }
            }
        }
    });
    // Guarded from here on: a test process killed while the server starts
    // leaves nothing behind either.
    let mut child = GuardedChild::new(child, Some(dir));
    match rx.recv_timeout(START_TIMEOUT) {
        Ok(()) => Ok(child),
        Err(e) => {
            child.kill();
            Err(e.to_string())
        }
    }
}

/// A port that was free a moment ago (bind :0, read it, release it).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}
