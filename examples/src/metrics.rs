//! Prometheus metrics: a handful of atomics rendered in the text exposition format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the decision latency histogram buckets.
const DECISION_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.05, 0.1,
];

/// Upper bounds (seconds) of the statement latency histogram buckets.
const STATEMENT_BUCKETS: &[f64] = &[
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    10.0, 30.0, 60.0,
];

/// A Prometheus histogram of durations: cumulative buckets, count and sum, all atomics.
#[derive(Debug)]
pub(crate) struct Histogram {
    bounds: &'static [f64],
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    sum_ns: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            buckets: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_ns: AtomicU64::new(0),
        }
    }

    /// Counts one observation.
    pub(crate) fn observe(&self, took: Duration) {
        let secs = took.as_secs_f64();
        for (b, c) in self.bounds.iter().zip(&self.buckets) {
            if secs <= *b {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(
            u64::try_from(took.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    fn render(&self, s: &mut String, name: &str, help: &str) {
        let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (b, c) in self.bounds.iter().zip(&self.buckets) {
            let _ = writeln!(
                s,
                "{name}_bucket{{le=\"{b}\"}} {}",
                c.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(s, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(s, "{name}_sum {sum}");
        let _ = writeln!(s, "{name}_count {count}");
    }
}

/// The gateway's counters.
#[derive(Debug)]
pub(crate) struct Metrics {
    pub(crate) sessions_total: AtomicU64,
    pub(crate) auth_failures: AtomicU64,
    pub(crate) allow: AtomicU64,
    pub(crate) deny: AtomicU64,
    pub(crate) approve: AtomicU64,
    pub(crate) masked_values: AtomicU64,
    decision: Histogram,
    /// From a statement (or an extended-protocol batch) leaving for the upstream to its
    /// ReadyForQuery: what clients wait, held approvals included.
    pub(crate) statement: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            sessions_total: AtomicU64::new(0),
            auth_failures: AtomicU64::new(0),
            allow: AtomicU64::new(0),
            deny: AtomicU64::new(0),
            approve: AtomicU64::new(0),
            masked_values: AtomicU64::new(0),
            decision: Histogram::new(DECISION_BUCKETS),
            statement: Histogram::new(STATEMENT_BUCKETS),
        }
    }
}

impl Metrics {
    /// Counts one decision and its latency.
    pub(crate) fn decision(&self, verdict: &str, took: Duration) {
        match verdict {
            "allow" => &self.allow,
            "deny" => &self.deny,
            _ => &self.approve,
        }
        .fetch_add(1, Ordering::Relaxed);
        self.decision.observe(took);
    }

    /// The text exposition.
    pub(crate) fn render(&self, live_sessions: usize) -> String {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# HELP guard_sessions Live client sessions.\n# TYPE guard_sessions gauge"
        );
        let _ = writeln!(s, "guard_sessions {live_sessions}");
        let _ = writeln!(
            s,
            "# HELP guard_sessions_total Sessions opened.\n# TYPE guard_sessions_total counter"
        );
        let _ = writeln!(s, "guard_sessions_total {}", g(&self.sessions_total));
        let _ = writeln!(
            s,
            "# HELP guard_auth_failures_total Refused logins.\n# TYPE guard_auth_failures_total counter"
        );
        let _ = writeln!(s, "guard_auth_failures_total {}", g(&self.auth_failures));
        let _ = writeln!(
            s,
            "# HELP guard_statements_total Statements decided, by verdict.\n# TYPE guard_statements_total counter"
        );
        for (v, a) in [
            ("allow", &self.allow),
            ("deny", &self.deny),
            ("approve", &self.approve),
        ] {
            let _ = writeln!(s, "guard_statements_total{{verdict=\"{v}\"}} {}", g(a));
        }
        let _ = writeln!(
            s,
            "# HELP guard_masked_values_total Values masked in results.\n# TYPE guard_masked_values_total counter"
        );
        let _ = writeln!(s, "guard_masked_values_total {}", g(&self.masked_values));
        self.decision.render(
            &mut s,
            "guard_decision_seconds",
            "Time to decide one statement (policy evaluation with the active grants).",
        );
        self.statement.render(
            &mut s,
            "guard_statement_seconds",
            "From a statement (or extended-protocol batch) leaving for the upstream to its \
             ReadyForQuery, approval holds included.",
        );
        s
    }
}
