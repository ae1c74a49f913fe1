//! The memory store's attempt log (its [`AttemptLog`](crate::sessions::AttemptLog)):
//! per key, the times of the attempts still inside their window.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::sessions::Reservation;

/// How often (at most) a reservation sweeps every key whose attempts all left
/// their window; between sweeps each key is pruned when touched.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// The attempts of every key.
#[derive(Default)]
pub(super) struct Attempts {
    keys: HashMap<String, Recent>,
    last_sweep: Option<Instant>,
}

/// The attempts of one key, oldest first, and the window they were made with.
struct Recent {
    window: Duration,
    made: VecDeque<(Instant, String)>,
}

impl Recent {
    /// Drops the attempts older than the window.
    fn prune(&mut self, now: Instant) {
        while self.made.front().is_some_and(|(at, _)| now.duration_since(*at) >= self.window) {
            self.made.pop_front();
        }
    }

    /// `Some(wait)` when the key is at `limit`: the time until its oldest
    /// counting attempt leaves the window.
    fn wait(&self, now: Instant, limit: u32) -> Option<Duration> {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let over = self.made.len().checked_sub(limit)?;
        let (at, _) = self.made.get(over)?;
        Some((*at + self.window).saturating_duration_since(now).max(Duration::from_millis(1)))
    }
}

impl Attempts {
    fn sweep(&mut self, now: Instant) {
        if self.last_sweep.is_some_and(|t| now.duration_since(t) < SWEEP_INTERVAL) {
            return;
        }
        self.last_sweep = Some(now);
        self.keys.retain(|_, recent| {
            recent.prune(now);
            !recent.made.is_empty()
        });
    }

    pub(super) fn reserve(
        &mut self,
        attempt: &str,
        keys: &[(&str, u32)],
        window: Duration,
        now: Instant,
    ) -> Reservation {
        self.sweep(now);
        let mut refused: Option<Duration> = None;
        for (key, limit) in keys {
            let wait = if *limit == 0 {
                Some(window)
            } else {
                self.keys.get_mut(*key).and_then(|recent| {
                    recent.window = window;
                    recent.prune(now);
                    recent.wait(now, *limit)
                })
            };
            if let Some(wait) = wait {
                refused = Some(refused.map_or(wait, |r| r.max(wait)));
            }
        }
        if let Some(retry_after) = refused {
            return Reservation::Refused { retry_after };
        }
        for (key, _) in keys {
            let recent = self.keys.entry((*key).to_owned()).or_insert_with(|| Recent { window, made: VecDeque::new() });
            recent.made.push_back((now, attempt.to_owned()));
        }
        Reservation::Admitted
    }

    /// Takes `attempt` back from `key`.
    pub(super) fn release(&mut self, key: &str, attempt: &str) {
        if let Some(recent) = self.keys.get_mut(key) {
            recent.made.retain(|(_, a)| a != attempt);
        }
    }

    /// Forgets `key`.
    pub(super) fn clear(&mut self, key: &str) {
        self.keys.remove(key);
    }
}
