//! Ctrl-C, for real: `App::serve`, `Server::run` and `Workers::run` in a
//! process of their own (`examples/ctrl_c.rs`), sent SIGINT while serving.
//! The request in flight completes with a 200, new connections are refused,
//! and the process exits 0 within the shutdown grace (10 s by default); a
//! handler that never ends holds the exit exactly that long, no longer.

mod support;

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use support::spawned::{example, Spawned, PATIENCE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Command;

/// The default shutdown grace.
const GRACE: Duration = Duration::from_secs(10);

/// Slack for a loaded machine on top of the grace: from `kill` to the
/// process noticing, and from its exit to this process seeing it.
const SLACK: Duration = Duration::from_secs(3);

/// How the example serves.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// `App::serve(addr)`.
    Serve,
    /// `App::bind` then `Server::run`.
    Run,
    /// `Workers::run`, 2 workers.
    Workers,
}

/// Starts the example in `mode`; returns it, serving, and its address.
async fn start(mode: Mode) -> (Spawned, SocketAddr) {
    let exe = example("ctrl_c");
    match mode {
        Mode::Run => {
            let mut server = Spawned::start(command(&exe, &["run"]));
            let addr = server.addr_after("listening on http://").await;
            (server, addr)
        }
        Mode::Workers => {
            let mut server = Spawned::start(command(&exe, &["workers"]));
            let addr = server.addr_after("serving addr=").await;
            let serving = server.line("serving addr=").await;
            assert!(serving.ends_with("workers=2"), "{serving}");
            (server, addr)
        }
        Mode::Serve => {
            // `App::serve` binds the address it is given and says nothing
            // when it listens: pick a free port, then try connecting until it
            // accepts (there is no other sign). Should another process take
            // the port first, the example exits and another port is tried.
            for _ in 0..3 {
                let addr = free_addr();
                let mut server = Spawned::start(command(&exe, &["serve", &addr.to_string()]));
                let deadline = Instant::now() + PATIENCE;
                loop {
                    if TcpStream::connect(addr).await.is_ok() {
                        return (server, addr);
                    }
                    if server.has_exited() || Instant::now() > deadline {
                        eprintln!("serve on {addr} did not come up:\n{}", server.output());
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            panic!("App::serve never came up");
        }
    }
}

fn command(exe: &std::path::Path, args: &[&str]) -> Command {
    let mut command = Command::new(exe);
    command.args(args);
    command
}

fn free_addr() -> SocketAddr {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    probe.local_addr().expect("an address")
}

/// A connection that sent `GET path`, its answer still to come.
async fn send(addr: SocketAddr, path: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .expect("writes");
    stream
}

/// What the server sent until it closed the connection.
async fn answer(mut stream: TcpStream) -> String {
    let mut seen = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the connection stayed open for {PATIENCE:?}");
    String::from_utf8_lossy(&seen).into_owned()
}

/// After Ctrl-C, new connections are soon refused. Tries until one is: a
/// connection made meanwhile must be closed unanswered, or, where
/// `may_serve_late` (with `Workers` the acceptor thread stops a moment after
/// the log line, and a worker may still take what it handed over), answered.
/// `Server::run` closes its listener in the same poll as it logs, so there a
/// connection made after the line can at most sit in the backlog, unanswered.
async fn assert_refuses_new_connections(addr: SocketAddr, server: &Spawned, may_serve_late: bool) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match TcpStream::connect(addr).await {
            // Refused, or reset as the listener closed with it in the backlog.
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset) => return,
            Err(e) => panic!("connecting after the shutdown began: {e}"),
            Ok(mut late) => {
                let _ = late.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
                let text = answer(late).await;
                let served = text.starts_with("HTTP/1.1 200") && text.ends_with("hello");
                assert!(
                    text.is_empty() || (may_serve_late && served),
                    "a connection made after Ctrl-C got {text:?}\n{}",
                    server.output()
                );
            }
        }
        assert!(Instant::now() < deadline, "still accepting connections {PATIENCE:?} after Ctrl-C");
    }
}

