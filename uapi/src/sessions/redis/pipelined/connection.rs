//! [`PipelinedConnection`]: the handle every request uses.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use redis::aio::ConnectionLike;
use redis::{Cmd, ConnectionAddr, IntoConnectionInfo, Pipeline, ProtocolVersion, RedisFuture, RedisResult, Value};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::driver::Driver;
use super::errors::{config, deadline_after, lost, overdue, runtime_here};
use super::socket::{open, Parked};
use super::state::{Shared, State, Waiter};
use super::unit::Resp;
use crate::sessions::redis::wire::{self, Replies, Unit};

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
/// Its limits: it speaks RESP2 to one node over TCP or a Unix socket, with
/// the URL's user, password and database; no TLS, no RESP3, no cluster, no
/// Sentinel. For those, use [`redis::aio::ConnectionManager`] or
/// [`redis::cluster_async::ClusterConnection`], the default. Measured on the
/// load benchmark (bench/README.md, 2026-11-29): the same req/s as a
/// `ConnectionManager`, 10-14% less server CPU on writes and logins (-5% to
/// +2% on reads), and a worse read p99 (2.0-2.3 ms against 1.1 ms).
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

impl PipelinedConnection {
    /// Connects to the Redis at `info` (a `redis://` or `redis+unix://` URL, or
    /// a [`redis::ConnectionInfo`]), with 2 s to connect and 2 s for replies.
    ///
    /// Fails if the URL is unusable here (TLS, RESP3) or the first connection
    /// cannot be made: a server that starts with a bad address should say so.
    ///
    /// The socket is driven by a task on the runtime of the first request
    /// that uses it (after a reconnection: of the request that reconnected),
    /// so a connection opened on one runtime, e.g. in `main` before
    /// [`crate::Workers`] start, serves the runtime that uses it. That runtime
    /// must keep running while others use the connection: when it shuts
    /// down, the socket closes and the next request reconnects.
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
        let (socket, rbuf) = open(&shared.info, shared.connect_timeout).await?;
        {
            let mut st = shared.lock();
            st.up = true;
            st.idle = Some((socket.park()?, rbuf));
        }
        Ok(PipelinedConnection { handle: Arc::new(Handle { shared }) })
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

    /// Sends the commands `build` writes (as RESP, straight into the
    /// connection's buffer) as one unit; otherwise as [`Self::send_unit`].
    pub(in crate::sessions::redis) async fn send_built(
        &self,
        build: &(dyn Fn(&mut dyn Unit) + Send + Sync),
        timeout: Duration,
    ) -> RedisResult<Replies> {
        let malformed = AtomicBool::new(false);
        let replies = self
            .request(
                |out| {
                    let mut resp = Resp::new(out);
                    build(&mut resp);
                    resp.finish().unwrap_or_else(|| {
                        malformed.store(true, Ordering::Relaxed);
                        0
                    })
                },
                timeout,
            )
            .await?;
        if malformed.load(Ordering::Relaxed) {
            return Err(wire::malformed());
        }
        Ok(replies)
    }

    /// Packs commands with `pack` (which returns how many replies they
    /// produce) and awaits the replies, connecting first if need be.
    async fn request(
        &self,
        mut pack: impl FnMut(&mut Vec<u8>) -> usize + Send,
        timeout: Duration,
    ) -> RedisResult<Replies> {
        // Before anything is packed: nothing may fail between packing the
        // commands and queueing their waiter.
        let deadline = deadline_after(timeout);
        let (rx, local) = match self.enqueue(&mut pack, deadline) {
            Some(queued) => queued,
            None => {
                // Boxed: the rare path keeps its (large) future out of every request's.
                Box::pin(self.reconnect()).await?;
                self.enqueue(&mut pack, deadline).ok_or_else(lost)?
            }
        };
        if local {
            // The driver runs on this runtime, which runs (it runs us): it
            // answers, fails overdue requests, or is dropped (then `rx` fails).
            return rx.await.unwrap_or_else(|_| Err(lost()));
        }
        // The driver is on another runtime, which may have stopped running
        // (kept, but no longer polled): bound the wait here too.
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(answered) => answered.unwrap_or_else(|_| Err(lost())),
            Err(_) => Err(overdue()),
        }
    }

    /// Queues the packed commands, unless no socket is up.
    fn enqueue(
        &self,
        pack: &mut dyn FnMut(&mut Vec<u8>) -> usize,
        deadline: Instant,
    ) -> Option<(oneshot::Receiver<RedisResult<Replies>>, bool)> {
        let (tx, rx) = oneshot::channel();
        let here = runtime_here();
        let (waker, local) = {
            let mut st = self.shared().lock();
            if !st.up {
                return None;
            }
            let left = pack(&mut st.out);
            if left == 0 {
                let _ = tx.send(Ok(Replies::new()));
                return Some((rx, true));
            }
            // Room for every reply up front: no growth in the driver, and the
            // memory is this task's (allocated and freed on its thread).
            st.waiters.push_back(Waiter { left, replies: Replies::with_capacity(left), deadline, tx });
            if let Some((parked, rbuf)) = st.idle.take() {
                drop(st);
                self.start_driver(parked, rbuf);
                return Some((rx, here.is_some()));
            }
            (st.driver.take(), here.is_some() && here == st.driver_runtime)
        };
        if let Some(w) = waker {
            w.wake();
        }
        Some((rx, local))
    }

    /// Starts the driver of the socket `connect` opened, on this runtime.
    fn start_driver(&self, parked: Parked, rbuf: BytesMut) {
        /// Fails what is queued (the next request opens a new socket) unless
        /// the driver was spawned: registering the socket, or the driver's
        /// timer, panics on a runtime without I/O or time.
        struct Unstarted<'a>(Option<&'a Shared>);
        impl Drop for Unstarted<'_> {
            fn drop(&mut self) {
                if let Some(shared) = self.0 {
                    Driver::fail_all(shared, &lost());
                }
            }
        }
        let shared = self.shared().clone();
        let mut guard = Unstarted(Some(&*self.handle.shared));
        match parked.resume() {
            Ok(io) => {
                drop(tokio::spawn(Driver::new(shared.clone(), io, rbuf)));
                shared.lock().driver_runtime = runtime_here();
                guard.0 = None;
            }
            Err(e) => {
                guard.0 = None;
                Driver::fail_all(&shared, &e.into());
            }
        }
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
        let opened = open(&shared.info, shared.connect_timeout).await;
        let mut st = shared.lock();
        match opened {
            Ok((socket, rbuf)) => {
                st.up = true;
                st.out.clear();
                st.driver_runtime = runtime_here();
                drop(st);
                tokio::spawn(Driver::new(shared.clone(), socket.boxed(), rbuf));
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
            // report a command refused before `EXEC`: its error is returned
            // (redis-rs's own connection wraps such errors in an "aborted
            // transaction" error, which it alone can build).
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
