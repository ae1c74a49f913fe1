//! A Redis connection wrapper that counts round trips.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use redis::aio::ConnectionLike;
use redis::{Cmd, Pipeline, RedisFuture, Value};

/// Wraps a connection and counts requests. Every call of `req_packed_command`
/// (one command) or `req_packed_commands` (one pipeline) is one write of a
/// request followed by reading all its replies: exactly one network round trip.
#[derive(Clone)]
pub struct Counting<C> {
    pub inner: C,
    pub round_trips: Arc<AtomicUsize>,
}

impl<C> Counting<C> {
    pub fn new(inner: C) -> Counting<C> {
        Counting { inner, round_trips: Arc::default() }
    }

    /// The round trips so far, resetting the count.
    pub fn take(&self) -> usize {
        self.round_trips.swap(0, Ordering::SeqCst)
    }
}

impl<C: ConnectionLike + Send> ConnectionLike for Counting<C> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        self.round_trips.fetch_add(1, Ordering::SeqCst);
        self.inner.req_packed_command(cmd)
    }
    fn req_packed_commands<'a>(
        &'a mut self,
        p: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        self.round_trips.fetch_add(1, Ordering::SeqCst);
        self.inner.req_packed_commands(p, offset, count)
    }
    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}
