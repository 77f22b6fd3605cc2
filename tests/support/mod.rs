//! The test kit, shared by every integration test binary (`tests/<area>/main.rs` declares
//! it with `#[path = "../support/mod.rs"] mod support;`) and by the benches: a real
//! ZooKeeper started by `zk-scripts/zk.sh`, ports the OS picked, and polling with deadlines
//! instead of sleeps. Submodules: `kafka` (broker processes), `cluster` (ZooKeeper plus
//! brokers, replica agreement), `wire` (raw requests), `producer` (a no-loss test
//! producer), `child` (re-running a test as a second process), `controller` (fake brokers),
//! `hlc`, `logs`, `samples` (fixtures), `local_cluster` (`zk-scripts/cluster.sh`), `hosts`
//! (network namespaces as machines, the network faults between them, a cluster across
//! them), `jepsen` (a workload of acks=-1 clients, a seeded generator, a loss checker),
//! `zk_faults` (a ZooKeeper proxy that loses the answer to one write), `kafka_proxy` (a
//! proxy in front of a broker that counts, holds, drops and cuts produce traffic).
//!
//! - [`ZkServer::start`]: standalone node on a free port in a fresh temp dir.
//! - [`ZkEnsemble::start`]: three nodes; stop, kill and restart members.
//! - Both stop their nodes (SIGKILL: the data is throwaway) and remove their folder on
//!   drop, which also runs while a failing test unwinds; on a panic the tail of each
//!   node's log is printed first. Every node also gets a watchdog (`ZK_OWNER_PID`) that
//!   kills it when the test process dies without unwinding (a CI timeout, SIGKILL).
//! - [`eventually`] / [`wait_until`]: poll a condition until a deadline.
//! - [`zk_cli`] / [`zk_cli_stdin`]: the ZooKeeper CLI; [`zk_mode`]: a node's `srvr` Mode.
#![allow(dead_code)]

pub mod child;
pub mod cluster;
#[macro_use]
pub mod controller;
pub mod hlc;
pub mod hosts;
pub mod jepsen;
pub mod kafka;
pub mod kafka_proxy;
pub mod local_cluster;
pub mod logs;
pub mod producer;
pub mod samples;
pub mod wire;
pub mod zk_faults;

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a member may take to start serving: generous, because two cores may be busy
/// compiling beside us (an idle machine needs 0.4 s standalone, 1.8 s for an ensemble).
pub const ZK_START_DEADLINE: Duration = Duration::from_secs(60);
/// Poll interval for [`eventually`].
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The package root (where `Cargo.toml`, `zk-scripts/` and `bin/` live).
pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A free TCP port on 127.0.0.1, picked by the OS.
pub fn free_port() -> u16 {
    free_ports(1)[0]
}

/// `n` distinct free ports: all listeners are held until every port is picked.
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local_addr").port())
        .collect()
}

/// True if something listens on 127.0.0.1:`port` (we can no longer bind it).
pub fn port_in_use(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_err()
}

/// Poll `condition` every [`POLL_INTERVAL`] until it holds (true) or `deadline` has passed
/// (false). The condition is always tried at least once, and once more at the deadline.
pub fn eventually(deadline: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + deadline;
    loop {
        if condition() {
            return true;
        }
        let now = Instant::now();
        if now >= end {
            return false;
        }
        thread::sleep(POLL_INTERVAL.min(end - now));
    }
}

/// Like [`eventually`], but panics with `what` when the deadline passes.
pub fn wait_until(what: &str, deadline: Duration, condition: impl FnMut() -> bool) {
    if !eventually(deadline, condition) {
        panic!("timed out after {deadline:?} waiting until {what}");
    }
}

/// A fresh folder under `std::env::temp_dir()`, named
/// `kafka08-test-<prefix>-<pid>-<n>-<nanos>` and removed on drop.
pub struct TempDir {
    path: PathBuf,
}

const TEMP_DIR_PREFIX: &str = "kafka08-test-";

