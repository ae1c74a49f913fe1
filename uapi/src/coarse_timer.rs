//! A coarse timer for hyper's HTTP/1 header-read deadline.
//!
//! hyper arms its header-read timer once per request on a kept-alive
//! connection: it creates a sleep when it starts waiting for a head and drops
//! it once the head is in. With `TokioTimer` every request therefore enters and
//! leaves tokio's timer wheel, and every park of the runtime computes the next
//! expiry. The deadline is a slowloris guard measured in seconds, so it needs
//! no millisecond precision. Here a sleep is a deadline plus, only while it
//! waits, a waker in a sharded slab; one background thread sweeps the slabs
//! every [`TICK`] and wakes the sleeps that are due, and parks while there are
//! none. A sleep fires between its deadline and one tick after it.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

use hyper::rt::{Sleep, Timer};
use slab::Slab;

/// How often the sweeper wakes while sleeps wait: the most a sleep fires late.
pub(crate) const TICK: Duration = Duration::from_millis(100);

/// An empty shard keeps at most this many slots' worth of memory.
const SHRINK_ABOVE: usize = 1024;

/// Shards of waiting sleeps; a thread keeps to one, so threads rarely contend.
const SHARDS: usize = 8;

/// A waiting sleep: `id` tells it apart from a later sleep in the same slot.
struct Waiting {
    id: u64,
    deadline: Instant,
    waker: Waker,
}

/// One shard of waiting sleeps.
struct Shard {
    next_id: u64,
    waiting: Slab<Waiting>,
}

/// Where a registered sleep waits.
#[derive(Clone, Copy)]
struct Slot {
    shard: usize,
    key: usize,
    id: u64,
}

/// The sleeps of every [`CoarseTimer`] in the process and the sweeper's state.
struct Sweep {
    shards: [Mutex<Shard>; SHARDS],
    /// Whether the sweeper is ticking (false while it parks with nothing to sweep).
    armed: AtomicBool,
    sweeper: OnceLock<Thread>,
}

static SWEEP: Sweep = Sweep {
    shards: [const { Mutex::new(Shard { next_id: 0, waiting: Slab::new() }) }; SHARDS],
    armed: AtomicBool::new(true),
    sweeper: OnceLock::new(),
};

impl Sweep {
    fn lock(&self, shard: usize) -> MutexGuard<'_, Shard> {
        // The shards hold no invariant a panic could break: carry on.
        self.shards[shard].lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes the sweeper if it parked with nothing to sweep.
    fn arm(&self) {
        if !self.armed.load(Ordering::SeqCst) && !self.armed.swap(true, Ordering::SeqCst) {
            if let Some(sweeper) = self.sweeper.get() {
                sweeper.unpark();
            }
        }
    }

    /// Removes the due sleeps and wakes them (outside the locks); returns how
    /// many still wait.
    fn sweep_once(&self, now: Instant, due: &mut Vec<Waker>) -> usize {
        let mut left = 0;
        for shard in 0..SHARDS {
            let mut shard = self.lock(shard);
            let keys: Vec<usize> =
                shard.waiting.iter().filter(|(_, w)| w.deadline <= now).map(|(key, _)| key).collect();
            for key in keys {
                due.push(shard.waiting.remove(key).waker);
            }
            left += shard.waiting.len();
            if shard.waiting.is_empty() && shard.waiting.capacity() > SHRINK_ABOVE {
                // A past burst of connections: give its memory back.
                shard.waiting = Slab::new();
            }
        }
        for waker in due.drain(..) {
            waker.wake();
        }
        left
    }

    fn waiting(&self) -> usize {
        (0..SHARDS).map(|shard| self.lock(shard).waiting.len()).sum()
    }

    /// The sweeper thread's loop.
    fn run(&self) {
        let mut due = Vec::new();
        loop {
            std::thread::sleep(TICK);
            if self.sweep_once(Instant::now(), &mut due) > 0 {
                continue;
            }
            self.armed.store(false, Ordering::SeqCst);
            // A sleep registered between the sweep and the store above saw
            // `armed` still true and did not unpark us: look again.
            if self.waiting() > 0 {
                self.armed.store(true, Ordering::SeqCst);
            } else {
                std::thread::park();
            }
        }
    }
}

/// The shard of the calling thread.
fn my_shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.with(|shard| *shard)
}

/// hyper's [`Timer`] for the HTTP/1 header-read deadline (see the module docs).
#[derive(Clone, Copy, Debug)]
pub(crate) struct CoarseTimer(());

impl CoarseTimer {
    /// The timer, starting the sweeper thread on first use.
    ///
    /// # Errors
    ///
    /// The sweeper thread cannot be spawned.
    pub(crate) fn start() -> std::io::Result<Self> {
        if SWEEP.sweeper.get().is_none() {
            static STARTING: Mutex<()> = Mutex::new(());
            let _one_at_a_time = STARTING.lock().unwrap_or_else(PoisonError::into_inner);
            if SWEEP.sweeper.get().is_none() {
                let handle = std::thread::Builder::new().name("uapi-timer".into()).spawn(|| SWEEP.run())?;
                let _ = SWEEP.sweeper.set(handle.thread().clone());
            }
        }
        Ok(CoarseTimer(()))
    }
}

