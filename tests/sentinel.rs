//! Redis Sentinel: an app whose sessions live on the primary of a Sentinel
//! deployment (a primary, one or two replicas, three sentinels;
//! `down-after` 1 s), reached through `SentinelConnection`, with
//! `wait_for_replicas(1, ..)`. The primary is SIGKILLed, or failed over on
//! purpose (`SENTINEL FAILOVER`), under load from concurrent clients: every
//! answer meanwhile is a 2xx or a 503 (never a 500, never a hang), the same
//! app serves from the new primary within `down-after` +
//! `failover-timeout` + 2 s, and every session whose save was acknowledged
//! is still there afterwards; and so after the first sentinel (the one
//! redis-rs asks first) has died. Each run prints its time to recover. And
//! an app that connects in the middle of a failover (its announcements
//! made before the app subscribed) holds until the failover ends, and a
//! failover its leader forgot without an abort frees the app in about a
//! second, not at the failover timeout; and a `+switch-master` from a
//! sentinel only discovered, to a node no configured sentinel names, is not
//! followed.
//! Needs `redis-server` on PATH.
//!
//! With one replica, a save acknowledged under `WAIT 1` is on the node
//! Sentinel promotes. With two, a planned failover used to lose them: from
//! the promotion to the sentinels' `+switch-master` (about a second) the
//! old primary still took writes, the replica still following it
//! acknowledged them, then resynced from the new primary and dropped them
//! (4,306 of 4,965 acknowledged saves gone in a run). The app now holds its
//! requests from the first announcement of the failover (`+try-failover`)
//! to the promotion's (`+promoted-slave`), so the two-replica scenario
//! checks that none is lost. The cost of one replica: the new primary has
//! none until the old node comes back, so its saves are 503s until then;
//! the kill test brings the killed node back as a replica, as an
//! orchestrator would, and saves are acknowledged again. After a planned
//! failover, Sentinel itself turns the old primary into a replica, but only
//! some 10 s later, which these tests do not wait for.

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use support::failover_load::{self, poll_until, save_new, timed, PATIENCE};
use support::redis_sentinel::{RedisSentinel, SERVICE};
use support::redis_server::RedisServer;
use uapi::sessions::redis::SentinelConnection;
use uapi::sessions::RedisBackend;
use uapi::AppService;

/// `down-after-milliseconds`: how long before the sentinels call a silent primary down.
const DOWN_AFTER: Duration = Duration::from_millis(1000);
/// `failover-timeout`: what a failover step may take before the sentinels give it up.
const FAILOVER_TIMEOUT: Duration = Duration::from_millis(2000);
/// The store's command timeout.
const TIMEOUT: Duration = Duration::from_millis(1000);
/// How long a save waits for its replica (below the command timeout).
const WAIT_TIMEOUT: Duration = Duration::from_millis(100);
/// Slack for scheduling on a loaded 2-core machine.
const MARGIN: Duration = Duration::from_millis(700);
/// The watchdog on a whole scenario (each takes under 10 s).
const SCENARIO_PATIENCE: Duration = Duration::from_secs(60);
/// Concurrent clients during the failover.
const CLIENTS: usize = 4;
/// Key prefix of every session.
const PREFIX: &str = "st:";

/// The two scenarios take turns: their timings need the machine to themselves.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn site(conn: SentinelConnection) -> AppService {
    let backend =
        RedisBackend::new(conn).key_prefix(PREFIX).command_timeout(TIMEOUT).wait_for_replicas(1, WAIT_TIMEOUT);
    failover_load::site(backend)
}

/// How the primary goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    /// SIGKILL.
    Kill,
    /// `SENTINEL FAILOVER`: the old primary stays up.
    Planned,
    /// The first sentinel (the one redis-rs asks first) SIGKILLed, then
    /// `SENTINEL FAILOVER`.
    PlannedWithoutFirstSentinel,
    /// `SENTINEL FAILOVER` with TWO replicas: the one not promoted follows
    /// the old primary until the sentinels move it.
    PlannedTwoReplicas,
}

