//! The driver: the one task that owns a socket of a
//! [`PipelinedConnection`](super::PipelinedConnection).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use redis::{ErrorKind, RedisError, RedisResult, Value};
use tokio::io::AsyncWrite;
use tokio::time::{Instant, Sleep};

use super::errors::lost;
use super::resp;
use super::socket::Io;
use super::state::{Shared, Waiter};

/// The future that owns one socket: writes what requests packed, decodes the
/// replies, hands them out in order, and fails everything when the socket
/// breaks or replies are overdue.
/// Buffered bytes past which a reply is checked for completeness first.
const LARGE: usize = 64 * 1024;

pub(super) struct Driver {
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
    pub(super) fn new(shared: Arc<Shared>, io: Box<dyn Io>, rbuf: BytesMut) -> Self {
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
            // Read all there is, then decode once: an incomplete reply is
            // decoded again from its start, so not after every read of a
            // large one. (The buffer at least doubles when it fills.)
            let mut read = false;
            loop {
                if self.rbuf.capacity() - self.rbuf.len() < 4096 {
                    self.rbuf.reserve(self.rbuf.len().max(16 * 1024));
                }
                match tokio_util::io::poll_read_buf(Pin::new(&mut self.io), cx, &mut self.rbuf) {
                    Poll::Ready(Ok(0)) => return Err(lost()),
                    Poll::Ready(Ok(_)) => read = true,
                    Poll::Ready(Err(e)) => return Err(e.into()),
                    Poll::Pending => break,
                }
            }
            if read {
                progressed = true;
                self.dispatch()?;
            }
            self.watch_deadline(cx)?;
            if !progressed {
                return Ok(false);
            }
        }
    }

    /// Decodes every complete reply and hands them to their requests.
    fn dispatch(&mut self) -> RedisResult<()> {
        // A large buffer may hold the start of a reply still arriving: check
        // that a whole reply is there before building values from it.
        if self.rbuf.len() > LARGE && resp::complete(&self.rbuf)?.is_none() {
            return Ok(());
        }
        let mut used = 0;
        while let Some((v, n)) = resp::decode(&self.rbuf[used..])? {
            self.decoded.push(v);
            used += n;
        }
        self.rbuf.advance(used);
        if self.decoded.is_empty() {
            return Ok(());
        }
        let mut unasked = false;
        {
            let mut st = self.shared.lock();
            for v in self.decoded.drain(..) {
                let Some(w) = st.waiters.front_mut() else {
                    unasked = true;
                    break;
                };
                w.replies.push(v);
                w.left -= 1;
                if w.left == 0 {
                    self.finished.extend(st.waiters.pop_front());
                }
            }
        }
        // Replies that arrived are delivered, even when the next makes no sense.
        for w in self.finished.drain(..) {
            let _ = w.tx.send(Ok(w.replies));
        }
        if unasked {
            self.decoded.clear();
            return Err(RedisError::from((ErrorKind::Client, "a reply from Redis that no request asked for")));
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
        Self::fail_all(&self.shared, e);
    }

    pub(super) fn fail_all(shared: &Shared, e: &RedisError) {
        let waiters = {
            let mut st = shared.lock();
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
