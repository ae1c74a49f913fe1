//! What the sentinels announce about a failover, read from their pub/sub
//! messages (Redis's `sentinel.c`, `sentinelEvent`): the channel is the
//! event, the payload names the instance, `<type> <name> <ip> <port>` for a
//! primary, followed by ` @ <primary name> <ip> <port>` for a replica; a
//! `+switch-master` payload is `<primary name> <old ip> <old port> <new ip>
//! <new port>`.
//!
//! The sentinel that leads a failover announces each step, one sentinel
//! timer tick (10 to 19 a second) apart: `+try-failover` (when `SENTINEL
//! FAILOVER` is run, or when it finds the primary objectively down; every
//! sentinel that tries to lead announces it), `+elected-leader` and
//! `+failover-state-select-slave`, then `+selected-slave` and
//! `+failover-state-send-slaveof-noone`; at the next tick it sends `SLAVEOF
//! NO ONE` to that replica (`+failover-state-wait-promotion`). Once the
//! replica's `INFO` says it is a primary (asked once a second meanwhile):
//! `+promoted-slave`; the other replicas are then moved to it, and at the
//! end every sentinel announces `+switch-master` (the others once they hear
//! of it from the leader). A failover given up before the promotion is a
//! `-failover-abort-*` from the sentinel that tried it.
//!
//! A sentinel's own account (`SENTINEL MASTER <name>`, asked when a
//! subscription is made and while a failover it began is held) is read
//! here too: its `flags` hold `failover_in_progress` from its
//! `+try-failover` until its `+switch-master` or its abort.

use std::collections::HashMap;

/// The channels listened to.
pub(super) const CHANNELS: &[&str] = &[
    "+try-failover",
    "+elected-leader",
    "+failover-state-select-slave",
    "+selected-slave",
    "+failover-state-send-slaveof-noone",
    "+failover-state-wait-promotion",
    "+promoted-slave",
    "+switch-master",
    "-failover-abort-not-elected",
    "-failover-abort-no-good-slave",
    "-failover-abort-slave-timeout",
];

/// A step of a failover of the monitored primary; addresses `host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Event {
    /// A failover of the primary at `old` has begun: no replica promoted yet.
    Started { old: String },
    /// The replica at `new` was promoted in place of the primary at `old`
    /// (`+promoted-slave` from the leader, `+switch-master` from any).
    Promoted { old: String, new: String },
    /// The sentinel that announced it gave up its failover of `old`.
    Aborted { old: String },
    /// The sentinel, asked, has no failover under way, and names the
    /// primary at `primary` (one it began is over: given up if that is
    /// still the old primary, done if it is another).
    Settled { primary: String },
}

/// What a sentinel's `SENTINEL MASTER <name>` reply says: a failover of the
/// primary it names under way ([`Event::Started`]), or none
/// ([`Event::Settled`]); `None` for a reply without an address or flags.
pub(super) fn reported(fields: &HashMap<String, String>) -> Option<Event> {
    let primary = addr(fields.get("ip")?, fields.get("port")?)?;
    let flags = fields.get("flags")?;
    if flags.split(',').any(|f| f == "failover_in_progress") {
        Some(Event::Started { old: primary })
    } else {
        Some(Event::Settled { primary })
    }
}

/// The event a message on `channel` announces about the primary named
/// `name`, if any (another primary's, or a payload not understood: `None`).
pub(super) fn event(channel: &str, payload: &str, name: &str) -> Option<Event> {
    let parts: Vec<&str> = payload.split_whitespace().collect();
    match channel {
        "+switch-master" => match parts[..] {
            [n, old_host, old_port, new_host, new_port] if n == name => {
                Some(Event::Promoted { old: addr(old_host, old_port)?, new: addr(new_host, new_port)? })
            }
            _ => None,
        },
        "+try-failover" | "+elected-leader" | "+failover-state-select-slave" => match parts[..] {
            ["master", n, host, port] if n == name => Some(Event::Started { old: addr(host, port)? }),
            _ => None,
        },
        "+selected-slave" | "+failover-state-send-slaveof-noone" | "+failover-state-wait-promotion" => {
            match parts[..] {
                ["slave", _, _, _, "@", n, host, port] if n == name => Some(Event::Started { old: addr(host, port)? }),
                _ => None,
            }
        }
        "+promoted-slave" => match parts[..] {
            ["slave", _, new_host, new_port, "@", n, host, port] if n == name => {
                Some(Event::Promoted { old: addr(host, port)?, new: addr(new_host, new_port)? })
            }
            _ => None,
        },
        c if c.starts_with("-failover-abort-") => match parts[..] {
            ["master", n, host, port] if n == name => Some(Event::Aborted { old: addr(host, port)? }),
            _ => None,
        },
        _ => None,
    }
}

