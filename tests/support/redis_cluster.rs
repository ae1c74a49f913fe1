//! A throwaway 3-master Redis Cluster on free loopback ports, for tests;
//! with [`RedisCluster::start_with_replicas`], 3 masters and 3 replicas.
//!
//! Each node is a `redis-server --cluster-enabled yes` started through a tiny
//! `sh` guard that kills the node as soon as its stdin reaches EOF: when the
//! test process exits or dies (even SIGKILLed), the kernel closes the pipe and
//! the nodes go with it, and the guard removes the node's temp dir. So a
//! cluster shared by a whole test binary ([`RedisCluster::shared`]) never
//! outlives it. [`RedisCluster::start`] gives a private one (to kill nodes in),
//! torn down on drop. Only ever binds 127.0.0.1.
//!
//! Readiness: each node's "Ready to accept connections" log line, then
//! `redis-cli --cluster create` (which waits for the nodes to join), then a
//! bounded poll of `CLUSTER INFO` on every node until `cluster_state:ok`
//! (there is no event for that); with replicas, also `INFO replication` on
//! every replica until its link to its master is up.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::time::{Duration, Instant};

const READY_LINE: &str = "Ready to accept connections";
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// The cluster bus listens on the client port + 10000.
const BUS_OFFSET: u16 = 10000;

/// Runs redis-server with the given args, prints its output, and kills it
/// (then removes `$UAPI_NODE_DIR`) once stdin ends or yields a line.
const GUARD: &str = r#"redis-server "$@" & pid=$!
read -r _ || true
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
rm -rf "$UAPI_NODE_DIR"
exit 0"#;

/// One node: the guard process and the pipe keeping it alive.
struct Node {
    port: u16,
    guard: Option<Child>,
    keepalive: Option<ChildStdin>,
}

impl Node {
    fn kill(&mut self) {
        // A line (or EOF) makes the guard SIGKILL the server and reap it.
        if let Some(mut stdin) = self.keepalive.take() {
            let _ = stdin.write_all(b"kill\n");
        }
        if let Some(mut guard) = self.guard.take() {
            let _ = guard.wait();
        }
    }
}

/// A running 3-master cluster (without replicas, or with one per master).
pub struct RedisCluster {
    nodes: Vec<Node>,
    /// `cluster-node-timeout`.
    node_timeout: Duration,
    /// Prefix of the nodes' temp dirs (`<prefix>-<port>`).
    dir: PathBuf,
}

impl RedisCluster {
    /// A cluster shared by every test of this binary, started on first use and
    /// killed when the process ends. Tests sharing it must keep their keys
    /// apart (a unique key prefix each, see [`unique_prefix`]).
    pub fn shared() -> Arc<RedisCluster> {
        static SHARED: OnceLock<Arc<RedisCluster>> = OnceLock::new();
        SHARED.get_or_init(|| Arc::new(RedisCluster::start())).clone()
    }

    /// Starts a private cluster and waits until every node reports `cluster_state:ok`.
    pub fn start() -> RedisCluster {
        RedisCluster::launch(0, Duration::from_millis(2000))
    }

    /// A private cluster of 3 masters with one replica each (node 0..3 the
    /// masters, 3..6 the replicas, as `redis-cli --cluster create` assigns
    /// them; [`Self::masters`] tells), with `cluster-node-timeout`
    /// `node_timeout`: a master that dies is replaced by its replica about
    /// that long after. Ready once every node sees all 6 and the cluster ok,
    /// and every replica's link to its master is up.
    pub fn start_with_replicas(node_timeout: Duration) -> RedisCluster {
        RedisCluster::launch(1, node_timeout)
    }

    fn launch(replicas: usize, node_timeout: Duration) -> RedisCluster {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "uapi-redis-cluster-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let mut cluster = RedisCluster { nodes: Vec::new(), node_timeout, dir };
        let started = Instant::now();
        for _ in 0..3 * (1 + replicas) {
            cluster.nodes.push(cluster.spawn_node());
        }
        cluster.create(replicas);
        cluster.wait_ok(started + START_TIMEOUT);
        if replicas > 0 {
            cluster.wait_replicas_linked(started + START_TIMEOUT);
        }
        eprintln!("redis cluster on ports {:?} ready in {:?}", cluster.ports(), started.elapsed());
        cluster
    }

