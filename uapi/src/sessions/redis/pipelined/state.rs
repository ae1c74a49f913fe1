//! What the handles of a [`super::PipelinedConnection`] and its driver share:
//! the connection's settings, the packed commands not yet written, and the
//! requests awaiting replies.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::time::Duration;

use bytes::BytesMut;
use redis::{ConnectionInfo, RedisError, RedisResult};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::socket::Parked;
use crate::sessions::redis::wire::Replies;

pub(super) struct Shared {
    pub(super) info: ConnectionInfo,
    pub(super) connect_timeout: Duration,
    pub(super) response_timeout: Duration,
    pub(super) state: Mutex<State>,
    /// One connection attempt at a time.
    pub(super) connecting: tokio::sync::Mutex<()>,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Default)]
pub(super) struct State {
    /// A socket is open (driven, or waiting in `idle` for its driver).
    pub(super) up: bool,
    /// The socket `connect` opened, until the first request spawns its driver
    /// on the request's own runtime (see [`PipelinedConnection::connect`]).
    pub(super) idle: Option<(Parked, BytesMut)>,
    /// Every handle is gone.
    pub(super) closed: bool,
    /// Failed connection attempts so far, and the last one's error.
    pub(super) failures: u64,
    pub(super) last_error: Option<RedisError>,
    /// Packed commands the driver has not taken yet.
    pub(super) out: Vec<u8>,
    /// Requests awaiting replies, in the order their commands were packed.
    pub(super) waiters: VecDeque<Waiter>,
    /// The driver's waker, when it waits for commands.
    pub(super) driver: Option<Waker>,
    /// The runtime the driver was spawned on.
    pub(super) driver_runtime: Option<tokio::runtime::Id>,
}

pub(super) struct Waiter {
    /// Replies still to come.
    pub(super) left: usize,
    pub(super) replies: Replies,
    pub(super) deadline: Instant,
    pub(super) tx: oneshot::Sender<RedisResult<Replies>>,
}
