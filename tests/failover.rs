//! A Redis Cluster master dies under load and its replica takes over
//! (3 masters, 3 replicas, `cluster-node-timeout` 1 s): every request
//! meanwhile is answered, a 2xx or a 503 (never a 500, never a hang), the
//! killed master's sessions are served again within the node timeout + 2 s
//! of the kill by the same app (no restart), and, with
//! `RedisBackend::wait_for_replicas`, every session whose save was answered
//! with a success is still there after the failover. Without the wait,
//! Redis's asynchronous replication may lose acknowledged saves: that run
//! reports how many it lost and asserts nothing about them. Each run prints
//! its time to recover. Needs `redis-server` and `redis-cli` on PATH.

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use support::failover_load::{self, poll_until, save_new, timed, PATIENCE};
use support::redis_cluster::RedisCluster;
use uapi::sessions::RedisBackend;
use uapi::AppService;

/// `cluster-node-timeout`: how long before the others declare a silent master failed.
const NODE_TIMEOUT: Duration = Duration::from_millis(1000);
/// The store's command timeout.
const TIMEOUT: Duration = Duration::from_millis(1000);
/// How long a save waits for its replica (below the command timeout).
const WAIT_TIMEOUT: Duration = Duration::from_millis(100);
/// Slack for scheduling on a loaded 2-core machine.
const MARGIN: Duration = Duration::from_millis(700);
/// Concurrent clients during the failover.
const CLIENTS: usize = 6;
/// Key prefix of every session.
const PREFIX: &str = "fo:";

/// The two scenarios take turns: their timings need the machine to themselves.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn site(conn: redis::cluster_async::ClusterConnection, wait: bool) -> AppService {
    let mut backend = RedisBackend::new(conn).key_prefix(PREFIX).command_timeout(TIMEOUT);
    if wait {
        backend = backend.wait_for_replicas(1, WAIT_TIMEOUT);
    }
    failover_load::site(backend)
}

/// What one failover run saw.
#[derive(Debug)]
struct Run {
    /// From the kill to the first read of a killed-master session served again.
    recovered_after: Duration,
    /// From the kill to the replica's `ROLE` saying master.
    promoted_after: Duration,
    /// Saves acknowledged (before and during the failover).
    acked: usize,
    /// Of those, how many were missing (or held another value) afterwards.
    lost: usize,
    /// Reads under load that found an acknowledged session missing (or
    /// holding another value).
    wrong_reads: usize,
    /// Every status answered during the load, with counts.
    statuses: BTreeMap<u16, usize>,
}

