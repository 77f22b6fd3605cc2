//! `zk-scripts/hosts.sh` and the faults of `support::hosts`: each host has its own address
//! that clients in the root namespace reach, every fault does what it says and nothing
//! more, heal undoes it, and nothing of ours outlives the test.

use crate::support;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;
use support::hosts::{hosts_sh, Hosts};
use support::run_with_env;

const SHORT: Duration = Duration::from_secs(1);
const LONG: Duration = Duration::from_secs(10);

fn sock(addr: &str, port: u16) -> SocketAddr {
    format!("{addr}:{port}").parse().expect("address")
}

/// Our namespaces and links of set `tag`, as `ip` lists them.
fn leftovers(tag: &str) -> Vec<String> {
    let ns = String::from_utf8_lossy(&Command::new("ip").args(["netns", "list"]).output().expect("ip netns").stdout).into_owned();
    let links = String::from_utf8_lossy(&Command::new("ip").args(["-o", "link"]).output().expect("ip link").stdout).into_owned();
    let mut out: Vec<String> = ns.lines().filter(|l| l.starts_with(&format!("k08-{tag}-"))).map(str::to_string).collect();
    out.extend(links.lines().filter(|l| l.contains(&format!("k08br{tag}:")) || l.contains(&format!("k08v{tag}h"))).map(str::to_string));
    out
}

#[test]
fn hosts_sh_gives_each_host_its_address_and_down_removes_everything() {
    let tag = format!("s{:x}", std::process::id());
    let up = hosts_sh(&tag, &["up", "2"]);
    assert!(up.success(), "{}", up.all());
    // Again: a no-op with the same answer.
    let again = hosts_sh(&tag, &["up", "2"]);
    assert_eq!(again.stdout, up.stdout, "up is idempotent");
    let lines: Vec<&str> = up.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "root and two hosts: {}", up.stdout);
    let root = lines[0].split_whitespace().nth(2).expect("root address").to_string();
    let h2 = hosts_sh(&tag, &["addr", "h2"]).stdout.trim().to_string();
    assert!(h2.ends_with(".12") && root.ends_with(".1"), "root {root}, h2 {h2}");
    let shown = hosts_sh(&tag, &["exec", "h2", "ip", "-4", "-o", "addr", "show", "dev", "eth0"]);
    assert!(shown.stdout.contains(&format!("{h2}/24")), "h2's eth0 carries its address: {}", shown.all());
    // A bad host name is a one-line error and a non-zero exit.
    let bad = hosts_sh(&tag, &["exec", "h9", "true"]);
    assert_eq!(bad.code, Some(1), "{}", bad.all());
    assert_eq!(bad.stderr.lines().count(), 1, "{}", bad.all());
    // A process left in a host does not keep it alive.
    let sleeper = hosts_sh(&tag, &["exec", "h1", "sh", "-c", "sleep 600 >/dev/null 2>&1 &"]);
    assert!(sleeper.success(), "{}", sleeper.all());
    assert!(!leftovers(&tag).is_empty());
    let down = hosts_sh(&tag, &["down"]);
    assert!(down.success(), "{}", down.all());
    assert_eq!(leftovers(&tag), Vec::<String>::new(), "down removes every namespace, veth and the bridge");
    let again = hosts_sh(&tag, &["down"]);
    assert!(again.success() && again.stdout.is_empty(), "down again is a no-op: {}", again.all());
}

#[test]
fn isolate_cuts_a_host_from_the_other_hosts_but_not_from_clients() {
    let hosts = Hosts::up(3);
    let _l: Vec<_> = (1..=3).map(|n| hosts.listen(n, 7000)).collect();
    let at = |n: usize| sock(&hosts.host(n).addr, 7000);
    assert!(hosts.can_connect(Some(2), at(1), LONG), "h2 reaches h1 before any fault");
    hosts.isolate(1);
    assert!(!hosts.can_connect(Some(2), at(1), SHORT), "h2 must not reach the isolated h1");
    assert!(!hosts.can_connect(Some(1), at(3), SHORT), "the isolated h1 must not reach h3");
    assert!(hosts.can_connect(None, at(1), LONG), "a client in the root namespace still reaches h1");
    assert!(hosts.can_connect(Some(2), at(3), LONG), "h2 and h3 still talk");
    hosts.heal();
    assert!(hosts.can_connect(Some(2), at(1), LONG), "healed: h2 reaches h1 again");
    hosts.isolate_all(1);
    assert!(!hosts.can_connect(None, at(1), SHORT), "isolate_all cuts clients off too");
    hosts.heal();
    assert!(hosts.can_connect(None, at(1), LONG));
}

