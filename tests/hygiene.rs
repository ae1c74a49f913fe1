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
use support::redis_sentinel::RedisSentinel;
use support::redis_server::RedisServer;

/// The upper bound on anything a test waits for; never reached when things work.
const PATIENCE: Duration = Duration::from_secs(10);

/// Set (by [`redis_servers_die_with_a_sigkilled_test_process`]) on the copy
/// of this test binary that starts servers and is then killed.
const VICTIM: &str = "UAPI_HYGIENE_VICTIM";

/// Waits until the server `pid` on `port` is gone: a connection made while
/// it ran sees the end of the stream (the kernel closes a dying process's
/// sockets), then the process is no more (or a zombie awaiting its reaper).
/// (Not "the port refuses connections": another test's server may get it.)
fn assert_gone(mut conn: TcpStream, port: u16, pid: u32, what: &str) {
    conn.set_read_timeout(Some(PATIENCE)).expect("read timeout");
    let mut buf = [0u8; 64];
    match conn.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        Ok(n) => panic!("{what} (pid {pid}, port {port}) sent {n} bytes instead of dying"),
        Err(e) => panic!("{what} (pid {pid}, port {port}) is still running after {PATIENCE:?} ({e})"),
    }
    // Its sockets are closed as it exits; the rest of the exit follows. No
    // event tells this process when another one's exit is complete: look.
    let deadline = std::time::Instant::now() + PATIENCE;
    while is_running(pid) {
        assert!(std::time::Instant::now() < deadline, "{what} (pid {pid}) still running after {PATIENCE:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether `pid` is a live process (not gone, not a zombie).
fn is_running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // `pid (comm) state ...`: the state follows the last `)`.
        Ok(stat) => stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()) != Some("Z"),
        Err(_) => false,
    }
}

/// The pid of the (plain) Redis server on `port`, as it tells.
fn pid_on(port: u16) -> u32 {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("url");
    let mut con = client.get_connection_with_timeout(PATIENCE).expect("connects");
    let info: redis::InfoDict = redis::cmd("INFO").arg("server").query(&mut con).expect("INFO");
    info.get("process_id").expect("a process_id")
}

/// A connection to each port, made while the servers run.
fn connect_all(ports: &[u16]) -> Vec<TcpStream> {
    ports.iter().map(|p| TcpStream::connect(("127.0.0.1", *p)).expect("the server is up")).collect()
}

/// Standalone servers (plain and TLS), a private cluster and a Sentinel
/// deployment are gone once dropped. (Run as the victim of the SIGKILL test,
/// it reports its servers and waits to be killed instead.)
#[test]
fn dropped_servers_and_clusters_are_gone() {
    let plain = RedisServer::start();
    let tls = RedisServer::builder().tls().start();
    let cluster = RedisCluster::start();
    let sentinel = RedisSentinel::start(1, Duration::from_secs(5), Duration::from_secs(10));
    let mut ports = vec![plain.port(), tls.port()];
    ports.extend(cluster.ports());
    ports.extend(sentinel.ports());
    let mut pids = vec![plain.pid(), tls.pid()];
    pids.extend(cluster.ports().into_iter().chain(sentinel.ports()).map(pid_on));
    if std::env::var_os(VICTIM).is_some() {
        let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
        let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
        println!("victim ports {} pids {}", ports.join(" "), pids.join(" "));
        // Killed meanwhile; should the killer go first, stdin ends and the
        // servers are dropped as usual.
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        return;
    }
    let conns = connect_all(&ports);
    drop(plain);
    drop(tls);
    drop(cluster);
    drop(sentinel);
    for ((conn, port), pid) in conns.into_iter().zip(ports).zip(pids) {
        assert_gone(conn, port, pid, "a dropped redis-server");
    }
}

/// A test process SIGKILLed while its servers run (no destructor runs) takes
/// them along: each standalone `redis-server`, plain and TLS, and each
/// process of a Sentinel deployment by its watchdog, and each cluster node
/// by its guard.
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
    assert_eq!(ports.len(), 10, "2 standalone servers, 3 cluster nodes, 2 + 3 Sentinel processes: {ports:?}");
    assert_eq!(pids.len(), 10, "{pids:?}");
    let _leftovers = Leftovers { pids: pids.clone() };
    let conns = connect_all(&ports);
    victim.kill().expect("SIGKILL the victim");
    let status = victim.wait().expect("reaps the victim");
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9), "{status:?}");
    for ((conn, port), pid) in conns.into_iter().zip(ports).zip(pids) {
        assert_gone(conn, port, pid, "a redis-server of the SIGKILLed test process");
    }
}

/// Should the test fail, the servers that outlived the victim are killed
/// here (by pid, each still running: its pid is its own), so a failing run
/// leaks nothing either.
struct Leftovers {
    pids: Vec<u32>,
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let ours = |pid: &&u32| {
            is_running(**pid)
                && std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.starts_with(b"redis-server"))
        };
        for pid in self.pids.iter().filter(ours) {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
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
