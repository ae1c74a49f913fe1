//! A throwaway Redis Sentinel deployment on free loopback ports, for tests:
//! a primary, its replicas (`--replicaof`), and three sentinels
//! (`redis-server sentinel.conf --sentinel`) monitoring it as [`SERVICE`]
//! with a quorum of 2. Every process is killed on drop (or by its watchdog
//! if the test process dies first) and its temp dir removed.
//!
//! Readiness, without sleeps: each data node's "Ready to accept
//! connections" line and each sentinel's `+monitor` line; then a bounded
//! poll (there is no event for these) of `INFO replication` on every replica
//! until its link to the primary is up, and of every sentinel until it sees
//! the primary up, each replica up and linked, and the other two sentinels
//! connected: only then can the sentinels agree on a failover and pick a
//! replica. The sentinels are told each other's ids in their config files
//! (`sentinel myid`, `sentinel known-sentinel`, what a sentinel writes there
//! itself once it found the others), so they need not wait for the hello
//! messages they would otherwise find each other by (one per 2 s).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::redis_server::{free_port, spawn_until, RedisServer};
use super::watchdog::GuardedChild;

/// The name the sentinels monitor the primary by.
pub const SERVICE: &str = "mymaster";
/// How many sentinels (a quorum of 2: one may be down and a failover still happens).
const SENTINELS: usize = 3;
/// The upper bound on starting and on anything polled; reached only when broken.
const PATIENCE: Duration = Duration::from_secs(15);
/// How often the polls look.
const POLL: Duration = Duration::from_millis(20);

/// One sentinel process.
struct SentinelNode {
    port: u16,
    child: Option<GuardedChild>,
    dir: PathBuf,
}

impl Drop for SentinelNode {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running primary, its replicas and three sentinels.
pub struct RedisSentinel {
    /// The data nodes; the first was the primary at the start.
    nodes: Vec<RedisServer>,
    sentinels: Vec<SentinelNode>,
    down_after: Duration,
    failover_timeout: Duration,
}

impl RedisSentinel {
    /// Starts a primary with `replicas` replicas and three sentinels
    /// (`down-after-milliseconds` and `failover-timeout` as given), and waits
    /// until a failover could happen.
    pub fn start(replicas: usize, down_after: Duration, failover_timeout: Duration) -> RedisSentinel {
        let started = Instant::now();
        // Any node may become the primary: each syncs a new replica at once,
        // not after the 5 s a primary waits by default for more to share it.
        let node = || RedisServer::builder().args(&["--repl-diskless-sync-delay", "0"]);
        let primary = node().start();
        let primary_port = primary.port().to_string();
        let mut nodes = vec![primary];
        for _ in 0..replicas {
            nodes.push(node().args(&["--replicaof", "127.0.0.1", &primary_port]).start());
        }
        let mut deployment = RedisSentinel { nodes, sentinels: Vec::new(), down_after, failover_timeout };
        let deadline = started + PATIENCE;
        for node in &deployment.nodes[1..] {
            wait_linked(node.port(), deadline);
        }
        deployment.sentinels = deployment.spawn_sentinels();
        deployment.wait_sentinels_ready(replicas, deadline);
        eprintln!(
            "redis sentinel: primary {}, replicas {:?}, sentinels {:?}, ready in {:?}",
            deployment.nodes[0].port(),
            deployment.nodes[1..].iter().map(RedisServer::port).collect::<Vec<_>>(),
            deployment.sentinel_ports(),
            started.elapsed()
        );
        deployment
    }

