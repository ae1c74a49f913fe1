//! A TCP proxy between a Redis client and a real `redis-server`, for tests,
//! that can fail ONE request on purpose, in one of two ways:
//!
//! - [`FaultProxy::cut_next_request`]: the next bytes a client sends are
//!   dropped, never forwarded, and its connection is closed: a request that
//!   certainly never reached Redis.
//! - [`FaultProxy::lose_next_reply`]: the next bytes a client sends are
//!   forwarded; the proxy reads Redis's replies until there is one for every
//!   command it forwarded (counting RESP frames), so Redis has run them all,
//!   then drops the replies and closes the connection: a request that Redis
//!   applied and whose reply never came back.
//!
//! Each fault is one-shot, and taken by whichever connection sends first once
//! it is armed; new connections are accepted and forwarded as usual, so a
//! client that reconnects meets a healthy Redis. [`FaultProxy::faults`] counts
//! the faults done, for the test to wait on (a signal, no sleep). Only ever
//! binds 127.0.0.1. The proxy runs on the runtime that started it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The fault armed for the next request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Cut,
    LoseReply,
}

/// What the proxy did, for the test to wait on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Done {
    /// Requests dropped by a cut.
    pub cut: usize,
    /// Requests forwarded whose replies were read and dropped.
    pub replies_lost: usize,
    /// Commands in those requests (each answered by Redis, then dropped).
    pub commands_applied_unanswered: usize,
}

/// A running proxy; stops accepting when dropped (open connections go on
/// until their peers close them).
pub struct FaultProxy {
    addr: SocketAddr,
    armed: Arc<Mutex<Option<Fault>>>,
    done: Arc<watch::Sender<Done>>,
    accept: JoinHandle<()>,
}

impl FaultProxy {
    /// A proxy on a free loopback port, forwarding to `127.0.0.1:upstream`.
    pub async fn start(upstream: u16) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let armed = Arc::new(Mutex::new(None));
        let done = Arc::new(watch::Sender::new(Done::default()));
        let (armed2, done2) = (armed.clone(), done.clone());
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (armed, done) = (armed2.clone(), done2.clone());
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else { return };
                    relay(client, server, &armed, &done).await;
                });
            }
        });
        FaultProxy { addr, armed, done, accept }
    }

    /// `redis://127.0.0.1:<proxy port>/`.
    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    /// The next request any client sends is dropped and its connection closed.
    pub fn cut_next_request(&self) {
        self.arm(Fault::Cut);
    }

    /// The next request any client sends reaches Redis; its replies are
    /// dropped and its connection closed.
    pub fn lose_next_reply(&self) {
        self.arm(Fault::LoseReply);
    }

    fn arm(&self, fault: Fault) {
        let mut armed = self.armed.lock().unwrap_or_else(PoisonError::into_inner);
        assert_eq!(*armed, None, "a fault is already armed");
        *armed = Some(fault);
    }

    /// What the proxy has done so far; `wait_for` on it to await a fault.
    pub fn faults(&self) -> watch::Receiver<Done> {
        self.done.subscribe()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Forwards both ways until either side closes, applying an armed fault to
/// the first bytes the client sends once it is armed.
async fn relay(mut client: TcpStream, mut server: TcpStream, armed: &Mutex<Option<Fault>>, done: &watch::Sender<Done>) {
    let (mut cbuf, mut sbuf) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    // While losing a reply: the request bytes forwarded and the reply bytes
    // swallowed so far.
    let mut losing: Option<(Vec<u8>, Vec<u8>)> = None;
    loop {
        tokio::select! {
            read = client.read(&mut cbuf) => {
                let n = match read { Ok(0) | Err(_) => return, Ok(n) => n };
                let bytes = &cbuf[..n];
                if losing.is_none() {
                    match armed.lock().unwrap_or_else(PoisonError::into_inner).take() {
                        Some(Fault::Cut) => {
                            done.send_modify(|d| d.cut += 1);
                            return;
                        }
                        Some(Fault::LoseReply) => losing = Some((Vec::new(), Vec::new())),
                        None => {}
                    }
                }
                if let Some((request, _)) = &mut losing {
                    request.extend_from_slice(bytes);
                }
                if server.write_all(bytes).await.is_err() {
                    return;
                }
            }
            read = server.read(&mut sbuf) => {
                let n = match read { Ok(0) | Err(_) => return, Ok(n) => n };
                let Some((request, reply)) = &mut losing else {
                    if client.write_all(&sbuf[..n]).await.is_err() {
                        return;
                    }
                    continue;
                };
                reply.extend_from_slice(&sbuf[..n]);
                let (commands, whole) = frames(request);
                let (replies, _) = frames(reply);
                if whole && replies >= commands {
                    done.send_modify(|d| {
                        d.replies_lost += 1;
                        d.commands_applied_unanswered += commands;
                    });
                    // Dropping both streams closes both connections.
                    return;
                }
            }
        }
    }
}

/// How many complete RESP frames `buf` holds from its start, and whether
/// it ends exactly after the last of them.
fn frames(buf: &[u8]) -> (usize, bool) {
    let (mut count, mut at) = (0, 0);
    while at < buf.len() {
        match frame_end(buf, at) {
            Some(end) => {
                count += 1;
                at = end;
            }
            None => return (count, false),
        }
    }
    (count, true)
}

/// The end of the RESP2/RESP3 frame starting at `at`, if it is complete.
fn frame_end(buf: &[u8], at: usize) -> Option<usize> {
    let line_end = at + buf.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&buf[at + 1..line_end]).expect("RESP header is text");
    let after = line_end + 2;
    let nested = |n: i64, per: i64| -> Option<usize> {
        let mut end = after;
        for _ in 0..n.max(0) * per {
            end = frame_end(buf, end)?;
        }
        Some(end)
    };
    match buf[at] {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Some(after),
        b'$' | b'!' | b'=' => {
            let len: i64 = line.parse().expect("RESP length");
            if len < 0 {
                return Some(after);
            }
            let end = after + usize::try_from(len).expect("length") + 2;
            (end <= buf.len()).then_some(end)
        }
        b'*' | b'~' | b'>' => nested(line.parse().expect("RESP count"), 1),
        b'%' | b'|' => nested(line.parse().expect("RESP count"), 2),
        other => panic!("not RESP: type byte {other:#04x}"),
    }
}