impl Trigger {
    /// How many replicas the deployment has.
    fn replicas(self) -> usize {
        match self {
            Trigger::PlannedTwoReplicas => 2,
            Trigger::Kill | Trigger::Planned | Trigger::PlannedWithoutFirstSentinel => 1,
        }
    }
}

/// What one run saw.
#[derive(Debug)]
struct Run {
    /// From the trigger to the app's first read served by the new primary.
    recovered_after: Duration,
    /// From the trigger to every sentinel naming the new primary.
    switched_after: Duration,
    /// Kill: from the trigger to a save acknowledged again, once the killed
    /// node came back as a replica.
    saves_back_after: Option<Duration>,
    /// Saves acknowledged (before, during and after the failover).
    acked: usize,
    /// Of those, how many were missing (or held another value) afterwards.
    lost: usize,
    /// Reads under load that found an acknowledged session missing (or
    /// holding another value).
    wrong_reads: usize,
    /// Every status answered during the load, with counts.
    statuses: BTreeMap<u16, usize>,
}

/// Saves before the trigger, the trigger under `CLIENTS` concurrent
/// clients (new sessions saved, acknowledged ones read back), a prober
/// timing the app's move to the new primary, and a read of every
/// acknowledged session afterwards.
async fn failover_under_load(trigger: Trigger) -> Run {
    // The 503s' own log lines left out (thousands); `RUST_LOG` to choose.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "warn,uapi::service=off,uapi::sessions::store=off".into());
    let _ = tracing_subscriber::fmt().with_test_writer().with_env_filter(filter).try_init();
    let mut deployment = RedisSentinel::start(trigger.replicas(), DOWN_AFTER, FAILOVER_TIMEOUT);
    let sentinels = deployment.sentinels();
    let conn = deployment.connection().await;
    let site = site(conn.clone());
    // A save: a load of nothing, the save (a NOSCRIPT on a new primary adds
    // a SCRIPT LOAD and a retry): three commands that may each time out.
    let save_bound = TIMEOUT * 3 + MARGIN;
    let read_bound = TIMEOUT + MARGIN;

    let mut before = Vec::new();
    for i in 0..40 {
        before.push(
            save_new(&site, PREFIX, format!("b{i}"), save_bound).await.expect("saves before the failover succeed"),
        );
    }
    let old = sentinels.primary();
    assert_eq!(conn.primary(), Some(format!("127.0.0.1:{old}")), "the app starts on the primary");
    let pre_trigger = before.len();
    // The app listens to every sentinel: the first, and the ones it lists (any may lead).
    let listening = Instant::now();
    let count = deployment.sentinel_ports().len();
    let watched = sentinels.clone();
    tokio::task::spawn_blocking(move || (0..count).for_each(|i| watched.wait_subscribed(i)))
        .await
        .expect("the subscription watch");
    eprintln!("the app listens to all {count} sentinels (checked in {:?})", listening.elapsed());
    if trigger == Trigger::PlannedWithoutFirstSentinel {
        deployment.kill_sentinel(0);
    }

    let acked = Arc::new(Mutex::new(before));
    let statuses = Arc::new(Mutex::new(BTreeMap::<u16, usize>::new()));
    let wrong_reads = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let count = |statuses: &Mutex<BTreeMap<u16, usize>>, status: u16| {
        *statuses.lock().unwrap_or_else(PoisonError::into_inner).entry(status).or_default() += 1;
    };
    let load: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (site, acked, statuses) = (site.clone(), acked.clone(), statuses.clone());
            let (wrong_reads, stop) = (wrong_reads.clone(), stop.clone());
            tokio::spawn(async move {
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    match save_new(&site, PREFIX, format!("c{c}n{n}"), save_bound).await {
                        Some(a) => {
                            count(&statuses, 200);
                            acked.lock().unwrap_or_else(PoisonError::into_inner).push(a);
                        }
                        None => {
                            count(&statuses, 503);
                            // A client backing off after a 503 (most are
                            // answered at once), which also keeps this
                            // loop from spinning the sentinels off the CPU.
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                    }
                    // Read back one acknowledged session (a different one each time).
                    let read = {
                        let acked = acked.lock().unwrap_or_else(PoisonError::into_inner);
                        let a = &acked[(n * 7 + c * 13) % acked.len()];
                        (a.client.get("/get"), a.value.clone())
                    };
                    let (status, body, elapsed) = timed(read.0).await;
                    assert!(elapsed < read_bound, "a read took {elapsed:?} ({status} {body})");
                    count(&statuses, status);
                    match status {
                        200 if body == read.1 => {}
                        200 => {
                            wrong_reads.fetch_add(1, Ordering::Relaxed);
                        }
                        503 => tokio::time::sleep(Duration::from_millis(5)).await,
                        _ => panic!("a read answered {status}: {body}"),
                    }
                }
            })
        })
        .collect();

    // Load first (saves acknowledged under it), then the trigger, with saves in flight.
    let acks = || acked.lock().unwrap_or_else(PoisonError::into_inner).len();
    let under_way = acks() + 60;
    poll_until(|| acks() >= under_way, "the load never got going").await;
    let triggered = Instant::now();
    match trigger {
        Trigger::Kill => deployment.kill(old),
        Trigger::Planned | Trigger::PlannedWithoutFirstSentinel | Trigger::PlannedTwoReplicas => sentinels.failover(),
    }
    let switched = {
        let sentinels = sentinels.clone();
        tokio::task::spawn_blocking(move || (sentinels.wait_moved_from(old), triggered.elapsed()))
    };

    // The prober: reads of sessions saved before the trigger, until one is
    // served with the app on another primary.
    let mut probes = 0usize;
    let old_addr = format!("127.0.0.1:{old}");
    let recovered_after = loop {
        let moved = conn.primary().is_some_and(|p| p != old_addr);
        let (probe, value) = {
            let acked = acked.lock().unwrap_or_else(PoisonError::into_inner);
            let a = &acked[probes % pre_trigger];
            (a.client.get("/get"), a.value.clone())
        };
        let (status, body, elapsed) = timed(probe).await;
        assert!(elapsed < read_bound, "a probe took {elapsed:?} ({status} {body})");
        probes += 1;
        match status {
            200 if moved && body == value => break triggered.elapsed(),
            200 => assert_eq!(body, value, "a probe read another value"),
            503 => {}
            _ => panic!("a probe answered {status}: {body}"),
        }
        assert!(triggered.elapsed() < PATIENCE, "the app never served from a new primary");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let (new, switched_after) = switched.await.expect("the sentinels' switch");
    assert_eq!(conn.primary(), Some(format!("127.0.0.1:{new}")), "the app is on the sentinels' primary");

    let mut saves_back_after = None;
    if trigger == Trigger::Kill {
        // The killed node comes back, as a replica of the new primary, as
        // an orchestrator would bring it back: saves are acknowledged again.
        tokio::task::block_in_place(|| deployment.rejoin(old, new));
        let again = acks() + 40;
        poll_until(|| acks() >= again, "no saves were acknowledged after the killed node came back").await;
        saves_back_after = Some(triggered.elapsed());
    }
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.expect("a client task failed");
    }

    // Every acknowledged session, read back through the same app.
    let acked = std::mem::take(&mut *acked.lock().unwrap_or_else(PoisonError::into_inner));
    let mut lost = 0;
    for a in &acked {
        let (status, body, _) = timed(a.client.get("/get")).await;
        assert_eq!(status, 200, "after the failover: {body} ({:?} after the trigger)", triggered.elapsed());
        if body != a.value {
            lost += 1;
        }
    }
    let statuses = std::mem::take(&mut *statuses.lock().unwrap_or_else(PoisonError::into_inner));
    let wrong_reads = wrong_reads.load(Ordering::Relaxed);
    let run =
        Run { recovered_after, switched_after, saves_back_after, acked: acked.len(), lost, wrong_reads, statuses };
    eprintln!(
        "sentinel failover ({trigger:?}): served from the new primary {:?} after the trigger, every sentinel \
         naming it after {:?} (down-after {DOWN_AFTER:?}, failover-timeout {FAILOVER_TIMEOUT:?}); saves \
         acknowledged again after {:?}; {} probes; {} saves acknowledged, {} lost ({} reads under load missed \
         one); statuses under load {:?}",
        run.recovered_after,
        run.switched_after,
        run.saves_back_after,
        probes,
        run.acked,
        run.lost,
        run.wrong_reads,
        run.statuses
    );
    run
}

