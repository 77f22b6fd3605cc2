//! Fault injection for tests of what slow parts do to a broker and its clients.
//!
//! - `KAFKA08_FAILPOINT_FSYNC_DELAY_MS=N`: sleep N ms before every segment fsync and log
//!   when each delayed fsync starts and ends, so a test can tell which threads the disk
//!   holds and what the broker still serves meanwhile.
//! - `KAFKA08_FAILPOINT_OFFSETS_DELAY_MS=N`: answer every Offsets request from a client
//!   (not from a replica) N ms late, without holding a worker, so a test can keep a
//!   consumer's start-offset lookup in flight while everything else goes on.
//!
//! Unset (always, outside tests), the cost is one read of an initialised `OnceLock`.

use std::sync::OnceLock;
use std::time::Duration;

/// The environment variable that turns the fsync delay on.
pub const FSYNC_DELAY_ENV: &str = "KAFKA08_FAILPOINT_FSYNC_DELAY_MS";

/// The environment variable that delays Offsets answers.
pub const OFFSETS_DELAY_ENV: &str = "KAFKA08_FAILPOINT_OFFSETS_DELAY_MS";

static FSYNC_DELAY_MS: OnceLock<u64> = OnceLock::new();
static OFFSETS_DELAY_MS: OnceLock<u64> = OnceLock::new();

fn env_ms(cell: &OnceLock<u64>, name: &str) -> u64 {
    *cell.get_or_init(|| std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(0))
}

fn fsync_delay_ms() -> u64 {
    env_ms(&FSYNC_DELAY_MS, FSYNC_DELAY_ENV)
}

/// How late a client's Offsets request is answered (`None`: at once).
pub fn offsets_delay() -> Option<Duration> {
    let ms = env_ms(&OFFSETS_DELAY_MS, OFFSETS_DELAY_ENV);
    (ms > 0).then(|| Duration::from_millis(ms))
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
