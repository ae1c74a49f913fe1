//! The Redis side of the wire: the store's reserved fields, commands written
//! once for any connection (a [`Unit`]), how an attempt fails, and replies
//! read into sessions without copying their strings. The lowest module of the
//! Redis backend: everything else in it builds on this one.

use std::collections::HashMap;

use redis::{Cmd, ErrorKind, RedisError, ServerErrorKind, Value};

use crate::sessions::backend::RESERVED_PREFIX;
use crate::sessions::SessionError;

/// Reserved hash field holding the namespace (never returned as user data).
pub(super) const NS_FIELD: &str = "\u{1}ns";
/// Reserved hash field every session has from creation, so a session whose
/// user fields are all removed still exists (HDEL of the last field deletes a key).
pub(super) const MARKER_FIELD: &str = "\u{1}c";

/// The replies to one unit of commands, in order.
pub(super) type Replies = smallvec::SmallVec<[Value; 1]>;

/// How one attempt at Redis ended, when it did not succeed.
pub(super) enum Attempt {
    /// Redis, or the connection, answered with an error.
    Redis(RedisError),
    /// No answer within the command timeout.
    Timeout,
}

/// Whether `e` is the server error `kind` (by kind, or by its code in the text).
pub(super) fn is_kind(e: &RedisError, kind: ServerErrorKind, code: &str) -> bool {
    e.kind() == ErrorKind::Server(kind) || e.code() == Some(code) || e.to_string().contains(code)
}

/// A key on the stack: no allocation for prefixes up to ~50 bytes.
pub(super) type KeyBytes = smallvec::SmallVec<[u8; 112]>;

/// The first server error among `replies`, else the replies.
pub(super) fn checked(replies: Replies) -> redis::RedisResult<Replies> {
    match replies.iter().position(|v| matches!(v, Value::ServerError(_))) {
        Some(i) => replies.into_iter().nth(i).map_or(Ok(Replies::new()), |v| v.extract_error().map(|_| Replies::new())),
        None => Ok(replies),
    }
}

/// `name key`, with room for `more` further arguments.
pub(super) fn on_key(name: &str, key: &[u8], more: usize) -> Cmd {
    let mut cmd = Cmd::with_capacity(2 + more, name.len() + key.len() + 16 * more + 8);
    cmd.arg(name).arg(key);
    cmd
}

/// Where the commands of one unit go, written once for any connection:
/// collected as redis-rs [`Cmd`]s ([`Cmds`]), or (feature `pipelined`) written
/// as RESP straight into a `PipelinedConnection`'s buffer (no `Cmd` built,
/// nothing packed twice).
pub(super) trait Unit {
    /// Starts a command of `argc` arguments, its name included; exactly
    /// `argc` calls of [`Unit::arg`] must follow.
    fn begin(&mut self, argc: usize);
    /// The next argument of the current command.
    fn arg(&mut self, arg: &[u8]);
    /// A whole command, built elsewhere.
    fn cmd(&mut self, cmd: Cmd);
}

impl dyn Unit + '_ {
    /// `name key` and the further arguments `rest`.
    pub(super) fn on_key(&mut self, name: &str, key: &[u8], rest: &[&[u8]]) {
        self.begin(2 + rest.len());
        self.arg(name.as_bytes());
        self.arg(key);
        for a in rest {
            self.arg(a);
        }
    }

    /// `HSET key k1 v1 ..` for `count` pairs.
    pub(super) fn hset<'p>(&mut self, key: &[u8], count: usize, pairs: impl Iterator<Item = (&'p str, &'p str)>) {
        self.begin(2 + 2 * count);
        self.arg(b"HSET");
        self.arg(key);
        for (k, v) in pairs {
            self.arg(k.as_bytes());
            self.arg(v.as_bytes());
        }
    }

    /// A command with no arguments (`MULTI`, `EXEC`).
    pub(super) fn bare(&mut self, name: &str) {
        self.begin(1);
        self.arg(name.as_bytes());
    }
}

/// Counts each command's arguments against what [`Unit::begin`] announced:
/// a command with too few or too many would put a connection's replies out of
/// step (and an empty one gets no reply at all), so such a unit is not sent.
#[derive(Default)]
pub(super) struct Tally {
    /// Arguments the current command still owes.
    owed: usize,
    broken: bool,
}

impl Tally {
    pub(super) fn begin(&mut self, argc: usize) {
        self.broken |= self.owed != 0 || argc == 0;
        self.owed = argc;
    }

    /// Whether the next argument was announced.
    pub(super) fn arg(&mut self) -> bool {
        if self.owed == 0 {
            self.broken = true;
            return false;
        }
        self.owed -= 1;
        true
    }

    pub(super) fn cmd(&mut self) {
        self.broken |= self.owed != 0;
    }

    pub(super) fn sound(&self) -> bool {
        if self.broken || self.owed != 0 {
            tracing::error!("a session store command had the wrong number of arguments; not sent");
            return false;
        }
        true
    }
}

/// The error for a unit [`Tally`] refused (a bug in the store, never sent).
pub(super) fn malformed() -> RedisError {
    RedisError::from((ErrorKind::Client, "a session store command had the wrong number of arguments; not sent"))
}