/// `host:port`, as redis-rs writes a node's address; `None` for a port
/// that is no number.
fn addr(host: &str, port: &str) -> Option<String> {
    let port: u16 = port.parse().ok()?;
    Some(format!("{host}:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started(old: &str) -> Option<Event> {
        Some(Event::Started { old: old.to_owned() })
    }

    #[test]
    fn each_step_before_the_promotion_names_the_primary_failed_over() {
        let master = "master mymaster 127.0.0.1 6379";
        let slave = "slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379";
        for channel in ["+try-failover", "+elected-leader", "+failover-state-select-slave"] {
            assert_eq!(event(channel, master, "mymaster"), started("127.0.0.1:6379"), "{channel}");
            assert_eq!(event(channel, slave, "mymaster"), None, "{channel}");
        }
        for channel in ["+selected-slave", "+failover-state-send-slaveof-noone", "+failover-state-wait-promotion"] {
            assert_eq!(event(channel, slave, "mymaster"), started("127.0.0.1:6379"), "{channel}");
            assert_eq!(event(channel, master, "mymaster"), None, "{channel}");
        }
    }

    #[test]
    fn a_promotion_and_a_switch_name_the_new_primary() {
        let promoted = "slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379";
        let want = Some(Event::Promoted { old: "127.0.0.1:6379".to_owned(), new: "127.0.0.1:6380".to_owned() });
        assert_eq!(event("+promoted-slave", promoted, "mymaster"), want);
        assert_eq!(event("+switch-master", "mymaster 127.0.0.1 6379 127.0.0.1 6380", "mymaster"), want);
        assert_eq!(event("+switch-master", "mymaster 127.0.0.1 6379", "mymaster"), None);
    }

    #[test]
    fn aborts_count_and_other_primaries_and_channels_do_not() {
        let master = "master mymaster 10.0.0.1 6379";
        for channel in ["-failover-abort-not-elected", "-failover-abort-no-good-slave", "-failover-abort-slave-timeout"]
        {
            assert_eq!(event(channel, master, "mymaster"), Some(Event::Aborted { old: "10.0.0.1:6379".to_owned() }));
        }
        assert_eq!(event("+try-failover", master, "other"), None);
        assert_eq!(event("+switch-master", "other 10.0.0.1 6379 10.0.0.2 6379", "mymaster"), None);
        assert_eq!(event("+sdown", master, "mymaster"), None);
        assert_eq!(event("+try-failover", "master mymaster 10.0.0.1 port", "mymaster"), None);
    }

    fn master(flags: &str) -> HashMap<String, String> {
        [("name", "mymaster"), ("ip", "10.0.0.1"), ("port", "6379"), ("flags", flags)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn a_sentinel_asked_tells_a_failover_under_way_from_none() {
        assert_eq!(reported(&master("master,failover_in_progress")), started("10.0.0.1:6379"));
        assert_eq!(reported(&master("master,s_down,o_down,failover_in_progress,promoted")), started("10.0.0.1:6379"));
        let settled = Some(Event::Settled { primary: "10.0.0.1:6379".to_owned() });
        assert_eq!(reported(&master("master")), settled);
        assert_eq!(reported(&master("master,s_down,o_down")), settled);
        let mut no_port = master("master");
        no_port.remove("port");
        assert_eq!(reported(&no_port), None);
        let mut no_flags = master("master");
        no_flags.remove("flags");
        assert_eq!(reported(&no_flags), None);
    }
}
