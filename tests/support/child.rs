//! A test that needs a second process re-executes its own test binary, running only
//! itself (`--exact`), with [`CHILD_ENV`] naming it. The same test function then plays the
//! child: it calls [`role`] first, and when that names it, does the child's work and ends
//! the process with [`CHILD_EXIT`] instead of returning.
//!
//! So there is no empty "child" test that passes in every run, and a test never skips
//! itself because of the environment: if `KAFKA08_TEST_CHILD` leaks into a normal run, the
//! named test exits the binary with [`CHILD_EXIT`], which fails the run loudly.

use std::process::Command;

/// Names the test that should play the child, as `module::function`.
pub const CHILD_ENV: &str = "KAFKA08_TEST_CHILD";
/// How a child that finished its work ends its process; the parent takes it as success.
pub const CHILD_EXIT: i32 = 86;

/// The test's path inside its binary (`module!()` of the caller, without the crate name,
/// then `::name`), which is what `--exact` matches.
pub fn test_path(module_path: &str, name: &str) -> String {
    let module = module_path.split_once("::").map(|(_, rest)| rest).unwrap_or(module_path);
    format!("{module}::{name}")
}

/// True in the child process of the test `module_path::name`.
pub fn is_child(module_path: &str, name: &str) -> bool {
    std::env::var(CHILD_ENV).is_ok_and(|t| t == test_path(module_path, name))
}

/// A command that runs the test `module_path::name` alone, as the child.
pub fn command(module_path: &str, name: &str) -> Command {
    let path = test_path(module_path, name);
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", &path, "--nocapture", "--test-threads=1"]).env(CHILD_ENV, &path);
    cmd
}

/// End the child process after its work is done.
pub fn exit() -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    std::process::exit(CHILD_EXIT)
}

/// Panic unless a child that was meant to finish on its own ended with [`CHILD_EXIT`].
pub fn assert_finished(status: std::process::ExitStatus, stderr: &str) {
    assert_eq!(status.code(), Some(CHILD_EXIT), "the child process failed ({status:?}):\n{stderr}");
}
