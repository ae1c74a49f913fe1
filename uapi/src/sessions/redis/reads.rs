//! Reading a session: the whole hash (`HGETALL`) or some of its fields
//! (`HMGET` of the marker, the namespace and those fields), with its time to
//! live in the same round trip for a rolling store.

use std::time::Duration;

use redis::Value;

use super::transport::Transport;
use super::wire::{fields_from_reply, group, session_from_reply, take, Unit, MARKER_FIELD, NS_FIELD};
use crate::sessions::{LoadedSession, SessionError};

/// What to read of a session.
#[derive(Debug, Clone, Copy)]
pub(super) enum Read<'a> {
    /// Every field (`AsyncSession`).
    All,
    /// These fields only (`LazySession`): what crosses the wire grows with
    /// them, not with the session.
    Fields(&'a [&'a str]),
}

/// The session under `key`, or `None` when there is none; `rolling`: with
/// its time to live.
pub(super) async fn read(
    transport: &Transport,
    key: &[u8],
    rolling: bool,
    what: Read<'_>,
) -> Result<Option<LoadedSession>, SessionError> {
    let (reply, pttl) = if rolling {
        let (mut read, mut ttl) = (redis::pipe(), redis::pipe());
        match what {
            Read::All => read.hgetall(key),
            Read::Fields(fields) => read.cmd("HMGET").arg(key).arg(MARKER_FIELD).arg(NS_FIELD).arg(fields),
        };
        ttl.pttl(key);
        // Two groups: one pipeline on a single node, two concurrent
        // single-command requests (still one round trip) on a cluster.
        let mut r = Box::pin(transport.run(&[read, ttl])).await?;
        let pttl: i64 = take(group(&mut r, 1), 0)?;
        (group(&mut r, 0).get_mut(0).map(std::mem::take).unwrap_or(Value::Nil), pttl)
    } else {
        // Without rolling expiry, one command.
        let command = |u: &mut dyn Unit| match what {
            Read::All => u.on_key("HGETALL", key, &[]),
            Read::Fields(fields) => {
                u.begin(4 + fields.len());
                u.arg(b"HMGET");
                u.arg(key);
                u.arg(MARKER_FIELD.as_bytes());
                u.arg(NS_FIELD.as_bytes());
                for field in fields {
                    u.arg(field.as_bytes());
                }
            }
        };
        (transport.run_unit(command).await?.pop().unwrap_or(Value::Nil), -1)
    };
    // Every live session has the marker; a hash without it is absent (a
    // "husk": see the update in `RedisBackend::save`).
    let stored = match what {
        Read::All => session_from_reply(reply)?,
        Read::Fields(fields) => fields_from_reply(reply, fields)?,
    };
    let Some((data, namespace)) = stored else { return Ok(None) };
    if pttl == -2 {
        return Ok(None);
    }
    let ttl = u64::try_from(pttl).ok().map(Duration::from_millis);
    Ok(Some(LoadedSession::new(data, namespace, ttl)))
}
