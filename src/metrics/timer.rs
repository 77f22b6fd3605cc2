//! A lock-free latency recorder standing in for 0.8.2's Yammer `Timer`/`Histogram`: a
//! count since start and the percentiles Yammer published (50th, 75th, 95th, 98th, 99th,
//! 99.9th) over recent samples.
//!
//! Yammer's biased reservoir weighted the last ~5 minutes; here samples fall into two
//! windows of log-linear buckets that take turns: the percentiles cover the current
//! window and the one before it (one to two [`WINDOW`]s of samples). The window turns
//! when it is read (a scrape), so recording is one clock-free atomic add per sample plus
//! the count. A bucket spans 1/8 of a power of two, so a percentile is within ~6% of the
//! exact value; the midpoint of the bucket is reported.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long one window collects samples before it turns.
pub const WINDOW: Duration = Duration::from_secs(60);

/// The percentiles 0.8.2's JMX beans had (`50thPercentile` ... `999thPercentile`), as the
/// exporter's rule renders them into a `quantile` label (`"0.$N"`), and the fraction each is.
pub const QUANTILES: [(&str, f64); 6] =
    [("0.50", 0.50), ("0.75", 0.75), ("0.95", 0.95), ("0.98", 0.98), ("0.99", 0.99), ("0.999", 0.999)];

/// Values below this many microseconds have a bucket each.
const LINEAR: u64 = 16;
/// Sub-buckets per power of two above [`LINEAR`].
const SUB_BITS: u32 = 3;
/// Up to 2^40 µs (~12 days): anything longer lands in the last bucket.
const MAX_EXP: u32 = 40;
const BUCKETS: usize = LINEAR as usize + ((MAX_EXP - 4) as usize) * (1 << SUB_BITS);

fn bucket_of(micros: u64) -> usize {
    if micros < LINEAR {
        return micros as usize;
    }
    let exp = 63 - micros.leading_zeros(); // >= 4
    if exp >= MAX_EXP {
        return BUCKETS - 1;
    }
    let sub = (micros >> (exp - SUB_BITS)) & ((1 << SUB_BITS) - 1);
    LINEAR as usize + ((exp - 4) as usize) * (1 << SUB_BITS) + sub as usize
}

/// The middle of a bucket, in microseconds.
fn bucket_mid(index: usize) -> f64 {
    if index < LINEAR as usize {
        return index as f64;
    }
    let i = index - LINEAR as usize;
    let exp = (i >> SUB_BITS) as u32 + 4;
    let sub = (i & ((1 << SUB_BITS) - 1)) as u64;
    let width = 1u64 << (exp - SUB_BITS);
    let low = (1u64 << exp) + sub * width;
    low as f64 + width as f64 / 2.0
}

pub struct Timer {
    count: AtomicU64,
    sum_micros: AtomicU64,
    windows: [Box<[AtomicU64]>; 2],
    current: AtomicUsize,
    turned_at: Mutex<Instant>,
}

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timer").field("count", &self.count()).finish()
    }
}

impl Default for Timer {
    fn default() -> Self {
        Timer::new()
    }
}

impl Timer {
    pub fn new() -> Timer {
        let window = || (0..BUCKETS).map(|_| AtomicU64::new(0)).collect::<Vec<_>>().into_boxed_slice();
        Timer {
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
            windows: [window(), window()],
            current: AtomicUsize::new(0),
            turned_at: Mutex::new(Instant::now()),
        }
    }

    pub fn record(&self, elapsed: Duration) {
        let micros = elapsed.as_micros().min(u64::MAX as u128) as u64;
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
        let w = self.current.load(Ordering::Relaxed) & 1;
        self.windows[w][bucket_of(micros)].fetch_add(1, Ordering::Relaxed);
    }

    /// Samples recorded since start (the bean's `Count`).
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Sum of every sample since start, in milliseconds.
    pub fn sum_ms(&self) -> f64 {
        self.sum_micros.load(Ordering::Relaxed) as f64 / 1000.0
    }

