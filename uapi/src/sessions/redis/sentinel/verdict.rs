//! What a reply says about the node it came from: an answer, a refusal
//! from a node that is no primary (`READONLY`, `MASTERDOWN`: nothing was
//! applied), or a broken connection (the outcome unknown). And the two
//! kinds of request a `ConnectionLike` sends, each with its reply.

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{Cmd, ErrorKind, Pipeline, RedisFuture, RedisResult, ServerErrorKind, Value};

/// What a request sends ([`One`] command, or [`Many`]), and how its reply
/// tells a node that is no primary.
pub(super) trait Op: Sync {
    type Reply: Send;
    fn send<'a>(&'a self, conn: &'a mut MultiplexedConnection) -> RedisFuture<'a, Self::Reply>;
    fn refused(reply: &Self::Reply) -> bool;
}

/// One command.
pub(super) struct One<'a>(pub(super) &'a Cmd);

/// A slice of a pipeline: its commands from `.1`, `.2` of them.
pub(super) struct Many<'a>(pub(super) &'a Pipeline, pub(super) usize, pub(super) usize);

impl Op for One<'_> {
    type Reply = Value;

    fn send<'a>(&'a self, conn: &'a mut MultiplexedConnection) -> RedisFuture<'a, Value> {
        conn.req_packed_command(self.0)
    }

    fn refused(reply: &Value) -> bool {
        refusal(reply)
    }
}

impl Op for Many<'_> {
    type Reply = Vec<Value>;

    fn send<'a>(&'a self, conn: &'a mut MultiplexedConnection) -> RedisFuture<'a, Vec<Value>> {
        conn.req_packed_commands(self.0, self.1, self.2)
    }

    fn refused(replies: &Vec<Value>) -> bool {
        replies.iter().any(refusal)
    }
}

/// What a reply says about the node it came from.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Answered (server errors about the commands themselves included).
    Fine,
    /// The node is no primary (`READONLY`, `MASTERDOWN`): nothing was applied.
    Refused,
    /// The connection is broken: the outcome is unknown.
    Broken,
}

/// What `reply` says about the node that sent it (`refused` reads a reply
/// that came back whole).
pub(super) fn verdict<T>(reply: &RedisResult<T>, refused: fn(&T) -> bool) -> Verdict {
    match reply {
        Err(e) if refusal_kind(e.kind()) => Verdict::Refused,
        // A dropped or refused connection, or a reply that could not be
        // read (redis-rs's own signal to reconnect); not a timeout.
        Err(e) if e.is_unrecoverable_error() => Verdict::Broken,
        Err(_) => Verdict::Fine,
        Ok(reply) if refused(reply) => Verdict::Refused,
        Ok(_) => Verdict::Fine,
    }
}

/// Whether `v` is a refusal from a node that is no primary.
fn refusal(v: &Value) -> bool {
    matches!(v, Value::ServerError(e) if e.kind().is_some_and(|k| refusal_kind(ErrorKind::Server(k))))
}

/// `READONLY` (a replica refusing a write) or `MASTERDOWN` (a replica that
/// lost its primary, refusing to serve).
fn refusal_kind(kind: ErrorKind) -> bool {
    matches!(kind, ErrorKind::Server(ServerErrorKind::ReadOnly | ServerErrorKind::MasterDown))
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::RedisError;

    fn server_error(text: &str) -> Value {
        let mut parser = redis::Parser::new();
        parser.parse_value(format!("-{text}\r\n").as_bytes()).expect("a RESP error")
    }

    #[test]
    fn readonly_and_masterdown_are_refusals_anywhere_in_a_pipeline() {
        let readonly = server_error("READONLY You can't write against a read only replica.");
        let masterdown = server_error("MASTERDOWN Link with MASTER is down");
        let other = server_error("WRONGTYPE Operation against a key holding the wrong kind of value");
        assert_eq!(verdict(&Ok(readonly.clone()), One::refused), Verdict::Refused);
        assert_eq!(verdict(&Ok(vec![Value::Okay, masterdown, Value::Nil]), Many::refused), Verdict::Refused);
        assert_eq!(verdict(&Ok(vec![Value::Okay, other.clone()]), Many::refused), Verdict::Fine);
        assert_eq!(verdict(&Ok(other), One::refused), Verdict::Fine);
        assert_eq!(verdict(&readonly.extract_error(), One::refused), Verdict::Refused);
    }

    #[test]
    fn connection_errors_break_the_connection_and_timeouts_do_not() {
        for kind in [std::io::ErrorKind::BrokenPipe, std::io::ErrorKind::ConnectionReset] {
            let e = RedisError::from(std::io::Error::from(kind));
            assert_eq!(verdict(&Err(e), One::refused), Verdict::Broken, "{kind:?}");
        }
        let timeout = RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
        assert_eq!(verdict(&Err(timeout), One::refused), Verdict::Fine);
        let typed = RedisError::from((ErrorKind::UnexpectedReturnType, "not a number"));
        assert_eq!(verdict(&Err(typed), One::refused), Verdict::Fine);
    }
}
