//! Lock-free metric primitives and the Prometheus text format.
//!
//! [`Histogram`] keeps log-linear buckets (8 per power of two, ≤ 9 % relative error) in
//! atomics, so hot paths record without locks and quantiles can be read at any time. Beside
//! them it counts exactly against the exposition's bounds ([`EXPOSED_BOUNDS_US`]): a log-linear
//! bucket straddles most decimal bounds, and summing only the buckets below a bound left out
//! samples up to ~8 % under it (4,608–5,000 µs was missing from `le="0.005"`).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

const SUB_BUCKETS: u32 = 8;
const SUB_BITS: u32 = 3;
/// Buckets: values below 8 exactly, then 8 per power of two up to 2^63.
const BUCKETS: usize = (SUB_BUCKETS + (64 - SUB_BITS) * SUB_BUCKETS) as usize;

/// The finite `le` bounds of every exported histogram, µs: 0.5 ms to 60 s, so an outage reads
/// as what it is, not as the top bucket (1 s before).
pub const EXPOSED_BOUNDS_US: [u64; 16] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 5_000_000, 10_000_000, 30_000_000, 60_000_000,
];

/// A histogram of non-negative integer samples (e.g. microseconds).
#[derive(Debug)]
pub struct Histogram {
    buckets: Box<[AtomicU64]>,
    /// Samples per exposed bound: index `i` counts `EXPOSED_BOUNDS_US[i-1] < v <= [i]`, the
    /// last slot everything above the top bound.
    exposed: [AtomicU64; EXPOSED_BOUNDS_US.len() + 1],
    count: AtomicU64,
    sum: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            exposed: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
        }
    }
}

fn bucket_of(v: u64) -> usize {
    if v < u64::from(SUB_BUCKETS) {
        return usize::try_from(v).unwrap_or(0);
    }
    let exp = 63 - v.leading_zeros(); // >= SUB_BITS
    let sub = (v >> (exp - SUB_BITS)) & u64::from(SUB_BUCKETS - 1);
    let index = u64::from((exp - SUB_BITS + 1) * SUB_BUCKETS) + sub;
    usize::try_from(index).unwrap_or(BUCKETS - 1)
}

/// The largest value that falls into bucket `i`.
fn upper_of(i: usize) -> u64 {
    let i = u64::try_from(i).unwrap_or(u64::MAX);
    let sub_buckets = u64::from(SUB_BUCKETS);
    if i < sub_buckets {
        return i;
    }
    let exp = i / sub_buckets - 1 + u64::from(SUB_BITS);
    let sub = i % sub_buckets;
    let low = (sub_buckets + sub) << (exp - u64::from(SUB_BITS));
    low.saturating_add((1u64 << (exp - u64::from(SUB_BITS))) - 1)
}

impl Histogram {
    /// Records one sample.
    pub fn record(&self, v: u64) {
        self.buckets[bucket_of(v)].fetch_add(1, Ordering::Relaxed);
        self.exposed[EXPOSED_BOUNDS_US.partition_point(|&b| b < v)].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(v, Ordering::Relaxed);
    }

    /// Samples recorded.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Sum of all samples.
    pub fn sum(&self) -> u64 {
        self.sum.load(Ordering::Relaxed)
    }

    /// Per-bucket counts, for differences between two moments.
    pub fn snapshot(&self) -> Vec<u64> {
        self.buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect()
    }

    /// The `q` quantile (0..=1) of all samples: the upper bound of the bucket holding it.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        quantile_of(&self.snapshot(), q)
    }
}

/// The `q` quantile of bucket counts (from [`Histogram::snapshot`], or a difference of two).
pub fn quantile_of(counts: &[u64], q: f64) -> Option<u64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    // Rank of the sample, 1-based; the float only picks a rank, values stay integers.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
    let mut seen = 0;
    for (i, c) in counts.iter().enumerate() {
        seen += c;
        if seen >= rank {
            return Some(upper_of(i));
        }
    }
    None
}