    /// Spawns one node on a free port (retrying if another process grabbed it).
    fn spawn_node(&self) -> Node {
        let taken: Vec<u16> = self.nodes.iter().map(|n| n.port).collect();
        for _ in 0..5 {
            let port = free_cluster_port(&taken);
            let node_dir = PathBuf::from(format!("{}-{port}", self.dir.display()));
            std::fs::create_dir_all(&node_dir).expect("create node dir");
            let mut guard = Command::new("sh")
                .args(["-c", GUARD, "sh"])
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--protected-mode", "yes"])
                .args(["--cluster-enabled", "yes", "--cluster-node-timeout"])
                .arg(self.node_timeout.as_millis().to_string())
                .arg("--cluster-config-file")
                .arg(node_dir.join(format!("nodes-{port}.conf")))
                .args(["--save", "", "--appendonly", "no"])
                // A replica's first sync starts at once, not after the 5 s
                // a master waits by default for more replicas to share it.
                .args(["--repl-diskless-sync-delay", "0"])
                .arg("--dir")
                .arg(&node_dir)
                .env("UAPI_NODE_DIR", &node_dir)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("spawn sh + redis-server (is redis-server installed?)");
            let keepalive = guard.stdin.take();
            let stdout = guard.stdout.take().expect("piped stdout");
            let (tx, rx) = mpsc::channel();
            // Keeps draining stdout so the node never blocks on a full pipe.
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
            let mut node = Node { port, guard: Some(guard), keepalive };
            match rx.recv_timeout(START_TIMEOUT) {
                Ok(()) => return node,
                Err(e) => {
                    eprintln!("cluster node on port {port} not ready ({e}); retrying on another port");
                    node.kill();
                }
            }
        }
        panic!("could not start a cluster node");
    }

