//! How a redis-rs error becomes a [`SessionError`]: down or slow is transient
//! (a 503), anything else a backend error.

use crate::sessions::SessionError;

impl From<redis::RedisError> for SessionError {
    fn from(err: redis::RedisError) -> Self {
        use redis::{ErrorKind, ServerErrorKind};
        let unavailable = err.is_io_error()
            || err.is_connection_refusal()
            || err.is_connection_dropped()
            || err.is_timeout()
            || matches!(
                err.kind(),
                ErrorKind::ClusterConnectionNotFound
                    // No primary through Sentinel (a failover under way).
                    | ErrorKind::MasterNameNotFoundBySentinel
                    | ErrorKind::Server(ServerErrorKind::ClusterDown)
                    | ErrorKind::Server(ServerErrorKind::TryAgain)
                    | ErrorKind::Server(ServerErrorKind::MasterDown)
                    | ErrorKind::Server(ServerErrorKind::BusyLoading)
                    // Redirections left over once the client's retries are
                    // spent (resharding, failover): transient, not a bug.
                    | ErrorKind::Server(ServerErrorKind::Moved)
                    | ErrorKind::Server(ServerErrorKind::Ask)
                    | ErrorKind::Server(ServerErrorKind::ReadOnly)
            );
        if unavailable {
            Self::Unavailable(err.to_string())
        } else {
            Self::Backend(err.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_are_unavailable() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let err: SessionError = redis::RedisError::from(io).into();
        assert!(matches!(err, SessionError::Unavailable(_)), "{err:?}");
        assert!(err.is_transient());
    }

    #[test]
    fn no_primary_through_sentinel_is_unavailable() {
        let re = redis::RedisError::from((redis::ErrorKind::MasterNameNotFoundBySentinel, "no master"));
        let err: SessionError = re.into();
        assert!(matches!(err, SessionError::Unavailable(_)), "{err:?}");
    }

    #[test]
    fn type_errors_are_backend() {
        let re = redis::RedisError::from((redis::ErrorKind::UnexpectedReturnType, "bad reply"));
        let err: SessionError = re.into();
        assert!(matches!(err, SessionError::Backend(_)), "{err:?}");
        assert!(!err.is_transient());
    }
}
