//! Integration tests, area `codec`: Wire and message codecs: golden frames, round trips, edge cases and fixed-seed fuzzing of every decoder (no servers).
//!
//! One test binary per area, so the crate is linked a few times rather than once per
//! file; the shared test kit is `tests/support`.

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod api_edge_cases;
mod api_fuzz;
mod api_golden;
mod api_round_trip;
mod message_fuzz;
