//! Fault injection for tests of what a slow disk does to a broker. A process started with
//! `KAFKA08_FAILPOINT_FSYNC_DELAY_MS=N` sleeps N ms before every segment fsync and logs
//! when each delayed fsync starts and ends, so a test can tell which threads the disk
//! holds and what the broker still serves meanwhile. Unset (always, outside tests), the
//! cost is one read of an initialised `OnceLock` per fsync.

use std::sync::OnceLock;
use std::time::Duration;

/// The environment variable that turns the fsync delay on.
pub const FSYNC_DELAY_ENV: &str = "KAFKA08_FAILPOINT_FSYNC_DELAY_MS";

static FSYNC_DELAY_MS: OnceLock<u64> = OnceLock::new();

fn fsync_delay_ms() -> u64 {
    *FSYNC_DELAY_MS.get_or_init(|| std::env::var(FSYNC_DELAY_ENV).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(0))
}

/// Run `fsync`, first sleeping for the configured delay (if any) as a slow disk would.
pub fn fsync<T>(fsync: impl FnOnce() -> T) -> T {
    let ms = fsync_delay_ms();
    if ms == 0 {
        return fsync();
    }
    log::warn!("failpoint: delayed fsync started ({ms} ms) on thread {:?}", std::thread::current().name().unwrap_or("unnamed"));
    std::thread::sleep(Duration::from_millis(ms));
    let result = fsync();
    log::warn!("failpoint: delayed fsync ended");
    result
}
