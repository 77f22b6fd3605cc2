//! `bin/kafka-server-start.sh` and `bin/kafka-server-stop.sh` in 0.8.2's shape, driven with
//! a stand-in broker binary (`KAFKA08_BIN`) that records how it was started and exits on
//! SIGTERM. Every stop below is narrowed (by properties file or by KAFKA08_BIN) so that no
//! other broker on this machine is touched.

use crate::support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::{eventually, project_root, run_with_env, wait_until, Output, TempDir};

/// Kills the stand-in brokers a failing test left behind.
struct Pids(Vec<i32>);

impl Drop for Pids {
    fn drop(&mut self) {
        for &pid in &self.0 {
            if alive(pid) {
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

/// Running and not a zombie.
fn alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{}/stat", pid)) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

/// A `kafka08` stand-in: appends "<pid> <args>" to `started`, exits 0 on SIGTERM.
fn fake_broker(dir: &Path) -> PathBuf {
    let bin = dir.join("kafka08");
    fs::write(
        &bin,
        "#!/usr/bin/env bash\n\
         trap 'exit 0' TERM\n\
         echo \"$$ $*\" >> \"$(dirname \"$0\")/started\"\n\
         while :; do sleep 0.05; done\n",
    )
    .unwrap();
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

/// The pid the stand-in recorded for `args`, once it has started.
fn started_pid(dir: &Path, args: &str) -> i32 {
    let mut pid = None;
    wait_until(
        &format!("the stand-in broker started with {}", args),
        Duration::from_secs(20),
        || {
            let text = fs::read_to_string(dir.join("started")).unwrap_or_default();
            pid = text.lines().find_map(|l| {
                l.split_once(' ')
                    .filter(|(_, a)| *a == args)
                    .and_then(|(p, _)| p.parse().ok())
            });
            pid.is_some()
        },
    );
    pid.unwrap()
}

fn script(name: &str, args: &[&str], bin: &Path, log_dir: &Path) -> Output {
    run_with_env(
        name,
        args,
        None,
        &[
            ("KAFKA08_BIN", bin.to_str().unwrap()),
            ("LOG_DIR", log_dir.to_str().unwrap()),
        ],
    )
}

#[test]
fn start_without_a_properties_file_prints_082_usage() {
    let path = project_root().join("bin/kafka-server-start.sh");
    for args in [&[][..], &["-daemon"][..]] {
        let out = run_with_env("bin/kafka-server-start.sh", args, None, &[]);
        assert_eq!(out.code, Some(1), "{}", out.all());
        assert_eq!(
            out.stdout,
            format!("USAGE: {} [-daemon] server.properties\n", path.display())
        );
    }
}

#[test]
fn daemon_start_with_minus_daemon_first_or_last_and_stop_by_properties_file() {
    let dir = TempDir::new("server-scripts");
    let bin = fake_broker(dir.path());
    let logs = dir.path().join("logs");
    let (a, b) = (
        dir.path().join("a.properties"),
        dir.path().join("b.properties"),
    );
    fs::write(&a, "broker.id=1\n").unwrap();
    fs::write(&b, "broker.id=2\n").unwrap();
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let mut pids = Pids(Vec::new());

    let out = script("bin/kafka-server-start.sh", &["-daemon", a], &bin, &logs);
    assert!(out.success() && out.stdout.is_empty(), "{}", out.all());
    let pid_a = started_pid(dir.path(), &format!("kafka.Kafka {}", a));
    pids.0.push(pid_a);
    let out = script("bin/kafka-server-start.sh", &[b, "-daemon"], &bin, &logs);
    assert!(out.success(), "{}", out.all());
    let pid_b = started_pid(dir.path(), &format!("kafka.Kafka {}", b));
    pids.0.push(pid_b);
    assert!(
        logs.join("kafkaServer.out").exists(),
        "console goes to $LOG_DIR/kafkaServer.out"
    );

    // Only the broker started with a.properties.
    let out = script("bin/kafka-server-stop.sh", &[a], &bin, &logs);
    assert!(
        out.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "{}",
        out.all()
    );
    wait_until("broker a exits on SIGTERM", Duration::from_secs(20), || {
        !alive(pid_a)
    });
    assert!(alive(pid_b), "broker b was not signalled");

    // Every broker (of this binary).
    let out = script("bin/kafka-server-stop.sh", &[], &bin, &logs);
    assert!(out.success(), "{}", out.all());
    wait_until("broker b exits on SIGTERM", Duration::from_secs(20), || {
        !alive(pid_b)
    });

    // Nothing left to stop: still exit 0.
    let out = script("bin/kafka-server-stop.sh", &[], &bin, &logs);
    assert!(out.success() && out.stdout.is_empty(), "{}", out.all());
}

#[test]
fn foreground_start_execs_the_broker_in_place() {
    let dir = TempDir::new("server-fg");
    let bin = fake_broker(dir.path());
    let props = dir.path().join("server.properties");
    fs::write(&props, "broker.id=0\n").unwrap();
    // Relative path, as runbooks write it: the stop script resolves it in the broker's cwd.
    let mut child = Command::new(project_root().join("bin/kafka-server-start.sh"))
        .arg("server.properties")
        .current_dir(dir.path())
        .env("KAFKA08_BIN", &bin)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pids = Pids(vec![child.id() as i32]);
    let pid = started_pid(dir.path(), "kafka.Kafka server.properties");
    assert_eq!(
        pid,
        child.id() as i32,
        "start and run-class exec, so the broker keeps the script's pid"
    );

    let out = run_with_env(
        "bin/kafka-server-stop.sh",
        &[props.to_str().unwrap()],
        None,
        &[("KAFKA08_BIN", bin.to_str().unwrap())],
    );
    assert!(out.success(), "{}", out.all());
    let mut status = None;
    assert!(
        eventually(Duration::from_secs(20), || {
            status = child.try_wait().unwrap();
            status.is_some()
        }),
        "the broker did not stop"
    );
    assert_eq!(status.unwrap().code(), Some(0));
    drop(pids);
}