/// A unit as redis-rs commands.
#[derive(Default)]
pub(super) struct Cmds {
    cmds: Vec<Cmd>,
    tally: Tally,
}

impl Cmds {
    /// The commands, or `None` if one was malformed.
    pub(super) fn finish(self) -> Option<Vec<Cmd>> {
        self.tally.sound().then_some(self.cmds)
    }
}

impl Unit for Cmds {
    fn begin(&mut self, argc: usize) {
        self.tally.begin(argc);
        self.cmds.push(Cmd::with_capacity(argc, 16 * argc));
    }

    fn arg(&mut self, arg: &[u8]) {
        if self.tally.arg() {
            if let Some(cmd) = self.cmds.last_mut() {
                cmd.arg(arg);
            }
        }
    }

    fn cmd(&mut self, cmd: Cmd) {
        self.tally.cmd();
        self.cmds.push(cmd);
    }
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
    // Sized for the reply: no rehash while a large session is read.
    let pairs = match &reply {
        Value::Array(items) => items.len() / 2,
        Value::Map(pairs) => pairs.len(),
        _ => 0,
    };
    let (mut data, mut marked, mut namespace) = (HashMap::with_capacity(pairs), false, None);
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

/// The session in an `HMGET key MARKER NS fields..` reply: the fields that
/// are set and the namespace, or `None` for a hash without the marker.
pub(super) fn fields_from_reply(reply: Value, fields: &[&str]) -> Result<Option<Stored>, SessionError> {
    let Value::Array(items) = reply else {
        return Err(SessionError::Backend(format!("unexpected reply to HMGET: {reply:?}")));
    };
    if items.len() != fields.len() + 2 {
        return Err(SessionError::Backend(format!(
            "HMGET gave {} values for {} fields",
            items.len(),
            fields.len() + 2
        )));
    }
    let mut items = items.into_iter();
    let marked: Option<String> = convert(items.next().unwrap_or(Value::Nil))?;
    let namespace: Option<String> = convert(items.next().unwrap_or(Value::Nil))?;
    if marked.is_none() {
        return Ok(None);
    }
    let mut data = HashMap::with_capacity(fields.len());
    for (name, value) in fields.iter().zip(items) {
        if let Some(value) = convert::<Option<String>>(value)? {
            data.insert((*name).to_owned(), value);
        }
    }
    Ok(Some((data, namespace)))
}

pub(super) fn convert<T: redis::FromRedisValue>(v: Value) -> Result<T, SessionError> {
    redis::from_redis_value(v).map_err(|e| SessionError::Backend(format!("unexpected reply: {e}")))
}

pub(super) fn group(results: &mut [Vec<Value>], i: usize) -> &mut [Value] {
    results.get_mut(i).map(Vec::as_mut_slice).unwrap_or_default()
}

/// Units whose commands do not have the arguments they announce (too few, too
/// many, none): what every [`Unit`] must refuse whole.
#[cfg(test)]
pub(super) const MALFORMED: [fn(&mut dyn Unit); 4] = [
    |u| {
        u.bare("MULTI");
        u.begin(3);
        u.arg(b"GET");
        u.arg(b"k");
    },
    |u| {
        u.begin(1);
        u.arg(b"PING");
        u.arg(b"extra");
    },
    |u| {
        u.begin(2);
        u.arg(b"GET");
        u.bare("EXEC");
    },
    |u| u.begin(0),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn a_command_with_the_wrong_number_of_arguments_is_refused_whole() {
        for build in MALFORMED {
            let mut cmds = Cmds::default();
            build(&mut cmds);
            assert!(cmds.finish().is_none());
        }
        let mut sound = Cmds::default();
        (&mut sound as &mut dyn Unit).on_key("GET", b"k", &[]);
        assert_eq!(sound.finish().map(|c| c.len()), Some(1));
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
    fn an_hmget_reply_gives_the_fields_that_are_set() {
        let reply = Value::Array(vec![bulk("1"), bulk("9"), bulk("dark"), Value::Nil]);
        let (data, namespace) = fields_from_reply(reply, &["theme", "cart"]).expect("valid").expect("a session");
        assert_eq!(data, HashMap::from([("theme".to_owned(), "dark".to_owned())]));
        assert_eq!(namespace.as_deref(), Some("9"));
        let husk = Value::Array(vec![Value::Nil, Value::Nil, bulk("dark")]);
        assert!(fields_from_reply(husk, &["theme"]).expect("valid").is_none());
        assert!(fields_from_reply(Value::Array(vec![bulk("1")]), &["theme"]).is_err());
        assert!(fields_from_reply(Value::Nil, &[]).is_err());
    }

    #[test]
    fn unreadable_replies_are_errors_not_sessions() {
        let binary = Value::Array(vec![bulk(MARKER_FIELD), bulk("1"), bulk("k"), Value::BulkString(vec![0xff, 0xfe])]);
        assert!(session_from_reply(binary).is_err());
        assert!(session_from_reply(Value::Int(3)).is_err());
    }
}
