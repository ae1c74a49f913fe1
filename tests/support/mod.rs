//! Shared helpers for the integration tests.
#![allow(dead_code, unreachable_pub)]

pub mod browser;
pub mod commandstats;
pub mod counting;
pub mod failover_load;
pub mod fault_proxy;
pub mod redis_cluster;
pub mod redis_sentinel;
pub mod redis_server;
pub mod set_cookie;
pub mod spawned;
pub mod tls;
pub mod watchdog;