/// Saves before the kill, a kill of the master holding some of them under
/// `CLIENTS` concurrent clients (new sessions saved, acknowledged ones read),
/// a prober timing the return of service on the killed master's slots, and
/// a read of every acknowledged session afterwards.
async fn failover_under_load(wait: bool) -> Run {
    let _ = tracing_subscriber::fmt().with_test_writer().with_env_filter("warn").try_init();
    let mut cluster = RedisCluster::start_with_replicas(NODE_TIMEOUT);
    let site = site(cluster.connection().await, wait);
    // A save: a load of nothing, the save (a NOSCRIPT on a new master adds
    // a SCRIPT LOAD and a retry): three commands that may each time out.
    let save_bound = TIMEOUT * 3 + MARGIN;
    let read_bound = TIMEOUT + MARGIN;

    let mut before = Vec::new();
    for i in 0..60 {
        before.push(save_new(&site, PREFIX, format!("b{i}"), save_bound).await.expect("saves before the kill succeed"));
    }
    let masters = cluster.masters();
    assert_eq!(masters.len(), 3, "3 masters before the kill");
    let victim = cluster.node_of(&before[0].key);
    let on_victim: Vec<usize> = (0..before.len()).filter(|&i| cluster.node_of(&before[i].key) == victim).collect();
    assert!(masters.contains(&victim));

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
                        None => count(&statuses, 503),
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
                        503 => {}
                        _ => panic!("a read answered {status}: {body}"),
                    }
                }
            })
        })
        .collect();

    // Load first (saves acknowledged under it), then the kill, with saves in flight.
    let acks = || acked.lock().unwrap_or_else(PoisonError::into_inner).len();
    let under_way = acks() + 100;
    poll_until(|| acks() >= under_way, "the load never got going").await;
    let replica = cluster.replica_of(victim).expect("the victim has a replica");
    let killed = Instant::now();
    cluster.kill_node(victim);
    let promoted_after = {
        let replica = cluster.node_client(replica);
        tokio::task::spawn_blocking(move || loop {
            let role = replica
                .get_connection_with_timeout(Duration::from_millis(500))
                .and_then(|mut c| redis::cmd("ROLE").query::<Vec<redis::Value>>(&mut c));
            if matches!(role.as_deref(), Ok([redis::Value::BulkString(r), ..]) if r == b"master") {
                return killed.elapsed();
            }
            assert!(killed.elapsed() < PATIENCE, "the replica was never promoted");
            std::thread::sleep(Duration::from_millis(10));
        })
    };

    // The prober: reads of the killed master's sessions until one is served.
    let mut probes = 0usize;
    let recovered_after = loop {
        let probe = {
            let acked = acked.lock().unwrap_or_else(PoisonError::into_inner);
            acked[on_victim[probes % on_victim.len()]].client.get("/get")
        };
        let (status, body, elapsed) = timed(probe).await;
        assert!(elapsed < read_bound, "a probe took {elapsed:?} ({status} {body})");
        probes += 1;
        match status {
            200 => break killed.elapsed(),
            503 => {}
            _ => panic!("a probe answered {status}: {body}"),
        }
        assert!(killed.elapsed() < PATIENCE, "the killed master's sessions were never served again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // More load on the new master (saves acknowledged after the recovery), then stop.
    let after = acks() + 100;
    poll_until(|| acks() >= after, "no saves were acknowledged after the recovery").await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.expect("a client task failed");
    }
    let promoted_after = promoted_after.await.expect("the promotion watch");
    let promoted = cluster.masters();
    assert_eq!(promoted.len(), 3, "a replica took the killed master's place: {promoted:?}");

    // Every acknowledged session, read back through the same app. A 503 is
    // asked again (until PATIENCE after the kill): redis-rs's cluster client
    // has been seen (2 runs in 42) routing some slots to the dead node for
    // seconds after the promotion, each request timing out; that is service,
    // measured by the prober above, not a lost session, which this counts.
    let acked = std::mem::take(&mut *acked.lock().unwrap_or_else(PoisonError::into_inner));
    let (mut lost, mut asked_again) = (0, 0usize);
    for a in &acked {
        let body = loop {
            let (status, body, _) = timed(a.client.get("/get")).await;
            if status == 503 && killed.elapsed() < PATIENCE {
                asked_again += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            assert_eq!(status, 200, "after the failover: {body} ({:?} after the kill)", killed.elapsed());
            break body;
        };
        if body != a.value {
            lost += 1;
        }
    }
    if asked_again > 0 {
        eprintln!("read back: {asked_again} reads answered 503 and were asked again");
    }
    let statuses = std::mem::take(&mut *statuses.lock().unwrap_or_else(PoisonError::into_inner));
    let wrong_reads = wrong_reads.load(Ordering::Relaxed);
    let run = Run { recovered_after, promoted_after, acked: acked.len(), lost, wrong_reads, statuses };
    eprintln!(
        "failover (wait_for_replicas: {wait}): recovered {:?} after the kill, the replica promoted after {:?} \
         (node timeout {NODE_TIMEOUT:?}); \
         {} probes; {} saves acknowledged, {} lost ({} reads under load missed one); statuses under load {:?}",
        run.recovered_after, run.promoted_after, probes, run.acked, run.lost, run.wrong_reads, run.statuses
    );
    run
}

/// With the wait for a replica: bounded answers, service back in time, and
/// nothing acknowledged lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_killed_under_load_fails_over_and_keeps_every_acknowledged_session() {
    let _turn = SERIAL.lock().await;
    let run = failover_under_load(true).await;
    assert!(
        run.recovered_after < NODE_TIMEOUT + Duration::from_secs(2),
        "service came back {:?} after the kill",
        run.recovered_after
    );
    assert!(run.statuses.keys().all(|s| matches!(s, 200 | 503)), "{:?}", run.statuses);
    assert_eq!((run.lost, run.wrong_reads), (0, 0), "acknowledged saves lost: {run:?}");
}

/// Without it: bounded answers and service back in time too; how many
/// acknowledged saves the failover lost is printed, not asserted (a write
/// the master answered before its replica had it is gone: that is Redis's
/// asynchronous replication, and what `wait_for_replicas` is for).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_wait_a_failover_is_still_bounded_and_reports_what_it_lost() {
    let _turn = SERIAL.lock().await;
    let run = failover_under_load(false).await;
    assert!(
        run.recovered_after < NODE_TIMEOUT + Duration::from_secs(2),
        "service came back {:?} after the kill",
        run.recovered_after
    );
    assert!(run.statuses.keys().all(|s| matches!(s, 200 | 503)), "{:?}", run.statuses);
}
