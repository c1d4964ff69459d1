//! Prometheus metrics: a handful of atomics rendered in the text exposition format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the decision latency histogram buckets.
const BUCKETS: [f64; 10] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.05, 0.1,
];

/// The gateway's counters.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub(crate) sessions_total: AtomicU64,
    pub(crate) auth_failures: AtomicU64,
    pub(crate) allow: AtomicU64,
    pub(crate) deny: AtomicU64,
    pub(crate) approve: AtomicU64,
    pub(crate) masked_values: AtomicU64,
    decide_buckets: [AtomicU64; BUCKETS.len()],
    decide_count: AtomicU64,
    decide_sum_ns: AtomicU64,
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
        let secs = took.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.decide_buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.decide_count.fetch_add(1, Ordering::Relaxed);
        self.decide_sum_ns.fetch_add(
            u64::try_from(took.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
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
        let _ = writeln!(
            s,
            "# HELP guard_decision_seconds Time to classify and decide one statement.\n# TYPE guard_decision_seconds histogram"
        );
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                s,
                "guard_decision_seconds_bucket{{le=\"{b}\"}} {}",
                g(&self.decide_buckets[i])
            );
        }
        let _ = writeln!(
            s,
            "guard_decision_seconds_bucket{{le=\"+Inf\"}} {}",
            g(&self.decide_count)
        );
        let _ = writeln!(
            s,
            "guard_decision_seconds_sum {}",
            g(&self.decide_sum_ns) as f64 / 1e9
        );
        let _ = writeln!(s, "guard_decision_seconds_count {}", g(&self.decide_count));
        s
    }
}