/// The guarantees both scenarios give: bounded answers, service back in
/// time, nothing acknowledged lost.
fn assert_recovered(run: &Run) {
    let bound = DOWN_AFTER + FAILOVER_TIMEOUT + Duration::from_secs(2);
    assert!(run.recovered_after < bound, "served again {:?} after the trigger (bound {bound:?})", run.recovered_after);
    assert!(run.statuses.keys().all(|s| matches!(s, 200 | 503)), "{:?}", run.statuses);
    assert_eq!((run.lost, run.wrong_reads), (0, 0), "acknowledged saves lost: {run:?}");
}

/// The primary SIGKILLed under load: 200s and 503s meanwhile, the same app
/// served by the promoted replica in time, nothing acknowledged lost, and
/// saves acknowledged again once the killed node is back as a replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_killed_under_load_fails_over_and_keeps_every_acknowledged_session() {
    let _turn = SERIAL.lock().await;
    let run = tokio::time::timeout(SCENARIO_PATIENCE, failover_under_load(Trigger::Kill)).await.expect("it hung");
    assert_recovered(&run);
    assert!(run.saves_back_after.is_some());
}

/// `SENTINEL FAILOVER` under load: the old primary still answers, yet the
/// app moves to the new one when the sentinels announce it, in time, with
/// the same guarantees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planned_failover_moves_the_app_to_the_new_primary_and_keeps_every_acknowledged_session() {
    let _turn = SERIAL.lock().await;
    let run = tokio::time::timeout(SCENARIO_PATIENCE, failover_under_load(Trigger::Planned)).await.expect("it hung");
    assert_recovered(&run);
}

