//! The failovers the sentinels announced, by the primary each moves away
//! from: while one has begun and no replica is promoted yet, no new request
//! is started on that primary (it is *held*); once a replica is promoted, the
//! connection goes to it, and a lookup that still names the old primary (a
//! sentinel that has not heard of the promotion yet) is sent there instead.
//!
//! An entry ends when every sentinel that announced the failover gave it up
//! (before the promotion: a promotion cannot be given up) or, asked, says it
//! has no failover under way and still names the old primary (one that
//! names another reports the failover done: a promotion), when a later
//! failover promotes the old primary again, or once nothing was heard of it
//! for its `hold` (the failover timeout the sentinels use, at least
//! [`SETTLE`]): then the primary is looked up again, as with no failover.
//!
//! Entries are keyed by the primary's address as text (`host:port`), as the
//! announcements write it and as redis-rs's lookup names it: the sentinels
//! must all name the nodes the same way (the same `announce-hostnames`
//! setting); a failover announced by hostname for a primary found by IP is
//! not matched (no hold).

use std::time::{Duration, Instant};

use super::events::Event;

/// The least an entry lasts after its last announcement: the sentinels that
/// did not lead a failover learn of it from the leader's hello messages
/// (every 2 s), and name the old primary until then.
pub(super) const SETTLE: Duration = Duration::from_secs(5);

/// What the failovers say about a primary.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Hold {
    /// No failover from it under way: use it.
    Free,
    /// A failover from it has begun, no replica promoted yet: send nothing.
    Wait,
    /// The sentinels promoted the replica at this address in its place.
    MovedTo(String),
}

/// The failovers heard of, and a count of the ones begun.
#[derive(Debug, Default)]
pub(super) struct Failovers {
    list: Vec<Failover>,
    begun: u64,
}

#[derive(Debug)]
struct Failover {
    /// The primary it moves away from.
    old: String,
    /// The replica promoted, once announced.
    new: Option<String>,
    /// The sentinels that announced it (by index), while none is promoted.
    by: Vec<usize>,
    /// When it was last heard of, and how long it lasts after that.
    heard: Instant,
    hold: Duration,
    /// Its number in [`Failovers::begun`].
    number: u64,
}

impl Failovers {
    /// Records `event`, announced by sentinel `sentinel`, whose failover
    /// timeout is `hold`.
    pub(super) fn heard(&mut self, sentinel: usize, event: &Event, hold: Duration, now: Instant) {
        self.expire(now);
        let hold = hold.max(SETTLE);
        match event {
            Event::Started { old } => {
                let f = self.entry(old, hold, now);
                if !f.by.contains(&sentinel) {
                    f.by.push(sentinel);
                }
            }
            Event::Promoted { old, new } => {
                // The new primary is no longer one failed over from.
                // Only a completed failover away from `new` is undone (it
                // is primary again); one of `new` under way stays held.
                self.list.retain(|f| &f.old != new || f.new.is_none());
                let f = self.entry(old, hold, now);
                f.new = Some(new.clone());
            }
            Event::Aborted { old } => {
                self.list.retain_mut(|f| {
                    if &f.old == old && f.new.is_none() {
                        f.by.retain(|s| *s != sentinel);
                        return !f.by.is_empty();
                    }
                    true
                });
            }
            Event::Settled { primary } => {
                let mut done = Vec::new();
                self.list.retain_mut(|f| {
                    if f.new.is_some() || !f.by.contains(&sentinel) {
                        return true;
                    }
                    if &f.old != primary {
                        done.push(f.old.clone());
                        return true;
                    }
                    f.by.retain(|s| *s != sentinel);
                    !f.by.is_empty()
                });
                for old in done {
                    self.heard(sentinel, &Event::Promoted { old, new: primary.clone() }, hold, now);
                }
            }
        }
    }

    /// Whether sentinel `sentinel` began a failover that is held (no
    /// replica promoted yet): it is then asked whether it still is under way.
    pub(super) fn awaits(&mut self, sentinel: usize, now: Instant) -> bool {
        self.expire(now);
        self.list.iter().any(|f| f.new.is_none() && f.by.contains(&sentinel))
    }