    /// Three sentinels on free ports, each knowing the others; all started
    /// again on other ports if one of them loses its port to another process.
    fn spawn_sentinels(&self) -> Vec<SentinelNode> {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        for _ in 0..5 {
            let mut ports: Vec<u16> = Vec::new();
            while ports.len() < SENTINELS {
                let port = free_port();
                if !ports.contains(&port) {
                    ports.push(port);
                }
            }
            // A sentinel's id is 40 hex digits; these only need to differ.
            let ids: Vec<String> = ports.iter().map(|p| format!("{:040x}", u128::from(*p) << 8 | 0x5e)).collect();
            let mut sentinels = Vec::new();
            for (i, &port) in ports.iter().enumerate() {
                let dir = std::env::temp_dir().join(format!(
                    "uapi-sentinel-{}-{}-{port}",
                    std::process::id(),
                    SEQ.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&dir).expect("create sentinel temp dir");
                let mut conf = format!(
                    "sentinel myid {}\n\
                     sentinel monitor {SERVICE} 127.0.0.1 {} 2\n\
                     sentinel down-after-milliseconds {SERVICE} {}\n\
                     sentinel failover-timeout {SERVICE} {}\n\
                     sentinel parallel-syncs {SERVICE} 1\n",
                    ids[i],
                    self.nodes[0].port(),
                    self.down_after.as_millis(),
                    self.failover_timeout.as_millis()
                );
                for (j, &other) in ports.iter().enumerate().filter(|&(j, _)| j != i) {
                    conf.push_str(&format!("sentinel known-sentinel {SERVICE} 127.0.0.1 {other} {}\n", ids[j]));
                }
                // The sentinel rewrites its config file: it must be its own, writable.
                let conf_path = dir.join("sentinel.conf");
                std::fs::write(&conf_path, conf).expect("write sentinel.conf");
                let mut command = Command::new("redis-server");
                command.arg(&conf_path).arg("--sentinel");
                command.args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--protected-mode", "yes"]);
                command.arg("--dir").arg(&dir);
                let child = spawn_until(command, "+monitor master", &dir);
                let failed = child.is_err();
                sentinels.push(SentinelNode { port, child: child.ok(), dir });
                if failed {
                    break;
                }
            }
            if sentinels.len() == SENTINELS && sentinels.iter().all(|s| s.child.is_some()) {
                return sentinels;
            }
            eprintln!("a sentinel did not start on its port; starting all three again on other ports");
        }
        panic!("could not start the sentinels");
    }

    /// Polls every sentinel until it sees the primary up, `replicas`
    /// replicas up and linked, and the other sentinels connected.
    fn wait_sentinels_ready(&self, replicas: usize, deadline: Instant) {
        for port in self.sentinel_ports() {
            let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("url");
            loop {
                let seen = client.get_connection_with_timeout(Duration::from_millis(500)).and_then(|mut c| {
                    let master: HashMap<String, String> = sentinel_cmd(&["MASTER", SERVICE]).query(&mut c)?;
                    let replicas: Vec<HashMap<String, String>> = sentinel_cmd(&["REPLICAS", SERVICE]).query(&mut c)?;
                    let sentinels: Vec<HashMap<String, String>> =
                        sentinel_cmd(&["SENTINELS", SERVICE]).query(&mut c)?;
                    Ok((master, replicas, sentinels))
                });
                let ready = match &seen {
                    Ok((master, found, sentinels)) => {
                        field(master, "flags") == Some("master")
                            && found.len() == replicas
                            && found.iter().all(|r| {
                                field(r, "flags") == Some("slave") && field(r, "master-link-status") == Some("ok")
                            })
                            && sentinels.len() == SENTINELS - 1
                            && sentinels.iter().all(|s| field(s, "flags") == Some("sentinel"))
                    }
                    Err(_) => false,
                };
                if ready {
                    break;
                }
                assert!(Instant::now() < deadline, "sentinel {port} never saw the deployment ready: {seen:?}");
                std::thread::sleep(POLL);
            }
        }
    }

    /// `down-after-milliseconds`.
    pub fn down_after(&self) -> Duration {
        self.down_after
    }

    /// `failover-timeout`.
    pub fn failover_timeout(&self) -> Duration {
        self.failover_timeout
    }

    /// The ports of every process: the data nodes, then the sentinels.
    pub fn ports(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self.nodes.iter().map(RedisServer::port).collect();
        ports.extend(self.sentinel_ports());
        ports
    }

    /// The sentinels' ports.
    pub fn sentinel_ports(&self) -> Vec<u16> {
        self.sentinels.iter().map(|s| s.port).collect()
    }

    /// A handle on the sentinels, to ask them things from any thread.
    pub fn sentinels(&self) -> Sentinels {
        Sentinels { ports: self.sentinel_ports() }
    }

    /// uapi's connection to the primary, with short timeouts so fault tests stay fast.
    pub async fn connection(&self) -> uapi::sessions::redis::SentinelConnection {
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(300)))
            .set_response_timeout(Some(Duration::from_millis(500)));
        uapi::sessions::redis::SentinelConnection::connect_with_config(self.sentinels().client(), config)
            .await
            .expect("sentinel connection")
    }

