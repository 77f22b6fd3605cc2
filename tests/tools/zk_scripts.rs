//! The ZooKeeper scripts against the real Debian ZooKeeper 3.8: `zk-scripts/zk.sh`
//! (standalone and a 3-node ensemble) and Kafka 0.8.2's `bin/zookeeper-*.sh`.

use crate::support;

use std::fs;
use std::net::TcpListener;
use std::time::Duration;

use support::*;
use zookeeper_client::{Acls, Client, CreateMode};

const DEADLINE: Duration = Duration::from_secs(30);

#[test]
fn standalone_serves_then_stops_and_frees_its_port() {
    let mut zk = ZkServer::start();
    assert_eq!(zk_mode(zk.port()).as_deref(), Some("standalone"));

    let status = zk_sh(&["status", zk.dir().to_str().unwrap()]);
    assert!(status.success(), "{}", status.all());
    assert!(
        status.stdout.contains("Mode: standalone"),
        "{}",
        status.all()
    );

    let created = zk_cli(&zk.connect_string(), &["create", "/standalone", "hello"]);
    assert!(created.success(), "{}", created.all());
    let read = zk_cli(&zk.connect_string(), &["get", "/standalone"]);
    assert!(read.success(), "{}", read.all());
    assert_eq!(read.last_line(), "hello");
    let missing = zk_cli(&zk.connect_string(), &["get", "/no-such-node"]);
    assert!(
        !missing.success(),
        "reading a missing znode must fail:\n{}",
        missing.all()
    );

    let port = zk.port();
    zk.stop();
    assert!(!zk.is_serving());
    assert!(
        TcpListener::bind(("127.0.0.1", port)).is_ok(),
        "port {port} still taken after stop"
    );
    assert!(
        !zk.dir().join("zookeeper.pid").exists(),
        "pid file left behind"
    );
    let status = zk_sh(&["status", zk.dir().to_str().unwrap()]);
    assert!(
        !status.success(),
        "status must fail when nothing serves:\n{}",
        status.all()
    );
    assert!(status.stdout.contains("not running"), "{}", status.all());
}

#[test]
fn start_refuses_a_port_in_use_and_leaves_nothing_running() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = TempDir::new("zk-port-taken");
    let out = zk_sh(&["start", dir.path().to_str().unwrap(), &port.to_string()]);
    assert!(
        !out.success(),
        "start on a taken port must fail:\n{}",
        out.all()
    );
    assert!(out.stderr.contains("already in use"), "{}", out.all());
    assert!(!dir.path().join("zookeeper.pid").exists());
}

#[test]
fn commands_fed_on_stdin_to_the_cli_all_run() {
    let zk = ZkServer::start();
    let out = zk_cli_stdin(
        &zk.connect_string(),
        "create /a one\ncreate /a/b two\nget /a/b\nls /a\n",
    );
    assert!(out.success(), "{}", out.all());
    assert!(out.stdout.contains("two"), "{}", out.all());
    assert_eq!(out.last_line(), "[b]");
}

#[test]
fn ensemble_keeps_serving_with_a_member_down_and_the_member_rejoins() {
    let ensemble = ZkEnsemble::start();
    let mut modes: Vec<String> = (1..=3)
        .map(|n| ensemble.mode(n).expect("member serves"))
        .collect();
    modes.sort();
    assert_eq!(modes, ["follower", "follower", "leader"]);

    // Stop the leader: the hardest member to lose, the other two must elect a new one.
    let down = ensemble.leader().expect("a leader");
    ensemble.stop_member(down);
    assert!(
        ensemble.mode(down).is_none(),
        "stopped member {down} still serves"
    );
    let survivors: Vec<usize> = (1..=3).filter(|&n| n != down).collect();
    wait_until(
        "the two survivors serve with a new leader",
        DEADLINE,
        || ensemble.serving_members() == survivors && ensemble.leader().is_some(),
    );

    // Write through one survivor, read through the other, with the crate the broker uses.
    let (a, b) = (survivors[0], survivors[1]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let writer = Client::connect(&ensemble.member_connect_string(a))
            .await
            .expect("connect to survivor");
        writer
            .create(
                "/survives",
                b"written with a member down",
                &CreateMode::Persistent.with_acls(Acls::anyone_all()),
            )
            .await
            .expect("create through a survivor");
        let reader = Client::connect(&ensemble.member_connect_string(b))
            .await
            .expect("connect to survivor");
        reader.sync("/survives").await.expect("sync");
        let (data, _) = reader
            .get_data("/survives")
            .await
            .expect("read through the other survivor");
        assert_eq!(data, b"written with a member down");
    });

    // The stopped member comes back, follows, and has the znode written while it was down.
    ensemble.start_member(down);
    assert_eq!(ensemble.mode(down).as_deref(), Some("follower"));
    let read = zk_cli(&ensemble.member_connect_string(down), &["get", "/survives"]);
    assert!(read.success(), "{}", read.all());
    assert_eq!(read.last_line(), "written with a member down");
    assert_eq!(ensemble.serving_members(), vec![1, 2, 3]);
}

