//! Shared helpers for the end-to-end tests: one throwaway PostgreSQL per test binary.

#![allow(dead_code, unreachable_pub)]

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use guard_gateway::pgcluster::PgCluster;

/// The cluster shared by every test of this binary (cleaned up when the process exits).
pub fn cluster() -> &'static PgCluster {
    static CLUSTER: OnceLock<PgCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| match PgCluster::start() {
        Ok(c) => c,
        Err(e) => panic!("cannot start the throwaway PostgreSQL: {e:#}"),
    })
}

/// A fresh database in the shared cluster, named after the test.
pub fn fresh_database(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = format!("{prefix}_{}", N.fetch_add(1, Ordering::SeqCst));
    cluster()
        .create_database(&name)
        .unwrap_or_else(|e| panic!("create database {name}: {e:#}"));
    name
}
