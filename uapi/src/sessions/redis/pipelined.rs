//! [`PipelinedConnection`]: one socket to Redis that every request shares,
//! whose commands leave in one write per scheduler pass.
//!
//! Why the session store has its own connection: on a session read, redis-rs's
//! multiplexed connection spent about 9,800 of the request's 31,200
//! instructions (callgrind): its `combine` reply decoder (about 6,100), plus a
//! channel, a driver task and a second oneshot behind our own batching. Here a
//! request packs its commands straight into the connection's output buffer and
//! waits on one oneshot; a single driver future per socket writes whatever has
//! gathered, decodes the replies with [`super::resp`] and hands them out in
//! order. Commands are still built, and replies still read, as redis-rs
//! [`Cmd`]s and [`Value`]s, and the type implements redis-rs's
//! [`ConnectionLike`], so it goes wherever a redis-rs async connection does.
//!
//! Failure model: an I/O error, a reply that makes no sense, or a request
//! whose replies are overdue (the oldest request's timeout passed) ends the
//! socket: every waiting request gets the error, and the next request opens a
//! new socket (one attempt at a time; callers that waited on a failed attempt
//! get its error rather than queueing attempts of their own). So Redis down
//! costs each request one refused connect, and Redis back needs no restart.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use redis::aio::ConnectionLike;
use redis::{
    Cmd, ConnectionAddr, ConnectionInfo, ErrorKind, IntoConnectionInfo, Pipeline, ProtocolVersion, RedisError,
    RedisFuture, RedisResult, Value,
};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::time::{Instant, Sleep};

use super::batch::Replies;
use super::resp;

/// A Redis connection built for the session store's traffic: many small
/// commands from concurrent requests, pipelined on one socket.
///
/// - The commands of every request that is ready to run leave in one write,
///   and their replies are decoded in one pass (no per-request task or channel
///   hop).
/// - It reconnects by itself: after Redis goes away, each request makes (or
///   waits on) one connection attempt, bounded by the connect timeout, and
///   fails fast while Redis is down; when Redis is back, the next request
///   connects.
/// - Cheap to clone: clones share the socket. The socket closes when the last
///   clone is dropped.
///
/// It speaks RESP2 to one node over TCP or a Unix socket, with the URL's
/// user, password and database. For TLS (`rediss://`), RESP3 or a cluster, use
/// [`redis::aio::ConnectionManager`] or
/// [`redis::cluster_async::ClusterConnection`]: the session store takes those
/// too.
///
/// # Examples
///
/// ```no_run
/// use uapi::sessions::redis::{configure_async_sessions, PipelinedConnection};
/// use uapi::{App, sessions::SessionOptions};
///
/// # async fn run() -> redis::RedisResult<()> {
/// let redis = PipelinedConnection::connect("redis://127.0.0.1:6379").await?;
/// let mut app = App::new();
/// configure_async_sessions(&mut app, redis, SessionOptions::default());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PipelinedConnection {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for PipelinedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelinedConnection").field("addr", &self.handle.shared.info.addr()).finish()
    }
}

/// Dropped with the last clone: tells the driver to close the socket.
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        let waker = {
            let mut st = self.shared.lock();
            st.closed = true;
            st.driver.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

struct Shared {
    info: ConnectionInfo,
    connect_timeout: Duration,
    response_timeout: Duration,
    state: Mutex<State>,
    /// One connection attempt at a time.
    connecting: tokio::sync::Mutex<()>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Default)]
struct State {
    /// A driver owns a live socket.
    up: bool,
    /// Every handle is gone.
    closed: bool,
    /// Failed connection attempts so far, and the last one's error.
    failures: u64,
    last_error: Option<RedisError>,
    /// Packed commands the driver has not taken yet.
    out: Vec<u8>,
    /// Requests awaiting replies, in the order their commands were packed.
    waiters: VecDeque<Waiter>,
    /// The driver's waker, when it waits for commands.
    driver: Option<Waker>,
}

struct Waiter {
    /// Replies still to come.
    left: usize,
    replies: Replies,
    deadline: Instant,
    tx: oneshot::Sender<RedisResult<Replies>>,
}

impl PipelinedConnection {
    /// Connects to the Redis at `info` (a `redis://` or `redis+unix://` URL, or
    /// a [`ConnectionInfo`]), with 2 s to connect and 2 s for replies.
    ///
    /// Fails if the URL is unusable here (TLS, RESP3) or the first connection
    /// cannot be made: a server that starts with a bad address should say so.
    pub async fn connect(info: impl IntoConnectionInfo) -> RedisResult<Self> {
        Self::connect_with_timeouts(info, Duration::from_secs(2), Duration::from_secs(2)).await
    }