/// The first sentinel dies first: the app looks the primary up through the
/// next one, hears the others' announcements, and a planned failover moves
/// it in time all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_first_sentinel_dead_the_app_still_follows_a_planned_failover() {
    let _turn = SERIAL.lock().await;
    let scenario = failover_under_load(Trigger::PlannedWithoutFirstSentinel);
    let run = tokio::time::timeout(SCENARIO_PATIENCE, scenario).await.expect("it hung");
    assert_recovered(&run);
}

/// `SENTINEL FAILOVER` under load with TWO replicas: the old primary still
/// takes writes after the promotion and the other replica, still following
/// it, acknowledges them; the app stops sending to it before the promotion,
/// so every save it answered with a 200 is on the promoted node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planned_failover_with_two_replicas_keeps_every_acknowledged_session() {
    let _turn = SERIAL.lock().await;
    let scenario = failover_under_load(Trigger::PlannedTwoReplicas);
    let run = tokio::time::timeout(SCENARIO_PATIENCE, scenario).await.expect("it hung");
    assert_recovered(&run);
}

/// `SENTINEL FAILOVER` on the last sentinel (which then leads) with the
/// only replica paused for `pause` (`CLIENT PAUSE`, which delays its
/// `SLAVEOF NO ONE`), returned once the leader announced its last step
/// before the promotion (`+failover-state-wait-promotion`): nothing more is
/// announced until it gives up, at its failover timeout
/// (`-failover-abort-slave-timeout`). The leader's index.
fn failover_stuck_before_the_promotion(deployment: &RedisSentinel, pause: Duration) -> usize {
    let sentinels = deployment.sentinels();
    let leader = deployment.sentinel_ports().len() - 1;
    let replica = deployment.replica_ports()[0];
    tokio::task::block_in_place(|| {
        let client = redis::Client::open(sentinels.urls()[leader].as_str()).expect("url");
        let mut con = client.get_connection_with_timeout(Duration::from_millis(500)).expect("the leader");
        con.set_read_timeout(Some(PATIENCE)).expect("a read timeout");
        let mut steps = con.as_pubsub();
        steps.subscribe("+failover-state-wait-promotion").expect("SUBSCRIBE");
        let client = redis::Client::open(format!("redis://127.0.0.1:{replica}/")).expect("url");
        let mut con = client.get_connection_with_timeout(Duration::from_millis(500)).expect("the replica");
        let pause = pause.as_millis().to_string();
        let () = redis::cmd("CLIENT").arg("PAUSE").arg(&pause).arg("ALL").query(&mut con).expect("CLIENT PAUSE");
        sentinels.failover();
        steps.get_message().expect("the leader's +failover-state-wait-promotion");
    });
    assert!(sentinels.failover_in_progress(leader), "the failover is under way");
    leader
}