    /// The failover from `old`, refreshed, or a new one (counted).
    fn entry(&mut self, old: &str, hold: Duration, now: Instant) -> &mut Failover {
        let at = match self.list.iter().position(|f| f.old == old) {
            Some(at) => at,
            None => {
                self.begun += 1;
                let number = self.begun;
                self.list.push(Failover { old: old.to_owned(), new: None, by: Vec::new(), heard: now, hold, number });
                self.list.len() - 1
            }
        };
        let f = &mut self.list[at];
        f.heard = now;
        f.hold = f.hold.max(hold);
        f
    }

    fn expire(&mut self, now: Instant) {
        self.list.retain(|f| now.saturating_duration_since(f.heard) < f.hold);
    }

    /// What the failovers say about the primary at `addr` now.
    pub(super) fn hold(&mut self, addr: &str, now: Instant) -> Hold {
        self.expire(now);
        match self.list.iter().find(|f| f.old == addr) {
            None => Hold::Free,
            Some(Failover { new: None, .. }) => Hold::Wait,
            Some(Failover { new: Some(new), .. }) => Hold::MovedTo(new.clone()),
        }
    }

    /// Where a lookup that named the primary at `addr` goes: `Ok(None)` to
    /// it, `Ok(Some(new))` to the replica announced in its place (followed
    /// twice at most), or why not while a failover of it (or of the replica
    /// promoted in its place) is held.
    pub(super) fn destination(&mut self, addr: &str, now: Instant) -> Result<Option<String>, &'static str> {
        let mut at = addr.to_owned();
        for _ in 0..3 {
            match self.hold(&at, now) {
                Hold::Free => return Ok(Some(at).filter(|at| at != addr)),
                Hold::Wait => return Err("a failover of it is under way"),
                Hold::MovedTo(new) => at = new,
            }
        }
        Err("the failovers announced go round in circles")
    }

    /// How many failovers have begun so far: taken when a request is sent,
    /// to tell by [`Self::begun_since`] whether one began before its reply.
    pub(super) fn begun(&self) -> u64 {
        self.begun
    }

    /// Whether a failover from `addr` began after `begun` was taken.
    pub(super) fn begun_since(&self, addr: &str, begun: u64) -> bool {
        self.list.iter().any(|f| f.old == addr && f.number > begun)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "10.0.0.1:6379";
    const R: &str = "10.0.0.2:6379";

    fn started() -> Event {
        Event::Started { old: P.to_owned() }
    }

    #[test]
    fn a_failover_holds_its_primary_then_moves_it_to_the_promoted_replica() {
        let (mut f, now, hold) = (Failovers::default(), Instant::now(), Duration::from_secs(10));
        assert_eq!(f.hold(P, now), Hold::Free);
        let before = f.begun();
        f.heard(2, &started(), hold, now);
        assert_eq!(f.hold(P, now), Hold::Wait);
        assert!(f.begun_since(P, before) && !f.begun_since(R, before) && !f.begun_since(P, f.begun()));
        // Each later step is the same failover.
        f.heard(2, &started(), hold, now);
        assert_eq!(f.begun(), before + 1);
        f.heard(2, &Event::Promoted { old: P.to_owned(), new: R.to_owned() }, hold, now);
        assert_eq!(f.hold(P, now), Hold::MovedTo(R.to_owned()));
        assert_eq!(f.hold(R, now), Hold::Free);
        // An abort after the promotion changes nothing.
        f.heard(2, &Event::Aborted { old: P.to_owned() }, hold, now);
        assert_eq!(f.hold(P, now), Hold::MovedTo(R.to_owned()));
        // Nothing heard for its hold: over.
        assert_eq!(f.hold(P, now + hold), Hold::Free);
    }

    #[test]
    fn a_failover_ends_when_every_sentinel_that_began_it_gave_it_up() {
        let (mut f, now, hold) = (Failovers::default(), Instant::now(), Duration::from_secs(10));
        f.heard(0, &started(), hold, now);
        f.heard(1, &started(), hold, now);
        f.heard(0, &Event::Aborted { old: P.to_owned() }, hold, now);
        assert_eq!(f.hold(P, now), Hold::Wait);
        f.heard(1, &Event::Aborted { old: P.to_owned() }, hold, now);
        assert_eq!(f.hold(P, now), Hold::Free);
    }

    #[test]
    fn a_failover_back_frees_the_old_primary_and_holds_last_at_least_settle() {
        let (mut f, now, short) = (Failovers::default(), Instant::now(), Duration::from_millis(100));
        f.heard(0, &Event::Promoted { old: P.to_owned(), new: R.to_owned() }, short, now);
        assert_eq!(f.hold(P, now + SETTLE / 2), Hold::MovedTo(R.to_owned()));
        f.heard(0, &Event::Promoted { old: R.to_owned(), new: P.to_owned() }, short, now);
        assert_eq!(f.hold(P, now), Hold::Free);
        assert_eq!(f.hold(R, now), Hold::MovedTo(P.to_owned()));
    }

    #[test]
    fn a_lookup_goes_to_the_announced_replica_and_waits_while_a_failover_is_held() {
        const X: &str = "10.0.0.9:6379";
        let (mut f, now, hold) = (Failovers::default(), Instant::now(), Duration::from_secs(10));
        assert_eq!(f.destination(P, now), Ok(None));
        f.heard(0, &started(), hold, now);
        assert!(f.destination(P, now).is_err());
        f.heard(0, &Event::Promoted { old: P.to_owned(), new: R.to_owned() }, hold, now);
        assert_eq!(f.destination(P, now), Ok(Some(R.to_owned())));
        assert_eq!(f.destination(R, now), Ok(None));
        // A chain is followed; a failover back to P frees P.
        f.heard(0, &Event::Promoted { old: R.to_owned(), new: X.to_owned() }, hold, now);
        assert_eq!(f.destination(P, now), Ok(Some(X.to_owned())));
        f.heard(0, &Event::Promoted { old: X.to_owned(), new: P.to_owned() }, hold, now);
        assert_eq!(f.destination(P, now), Ok(None));
        assert_eq!(f.destination(R, now), Ok(Some(P.to_owned())));
    }

    /// The sentinels that began a failover, asked, say none is under way
    /// (its leader restarted, or its abort was missed): the hold ends once
    /// every one of them said so; one that names another primary reports
    /// the failover done.
    #[test]
    fn a_failover_ends_when_every_sentinel_that_began_it_has_none_under_way() {
        let (mut f, now, hold) = (Failovers::default(), Instant::now(), Duration::from_secs(180));
        let settled = |primary: &str| Event::Settled { primary: primary.to_owned() };
        f.heard(0, &started(), hold, now);
        f.heard(1, &started(), hold, now);
        assert!(f.awaits(0, now) && f.awaits(1, now) && !f.awaits(2, now));
        // A sentinel that did not begin it changes nothing; one still at it neither.
        f.heard(2, &settled(P), hold, now);
        f.heard(1, &Event::Started { old: P.to_owned() }, hold, now);
        assert_eq!(f.hold(P, now), Hold::Wait);
        f.heard(0, &settled(P), hold, now);
        assert_eq!(f.hold(P, now), Hold::Wait, "sentinel 1 has not answered");
        assert!(!f.awaits(0, now) && f.awaits(1, now));
        f.heard(1, &settled(P), hold, now);
        assert_eq!(f.hold(P, now), Hold::Free);
        assert!(!f.awaits(1, now));
        // Long before the failover timeout.
        f.heard(0, &started(), hold, now);
        f.heard(0, &settled(R), hold, now + Duration::from_secs(1));
        assert_eq!(f.hold(P, now + Duration::from_secs(1)), Hold::MovedTo(R.to_owned()));
        assert!(!f.awaits(0, now));
        // Once promoted, an answer changes nothing.
        f.heard(0, &settled(P), hold, now + Duration::from_secs(1));
        assert_eq!(f.hold(P, now + Duration::from_secs(1)), Hold::MovedTo(R.to_owned()));
    }

    /// A late `+switch-master X P` (a sentinel that was away during an
    /// earlier failover X -> P learns of it from a hello) arrives while a
    /// failover FROM P is under way: P stays held.
    #[test]
    fn a_stale_promotion_to_p_does_not_free_a_failover_of_p_under_way() {
        const X: &str = "10.0.0.9:6379";
        let (mut f, now, hold) = (Failovers::default(), Instant::now(), Duration::from_secs(10));
        let before = f.begun();
        f.heard(2, &started(), hold, now); // +try-failover master mymaster P
        assert_eq!(f.hold(P, now), Hold::Wait);
        f.heard(0, &Event::Promoted { old: X.to_owned(), new: P.to_owned() }, hold, now);
        assert!(f.begun_since(P, before), "a reply from P after its failover began must still be failed");
        assert_eq!(f.hold(P, now), Hold::Wait, "P was freed in the middle of its failover");
    }
}
