//! Redis session store: one HASH per session, one sorted set per namespace.
//!
//! Key layout (`P` = the configured prefix, applied to every key we touch):
//! - `P uapi:session:<id>`: HASH of user fields plus reserved `\x01…` fields;
//!   expires through its Redis TTL.
//! - `P uapi:ns:<hex(namespace)>`: ZSET of session ids, score = the member's
//!   expiry in unix milliseconds (server clock); its own TTL is its max score.
//! - `P uapi:attempts:<key>`: ZSET of attempt ids scored by when they were
//!   made (server clock), for the login throttle; its TTL is the window.
//!
//! Cluster safety: every command and every script touches keys of ONE hash
//! slot. Work on a session key and on an index key is sent as separate
//! commands. On a single node they still share one pipeline (one round trip);
//! on a cluster ([`RedisConnection::cluster`], or redis-rs's cluster connection) each slot's commands go as
//! separate single-command requests, slots concurrently: a single command
//! follows ASK redirections during a resharding, a pipeline does not. The two
//! sides are therefore not atomic with each other; the index may briefly hold
//! dead ids, which is harmless (ids are never reused, members are pruned by
//! score, and deletion re-checks the namespace inside the session hash).
//!
//! Commands per request, single node: a load is one `HGETALL` (a
//! `LazySession`'s read one `HMGET` of the marker, the namespace and the
//! fields it names; `current_user_id` is such a read); creating a
//! session and updating one are transactions (`MULTI` .. `EXEC`: `HSET`,
//! `PEXPIRE`, and for an update `HEXISTS` of the marker field, which tells a
//! session deleted meanwhile); the Lua scripts in `scripts` serve the rarer
//! namespace changes, and cluster mode (one command per request). Commands of
//! concurrent requests leave in one write (`batch`, or a `PipelinedConnection`
//! by itself).
//!
//! Modules, each using only those before it: `wire` (reserved fields, command
//! units, replies), `error`, `scripts`, `batch` (auto-pipelining),
//! `pipelined` (feature `pipelined`), `replicas` (waiting for replicas after
//! a write: `WAIT`, and refusing the writes of a primary short of them),
//! `sentinel` ([`SentinelConnection`]: the primary of a Sentinel deployment,
//! followed across failovers), `transport` (which way a connection is
//! sent on), `reads` (a session read whole or by fields), `backend` ([`RedisBackend`]), `attempts` (its
//! [`AttemptLog`](crate::sessions::AttemptLog)), `configure`.

mod attempts;
mod backend;
mod batch;
mod configure;
mod error;
#[cfg(feature = "pipelined")]
mod pipelined;
mod reads;
mod replicas;
mod scripts;
mod sentinel;
mod transport;
mod wire;

pub use self::backend::RedisBackend;
pub use self::configure::configure_async_sessions;
#[cfg(feature = "pipelined")]
pub use self::pipelined::PipelinedConnection;
pub use self::sentinel::SentinelConnection;
pub use self::transport::RedisConnection;
