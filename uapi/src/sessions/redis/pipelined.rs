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
//!
//! Its limits, which redis-rs's connections do not have: one node, RESP2, TCP
//! or a Unix socket without TLS. For those use [`redis::aio::ConnectionManager`]
//! (the default).
//!
//! Modules, each using only those before it: `errors`, `resp` (the reply
//! decoder), `unit` (commands written as RESP), `socket` (connect and
//! handshake), `state` (what the handles and the driver share), `driver` (the
//! task that owns a socket), `connection` ([`PipelinedConnection`]).

mod connection;
mod driver;
mod errors;
mod resp;
mod socket;
mod state;
mod unit;

pub use self::connection::PipelinedConnection;
