//! How long to wait before retrying, per error class. Pure: `retry_delay_table_per_error_class`
//! pins the numbers the docs give.

use super::*;

/// Environment errors (permissions, credentials, namespace settings) back off this many times
/// slower than other errors: 30 s, 1, 2, 4, 5 minutes with the default settings.
pub(super) const ENVIRONMENT_BACKOFF_FACTOR: u32 = 15;

/// Longest wait before retrying a throttled reconcile.
pub(super) const THROTTLED_BACKOFF_MAX: Duration = Duration::from_secs(32);

/// Exponential backoff for the `attempt`-th failure in a row of object `key`: base * 2^(attempt-1),
/// capped at `backoff_max`. Pure.
pub fn retry_delay(settings: &Settings, class: ErrorClass, key: &str, attempt: u32) -> Duration {
    let (base, max) = (settings.backoff_base, settings.backoff_max);
    match class {
        // AWS's buckets refill within seconds: retry throttled calls soon, never minutes
        // later (that would bound convergence by the backoff, not by AWS).
        // Spread (50-100 %, fixed per object and attempt), so objects throttled together
        // do not come back together.
        ErrorClass::Throttled => spread(
            backoff_delay(base * 4, THROTTLED_BACKOFF_MAX.min(max), attempt),
            key,
            attempt,
        ),
        // Someone has to fix IAM or the namespace first: retry every few minutes, not seconds.
        ErrorClass::Environment => {
            (backoff_delay(base, max, attempt) * ENVIRONMENT_BACKOFF_FACTOR).min(max)
        }
        _ => backoff_delay(base, max, attempt),
    }
}

/// Pure: `delay` scaled into 50-100 % by a hash of (key, attempt).
pub fn spread(delay: Duration, key: &str, attempt: u32) -> Duration {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (key, attempt).hash(&mut h);
    let fraction = 0.5 + (h.finish() % 1000) as f64 / 2000.0;
    delay.mul_f64(fraction)
}

/// Pure backoff computation: base * 2^(attempt-1), capped at max.
pub fn backoff_delay(base: Duration, max: Duration, attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
    base.saturating_mul(factor).min(max)
}

/// The wait before the next not-ready poll: polls fall on multiples of `period` since the Unix
/// epoch (`now`), at least half a period away, so the objects waiting on AWS poll at the same
/// instants and one batched read (DescribeServices, DescribeClusters,
/// DescribeServiceDeployments) serves many of them. Pure.
pub fn poll_tick(period: Duration, now: Duration) -> Duration {
    let p = period.as_millis().max(1);
    let mut wait = p - now.as_millis() % p;
    if wait < p.div_ceil(2) {
        wait += p;
    }
    Duration::from_millis(u64::try_from(wait).unwrap_or(u64::MAX))
}