    /// [`connect`](Self::connect) with the bound for each connection attempt
    /// and the bound for replies to a request sent through [`ConnectionLike`]
    /// (the session store bounds its own requests by its command timeout).
    pub async fn connect_with_timeouts(
        info: impl IntoConnectionInfo,
        connect_timeout: Duration,
        response_timeout: Duration,
    ) -> RedisResult<Self> {
        let info = info.into_connection_info()?;
        if matches!(info.addr(), ConnectionAddr::TcpTls { .. }) {
            return Err(config("TLS is not supported here: use redis::aio::ConnectionManager"));
        }
        if info.redis_settings().protocol() != ProtocolVersion::RESP2 {
            return Err(config("only RESP2 is spoken here: use redis::aio::ConnectionManager for RESP3"));
        }
        let shared = Arc::new(Shared {
            info,
            connect_timeout,
            response_timeout,
            state: Mutex::new(State::default()),
            connecting: tokio::sync::Mutex::new(()),
        });
        let conn = PipelinedConnection { handle: Arc::new(Handle { shared }) };
        conn.reconnect().await?;
        Ok(conn)
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.handle.shared
    }

    /// Sends `cmds` as one unit and returns one reply per command (server
    /// errors included, as values), or the connection's error; a request
    /// not answered within `timeout` fails with a timeout error.
    pub(super) async fn send_unit(
        &self,
        cmds: impl IntoIterator<Item = Cmd> + Send,
        timeout: Duration,
    ) -> RedisResult<Replies> {
        let mut cmds = Some(cmds);
        self.request(
            |out| {
                let mut n = 0;
                for cmd in cmds.take().into_iter().flatten() {
                    cmd.write_packed_command(out);
                    n += 1;
                }
                n
            },
            timeout,
        )
        .await
    }

    /// Packs commands with `pack` (which returns how many replies they
    /// produce) and awaits the replies, connecting first if need be.
    async fn request(
        &self,
        mut pack: impl FnMut(&mut Vec<u8>) -> usize + Send,
        timeout: Duration,
    ) -> RedisResult<Replies> {
        let rx = match self.enqueue(&mut pack, timeout) {
            Some(rx) => rx,
            None => {
                self.reconnect().await?;
                self.enqueue(&mut pack, timeout).ok_or_else(lost)?
            }
        };
        rx.await.unwrap_or_else(|_| Err(lost()))
    }

    /// Queues the packed commands, unless no socket is up.
    fn enqueue(
        &self,
        pack: &mut dyn FnMut(&mut Vec<u8>) -> usize,
        timeout: Duration,
    ) -> Option<oneshot::Receiver<RedisResult<Replies>>> {
        let (tx, rx) = oneshot::channel();
        let waker = {
            let mut st = self.shared().lock();
            if !st.up {
                return None;
            }
            let left = pack(&mut st.out);
            if left == 0 {
                let _ = tx.send(Ok(Replies::new()));
                return Some(rx);
            }
            st.waiters.push_back(Waiter { left, replies: Replies::new(), deadline: Instant::now() + timeout, tx });
            st.driver.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Some(rx)
    }

    /// Opens a socket and starts its driver, unless one is up; a caller that
    /// waited on someone else's failed attempt gets that attempt's error.
    async fn reconnect(&self) -> RedisResult<()> {
        let shared = self.shared();
        let failures = shared.lock().failures;
        let _one_at_a_time = shared.connecting.lock().await;
        {
            let st = shared.lock();
            if st.up {
                return Ok(());
            }
            if st.failures != failures {
                return Err(st.last_error.clone().unwrap_or_else(lost));
            }
        }
        let opened = match tokio::time::timeout(shared.connect_timeout, open(&shared.info)).await {
            Ok(opened) => opened,
            Err(_) => Err(RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("connecting to Redis took over {:?}", shared.connect_timeout),
            ))),
        };
        let mut st = shared.lock();
        match opened {
            Ok((io, rbuf)) => {
                st.up = true;
                st.out.clear();
                drop(st);
                tokio::spawn(Driver::new(shared.clone(), io, rbuf));
                Ok(())
            }
            Err(e) => {
                st.failures += 1;
                st.last_error = Some(e.clone());
                Err(e)
            }
        }
    }
}