    fn create(&self, replicas: usize) {
        let addrs: Vec<String> = self.nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("run redis-cli (is redis-tools installed?)");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Polls every node (with a deadline) until it sees the whole cluster as ok.
    fn wait_ok(&self, deadline: Instant) {
        for node in &self.nodes {
            let client = redis::Client::open(format!("redis://127.0.0.1:{}/", node.port)).expect("url");
            loop {
                let info = client
                    .get_connection_with_timeout(Duration::from_millis(500))
                    .and_then(|mut c| redis::cmd("CLUSTER").arg("INFO").query::<String>(&mut c));
                match info {
                    Ok(info)
                        if info.contains("cluster_state:ok")
                            && info.contains(&format!("cluster_known_nodes:{}\r", self.nodes.len())) =>
                    {
                        break
                    }
                    other => assert!(Instant::now() < deadline, "node {} never became ok: {other:?}", node.port),
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Polls `INFO replication` on every replica until its link to its
    /// master is up and it has synced (there is no event for that).
    fn wait_replicas_linked(&self, deadline: Instant) {
        for node in &self.nodes {
            let client = redis::Client::open(format!("redis://127.0.0.1:{}/", node.port)).expect("url");
            loop {
                let info = client
                    .get_connection_with_timeout(Duration::from_millis(500))
                    .and_then(|mut c| redis::cmd("INFO").arg("replication").query::<String>(&mut c));
                match info {
                    Ok(info) if info.contains("role:master") => break,
                    Ok(info)
                        if info.contains("master_link_status:up") && !info.contains("master_sync_in_progress:1") =>
                    {
                        break
                    }
                    other => assert!(Instant::now() < deadline, "replica {} never linked: {other:?}", node.port),
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// The indexes of the nodes that are masters now (asks each live node's `ROLE`).
    pub fn masters(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].guard.is_some())
            .filter(|&i| {
                let role = self
                    .node_client(i)
                    .get_connection_with_timeout(Duration::from_millis(500))
                    .and_then(|mut c| redis::cmd("ROLE").query::<Vec<redis::Value>>(&mut c));
                matches!(role.as_deref(), Ok([redis::Value::BulkString(r), ..]) if r == b"master")
            })
            .collect()
    }

    /// The index of the replica of master `i` (asks each live node's `INFO replication`).
    pub fn replica_of(&self, i: usize) -> Option<usize> {
        let port = self.nodes[i].port;
        (0..self.nodes.len()).filter(|&r| r != i && self.nodes[r].guard.is_some()).find(|&r| {
            let info = self
                .node_client(r)
                .get_connection_with_timeout(Duration::from_millis(500))
                .and_then(|mut c| redis::cmd("INFO").arg("replication").query::<String>(&mut c));
            info.is_ok_and(|info| info.contains(&format!("master_port:{port}\r")))
        })
    }

    /// `cluster-node-timeout`.
    pub fn node_timeout(&self) -> Duration {
        self.node_timeout
    }

    /// `redis://127.0.0.1:<port>/` of every node, in node order.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(|n| format!("redis://127.0.0.1:{}/", n.port)).collect()
    }

    /// The client ports, in node order.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.port).collect()
    }

    /// The client port of node `i`.
    pub fn port(&self, i: usize) -> u16 {
        self.nodes[i].port
    }

    /// A plain (non-cluster) client on node `i`, for inspection.
    pub fn node_client(&self, i: usize) -> redis::Client {
        redis::Client::open(self.urls()[i].as_str()).expect("redis url")
    }

    /// A cluster connection with short timeouts and few retries, so fault
    /// tests stay fast. It follows MOVED/ASK and refreshes slots by itself.
    pub async fn connection(&self) -> redis::cluster_async::ClusterConnection {
        redis::cluster::ClusterClientBuilder::new(self.urls())
            .connection_timeout(Duration::from_millis(300))
            .response_timeout(Duration::from_millis(500))
            .retries(3)
            .min_retry_wait(10)
            .max_retry_wait(100)
            .build()
            .expect("cluster client")
            .get_async_connection()
            .await
            .expect("cluster connection")
    }

    /// The index of the node serving `key`'s hash slot (asks `CLUSTER KEYSLOT`
    /// and `CLUSTER SLOTS` on the first live node).
    pub fn node_of(&self, key: &str) -> usize {
        let live = self.nodes.iter().position(|n| n.guard.is_some()).expect("a live node");
        let mut con = self.node_client(live).get_connection().expect("conn");
        let slot: i64 = redis::cmd("CLUSTER").arg("KEYSLOT").arg(key).query(&mut con).expect("keyslot");
        // Each range: first slot, last slot, its master, then its replicas.
        let ranges: Vec<Vec<redis::Value>> = redis::cmd("CLUSTER").arg("SLOTS").query(&mut con).expect("slots");
        for range in ranges {
            let (lo, hi): (i64, i64) = match &range[..] {
                [lo, hi, ..] => {
                    (redis::from_redis_value(lo.clone()).expect("lo"), redis::from_redis_value(hi.clone()).expect("hi"))
                }
                _ => panic!("a malformed CLUSTER SLOTS range: {range:?}"),
            };
            let master: Vec<redis::Value> = redis::from_redis_value(range[2].clone()).expect("master");
            if (lo..=hi).contains(&slot) {
                let port: u16 = redis::from_redis_value(master.get(1).cloned().expect("port")).expect("port");
                return self.nodes.iter().position(|n| n.port == port).expect("known node");
            }
        }
        panic!("slot {slot} is not served");
    }

    /// SIGKILLs node `i` (a master: without replicas, none takes over).
    pub fn kill_node(&mut self, i: usize) {
        self.nodes[i].kill();
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        // Each guard removes its node's dir once the node is dead.
        for node in &mut self.nodes {
            node.kill();
        }
    }
}

/// A key prefix no other test of this process uses, for sharing one cluster.
pub fn unique_prefix(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("{tag}{}:", N.fetch_add(1, Ordering::Relaxed))
}

/// A port that was free a moment ago, whose bus port (+10000) was free too,
/// and that clashes with none of `taken` (nor their bus ports).
fn free_cluster_port(taken: &[u16]) -> u16 {
    for _ in 0..200 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let Some(bus) = port.checked_add(BUS_OFFSET) else { continue };
        let clash = taken.iter().any(|&t| [t, t + BUS_OFFSET].iter().any(|u| *u == port || *u == bus));
        if !clash && TcpListener::bind(("127.0.0.1", bus)).is_ok() {
            return port;
        }
    }
    panic!("no free port pair for a cluster node");
}
