//! The Redis side of the wire: commands built in one allocation, and replies
//! read into sessions without copying their strings.

use std::collections::HashMap;

use redis::{Cmd, Value};

use super::{MARKER_FIELD, NS_FIELD};
use crate::sessions::backend::RESERVED_PREFIX;
use crate::sessions::SessionError;

/// A key on the stack: no allocation for prefixes up to ~50 bytes.
pub(super) type KeyBytes = smallvec::SmallVec<[u8; 112]>;

/// `name key`, with room for `more` further arguments.
pub(super) fn on_key(name: &str, key: &[u8], more: usize) -> Cmd {
    let mut cmd = Cmd::with_capacity(2 + more, name.len() + key.len() + 16 * more + 8);
    cmd.arg(name).arg(key);
    cmd
}

/// `HSET key k1 v1 ..` for `count` pairs.
pub(super) fn hset<'p>(key: &[u8], count: usize, pairs: impl Iterator<Item = (&'p str, &'p str)>) -> Cmd {
    let mut cmd = on_key("HSET", key, 2 * count);
    for (k, v) in pairs {
        cmd.arg(k).arg(v);
    }
    cmd
}

/// Takes the `i`th reply of a group and converts it.
pub(super) fn take<T: redis::FromRedisValue>(vals: &mut [Value], i: usize) -> Result<T, SessionError> {
    convert(vals.get_mut(i).map(std::mem::take).unwrap_or(Value::Nil))
}

/// A stored session's user fields and namespace.
pub(super) type Stored = (HashMap<String, String>, Option<String>);

/// The session in an `HGETALL` reply (RESP2 pairs or a RESP3 map): its user
/// fields and namespace, or `None` for a hash without the marker (absent, or a
/// husk). The reply's strings become the map's without a copy.
pub(super) fn session_from_reply(reply: Value) -> Result<Option<Stored>, SessionError> {
    fn text(v: Value) -> Result<String, SessionError> {
        match v {
            Value::BulkString(bytes) => {
                String::from_utf8(bytes).map_err(|_| SessionError::Backend("a session field is not UTF-8".into()))
            }
            Value::SimpleString(s) => Ok(s),
            other => Err(SessionError::Backend(format!("unexpected reply: {other:?}"))),
        }
    }
    let (mut data, mut marked, mut namespace) = (HashMap::new(), false, None);
    let mut field = |k: Value, v: Value| -> Result<(), SessionError> {
        let k = text(k)?;
        if !k.starts_with(RESERVED_PREFIX) {
            data.insert(k, text(v)?);
        } else if k == MARKER_FIELD {
            marked = true;
        } else if k == NS_FIELD {
            namespace = Some(text(v)?);
        }
        Ok(())
    };
    match reply {
        Value::Nil => {}
        Value::Array(items) => {
            let mut items = items.into_iter();
            while let (Some(k), Some(v)) = (items.next(), items.next()) {
                field(k, v)?;
            }
        }
        Value::Map(pairs) => {
            for (k, v) in pairs {
                field(k, v)?;
            }
        }
        other => return Err(SessionError::Backend(format!("unexpected reply: {other:?}"))),
    }
    Ok(marked.then_some((data, namespace)))
}

pub(super) fn convert<T: redis::FromRedisValue>(v: Value) -> Result<T, SessionError> {
    redis::from_redis_value(v).map_err(|e| SessionError::Backend(format!("unexpected reply: {e}")))
}

pub(super) fn group(results: &mut [Vec<Value>], i: usize) -> &mut [Value] {
    results.get_mut(i).map(Vec::as_mut_slice).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn a_resp2_reply_gives_the_user_fields_and_the_namespace() {
        let reply = Value::Array(
            ["user_id", "9", MARKER_FIELD, "1", NS_FIELD, "9", "theme", "dark"].into_iter().map(bulk).collect(),
        );
        let (data, namespace) = session_from_reply(reply).expect("valid").expect("a session");
        assert_eq!(data.len(), 2, "{data:?}");
        assert_eq!(data["user_id"], "9");
        assert_eq!(data["theme"], "dark");
        assert_eq!(namespace.as_deref(), Some("9"));
    }

    #[test]
    fn a_resp3_map_reply_reads_the_same() {
        let reply = Value::Map(vec![(bulk(MARKER_FIELD), bulk("1")), (bulk("k"), Value::SimpleString("v".into()))]);
        let (data, namespace) = session_from_reply(reply).expect("valid").expect("a session");
        assert_eq!(data, HashMap::from([("k".to_owned(), "v".to_owned())]));
        assert_eq!(namespace, None);
    }

    #[test]
    fn a_hash_without_the_marker_is_no_session() {
        // A husk: what HSET leaves when it races a deletion.
        let husk = Value::Array(vec![bulk("user_id"), bulk("9")]);
        assert!(session_from_reply(husk).expect("valid").is_none());
        assert!(session_from_reply(Value::Array(vec![])).expect("valid").is_none());
        assert!(session_from_reply(Value::Nil).expect("valid").is_none());
    }

    #[test]
    fn other_reserved_fields_are_never_user_data() {
        let reply = Value::Array([MARKER_FIELD, "1", "\u{1}future", "x"].into_iter().map(bulk).collect());
        let (data, _) = session_from_reply(reply).expect("valid").expect("a session");
        assert!(data.is_empty(), "{data:?}");
    }

    #[test]
    fn unreadable_replies_are_errors_not_sessions() {
        let binary = Value::Array(vec![bulk(MARKER_FIELD), bulk("1"), bulk("k"), Value::BulkString(vec![0xff, 0xfe])]);
        assert!(session_from_reply(binary).is_err());
        assert!(session_from_reply(Value::Int(3)).is_err());
    }
}