    /// Turn the window if it is older than [`WINDOW`]: the older one is emptied and
    /// becomes current.
    fn maybe_turn(&self, now: Instant) {
        let mut at = self.turned_at.lock().unwrap_or_else(|e| e.into_inner());
        if now.duration_since(*at) < WINDOW {
            return;
        }
        let next = (self.current.load(Ordering::Relaxed) + 1) & 1;
        for b in self.windows[next].iter() {
            b.store(0, Ordering::Relaxed);
        }
        self.current.store(next, Ordering::Relaxed);
        *at = now;
    }

    /// The percentiles of [`QUANTILES`], in milliseconds, over the recent windows; zeros
    /// when nothing was recorded lately (as Yammer reported an empty reservoir).
    pub fn quantiles_ms(&self) -> [f64; QUANTILES.len()] {
        self.quantiles_ms_at(Instant::now())
    }

    fn quantiles_ms_at(&self, now: Instant) -> [f64; QUANTILES.len()] {
        self.maybe_turn(now);
        let merged: Vec<u64> =
            (0..BUCKETS).map(|i| self.windows[0][i].load(Ordering::Relaxed) + self.windows[1][i].load(Ordering::Relaxed)).collect();
        let total: u64 = merged.iter().sum();
        let mut out = [0.0; QUANTILES.len()];
        if total == 0 {
            return out;
        }
        for (slot, (_, q)) in out.iter_mut().zip(QUANTILES.iter()) {
            // The smallest bucket whose cumulative count reaches q of the samples.
            let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
            let mut seen = 0;
            for (i, n) in merged.iter().enumerate() {
                seen += n;
                if seen >= rank {
                    *slot = bucket_mid(i) / 1000.0;
                    break;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_cover_their_values() {
        let mut last = 0;
        for v in [0u64, 1, 15, 16, 17, 31, 32, 100, 1000, 123_456, 1 << 39, u64::MAX] {
            let b = bucket_of(v);
            assert!(b >= last, "bucket of {} went backwards", v);
            assert!(b < BUCKETS);
            last = b;
            if v < (1 << 39) && v >= LINEAR {
                let mid = bucket_mid(b);
                assert!((mid - v as f64).abs() / v as f64 <= 1.0 / 8.0, "{} is far from its bucket middle {}", v, mid);
            }
        }
    }

    #[test]
    fn percentiles_of_a_known_distribution_are_within_a_bucket() {
        let t = Timer::new();
        for ms in 1..=1000u64 {
            t.record(Duration::from_millis(ms));
        }
        assert_eq!(t.count(), 1000);
        let q = t.quantiles_ms();
        for ((_, want), got) in QUANTILES.iter().zip(q) {
            let exact = want * 1000.0;
            assert!((got - exact).abs() / exact < 0.07, "quantile {} was {} ms, expected about {}", want, got, exact);
        }
        assert!((t.sum_ms() - 500_500.0).abs() < 1.0);
    }

    #[test]
    fn old_samples_leave_the_percentiles_after_two_windows_but_stay_counted() {
        let t = Timer::new();
        t.record(Duration::from_secs(10));
        let start = Instant::now();
        assert!(t.quantiles_ms_at(start)[0] > 9000.0);
        // One turn: the sample is in the previous window, still visible.
        assert!(t.quantiles_ms_at(start + WINDOW)[0] > 9000.0);
        t.record(Duration::from_millis(2));
        // Second turn: its window is emptied; only the recent sample remains.
        let q = t.quantiles_ms_at(start + WINDOW * 2);
        assert!(q[5] < 3.0, "old sample still counted in the percentiles: {:?}", q);
        assert_eq!(t.count(), 2);
    }

    #[test]
    fn an_idle_timer_reports_zeros() {
        assert_eq!(Timer::new().quantiles_ms(), [0.0; 6]);
    }
}