    /// SIGKILLs sentinel `i`.
    pub fn kill_sentinel(&mut self, i: usize) {
        if let Some(mut child) = self.sentinels[i].child.take() {
            child.kill();
        }
    }

    /// The ports of the replicas the deployment started with.
    pub fn replica_ports(&self) -> Vec<u16> {
        self.nodes[1..].iter().map(RedisServer::port).collect()
    }

    /// SIGKILLs the data node on `port`.
    pub fn kill(&mut self, port: u16) {
        self.node(port).kill();
    }

    /// Starts the data node on `port` again (after [`Self::kill`]), as a
    /// replica of the node on `primary`, and waits until it has synced.
    pub fn rejoin(&mut self, port: u16, primary: u16) {
        let primary = primary.to_string();
        self.node(port).restart_with_args(&["--repl-diskless-sync-delay", "0", "--replicaof", "127.0.0.1", &primary]);
        wait_linked(port, Instant::now() + PATIENCE);
    }

    fn node(&mut self, port: u16) -> &mut RedisServer {
        self.nodes.iter_mut().find(|n| n.port() == port).expect("a node of this deployment")
    }
}

/// The sentinels of a [`RedisSentinel`], by port.
#[derive(Clone)]
pub struct Sentinels {
    ports: Vec<u16>,
}

impl Sentinels {
    /// `redis://127.0.0.1:<port>/` of every sentinel.
    pub fn urls(&self) -> Vec<String> {
        self.ports.iter().map(|p| format!("redis://127.0.0.1:{p}/")).collect()
    }

    /// A redis-rs client asking the sentinels for the primary.
    pub fn client(&self) -> redis::sentinel::SentinelClient {
        redis::sentinel::SentinelClient::build(
            self.urls(),
            String::from(SERVICE),
            None,
            redis::sentinel::SentinelServerType::Master,
        )
        .expect("sentinel client")
    }

    /// The primary's port as sentinel `i` names it (`SENTINEL
    /// get-master-addr-by-name`); `None` if it does not answer.
    pub fn primary_by(&self, i: usize) -> Option<u16> {
        let client = redis::Client::open(self.urls()[i].as_str()).expect("url");
        let mut con = client.get_connection_with_timeout(Duration::from_millis(500)).ok()?;
        let addr: Option<(String, u16)> = sentinel_cmd(&["get-master-addr-by-name", SERVICE]).query(&mut con).ok()?;
        addr.map(|(_, port)| port)
    }

    /// The primary's port, as the first sentinel that answers names it.
    pub fn primary(&self) -> u16 {
        (0..self.ports.len()).find_map(|i| self.primary_by(i)).expect("a sentinel names a primary")
    }

