//! The histograms' buckets: the SDKs' latency and size buckets, and this daemon's for whole tasks (minutes to a day)
//! and condition evaluations (microseconds to the CPU cap), with a constructor per kind for families.
//!
//! Owns: bucket boundaries. Does not own: which family uses which (the parent module registers them).

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;

/// The SDKs' latency buckets, in seconds.
const TIME_BUCKETS: [f64; 12] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// The SDKs' size buckets, in bytes.
const SIZE_BUCKETS: [f64; 6] = [100.0, 1e3, 1e4, 1e5, 1e6, 1e7];
/// Whole HTTP_POLL tasks take minutes to hours.
const TASK_DURATION_BUCKETS: [f64; 14] =
    [1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0];
/// Native condition evaluations take a microsecond or two, engine evaluations a few hundred; the cap is 50 ms.
const CONDITION_BUCKETS: [f64; 16] =
    [1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.05, 0.1, 0.25];

pub(super) type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

pub(super) fn family<L: Clone + std::hash::Hash + Eq>(make: fn() -> Histogram) -> Histograms<L> {
    Family::new_with_constructor(make)
}
pub(super) fn time_histogram() -> Histogram {
    Histogram::new(TIME_BUCKETS)
}
pub(super) fn size_histogram() -> Histogram {
    Histogram::new(SIZE_BUCKETS)
}
pub(super) fn task_duration_histogram() -> Histogram {
    Histogram::new(TASK_DURATION_BUCKETS)
}
pub(super) fn condition_histogram() -> Histogram {
    Histogram::new(CONDITION_BUCKETS)
}
