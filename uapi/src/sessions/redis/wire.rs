//! The Redis side of the wire: commands written once for either kind of
//! connection, and replies read into sessions without copying their strings.

use std::collections::HashMap;

use redis::{Cmd, ErrorKind, RedisError, Value};

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

/// Where the commands of one unit go, written once for either kind of
/// connection: collected as redis-rs [`Cmd`]s ([`Cmds`]), or written as RESP
/// straight into a [`super::PipelinedConnection`]'s buffer ([`Resp`]: no
/// `Cmd` built, nothing packed twice).
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
struct Tally {
    /// Arguments the current command still owes.
    owed: usize,
    broken: bool,
}

impl Tally {
    fn begin(&mut self, argc: usize) {
        self.broken |= self.owed != 0 || argc == 0;
        self.owed = argc;
    }

    /// Whether the next argument was announced.
    fn arg(&mut self) -> bool {
        if self.owed == 0 {
            self.broken = true;
            return false;
        }
        self.owed -= 1;
        true
    }

    fn cmd(&mut self) {
        self.broken |= self.owed != 0;
    }

    fn sound(&self) -> bool {
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

/// A unit as redis-rs commands (for connections other than a
/// [`super::PipelinedConnection`], and for cluster mode).
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

/// A unit written as RESP at the end of a connection's output buffer.
///
/// Unless [`Resp::finish`] finds every command sound, all the unit wrote is
/// taken back, also when it is dropped unfinished (a panic while building
/// leaves no half command in the buffer).
pub(super) struct Resp<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
    commands: usize,
    tally: Tally,
    finished: bool,
}

impl<'a> Resp<'a> {
    pub(super) fn new(out: &'a mut Vec<u8>) -> Self {
        let start = out.len();
        Resp { out, start, commands: 0, tally: Tally::default(), finished: false }
    }

    fn header(&mut self, kind: u8, n: usize) {
        self.out.push(kind);
        self.out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// How many commands were written (each gets one reply), or `None`, with
    /// nothing written, if one was malformed.
    pub(super) fn finish(mut self) -> Option<usize> {
        self.finished = self.tally.sound();
        self.finished.then_some(self.commands)
    }
}

impl Drop for Resp<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.out.truncate(self.start);
        }
    }
}

impl Unit for Resp<'_> {
    fn begin(&mut self, argc: usize) {
        self.tally.begin(argc);
        self.commands += 1;
        self.header(b'*', argc);
    }

    fn arg(&mut self, arg: &[u8]) {
        if !self.tally.arg() {
            return;
        }
        self.header(b'$', arg.len());
        self.out.extend_from_slice(arg);
        self.out.extend_from_slice(b"\r\n");
    }

    fn cmd(&mut self, cmd: Cmd) {
        self.tally.cmd();
        self.commands += 1;
        cmd.write_packed_command(self.out);
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

    fn unit(build: impl Fn(&mut dyn Unit)) -> (Vec<u8>, usize, Vec<u8>) {
        let mut out = b"before".to_vec();
        let mut resp = Resp::new(&mut out);
        build(&mut resp);
        let n = resp.finish().expect("a sound unit");
        let mut cmds = Cmds::default();
        build(&mut cmds);
        let mut packed = b"before".to_vec();
        for cmd in &cmds.finish().expect("a sound unit") {
            cmd.write_packed_command(&mut packed);
        }
        (out, n, packed)
    }

    #[test]
    fn resp_is_what_redis_rs_packs_for_the_same_commands() {
        let (out, n, packed) = unit(|u| {
            u.bare("MULTI");
            u.hset(b"k", 2, [("a", "1"), ("\u{1}c", "")].into_iter());
            u.on_key("PEXPIRE", b"k", &[b"1209600000", b"NX"]);
            u.cmd(on_key("HGETALL", b"k", 0));
            u.bare("EXEC");
        });
        assert_eq!(n, 5);
        assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&packed));
        assert!(
            out.starts_with(b"before*1\r\n$5\r\nMULTI\r\n*6\r\n$4\r\nHSET\r\n"),
            "{:?}",
            String::from_utf8_lossy(&out)
        );
    }

    #[test]
    fn a_command_with_the_wrong_number_of_arguments_is_taken_back_whole() {
        for build in [
            (|u: &mut dyn Unit| {
                u.bare("MULTI");
                u.begin(3);
                u.arg(b"GET");
                u.arg(b"k");
            }) as fn(&mut dyn Unit),
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
        ] {
            let mut out = b"before".to_vec();
            let mut resp = Resp::new(&mut out);
            build(&mut resp);
            assert_eq!(resp.finish(), None);
            assert_eq!(out, b"before", "what came before the unit stays");
            let mut cmds = Cmds::default();
            build(&mut cmds);
            assert!(cmds.finish().is_none(), "the Cmd path refuses it too");
        }
    }

    #[test]
    fn a_unit_dropped_unfinished_takes_back_what_it_wrote() {
        let mut out = b"before".to_vec();
        let mut resp = Resp::new(&mut out);
        (&mut resp as &mut dyn Unit).on_key("GET", b"k", &[]);
        drop(resp);
        assert_eq!(out, b"before");
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