    /// Polls until every sentinel that answers names the same primary
    /// other than `old`, and that node's `INFO replication` says it is one:
    /// its port.
    pub fn wait_moved_from(&self, old: u16) -> u16 {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let named: Vec<u16> = (0..self.ports.len()).filter_map(|i| self.primary_by(i)).collect();
            if let Some(&new) = named.first() {
                let agreed = new != old && named.iter().all(|n| *n == new);
                if agreed && replication_info(new).is_some_and(|info| info.contains("role:master\r")) {
                    return new;
                }
            }
            assert!(Instant::now() < deadline, "the sentinels never moved the primary from {old}: {named:?}");
            std::thread::sleep(POLL);
        }
    }

    /// Polls sentinel `i`'s `CLIENT LIST` until a client of it is
    /// subscribed to a channel (no sentinel subscribes to another: that is
    /// a client listening for the sentinels' failover announcements).
    pub fn wait_subscribed(&self, i: usize) {
        let deadline = Instant::now() + PATIENCE;
        let client = redis::Client::open(self.urls()[i].as_str()).expect("url");
        loop {
            let clients: Option<String> = client
                .get_connection_with_timeout(Duration::from_millis(500))
                .and_then(|mut c| redis::cmd("CLIENT").arg("LIST").query(&mut c))
                .ok();
            if clients.as_deref().is_some_and(|list| list.lines().any(subscribed)) {
                return;
            }
            assert!(Instant::now() < deadline, "nobody subscribed to sentinel {i}: {clients:?}");
            std::thread::sleep(POLL);
        }
    }

    /// `SENTINEL FAILOVER` (a planned failover: the primary stays up) on
    /// the last sentinel: not the one redis-rs asks first, so the one that
    /// leads (and alone announces the failover's first steps) is one a
    /// `SentinelConnection` subscribes to only because the first one lists
    /// it (`SENTINEL SENTINELS`).
    pub fn failover(&self) {
        let client = redis::Client::open(self.urls()[self.ports.len() - 1].as_str()).expect("url");
        let mut con = client.get_connection_with_timeout(Duration::from_millis(500)).expect("sentinel");
        let () = sentinel_cmd(&["FAILOVER", SERVICE]).query(&mut con).expect("SENTINEL FAILOVER");
    }
}

impl Sentinels {
    /// Whether sentinel `i` has a failover of the primary under way (the
    /// `failover_in_progress` flag of its `SENTINEL MASTER`); `false` if it
    /// does not answer.
    pub fn failover_in_progress(&self, i: usize) -> bool {
        let client = redis::Client::open(self.urls()[i].as_str()).expect("url");
        let master: Option<HashMap<String, String>> = client
            .get_connection_with_timeout(Duration::from_millis(500))
            .and_then(|mut c| sentinel_cmd(&["MASTER", SERVICE]).query(&mut c))
            .ok();
        master
            .as_ref()
            .and_then(|m| field(m, "flags"))
            .is_some_and(|f| f.split(',').any(|f| f == "failover_in_progress"))
    }
}

/// Whether a `CLIENT LIST` line is a client subscribed to a channel or more.
fn subscribed(line: &str) -> bool {
    line.split_whitespace()
        .any(|field| field.strip_prefix("sub=").and_then(|n| n.parse::<u32>().ok()).is_some_and(|n| n > 0))
}

/// `SENTINEL <args>`.
fn sentinel_cmd(args: &[&str]) -> redis::Cmd {
    let mut cmd = redis::cmd("SENTINEL");
    for a in args {
        cmd.arg(*a);
    }
    cmd
}

/// A field of a sentinel's reply about an instance.
fn field<'a>(fields: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    fields.get(name).map(String::as_str)
}

/// `INFO replication` of the node on `port`, if it answers.
fn replication_info(port: u16) -> Option<String> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("url");
    let mut con = client.get_connection_with_timeout(Duration::from_millis(500)).ok()?;
    redis::cmd("INFO").arg("replication").query(&mut con).ok()
}

/// Polls `INFO replication` of the replica on `port` until its link to its
/// primary is up and it has synced.
pub fn wait_linked(port: u16, deadline: Instant) {
    loop {
        let info = replication_info(port);
        if info
            .as_deref()
            .is_some_and(|i| i.contains("master_link_status:up") && !i.contains("master_sync_in_progress:1"))
        {
            return;
        }
        assert!(Instant::now() < deadline, "replica {port} never linked: {info:?}");
        std::thread::sleep(POLL);
    }
}