impl Timer for CoarseTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        self.sleep_until(Instant::now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(CoarseSleep { deadline, slot: None })
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, new_deadline: Instant) {
        *sleep = self.sleep_until(new_deadline);
    }
}

/// A sleep of [`CoarseTimer`].
pub(crate) struct CoarseSleep {
    deadline: Instant,
    slot: Option<Slot>,
}

impl CoarseSleep {
    /// A sleep until `deadline` (woken within a tick after it), unboxed; `None`
    /// if the sweeper thread cannot be started.
    pub(crate) fn until(deadline: Instant) -> Option<CoarseSleep> {
        CoarseTimer::start().ok().map(|_| CoarseSleep { deadline, slot: None })
    }

    fn unregister(&mut self) {
        if let Some(slot) = self.slot.take() {
            let mut shard = SWEEP.lock(slot.shard);
            if shard.waiting.get(slot.key).is_some_and(|w| w.id == slot.id) {
                shard.waiting.remove(slot.key);
            }
        }
    }
}

impl Future for CoarseSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if Instant::now() >= this.deadline {
            this.unregister();
            return Poll::Ready(());
        }
        if let Some(slot) = this.slot {
            let mut shard = SWEEP.lock(slot.shard);
            if let Some(waiting) = shard.waiting.get_mut(slot.key).filter(|w| w.id == slot.id) {
                if !waiting.waker.will_wake(cx.waker()) {
                    waiting.waker = cx.waker().clone();
                }
                return Poll::Pending;
            }
        }
        let index = my_shard();
        let mut shard = SWEEP.lock(index);
        let id = shard.next_id;
        shard.next_id += 1;
        let key = shard.waiting.insert(Waiting { id, deadline: this.deadline, waker: cx.waker().clone() });
        drop(shard);
        this.slot = Some(Slot { shard: index, key, id });
        SWEEP.arm();
        Poll::Pending
    }
}

impl Drop for CoarseSleep {
    fn drop(&mut self) {
        self.unregister();
    }
}

impl Sleep for CoarseSleep {}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll_once<F: Future + ?Sized>(f: Pin<&mut F>) -> Poll<F::Output> {
        f.poll(&mut Context::from_waker(Waker::noop()))
    }

    #[tokio::test]
    async fn a_sleep_fires_after_its_deadline_and_within_a_tick_or_two() {
        let timer = CoarseTimer::start().expect("sweeper starts");
        for wait in [Duration::ZERO, Duration::from_millis(30), Duration::from_millis(250)] {
            let started = Instant::now();
            timer.sleep(wait).await;
            let took = started.elapsed();
            assert!(took >= wait, "fired after {took:?}, before {wait:?}");
            assert!(took < wait + 2 * TICK + Duration::from_millis(500), "fired after {took:?} for {wait:?}");
        }
    }

    #[tokio::test]
    async fn dropped_sleeps_leave_nothing_waiting_and_do_not_cancel_others() {
        let timer = CoarseTimer::start().expect("sweeper starts");
        let far = Instant::now() + Duration::from_secs(3600);
        let mut dropped = Vec::new();
        for _ in 0..100 {
            let mut sleep = Box::pin(CoarseSleep { deadline: far, slot: None });
            // Poll once so that it registers.
            assert!(poll_once(sleep.as_mut()).is_pending());
            dropped.push(sleep);
        }
        let slots: Vec<Slot> = dropped.iter().map(|s| s.slot.expect("registered")).collect();
        let is_waiting = |slot: &Slot| SWEEP.lock(slot.shard).waiting.get(slot.key).is_some_and(|w| w.id == slot.id);
        assert!(slots.iter().all(is_waiting));
        let kept = timer.sleep(Duration::from_millis(50));
        drop(dropped);
        assert!(!slots.iter().any(is_waiting), "a dropped sleep still waits");
        kept.await;
    }

    #[tokio::test]
    async fn a_sleep_moved_to_another_task_wakes_that_task() {
        let timer = CoarseTimer::start().expect("sweeper starts");
        let mut sleep = timer.sleep(Duration::from_millis(150));
        assert!(poll_once(sleep.as_mut()).is_pending());
        // The first waker (this task's) is replaced by the spawned task's.
        tokio::spawn(sleep).await.expect("the sleep fires in the other task");
    }

    #[tokio::test]
    async fn a_sleep_wakes_the_sweeper_after_it_parked() {
        let timer = CoarseTimer::start().expect("sweeper starts");
        // Wait for the sweeper to run out of sleeps and park (the other tests'
        // sleeps are over within a second). Parking has no signal to await, so
        // this looks once a tick, for a bounded time.
        let patience = Instant::now() + Duration::from_secs(10);
        while SWEEP.armed.load(Ordering::SeqCst) {
            assert!(Instant::now() < patience, "the sweeper never parked");
            tokio::time::sleep(TICK).await;
        }
        let started = Instant::now();
        tokio::time::timeout(Duration::from_secs(5), timer.sleep(Duration::from_millis(20)))
            .await
            .expect("a parked sweeper is woken by a new sleep");
        assert!(started.elapsed() >= Duration::from_millis(20));
    }
}