impl ConnectionLike for PipelinedConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let timeout = self.shared().response_timeout;
            let mut replies = self.send_unit([cmd.clone()], timeout).await?;
            replies.pop().ok_or_else(lost)?.extract_error()
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let packed = pipeline.get_packed_pipeline();
            let timeout = self.shared().response_timeout;
            let expected = offset + count;
            let replies = self
                .request(
                    |out| {
                        out.extend_from_slice(&packed);
                        expected
                    },
                    timeout,
                )
                .await?;
            let mut replies = replies.into_iter();
            // The replies skipped (a transaction's `OK` and `QUEUED`s) still
            // report a command refused before `EXEC`.
            for skipped in replies.by_ref().take(offset) {
                skipped.extract_error()?;
            }
            Ok(replies.collect())
        })
    }

    fn get_db(&self) -> i64 {
        self.shared().info.redis_settings().db()
    }
}

/// A socket, either kind.
trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

/// Connects and runs the handshake (`AUTH`, `SELECT`); returns the socket and
/// any bytes read past the handshake's replies.
async fn open(info: &ConnectionInfo) -> RedisResult<(Box<dyn Io>, BytesMut)> {
    let mut io: Box<dyn Io> = match info.addr() {
        ConnectionAddr::Tcp(host, port) => {
            let tcp = tokio::net::TcpStream::connect((host.as_str(), *port)).await?;
            tcp.set_nodelay(true)?;
            Box::new(tcp)
        }
        #[cfg(unix)]
        ConnectionAddr::Unix(path) => Box::new(tokio::net::UnixStream::connect(path).await?),
        other => return Err(config(&format!("unsupported address {other:?}"))),
    };
    let settings = info.redis_settings();
    let mut hello = Vec::new();
    let mut count = 0;
    if let Some(password) = settings.password() {
        let mut auth = redis::cmd("AUTH");
        if let Some(user) = settings.username() {
            auth.arg(user);
        }
        auth.arg(password).write_packed_command(&mut hello);
        count += 1;
    }
    if settings.db() != 0 {
        redis::cmd("SELECT").arg(settings.db()).write_packed_command(&mut hello);
        count += 1;
    }
    let mut rbuf = BytesMut::with_capacity(16 * 1024);
    if count > 0 {
        io.write_all(&hello).await?;
        for _ in 0..count {
            let reply = loop {
                if let Some((v, used)) = resp::decode(&rbuf)? {
                    rbuf.advance(used);
                    break v;
                }
                if tokio::io::AsyncReadExt::read_buf(&mut io, &mut rbuf).await? == 0 {
                    return Err(lost());
                }
            };
            if let Err(e) = reply.extract_error() {
                let kind = if e.code() == Some("WRONGPASS") || e.code() == Some("NOAUTH") {
                    ErrorKind::AuthenticationFailed
                } else {
                    ErrorKind::InvalidClientConfig
                };
                return Err(RedisError::from((kind, "Redis refused the connection's handshake", e.to_string())));
            }
        }
    }
    Ok((io, rbuf))
}

/// The future that owns one socket: writes what requests packed, decodes the
/// replies, hands them out in order, and fails everything when the socket
/// breaks or replies are overdue.
struct Driver {
    shared: Arc<Shared>,
    io: Box<dyn Io>,
    rbuf: BytesMut,
    wbuf: Vec<u8>,
    written: usize,
    /// Whether this pass already let other tasks add their commands.
    yielded: bool,
    decoded: Vec<Value>,
    finished: Vec<Waiter>,
    timer: Pin<Box<Sleep>>,
    timer_at: Option<Instant>,
    /// Returned `Ready`: the connection was already marked down.
    done: bool,
}

impl Driver {
    fn new(shared: Arc<Shared>, io: Box<dyn Io>, rbuf: BytesMut) -> Self {
        Driver {
            shared,
            io,
            rbuf,
            wbuf: Vec::new(),
            written: 0,
            yielded: false,
            decoded: Vec::new(),
            finished: Vec::new(),
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            timer_at: None,
            done: false,
        }
    }