/// Pings through `conn` until the answer is (`held`: the primary is held
/// by a failover) or is not (a `PONG`), for at most `bound` after `since`:
/// the time from `since`.
async fn ping_until(conn: &SentinelConnection, held: bool, since: Instant, bound: Duration) -> Duration {
    loop {
        let mut c = conn.clone();
        let pong = redis::cmd("PING").query_async::<String>(&mut c).await;
        let is_held = matches!(&pong, Err(e) if e.to_string().contains("being failed over"));
        if (held && is_held) || (!held && pong.is_ok()) {
            return since.elapsed();
        }
        assert!(since.elapsed() < bound, "no {} within {bound:?}: {pong:?}", if held { "hold" } else { "PONG" });
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An app that connects while a failover is under way (its announcements
/// made before the app could hear them) holds all the same: each sentinel
/// is asked, when subscribed to, whether it has one under way. The leader
/// gives the failover up at its failover timeout, which frees the hold: the
/// app is served by the old primary again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_that_connects_in_the_middle_of_a_failover_holds_until_it_ends() {
    let _turn = SERIAL.lock().await;
    let failover_timeout = Duration::from_secs(3);
    let scenario = async {
        let deployment = RedisSentinel::start(1, DOWN_AFTER, failover_timeout);
        let old = deployment.sentinels().primary();
        let leader = failover_stuck_before_the_promotion(&deployment, failover_timeout + Duration::from_secs(3));
        let connected = Instant::now();
        let conn = deployment.connection().await;
        assert_eq!(conn.primary(), Some(format!("127.0.0.1:{old}")), "the sentinels still name the old primary");
        let held_after = ping_until(&conn, true, connected, Duration::from_secs(2)).await;
        assert!(deployment.sentinels().failover_in_progress(leader), "it ended before the app held: no proof");
        let freed_after = ping_until(&conn, false, connected, failover_timeout + Duration::from_secs(3)).await;
        assert_eq!(conn.primary(), Some(format!("127.0.0.1:{old}")), "the failover was given up");
        eprintln!(
            "connected mid-failover: held {held_after:?} after connecting, served again {freed_after:?} after \
             (failover-timeout {failover_timeout:?})"
        );
    };
    tokio::time::timeout(SCENARIO_PATIENCE, scenario).await.expect("it hung");
}

/// A failover whose leader forgets it without announcing an abort (here
/// `SENTINEL RESET` on the leader; a leader restarted is alike) no longer
/// holds the app for the whole failover timeout (30 s here): the leader,
/// asked about once a second while the failover is held, reports none
/// under way, and the hold ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_its_leader_forgot_frees_the_app_long_before_the_failover_timeout() {
    let _turn = SERIAL.lock().await;
    let failover_timeout = Duration::from_secs(30);
    let scenario = async {
        let deployment = RedisSentinel::start(1, DOWN_AFTER, failover_timeout);
        let sentinels = deployment.sentinels();
        let old = sentinels.primary();
        let conn = deployment.connection().await;
        let count = deployment.sentinel_ports().len();
        let watched = sentinels.clone();
        tokio::task::spawn_blocking(move || (0..count).for_each(|i| watched.wait_subscribed(i)))
            .await
            .expect("the subscription watch");
        let leader = failover_stuck_before_the_promotion(&deployment, Duration::from_secs(8));
        ping_until(&conn, true, Instant::now(), Duration::from_secs(2)).await;
        let reset = Instant::now();
        tokio::task::block_in_place(|| {
            let client = redis::Client::open(sentinels.urls()[leader].as_str()).expect("url");
            let mut con = client.get_connection_with_timeout(Duration::from_millis(500)).expect("the leader");
            let _: i64 = redis::cmd("SENTINEL").arg("RESET").arg("*").query(&mut con).expect("SENTINEL RESET");
        });
        assert!(!sentinels.failover_in_progress(leader), "the leader forgot the failover");
        let freed_after = ping_until(&conn, false, reset, Duration::from_secs(3)).await;
        assert_eq!(conn.primary(), Some(format!("127.0.0.1:{old}")), "the failover was forgotten");
        eprintln!("a failover its leader forgot: the app served again {freed_after:?} after the leader's reset");
    };
    tokio::time::timeout(SCENARIO_PATIENCE, scenario).await.expect("it hung");
}

/// A sentinel only discovered (listed by `SENTINEL SENTINELS` after a hello
/// message anyone with the nodes' credentials can publish; here a plain
/// `redis-server` that announces itself) announces a `+switch-master` to a
/// node of its own: the app does not connect there, since no configured
/// sentinel names or lists that node; it holds (503s) until the
/// announcement's bound, then is back on the real primary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promotion_only_a_discovered_sentinel_announces_is_not_followed() {
    let _turn = SERIAL.lock().await;
    let scenario = async {
        let deployment = RedisSentinel::start(1, DOWN_AFTER, FAILOVER_TIMEOUT);
        let sentinels = deployment.sentinels();
        let old = sentinels.primary();
        let fake = RedisServer::start();
        let fake_client = fake.client();
        let hello = format!("127.0.0.1,{},{:040x},0,{SERVICE},127.0.0.1,{old},0", fake.port(), 0xbad);
        let query = |client: &redis::Client, cmd: &redis::Cmd| -> redis::Value {
            let client = client.clone();
            tokio::task::block_in_place(|| cmd.query(&mut client.get_connection().expect("a connection")))
                .expect("a reply")
        };
        let primary = redis::Client::open(format!("redis://127.0.0.1:{old}/")).expect("url");
        query(&primary, redis::cmd("PUBLISH").arg("__sentinel__:hello").arg(&hello));
        let first = redis::Client::open(sentinels.urls()[0].as_str()).expect("url");
        let listed = || format!("{:?}", query(&first, redis::cmd("SENTINEL").arg("SENTINELS").arg(SERVICE)));
        poll_until(|| listed().contains(&fake.port().to_string()), "the sentinels never listed the fake").await;

        let conn = deployment.connection().await;
        let subscribers = || {
            let reply = query(&fake_client, redis::cmd("PUBSUB").arg("NUMSUB").arg("+switch-master"));
            redis::from_redis_value::<(String, i64)>(reply).map_or(0, |(_, n)| n)
        };
        poll_until(|| subscribers() > 0, "the app never subscribed to the fake").await;
        let announced = Instant::now();
        let switch = format!("{SERVICE} 127.0.0.1 {old} 127.0.0.1 {}", fake.port());
        query(&fake_client, redis::cmd("PUBLISH").arg("+switch-master").arg(&switch));
        let held_after = ping_until(&conn, true, announced, Duration::from_secs(2)).await;
        let back_after = ping_until(&conn, false, announced, Duration::from_secs(8)).await;
        assert_eq!(conn.primary(), Some(format!("127.0.0.1:{old}")), "the app followed the fake's announcement");
        eprintln!("a fake sentinel's switch: held {held_after:?} after it, back on the primary {back_after:?} after");
    };
    tokio::time::timeout(SCENARIO_PATIENCE, scenario).await.expect("it hung");
}