#[test]
fn ensemble_stops_serving_without_a_quorum() {
    let ensemble = ZkEnsemble::start();
    ensemble.kill_member(1);
    ensemble.kill_member(2);
    wait_until("the lone survivor stops serving", DEADLINE, || {
        ensemble.mode(3).is_none()
    });
    let status = zk_sh(&["status", ensemble.dir().to_str().unwrap()]);
    assert!(
        !status.success(),
        "status must fail when no member serves:\n{}",
        status.all()
    );
    assert!(
        status.stdout.contains("running, not serving"),
        "{}",
        status.all()
    );
}

/// Stops, on drop, the server that `bin/zookeeper-server-start.sh` started with `props`.
struct BinServer<'a> {
    props: &'a str,
}

impl Drop for BinServer<'_> {
    fn drop(&mut self) {
        let _ = run_script("bin/zookeeper-server-stop.sh", &[self.props]);
    }
}

#[test]
fn kafka_0_8_2_bin_scripts_start_a_daemon_shell_into_it_and_stop_it() {
    let dir = TempDir::new("zk-bin");
    let port = free_port();
    let props = dir.path().join("zookeeper.properties");
    fs::write(
        &props,
        format!(
            "# as in Kafka 0.8.2's config/zookeeper.properties, on a test port\n\
             dataDir={}\nclientPort={port}\nmaxClientCnxns=0\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let props = props.to_str().unwrap();
    let log_dir = dir.path().join("logs");
    let log_dir = log_dir.to_str().unwrap();

    let started = run_with_env(
        "bin/zookeeper-server-start.sh",
        &["-daemon", props],
        None,
        &[("LOG_DIR", log_dir)],
    );
    let _guard = BinServer { props };
    assert!(started.success(), "{}", started.all());
    // As in 0.8.2, -daemon returns at once: wait for the server ourselves.
    wait_until("the daemon serves", DEADLINE, || zk_mode(port).is_some());
    assert_eq!(zk_mode(port).as_deref(), Some("standalone"));
    assert!(
        dir.path().join("logs/zookeeper.out").exists(),
        "console output goes to $LOG_DIR/zookeeper.out"
    );

    let zk = format!("127.0.0.1:{port}");
    let created = run_script(
        "bin/zookeeper-shell.sh",
        &[&zk, "create", "/kafka08", "0.8.2"],
    );
    assert!(created.success(), "{}", created.all());
    let read = run_script("bin/zookeeper-shell.sh", &[&zk, "get", "/kafka08"]);
    assert!(read.success(), "{}", read.all());
    assert_eq!(read.last_line(), "0.8.2");
    // host:port/chroot, as 0.8.2 brokers and tools use it.
    let chrooted = run_script(
        "bin/zookeeper-shell.sh",
        &[&format!("{zk}/kafka08"), "create", "/brokers", ""],
    );
    assert!(chrooted.success(), "{}", chrooted.all());
    let listed = run_script("bin/zookeeper-shell.sh", &[&zk, "ls", "/kafka08"]);
    assert_eq!(listed.last_line(), "[brokers]", "{}", listed.all());

    let stopped = run_script("bin/zookeeper-server-stop.sh", &[props]);
    assert!(stopped.success(), "{}", stopped.all());
    assert!(
        zk_mode(port).is_none(),
        "still serving after zookeeper-server-stop.sh"
    );
    assert!(
        TcpListener::bind(("127.0.0.1", port)).is_ok(),
        "port {port} still taken after stop"
    );
    let again = run_script("bin/zookeeper-server-stop.sh", &[props]);
    assert!(!again.success());
    assert!(
        again.stdout.contains("No zookeeper server to stop"),
        "{}",
        again.all()
    );
}

#[test]
fn shell_without_arguments_prints_the_0_8_2_usage() {
    let out = run_script("bin/zookeeper-shell.sh", &[]);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stdout.contains("USAGE:")
            && out.stdout.contains("zookeeper_host:port[/path] [args...]"),
        "{}",
        out.all()
    );
    let out = run_script("bin/zookeeper-server-start.sh", &[]);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stdout.contains("[-daemon] zookeeper.properties"),
        "{}",
        out.all()
    );
}