/// Writes Prometheus text exposition format.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    /// Starts a metric family.
    pub fn family(&mut self, name: &str, kind: &str, help: &str) -> &mut Self {
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        self
    }

    /// One sample; `labels` as `(name, value)` pairs; the value an integer or a float.
    pub fn sample(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        value: impl std::fmt::Display,
    ) -> &mut Self {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let v = v
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                let _ = write!(self.out, "{k}=\"{v}\"");
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
        self
    }

    /// A histogram family in seconds from microsecond samples, buckets at
    /// [`EXPOSED_BOUNDS_US`], each counting exactly the samples ≤ its bound.
    pub fn histogram_us(&mut self, name: &str, help: &str, h: &Histogram) -> &mut Self {
        self.family(name, "histogram", help);
        // Read once, then cumulated: `+Inf` and `_count` are the same total, so the series
        // stays monotonic even while samples arrive during the scrape.
        let counts: Vec<u64> = h
            .exposed
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        let mut cumulative = 0;
        for (le_us, n) in EXPOSED_BOUNDS_US.iter().zip(&counts) {
            cumulative += n;
            let le = format!("{}", *le_us as f64 / 1e6);
            let _ = writeln!(self.out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
        }
        let total = cumulative + counts[EXPOSED_BOUNDS_US.len()];
        let _ = writeln!(self.out, "{name}_bucket{{le=\"+Inf\"}} {total}");
        let _ = writeln!(self.out, "{name}_sum {}", h.sum() as f64 / 1e6);
        let _ = writeln!(self.out, "{name}_count {total}");
        self
    }

    /// `tickflow_build_info{version,commit} 1` and the `process_*` families every
    /// long-running subcommand exports.
    pub fn standard(&mut self) -> &mut Self {
        let name = "tickflow_build_info";
        self.family(
            name,
            "gauge",
            "tickflow's version and the commit it was built from",
        )
        .sample(
            name,
            &[
                ("version", env!("CARGO_PKG_VERSION")),
                ("commit", env!("TICKFLOW_COMMIT")),
            ],
            1,
        );
        process::write(self);
        self
    }

    /// The text.
    pub fn finish(self) -> String {
        self.out
    }
}

/// The Prometheus client libraries' standard process metrics, read from `/proc/self` (Linux;
/// elsewhere none). Written here, a few `/proc` reads, rather than pulled in with a metrics
/// framework the rest of the exposition does not use.
mod process {
    use super::Exposition;

    /// Clock ticks per second: the kernel ABI fixes USER_HZ at 100 on every Linux. (The page
    /// size is not fixed: 64 KiB on some arm64 kernels, so the resident size comes from
    /// `/proc/self/status` in kB, not from the page count in `stat`.)
    const TICKS_PER_SEC: f64 = 100.0;

