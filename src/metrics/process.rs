//! The standard `process_*` metrics every Prometheus client library exports, read from
//! `/proc/self` on each scrape (Linux only; elsewhere they are left out).

use super::Families;
use std::fs;

/// Linux reports CPU times in clock ticks and memory in pages.
fn sysconf(name: libc::c_int) -> Option<f64> {
    // SAFETY: sysconf reads a system constant; it has no preconditions.
    let v = unsafe { libc::sysconf(name) };
    (v > 0).then_some(v as f64)
}

/// Fields of `/proc/self/stat` after the command name (which may hold spaces).
fn stat_fields() -> Option<Vec<String>> {
    let stat = fs::read_to_string("/proc/self/stat").ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    Some(after.split_whitespace().map(str::to_string).collect())
}

fn boot_time_seconds() -> Option<f64> {
    let s = fs::read_to_string("/proc/stat").ok()?;
    s.lines().find_map(|l| l.strip_prefix("btime ")).and_then(|v| v.trim().parse().ok())
}

fn max_fds() -> Option<f64> {
    let limits = fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..].split_whitespace().next()?.parse().ok()
}

pub(super) fn encode(f: &mut Families<'_>) -> std::fmt::Result {
    let Some(fields) = stat_fields() else { return Ok(()) };
    let field = |n: usize| fields.get(n).and_then(|v| v.parse::<f64>().ok());
    let ticks = sysconf(libc::_SC_CLK_TCK).unwrap_or(100.0);
    let page = sysconf(libc::_SC_PAGESIZE).unwrap_or(4096.0);
    // Indexes are the stat(5) field numbers minus 3 (pid and comm are cut off).
    if let (Some(utime), Some(stime)) = (field(11), field(12)) {
        f.counter_f64("process_cpu_seconds", "Total user and system CPU time spent in seconds.", (utime + stime) / ticks)?;
    }
    if let Some(vsize) = field(20) {
        f.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", vsize)?;
    }
    if let Some(rss) = field(21) {
        f.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", rss * page)?;
    }
    if let (Some(start), Some(boot)) = (field(19), boot_time_seconds()) {
        f.gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", boot + start / ticks)?;
    }
    if let Ok(dir) = fs::read_dir("/proc/self/fd") {
        f.gauge("process_open_fds", "Number of open file descriptors.", dir.count() as f64)?;
    }
    if let Some(max) = max_fds() {
        f.gauge("process_max_fds", "Maximum number of open file descriptors.", max)?;
    }
    Ok(())
}
