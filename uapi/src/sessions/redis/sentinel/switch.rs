//! The `+switch-master` subscription: a sentinel announces each primary it
//! moves (`+switch-master <name> <old ip> <old port> <new ip> <new port>`),
//! and a connection to the old primary is dropped at once, so the next
//! request looks the new one up. Without it, a planned failover would go
//! unnoticed until Sentinel demotes the old primary and closes its clients'
//! connections, some 10 s later (11.3 s in `tests/sentinel.rs`): meanwhile
//! the old primary still answers, and its writes wait for replicas that now
//! follow another node.
//!
//! The subscription is on the sentinel redis-rs's
//! `async_get_sentinel_client` picks: the first of the list that answers,
//! which is also the first a lookup takes its answer from, so when it
//! announces a switch, a lookup finds the new primary. A subscription that
//! ends (the sentinel died) or stops answering pings is made again, on the
//! first sentinel that answers then, and the connection is dropped once
//! (a switch may have been announced while nobody listened).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::sentinel::SentinelClient;
use redis::{RedisError, RedisResult, Value};
use tokio::sync::oneshot;

/// The sentinels' channel for a moved primary.
const CHANNEL: &str = "+switch-master";
/// How long after a lost subscription it is made again.
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(1);
/// How often the subscribed sentinel is pinged, so one that vanished
/// without closing the connection (a network partition) is noticed.
const PING_EVERY: Duration = Duration::from_secs(5);

/// What the subscription tells the connection.
pub(super) enum Heard {
    /// The sentinels moved the primary from `old` to `new` (`host:port` each).
    Switched { old: String, new: String },
    /// Subscribed again after losing the subscription: a switch may have
    /// been announced meanwhile.
    Resubscribed,
}

/// Listens for switches until `stop` ends (dropped with the last
/// connection) or `heard` returns `false` (the connection is gone); each
/// step bounded by `patience`.
pub(super) async fn watch(
    client: Arc<tokio::sync::Mutex<SentinelClient>>,
    mut stop: oneshot::Receiver<()>,
    patience: Duration,
    heard: impl Fn(Heard) -> bool + Send + Sync,
) {
    let mut resubscribing = false;
    loop {
        tokio::select! {
            _ = &mut stop => return,
            ended = listen(&client, patience, &heard, &mut resubscribing) => match ended {
                Ok(true) => tracing::debug!("session store: the sentinel closed the {CHANNEL} subscription"),
                Ok(false) => return,
                Err(e) => tracing::debug!(error = %e, "session store: the {CHANNEL} subscription failed"),
            },
        }
        tokio::select! {
            _ = &mut stop => return,
            () = tokio::time::sleep(RESUBSCRIBE_AFTER) => {}
        }
    }
}

/// One subscription, until it ends (`Ok(true)`: subscribe again), fails,
/// or `heard` says the connection is gone (`Ok(false)`).
async fn listen(
    client: &tokio::sync::Mutex<SentinelClient>,
    patience: Duration,
    heard: &(impl Fn(Heard) -> bool + Send + Sync),
    resubscribing: &mut bool,
) -> RedisResult<bool> {
    let subscribe = async {
        let sentinel = client.lock().await.async_get_sentinel_client().await?;
        let (mut sink, messages) = sentinel.get_async_pubsub().await?.split();
        sink.subscribe(CHANNEL).await?;
        Ok::<_, RedisError>((sink, messages))
    };
    let (mut sink, mut messages) = match tokio::time::timeout(patience, subscribe).await {
        Ok(subscribed) => subscribed?,
        Err(_) => return Err(timed_out("subscribing to a sentinel", patience)),
    };
    if std::mem::replace(resubscribing, true) && !heard(Heard::Resubscribed) {
        return Ok(false);
    }
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        tokio::select! {
            message = messages.next() => {
                let Some(message) = message else { return Ok(true) };
                let Ok(payload) = message.get_payload::<String>() else { continue };
                let Some((old, new)) = addresses(&payload) else { continue };
                if !heard(Heard::Switched { old, new }) {
                    return Ok(false);
                }
            }
            _ = ping.tick() => match tokio::time::timeout(patience, sink.ping::<Value>()).await {
                Ok(pong) => drop(pong?),
                Err(_) => return Err(timed_out("a ping to the subscribed sentinel", patience)),
            },
        }
    }
}

/// The old and the new primary (`host:port` each) of a `+switch-master` payload.
fn addresses(payload: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = payload.split_whitespace().collect();
    match parts[..] {
        [_name, old_host, old_port, new_host, new_port] => {
            Some((format!("{old_host}:{old_port}"), format!("{new_host}:{new_port}")))
        }
        _ => None,
    }
}

fn timed_out(what: &str, patience: Duration) -> RedisError {
    RedisError::from(std::io::Error::new(std::io::ErrorKind::TimedOut, format!("{what} took over {patience:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_switch_names_the_old_and_the_new_primary() {
        let (old, new) = addresses("mymaster 127.0.0.1 6379 10.0.0.2 6380").expect("a switch");
        assert_eq!((old.as_str(), new.as_str()), ("127.0.0.1:6379", "10.0.0.2:6380"));
        assert_eq!(addresses("mymaster 127.0.0.1 6379"), None);
    }
}