    /// `VmRSS` of `/proc/self/status`, bytes.
    pub(super) fn resident_bytes() -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let kb = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
        let kb: u64 = kb.trim().strip_suffix("kB")?.trim().parse().ok()?;
        kb.checked_mul(1024)
    }

    fn stat_fields() -> Option<Vec<String>> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // The command name (field 2) is in parentheses and may hold spaces.
        let rest = &stat[stat.rfind(')')? + 2..];
        Some(rest.split(' ').map(str::to_owned).collect())
    }

    fn boot_time_secs() -> Option<u64> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        stat.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse().ok())
    }

    fn max_fds() -> Option<u64> {
        let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
        let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
        line.split_whitespace().nth(3)?.parse().ok()
    }

    pub(super) fn write(e: &mut Exposition) {
        // Fields after the command: state is index 0, so utime (14) is 11, stime 12,
        // starttime (22) 19, vsize 20.
        if let Some(f) = stat_fields() {
            let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
            if let (Some(utime), Some(stime)) = (num(11), num(12)) {
                let name = "process_cpu_seconds_total";
                e.family(name, "counter", "user and system CPU time spent, seconds")
                    .sample(name, &[], (utime + stime) as f64 / TICKS_PER_SEC);
            }
            if let Some(vsize) = num(20) {
                let name = "process_virtual_memory_bytes";
                e.family(name, "gauge", "virtual memory size, bytes")
                    .sample(name, &[], vsize);
            }
            if let Some(rss) = resident_bytes() {
                let name = "process_resident_memory_bytes";
                e.family(name, "gauge", "resident memory size, bytes")
                    .sample(name, &[], rss);
            }
            if let (Some(start), Some(boot)) = (num(19), boot_time_secs()) {
                let name = "process_start_time_seconds";
                e.family(name, "gauge", "start time since the Unix epoch, seconds")
                    .sample(name, &[], boot as f64 + start as f64 / TICKS_PER_SEC);
            }
        }
        if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
            let name = "process_open_fds";
            e.family(name, "gauge", "open file descriptors")
                .sample(name, &[], fds.count());
        }
        if let Some(max) = max_fds() {
            let name = "process_max_fds";
            e.family(name, "gauge", "limit on open file descriptors")
                .sample(name, &[], max);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_bounded() {
        let mut last = None;
        for v in (0..100_000u64).chain([u64::MAX / 3, u64::MAX]) {
            let b = bucket_of(v);
            assert!(b < BUCKETS);
            assert!(upper_of(b) >= v, "{v} above its bucket's bound");
            if b > 0 {
                assert!(upper_of(b - 1) < v, "{v} fits an earlier bucket");
            }
            if let Some(l) = last {
                assert!(b >= l);
            }
            last = Some(b);
        }
    }

    #[test]
    fn quantiles_are_within_the_bucket_error() {
        let h = Histogram::default();
        for v in 1..=10_000u64 {
            h.record(v);
        }
        let p50 = h.quantile(0.5).unwrap();
        let p99 = h.quantile(0.99).unwrap();
        assert!((5_000..=5_000 * 109 / 100).contains(&p50), "{p50}");
        assert!((9_900..=9_900 * 109 / 100).contains(&p99), "{p99}");
        assert_eq!(h.count(), 10_000);
        assert_eq!(Histogram::default().quantile(0.5), None);
    }

    #[test]
    fn standard_families_are_exported() {
        let mut e = Exposition::default();
        e.standard();
        let text = e.finish();
        for family in [
            "tickflow_build_info{version=\"",
            "process_cpu_seconds_total ",
            "process_resident_memory_bytes ",
            "process_open_fds ",
            "process_max_fds ",
            "process_start_time_seconds ",
        ] {
            assert!(text.contains(family), "{family} missing in:\n{text}");
        }
        let rss: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
            .unwrap()
            .parse()
            .unwrap();
        assert!(rss > 1e6, "{rss}");
    }

    /// The resident size is the kernel's own figure (`VmRSS`), whatever the page size: it agrees
    /// with `statm`'s page count times the real page size read from `smaps` (within a factor
    /// of 2: the reads are moments apart and reading `smaps` itself allocates; a page-size
    /// mistake is a factor of 16).
    #[test]
    fn resident_memory_does_not_assume_a_page_size() {
        let rss = process::resident_bytes().unwrap();
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let page_kb: u64 = smaps
            .lines()
            .find_map(|l| l.strip_prefix("KernelPageSize:"))
            .and_then(|v| v.trim().strip_suffix("kB"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
        let pages: u64 = statm.split(' ').nth(1).unwrap().parse().unwrap();
        let from_pages = pages * page_kb * 1024;
        assert!(
            rss <= from_pages * 2 && from_pages <= rss * 2,
            "VmRSS {rss}, statm {from_pages}"
        );
    }

    /// Prometheus' rule: `le` counts every sample ≤ the bound. Samples on both sides of each
    /// bound, including the ones a log-linear bucket straddles (4,608–5,000 µs).
    #[test]
    fn histogram_buckets_count_every_sample_at_or_below_their_bound() {
        let h = Histogram::default();
        let mut samples = vec![0u64, 4_608, 4_999, 5_000, 5_001, 70_000_000];
        for b in EXPOSED_BOUNDS_US {
            samples.extend([b - 1, b, b + 1, b - b / 13]);
        }
        for &v in &samples {
            h.record(v);
        }
        let mut e = Exposition::default();
        e.histogram_us("x_seconds", "help", &h);
        let text = e.finish();
        for le_us in EXPOSED_BOUNDS_US {
            let want = samples.iter().filter(|&&v| v <= le_us).count();
            let le = format!("{}", le_us as f64 / 1e6);
            let line = format!("x_seconds_bucket{{le=\"{le}\"}} {want}\n");
            assert!(text.contains(&line), "{line} missing in\n{text}");
        }
        let n = samples.len();
        assert!(text.contains(&format!("x_seconds_bucket{{le=\"+Inf\"}} {n}\n")));
        assert!(text.contains(&format!("x_seconds_count {n}\n")));
        assert!(text.contains("x_seconds_bucket{le=\"60\"}"), "{text}");
    }

    #[test]
    fn exposition_escapes_labels() {
        let mut e = Exposition::default();
        e.family("x_total", "counter", "help")
            .sample("x_total", &[("a", "q\"z")], 3);
        assert_eq!(
            e.finish(),
            "# HELP x_total help\n# TYPE x_total counter\nx_total{a=\"q\\\"z\"} 3\n"
        );
    }
}
