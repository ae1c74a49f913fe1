//! What Redis ran, from `INFO commandstats`: calls per command since the
//! last `CONFIG RESETSTAT`, for tests that assert which commands (and how
//! many) a request cost.

use std::collections::BTreeMap;

use redis::aio::ConnectionLike;

/// Calls per command (`hmget`, `exec`, `config|resetstat`, ...) since the last reset.
pub async fn command_counts(con: &mut impl ConnectionLike) -> BTreeMap<String, u64> {
    let info: String = redis::cmd("INFO").arg("commandstats").query_async(con).await.expect("INFO commandstats");
    info.lines()
        .filter_map(|line| {
            let (name, rest) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest.split(',').find_map(|kv| kv.strip_prefix("calls="))?.parse().ok()?;
            Some((name.to_owned(), calls))
        })
        .collect()
}

/// `CONFIG RESETSTAT`: the counts start again from zero.
pub async fn reset_stats(con: &mut impl ConnectionLike) {
    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query_async(con).await.expect("CONFIG RESETSTAT");
}
