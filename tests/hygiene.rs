//! The test helpers clean up after themselves: no `redis-server` outlives the
//! test process that started it, however that process ends (here: SIGKILL,
//! which runs no destructor), and `restart()` gets its port back even when
//! another process holds it for a while. Needs `redis-server` on PATH.

mod support;

use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::redis_cluster::RedisCluster;
use support::redis_server::RedisServer;

/// The upper bound on anything a test waits for; never reached when things work.
const PATIENCE: Duration = Duration::from_secs(10);

/// Set (by [`redis_servers_die_with_a_sigkilled_test_process`]) on the copy
/// of this test binary that starts servers and is then killed.
const VICTIM: &str = "UAPI_HYGIENE_VICTIM";

/// Waits until the server on `port` is gone: a connection made while it ran
/// sees the end of the stream (its process died and the kernel closed the
/// socket), then a new connection is refused.
fn assert_gone(mut conn: TcpStream, port: u16, what: &str) {
    conn.set_read_timeout(Some(PATIENCE)).expect("read timeout");
    let mut buf = [0u8; 64];
    match conn.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        Ok(n) => panic!("{what} on port {port} sent {n} bytes instead of dying"),
        Err(e) => panic!("{what} on port {port} is still running after {PATIENCE:?} ({e})"),
    }
    let again = TcpStream::connect(("127.0.0.1", port));
    assert!(again.is_err(), "{what} on port {port} still accepts connections");
}

/// A connection to each port, made while the servers run.
fn connect_all(ports: &[u16]) -> Vec<TcpStream> {
    ports.iter().map(|p| TcpStream::connect(("127.0.0.1", *p)).expect("the server is up")).collect()
}

/// Standalone servers (plain and TLS) and a private cluster are gone once
/// dropped. (Run as the victim of the SIGKILL test, it reports its servers
/// and waits to be killed instead.)
#[test]
fn dropped_servers_and_clusters_are_gone() {
    let plain = RedisServer::start();
    let tls = RedisServer::builder().tls().start();
    let cluster = RedisCluster::start();
    let mut ports = vec![plain.port(), tls.port()];
    ports.extend(cluster.ports());
    if std::env::var_os(VICTIM).is_some() {
        let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
        println!("victim ports {} pids {} {}", ports.join(" "), plain.pid(), tls.pid());
        // Killed meanwhile; should the killer go first, stdin ends and the
        // servers are dropped as usual.
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        return;
    }
    let conns = connect_all(&ports);
    drop(plain);
    drop(tls);
    drop(cluster);
    for (conn, port) in conns.into_iter().zip(ports) {
        assert_gone(conn, port, "a dropped redis-server");
    }
}

/// A test process SIGKILLed while its servers run (no destructor runs) takes
/// them along: each standalone `redis-server`, plain and TLS, by its
/// watchdog, and each cluster node by its guard.
#[test]
fn redis_servers_die_with_a_sigkilled_test_process() {
    let exe = std::env::current_exe().expect("this test binary");
    let mut victim = Command::new(exe)
        .args(["--exact", "dropped_servers_and_clusters_are_gone", "--nocapture", "--test-threads=1"])
        .env(VICTIM, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("runs a copy of this test binary");
    let stdout = victim.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // libtest may have written `test <name> ... ` before it on the line.
            if let Some((_, report)) = line.split_once("victim ports ") {
                let (ports, pids) = report.split_once(" pids ").expect("ports, then pids");
                let ports: Vec<u16> = ports.split(' ').map(|p| p.parse().expect("a port")).collect();
                let pids: Vec<u32> = pids.split(' ').map(|p| p.parse().expect("a pid")).collect();
                let _ = tx.send((ports, pids));
            }
        }
    });
    let (ports, pids) = match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(report) => report,
        Err(e) => {
            let _ = victim.kill();
            let _ = victim.wait();
            panic!("the victim never reported its servers: {e}");
        }
    };
    assert_eq!(ports.len(), 5, "2 standalone servers and 3 cluster nodes: {ports:?}");
    let _leftovers = Leftovers { ports: ports.clone(), pids };
    let conns = connect_all(&ports);
    victim.kill().expect("SIGKILL the victim");
    let status = victim.wait().expect("reaps the victim");
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9), "{status:?}");
    for (conn, port) in conns.into_iter().zip(ports) {
        assert_gone(conn, port, "a redis-server of the SIGKILLed test process");
    }
}

/// Should the test fail, the servers that outlived the victim are ended
/// here, so a failing run leaks nothing either: the standalone ones by pid,
/// the cluster nodes by `SHUTDOWN NOSAVE`.
struct Leftovers {
    ports: Vec<u16>,
    pids: Vec<u32>,
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        for pid in &self.pids {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
        for port in &self.ports {
            let client = redis::Client::open(format!("redis://127.0.0.1:{port}/"));
            if let Ok(mut con) = client.and_then(|c| c.get_connection_with_timeout(Duration::from_secs(1))) {
                let _: redis::RedisResult<()> = redis::cmd("SHUTDOWN").arg("NOSAVE").query(&mut con);
            }
        }
    }
}

/// `restart()` reuses its port (clients keep their URL) and, when another
/// process holds that port meanwhile, retries until it is free again.
#[test]
fn restart_retries_until_its_port_is_free_again() {
    let mut redis = RedisServer::start();
    let port = redis.port();
    redis.kill();
    let mut squatter = Some(std::net::TcpListener::bind(("127.0.0.1", port)).expect("the port is free after the kill"));
    let mut failures = Vec::new();
    redis.restart_observed(|failure| {
        failures.push(failure.to_owned());
        // The squatter lets go once the restart has been refused the port.
        squatter = None;
    });
    assert!(squatter.is_none() && !failures.is_empty(), "the first attempt should have found the port taken");
    assert_eq!(redis.port(), port, "restarted on another port");
    let mut con = redis.client().get_connection_with_timeout(PATIENCE).expect("connects after the restart");
    let pong: String = redis::cmd("PING").query(&mut con).expect("PING");
    assert_eq!(pong, "PONG");
}
