//! Integration tests, area `storage`: Log storage on disk: append and read, the 0.8.2 file format, roll and retention, recovery after a crash, the log manager.
//!
//! One test binary per area, so the crate is linked a few times rather than once per
//! file; the shared test kit is `tests/support`.

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod log_append_read;
mod log_cleaner;
mod log_cleaner_crash;
mod log_crash;
mod log_disk_format;
mod log_manager;
mod log_recovery;
mod log_roll_retention;