#[test]
fn a_one_way_cut_drops_one_direction_only() {
    let hosts = Hosts::up(2);
    let (u1, u2) = (hosts.udp(1, 7001), hosts.udp(2, 7001));
    for u in [&u1, &u2] {
        u.set_read_timeout(Some(SHORT)).expect("timeout");
    }
    let got = |u: &std::net::UdpSocket| {
        let mut buf = [0u8; 16];
        u.recv(&mut buf).is_ok()
    };
    let (a1, a2) = (sock(&hosts.host(1).addr, 7001), sock(&hosts.host(2).addr, 7001));
    hosts.cut(1, 2);
    u1.send_to(b"1to2", a2).expect("send");
    assert!(!got(&u2), "h1 -> h2 is cut");
    u2.send_to(b"2to1", a1).expect("send");
    assert!(got(&u1), "h2 -> h1 still flows");
    hosts.heal();
    u1.send_to(b"1to2", a2).expect("send");
    assert!(got(&u2), "healed: h1 -> h2 flows again");
    hosts.cut_both(1, 2);
    let _l = hosts.listen(2, 7002);
    assert!(!hosts.can_connect(Some(1), sock(&hosts.host(2).addr, 7002), SHORT), "both directions cut");
}

#[test]
fn loss_and_slow_links_apply_and_heal() {
    let hosts = Hosts::up(2);
    let _l = hosts.listen(2, 7003);
    let at = sock(&hosts.host(2).addr, 7003);
    hosts.loss(2, 100);
    assert!(!hosts.can_connect(Some(1), at, SHORT), "100% loss drops everything");
    hosts.heal();
    assert!(hosts.can_connect(Some(1), at, LONG));
    hosts.throttle(2, 512);
    assert!(hosts.can_connect(Some(1), at, LONG), "a throttled link still carries a connection");
    if hosts.delay(1, 20) {
        assert!(hosts.can_connect(Some(1), at, LONG), "a delayed link still carries a connection");
    } else {
        eprintln!("this kernel has no tc netem: delay is not available, throttle stands in for it");
    }
    hosts.heal();
    let qdisc = hosts.exec(2, &["tc", "qdisc", "show", "dev", "eth0"]);
    assert!(!qdisc.stdout.contains("tbf") && !qdisc.stdout.contains("netem"), "heal removes the qdiscs: {}", qdisc.all());
}

#[test]
fn dropping_hosts_kills_their_processes_and_removes_them() {
    let tag;
    let pid: u32;
    {
        let hosts = Hosts::up(2);
        tag = hosts.tag().to_string();
        hosts.isolate(2);
        let out = hosts.exec(1, &["sh", "-c", "sleep 600 >/dev/null 2>&1 & echo $!"]);
        pid = out.stdout.trim().parse().expect("a pid");
        assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    }
    assert_eq!(leftovers(&tag), Vec::<String>::new(), "hosts removed on drop");
    assert!(
        support::eventually(LONG, || std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z "))),
        "the process in the host is gone"
    );
}

#[test]
fn leftovers_sh_finds_and_removes_hosts_whose_test_process_is_gone() {
    // A set of hosts owned by a process that has exited, as after a test binary was killed.
    let mut gone = Command::new("true").spawn().expect("spawn true");
    let dead_pid = gone.id().to_string();
    gone.wait().expect("wait");
    let tag = format!("l{:x}", std::process::id());
    let up = run_with_env("zk-scripts/hosts.sh", &["up", "1"], None, &[("KAFKA08_HOSTS_TAG", &tag), ("KAFKA08_HOSTS_OWNER", &dead_pid)]);
    assert!(up.success(), "{}", up.all());
    let found = support::run_script("zk-scripts/leftovers.sh", &[]);
    assert_eq!(found.code, Some(1), "{}", found.all());
    assert!(found.stdout.contains(&format!("hosts of set {tag} (owner {dead_pid}, gone)")), "{}", found.all());
    assert!(!leftovers(&tag).is_empty(), "listing alone removes nothing");
    let cleaned = support::run_script("zk-scripts/leftovers.sh", &["--clean"]);
    assert_eq!(cleaned.code, Some(1), "{}", cleaned.all());
    assert_eq!(leftovers(&tag), Vec::<String>::new(), "--clean removed the set");
    let after = support::run_script("zk-scripts/leftovers.sh", &[]);
    assert!(!after.stdout.contains(&format!("set {tag} ")), "{}", after.all());
}
