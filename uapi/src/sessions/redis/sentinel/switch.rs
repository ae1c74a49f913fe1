//! The `+switch-master` subscription: a sentinel announces each primary it
//! moves (`+switch-master <name> <old ip> <old port> <new ip> <new port>`),
//! and a connection to the old primary is dropped at once, so the next
//! request looks the new one up. Without it, a planned failover would go
//! unnoticed until Sentinel demotes the old primary (seconds later, when it
//! also closes its clients' connections): meanwhile the old primary still
//! answers, and its writes wait for replicas that now follow another node.
//!
//! The subscription is on the sentinel redis-rs's
//! `async_get_sentinel_client` picks: the first of the list that answers,
//! which is also the first a lookup takes its answer from, so when it
//! announces a switch, a lookup finds the new primary. A subscription that
//! ends (the sentinel died) or stops answering pings is made again, on the
//! first sentinel that answers then, and the connection is dropped once
//! (a switch may have been announced while nobody listened).

use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use redis::sentinel::SentinelClient;
use redis::{RedisError, RedisResult, Value};
use tokio::sync::oneshot;

use super::{Shared, LOOKUP_PATIENCE};

/// The sentinels' channel for a moved primary.
const CHANNEL: &str = "+switch-master";
/// How long after a lost subscription it is made again.
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(1);
/// How often the subscribed sentinel is pinged, so one that vanished
/// without closing the connection (a network partition) is noticed.
const PING_EVERY: Duration = Duration::from_secs(5);

/// Listens for switches until `stop` (dropped with the last connection).
pub(super) async fn watch(
    shared: Weak<Shared>,
    client: Arc<tokio::sync::Mutex<SentinelClient>>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut resubscribing = false;
    loop {
        tokio::select! {
            _ = &mut stop => return,
            ended = listen(&shared, &client, &mut resubscribing) => match ended {
                Ok(()) => tracing::debug!("session store: the sentinel closed the {CHANNEL} subscription"),
                Err(e) => tracing::debug!(error = %e, "session store: the {CHANNEL} subscription failed"),
            },
        }
        if shared.strong_count() == 0 {
            return;
        }
        tokio::select! {
            _ = &mut stop => return,
            () = tokio::time::sleep(RESUBSCRIBE_AFTER) => {}
        }
    }
}

/// One subscription, until it ends or fails.
async fn listen(
    shared: &Weak<Shared>,
    client: &tokio::sync::Mutex<SentinelClient>,
    resubscribing: &mut bool,
) -> RedisResult<()> {
    let subscribe = async {
        let sentinel = client.lock().await.async_get_sentinel_client().await?;
        let (mut sink, messages) = sentinel.get_async_pubsub().await?.split();
        sink.subscribe(CHANNEL).await?;
        Ok::<_, RedisError>((sink, messages))
    };
    let (mut sink, mut messages) = match tokio::time::timeout(LOOKUP_PATIENCE, subscribe).await {
        Ok(subscribed) => subscribed?,
        Err(_) => return Err(timed_out("subscribing to a sentinel")),
    };
    if std::mem::replace(resubscribing, true) {
        match shared.upgrade() {
            Some(shared) => shared.forget_any(),
            None => return Ok(()),
        }
    }
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        tokio::select! {
            message = messages.next() => {
                let Some(message) = message else { return Ok(()) };
                let Ok(payload) = message.get_payload::<String>() else { continue };
                let Some((old, new)) = addresses(&payload) else { continue };
                match shared.upgrade() {
                    Some(shared) => shared.switched(&old, &new),
                    None => return Ok(()),
                }
            }
            _ = ping.tick() => match tokio::time::timeout(LOOKUP_PATIENCE, sink.ping::<Value>()).await {
                Ok(pong) => drop(pong?),
                Err(_) => return Err(timed_out("a ping to the subscribed sentinel")),
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

fn timed_out(what: &str) -> RedisError {
    RedisError::from(std::io::Error::new(std::io::ErrorKind::TimedOut, format!("{what} took over {LOOKUP_PATIENCE:?}")))
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