/// Remove the folders of earlier test processes that died without unwinding (SIGKILL, CI
/// timeout): their servers are already gone (the watchdog), only the folder remains.
fn sweep_dead_temp_dirs() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(TEMP_DIR_PREFIX)) else {
            continue;
        };
        // <prefix>-<pid>-<n>-<nanos>: the pid is third from the end.
        let fields: Vec<&str> = rest.rsplitn(4, '-').collect();
        let Some(pid) = fields.get(2).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        static SWEEP: std::sync::Once = std::sync::Once::new();
        SWEEP.call_once(sweep_dead_temp_dirs);
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "{TEMP_DIR_PREFIX}{prefix}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// What a script or CLI call printed.
#[derive(Debug)]
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The last non-empty line of stdout (where the ZooKeeper CLI prints its answer).
    pub fn last_line(&self) -> &str {
        self.stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim()
    }

    /// stdout and stderr together, for assertion messages.
    pub fn all(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Run `path` (relative to the project root) with `args`, optionally feeding `stdin`.
/// Servers the script starts get a watchdog tied to this test process (`ZK_OWNER_PID`).
pub fn run_with_env(
    path: &str,
    args: &[&str],
    stdin: Option<&str>,
    env: &[(&str, &str)],
) -> Output {
    let program = project_root().join(path);
    let mut cmd = Command::new(&program);
    cmd.args(args)
        .current_dir(project_root())
        .env("ZK_OWNER_PID", std::process::id().to_string())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin piped");
        pipe.write_all(input.as_bytes()).expect("write stdin");
    }
    let out = child.wait_with_output().expect("wait for script");
    Output {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Run a project script (path relative to the project root).
pub fn run_script(path: &str, args: &[&str]) -> Output {
    run_with_env(path, args, None, &[])
}

/// Run `zk-scripts/zk.sh` with `args`.
pub fn zk_sh(args: &[&str]) -> Output {
    run_script("zk-scripts/zk.sh", args)
}

/// Run one ZooKeeper CLI command against `server` (`host:port[/chroot]`), e.g.
/// `zk_cli(&zk.connect_string(), &["get", "/a"])`. Point it at one live server.
pub fn zk_cli(server: &str, command: &[&str]) -> Output {
    let mut args = vec![server];
    args.extend_from_slice(command);
    run_script("zk-scripts/zk-cli.sh", &args)
}

/// Run ZooKeeper CLI commands (one per line) fed on stdin.
pub fn zk_cli_stdin(server: &str, commands: &str) -> Output {
    run_with_env("zk-scripts/zk-cli.sh", &[server], Some(commands), &[])
}

/// Send a four-letter word to 127.0.0.1:`port`; `None` if nothing answers. Exactly the four
/// bytes: anything unread when ZooKeeper closes turns the close into a reset that can
/// destroy the answer.
/// User + system CPU seconds a live process has used so far, from /proc/<pid>/stat (0 if
/// it cannot be read): the benches' CPU-per-message figures.
pub fn process_cpu_seconds(pid: u32) -> f64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime, fields 14 and 15 of proc(5), are the 12th and 13th after the name.
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (ticks(11) + ticks(12)) as f64 / hz
}

pub fn four_letter(port: u16, word: &str) -> Option<String> {
    four_letter_at("127.0.0.1", port, word)
}

/// [`four_letter`] to `host`:`port`.
pub fn four_letter_at(host: &str, port: u16, word: &str) -> Option<String> {
    let addr = SocketAddr::new(host.parse().ok()?, port);
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream.write_all(word.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    Some(answer)
}

/// The node's `Mode:` (`standalone`, `leader`, `follower`) if it serves clients.
/// (`ruok` answers before the node serves; a Mode line is the proof.)
pub fn zk_mode(port: u16) -> Option<String> {
    zk_mode_at("127.0.0.1", port)
}

/// [`zk_mode`] of the node on `host`:`port`.
pub fn zk_mode_at(host: &str, port: u16) -> Option<String> {
    let answer = four_letter_at(host, port, "srvr")?;
    answer
        .lines()
        .find_map(|l| l.strip_prefix("Mode:"))
        .map(|m| m.trim().to_string())
}

fn print_log_tail(log: &Path) {
    if let Ok(text) = fs::read_to_string(log) {
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(30);
        eprintln!("--- last lines of {}:", log.display());
        for line in &lines[from..] {
            eprintln!("{line}");
        }
    }
}

fn is_port_clash(out: &Output) -> bool {
    let text = out.all();
    text.contains("already in use") || text.contains("BindException")
}

/// A standalone ZooKeeper on 127.0.0.1 and a free port, in its own temp dir.
pub struct ZkServer {
    dir: TempDir,
    port: u16,
}

impl ZkServer {
    /// Start and wait until it serves. Retries with a new port if another process took the
    /// one we picked between picking and binding.
    pub fn start() -> ZkServer {
        let dir = TempDir::new("zk");
        let node = dir.path().to_str().expect("utf-8 temp dir").to_string();
        let mut last = None;
        for _ in 0..3 {
            let port = free_port();
            let out = zk_sh(&["start", &node, &port.to_string()]);
            if out.success() {
                return ZkServer { dir, port };
            }
            if !is_port_clash(&out) {
                panic!("zk.sh start failed:\n{}", out.all());
            }
            last = Some(out);
        }
        panic!(
            "zk.sh start kept hitting ports in use:\n{}",
            last.map(|o| o.all()).unwrap_or_default()
        );
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`, for clients and the CLI.
    pub fn connect_string(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The node's folder (`zoo.cfg`, `data/`, `zookeeper.log`, `zookeeper.pid`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn is_serving(&self) -> bool {
        zk_mode(self.port).is_some()
    }

    /// Stop gracefully (SIGTERM, SIGKILL after a deadline) and wait until it is gone.
    /// Idempotent; the folder stays until drop.
    pub fn stop(&mut self) {
        let out = zk_sh(&["stop", self.dir_str()]);
        assert!(out.success(), "zk.sh stop failed:\n{}", out.all());
    }

    fn dir_str(&self) -> &str {
        self.dir.path().to_str().expect("utf-8 temp dir")
    }
}

impl Drop for ZkServer {
    fn drop(&mut self) {
        if thread::panicking() {
            print_log_tail(&self.dir.path().join("zookeeper.log"));
        }
        let out = zk_sh(&["stop", "--kill", self.dir_str()]);
        if !out.success() {
            eprintln!("zk.sh stop --kill failed:\n{}", out.all());
        }
    }
}

/// A three-node ZooKeeper ensemble on 127.0.0.1 (members numbered 1, 2, 3), or one member
/// per host of `support::hosts` ([`ZkEnsemble::start_on`]).
pub struct ZkEnsemble {
    dir: TempDir,
    /// Member n's address (127.0.0.1 for all, unless on hosts).
    addrs: [String; 3],
    client: [u16; 3],
    quorum: [u16; 3],
    election: [u16; 3],
}

impl ZkEnsemble {
    /// Start all three members and wait until each serves.
    pub fn start() -> ZkEnsemble {
        let dir = TempDir::new("zk-ensemble");
        let root = dir.path().to_str().expect("utf-8 temp dir").to_string();
        let join = |p: &[u16]| {
            p.iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut last = None;
        for _ in 0..3 {
            let p = free_ports(9);
            let out = zk_sh(&[
                "start-ensemble",
                &root,
                &join(&p[0..3]),
                &join(&p[3..6]),
                &join(&p[6..9]),
            ]);
            if out.success() {
                return ZkEnsemble {
                    dir,
                    addrs: ["127.0.0.1".into(), "127.0.0.1".into(), "127.0.0.1".into()],
                    client: [p[0], p[1], p[2]],
                    quorum: [p[3], p[4], p[5]],
                    election: [p[6], p[7], p[8]],
                };
            }
            if !is_port_clash(&out) {
                panic!("zk.sh start-ensemble failed:\n{}", out.all());
            }
            // Start over from empty data dirs with new ports.
            let _ = zk_sh(&["stop", "--kill", &root]);
            for n in 1..=3 {
                let _ = fs::remove_dir_all(dir.path().join(n.to_string()));
            }
            last = Some(out);
        }
        panic!(
            "zk.sh start-ensemble kept hitting ports in use:\n{}",
            last.map(|o| o.all()).unwrap_or_default()
        );
    }

    /// Member n on host n of `hosts` (1..=3), on ZooKeeper's usual ports (2181, 2888,
    /// 3888: every host has its own), as on three machines.
    pub fn start_on(hosts: &[&hosts::Host; 3]) -> ZkEnsemble {
        let dir = TempDir::new("zk-hosts");
        let root = dir.path().to_str().expect("utf-8 temp dir").to_string();
        let addrs = hosts.map(|h| h.addr.clone());
        let netns = hosts.map(|h| h.netns.clone());
        let out = zk_sh(&["start-ensemble", "--addresses", &addrs.join(","), "--netns", &netns.join(","), &root, "2181,2181,2181", "2888,2888,2888", "3888,3888,3888"]);
        assert!(out.success(), "zk.sh start-ensemble on hosts failed:\n{}", out.all());
        ZkEnsemble { dir, addrs, client: [2181; 3], quorum: [2888; 3], election: [3888; 3] }
    }

    /// All three members: `127.0.0.1:C1,127.0.0.1:C2,127.0.0.1:C3`.
    pub fn connect_string(&self) -> String {
        (1..=3).map(|n| self.member_connect_string(n)).collect::<Vec<_>>().join(",")
    }

    /// One member, `127.0.0.1:Cn` (n = 1..=3).
    pub fn member_connect_string(&self, n: usize) -> String {
        format!("{}:{}", self.addrs[Self::index(n)], self.client_port(n))
    }

    pub fn client_port(&self, n: usize) -> u16 {
        self.client[Self::index(n)]
    }

    pub fn quorum_port(&self, n: usize) -> u16 {
        self.quorum[Self::index(n)]
    }

    pub fn election_port(&self, n: usize) -> u16 {
        self.election[Self::index(n)]
    }

    /// The member's Mode (`leader`/`follower`) if it serves.
    pub fn mode(&self, n: usize) -> Option<String> {
        zk_mode_at(&self.addrs[Self::index(n)], self.client_port(n))
    }

    /// The members that serve right now.
    pub fn serving_members(&self) -> Vec<usize> {
        (1..=3).filter(|&n| self.mode(n).is_some()).collect()
    }

    /// The member that says it leads, if any.
    pub fn leader(&self) -> Option<usize> {
        (1..=3).find(|&n| self.mode(n).as_deref() == Some("leader"))
    }

    /// Member `n`'s pid while it runs (for [`hosts::pause_pid`]).
    pub fn member_pid(&self, n: usize) -> Option<u32> {
        Self::index(n);
        fs::read_to_string(self.dir.path().join(n.to_string()).join("zookeeper.pid")).ok()?.trim().parse().ok()
    }

    /// Stop member `n` gracefully (SIGTERM) and wait until it is gone.
    pub fn stop_member(&self, n: usize) {
        self.member_cmd(&["stop-member"], n);
    }

    /// Kill member `n` with SIGKILL (a crash) and wait until it is gone.
    pub fn kill_member(&self, n: usize) {
        self.member_cmd(&["stop-member", "--kill"], n);
    }

    /// Start member `n` again and wait until it serves (needs a quorum to be up).
    pub fn start_member(&self, n: usize) {
        self.member_cmd(&["start-member"], n);
    }

    /// The ensemble's folder (`1/`, `2/`, `3/`, each with `zoo.cfg`, `data/`, logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn member_cmd(&self, cmd: &[&str], n: usize) {
        Self::index(n);
        let nn = n.to_string();
        let mut args = cmd.to_vec();
        args.push(self.dir_str());
        args.push(&nn);
        let out = zk_sh(&args);
        assert!(
            out.success(),
            "zk.sh {} {n} failed:\n{}",
            cmd.join(" "),
            out.all()
        );
    }

    fn index(n: usize) -> usize {
        assert!(
            (1..=3).contains(&n),
            "ensemble members are numbered 1..=3, not {n}"
        );
        n - 1
    }

    fn dir_str(&self) -> &str {
        self.dir.path().to_str().expect("utf-8 temp dir")
    }
}

impl Drop for ZkEnsemble {
    fn drop(&mut self) {
        if thread::panicking() {
            for n in 1..=3 {
                print_log_tail(&self.dir.path().join(n.to_string()).join("zookeeper.log"));
            }
        }
        let out = zk_sh(&["stop", "--kill", self.dir_str()]);
        if !out.success() {
            eprintln!("zk.sh stop --kill failed:\n{}", out.all());
        }
    }
}