    /// Runs until nothing can progress; `Ok(true)` when the socket should
    /// close quietly (every handle is gone and nothing is owed).
    fn step(&mut self, cx: &mut Context<'_>) -> RedisResult<bool> {
        loop {
            let mut progressed = false;
            if self.written == self.wbuf.len() {
                self.wbuf.clear();
                self.written = 0;
                let mut st = self.shared.lock();
                if st.out.is_empty() {
                    if st.closed && st.waiters.is_empty() {
                        return Ok(true);
                    }
                    if !st.driver.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                        st.driver = Some(cx.waker().clone());
                    }
                } else if !self.yielded {
                    // Let every request that is ready to run now add its
                    // commands first: one write for all of them.
                    self.yielded = true;
                    drop(st);
                    cx.waker().wake_by_ref();
                    return Ok(false);
                } else {
                    self.yielded = false;
                    std::mem::swap(&mut st.out, &mut self.wbuf);
                }
            }
            while self.written < self.wbuf.len() {
                match Pin::new(&mut self.io).poll_write(cx, &self.wbuf[self.written..]) {
                    Poll::Ready(Ok(0)) => return Err(std::io::Error::from(std::io::ErrorKind::WriteZero).into()),
                    Poll::Ready(Ok(n)) => {
                        self.written += n;
                        progressed = true;
                    }
                    Poll::Ready(Err(e)) => return Err(e.into()),
                    Poll::Pending => break,
                }
            }
            if self.written > 0 && self.written == self.wbuf.len() {
                if let Poll::Ready(Err(e)) = Pin::new(&mut self.io).poll_flush(cx) {
                    return Err(e.into());
                }
            }
            loop {
                if self.rbuf.capacity() - self.rbuf.len() < 4096 {
                    self.rbuf.reserve(16 * 1024);
                }
                match tokio_util::io::poll_read_buf(Pin::new(&mut self.io), cx, &mut self.rbuf) {
                    Poll::Ready(Ok(0)) => return Err(lost()),
                    Poll::Ready(Ok(_)) => {
                        progressed = true;
                        self.dispatch()?;
                    }
                    Poll::Ready(Err(e)) => return Err(e.into()),
                    Poll::Pending => break,
                }
            }
            self.watch_deadline(cx)?;
            if !progressed {
                return Ok(false);
            }
        }
    }

    /// Decodes every complete reply and hands them to their requests.
    fn dispatch(&mut self) -> RedisResult<()> {
        let mut used = 0;
        while let Some((v, n)) = resp::decode(&self.rbuf[used..])? {
            self.decoded.push(v);
            used += n;
        }
        self.rbuf.advance(used);
        if self.decoded.is_empty() {
            return Ok(());
        }
        {
            let mut st = self.shared.lock();
            for v in self.decoded.drain(..) {
                let Some(w) = st.waiters.front_mut() else {
                    return Err(RedisError::from((ErrorKind::Client, "a reply from Redis that no request asked for")));
                };
                w.replies.push(v);
                w.left -= 1;
                if w.left == 0 {
                    self.finished.extend(st.waiters.pop_front());
                }
            }
        }
        for w in self.finished.drain(..) {
            let _ = w.tx.send(Ok(w.replies));
        }
        Ok(())
    }

    /// Fails with a timeout once the oldest request's replies are overdue.
    fn watch_deadline(&mut self, cx: &mut Context<'_>) -> RedisResult<()> {
        let front = self.shared.lock().waiters.front().map(|w| w.deadline);
        let Some(deadline) = front else {
            self.timer_at = None;
            return Ok(());
        };
        if self.timer_at != Some(deadline) {
            self.timer.as_mut().reset(deadline);
            self.timer_at = Some(deadline);
        }
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => Err(RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "Redis did not answer in time; the connection was closed",
            ))),
            Poll::Pending => Ok(()),
        }
    }

    /// Marks the socket down and fails every waiting request with `e`.
    fn fail(&mut self, e: &RedisError) {
        let waiters = {
            let mut st = self.shared.lock();
            st.up = false;
            st.out.clear();
            st.driver = None;
            std::mem::take(&mut st.waiters)
        };
        if !waiters.is_empty() {
            tracing::warn!(error = %e, failed = waiters.len(), "Redis connection lost");
        }
        for w in waiters {
            let _ = w.tx.send(Err(e.clone()));
        }
    }
}

impl Future for Driver {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let e = match this.step(cx) {
            Ok(false) => return Poll::Pending,
            Ok(true) => lost(),
            Err(e) => e,
        };
        this.fail(&e);
        this.done = true;
        Poll::Ready(())
    }
}

impl Drop for Driver {
    /// A driver dropped unfinished (its runtime shut down) leaves the
    /// connection down, so the next request reconnects.
    fn drop(&mut self) {
        if !self.done {
            self.fail(&lost());
        }
    }
}

fn lost() -> RedisError {
    RedisError::from(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "the connection to Redis was lost"))
}

fn config(what: &str) -> RedisError {
    RedisError::from((ErrorKind::InvalidClientConfig, "unsupported connection", what.to_owned()))
}