/// SIGINT with requests in flight (one per worker): they complete with a
/// 200, new connections are refused meanwhile, and the process then exits 0
/// well within the grace.
async fn ctrl_c_lets_requests_in_flight_finish_then_exits_0(mode: Mode) {
    let (mut server, addr) = start(mode).await;
    let n = if mode == Mode::Workers { 2 } else { 1 };
    let mut in_flight = Vec::new();
    for _ in 0..n {
        in_flight.push(send(addr, "/slow").await);
    }
    let mut workers = server.lines_containing("slow: started on worker", n).await;
    workers.sort();
    if mode == Mode::Workers {
        // Consecutive connections go to the workers in turn.
        assert!(workers[0].ends_with('0') && workers[1].ends_with('1'), "{workers:?}");
    }
    let interrupted = Instant::now();
    server.interrupt();
    server.line("Ctrl-C received, shutting down").await;
    assert_refuses_new_connections(addr, &server, mode == Mode::Workers).await;
    assert!(!server.has_exited(), "exited with a request in flight:\n{}", server.output());
    server.send_line("release").await;
    for stream in in_flight {
        let text = answer(stream).await;
        assert!(text.starts_with("HTTP/1.1 200"), "the request in flight got {text:?}\n{}", server.output());
        assert!(text.contains("finished on worker"), "{text:?}");
    }
    let status = server.exit_within(GRACE).await;
    assert!(status.is_some_and(|s| s.success()), "exit {status:?} after Ctrl-C:\n{}", server.output());
    assert!(interrupted.elapsed() < GRACE, "exited {:?} after Ctrl-C", interrupted.elapsed());
    server.line("exited cleanly").await;
}

/// SIGINT while a handler never ends, in each way of serving at once (the
/// grace is real time): the process waits the 10 s grace for it, no less and
/// not much more, then exits 0; the stuck request's connection is closed
/// unanswered.
#[tokio::test]
async fn ctrl_c_with_a_stuck_handler_exits_0_after_the_grace_in_each_way_of_serving() {
    tokio::join!(
        stuck_handler_then_ctrl_c(Mode::Serve),
        stuck_handler_then_ctrl_c(Mode::Run),
        stuck_handler_then_ctrl_c(Mode::Workers),
    );
}

async fn stuck_handler_then_ctrl_c(mode: Mode) {
    let (mut server, addr) = start(mode).await;
    let stuck = send(addr, "/stuck").await;
    server.line("stuck: started").await;
    let interrupted = Instant::now();
    server.interrupt();
    server.line("Ctrl-C received, shutting down").await;
    let status = server.exit_within(GRACE + SLACK).await;
    let took = interrupted.elapsed();
    assert!(status.is_some_and(|s| s.success()), "{mode:?}: exit {status:?} after {took:?}:\n{}", server.output());
    assert!(took >= GRACE, "{mode:?}: exited {took:?} after Ctrl-C, before the grace ran out");
    server.line("graceful shutdown timed out").await;
    let text = answer(stuck).await;
    assert!(text.is_empty(), "{mode:?}: the stuck request was answered: {text:?}");
}

/// Instantiates the scenario for each way of serving.
macro_rules! for_each_mode {
    ($name:ident) => {
        mod app_serve {
            #[doc = concat!("`", stringify!($name), "`, with `App::serve`.")]
            #[tokio::test]
            async fn $name() {
                super::$name(super::Mode::Serve).await;
            }
        }
        mod server_run {
            #[doc = concat!("`", stringify!($name), "`, with `Server::run`.")]
            #[tokio::test]
            async fn $name() {
                super::$name(super::Mode::Run).await;
            }
        }
        mod workers_run {
            #[doc = concat!("`", stringify!($name), "`, with `Workers::run`.")]
            #[tokio::test]
            async fn $name() {
                super::$name(super::Mode::Workers).await;
            }
        }
    };
}

for_each_mode!(ctrl_c_lets_requests_in_flight_finish_then_exits_0);
