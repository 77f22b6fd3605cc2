//! Hosts for multi-host and partition tests: network namespaces made by
//! `zk-scripts/hosts.sh`, each a machine with an address of its own on a private bridge.
//! The test process stays in the root namespace (`.1` on the bridge) and reaches every
//! host, as a client machine would.
//!
//! [`Hosts`] owns the hosts and the network faults between them: isolating a host from the
//! others (clients still reach it) or from everyone, cutting one direction of a link or
//! both, packet loss, delay (`tc netem`, when the kernel has it) and a throttled link
//! (`tc tbf`). Faults are nftables rules in each host's own `inet kafka08` table and
//! qdiscs on its `eth0`, so they exist only inside our namespaces. [`Hosts::heal`] removes
//! them all; drop heals, kills every process left in the hosts and removes the hosts, also
//! while a failing test unwinds. Process faults are on the processes' own types:
//! [`KafkaBroker::pause`]/`kill`/`restart` (`KafkaBroker::start_on` runs a broker on a host)
//! and `ZkEnsemble::stop_member`/`start_member`/[`pause_pid`] (`ZkEnsemble::start_on`).
//!
//! One set of hosts per test process at a time (a lock: the machine is small, and a
//! partition test wants it to itself); the set's tag is this process's pid (hex) and a
//! counter, so two test processes never share names or addresses. The first set of a
//! process runs `hosts.sh sweep`, which removes the sets of test processes that died
//! without unwinding.
//!
//! [`KafkaBroker::pause`]: super::kafka::KafkaBroker::pause

use super::{run_with_env, Output};
use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, Once};
use std::time::Duration;

/// One machine: a network namespace with its own address.
#[derive(Clone, Debug)]
pub struct Host {
    /// 1, 2, ...: `h1` is host 1.
    pub n: usize,
    /// Its network namespace (`ip netns`), e.g. `k08-1a2b0-h1`.
    pub netns: String,
    /// Its address on the bridge, e.g. `10.208.3.11`.
    pub addr: String,
}

static LOCK: Mutex<()> = Mutex::new(());

/// The hosts of one test and the faults applied to them (healed and removed on drop).
pub struct Hosts {
    tag: String,
    root_addr: String,
    hosts: Vec<Host>,
    /// The highest host number this set ever had.
    highest: usize,
    // Dropped last: the next test's hosts wait until these are gone.
    _lock: MutexGuard<'static, ()>,
}

/// `zk-scripts/hosts.sh ARGS` for the set `tag`, owned by this test process.
pub fn hosts_sh(tag: &str, args: &[&str]) -> Output {
    let owner = std::process::id().to_string();
    run_with_env("zk-scripts/hosts.sh", args, None, &[("KAFKA08_HOSTS_TAG", tag), ("KAFKA08_HOSTS_OWNER", &owner)])
}

impl Hosts {
    /// `n` hosts, h1..hn, on a bridge of their own.
    pub fn up(n: usize) -> Hosts {
        let lock = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        static SWEEP: Once = Once::new();
        SWEEP.call_once(|| {
            let out = hosts_sh("0", &["sweep"]);
            assert!(out.success(), "hosts.sh sweep failed:\n{}", out.all());
        });
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let tag = format!("{:x}{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst) % 10);
        let mut hosts = Hosts { tag, root_addr: String::new(), hosts: Vec::new(), highest: n, _lock: lock };
        hosts.grow_to(n);
        hosts
    }

    /// Run `hosts.sh up n` and read back the hosts it lists.
    fn grow_to(&mut self, n: usize) {
        let out = hosts_sh(&self.tag, &["up", &n.to_string()]);
        assert!(out.success(), "hosts.sh up {n} failed:\n{}", out.all());
        self.hosts.clear();
        for line in out.stdout.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            match f.as_slice() {
                ["root", _, addr] => self.root_addr = addr.to_string(),
                [name, netns, addr] => {
                    let n = name.strip_prefix('h').and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("bad hosts.sh line {line:?}"));
                    self.hosts.push(Host { n, netns: netns.to_string(), addr: addr.to_string() });
                }
                _ => panic!("bad hosts.sh line {line:?}"),
            }
        }
    }

    /// Host `n` (1-based).
    pub fn host(&self, n: usize) -> &Host {
        self.hosts.iter().find(|h| h.n == n).unwrap_or_else(|| panic!("no host h{n}"))
    }

    pub fn all(&self) -> &[Host] {
        &self.hosts
    }

    /// The root namespace's address on the bridge (where the test, the client, is).
    pub fn root_addr(&self) -> &str {
        &self.root_addr
    }

    /// A new machine: one more host, numbered after every host this set ever had (so
    /// it never takes the address of one that was removed).
    pub fn add(&mut self) -> Host {
        self.highest += 1;
        let n = self.highest;
        let out = hosts_sh(&self.tag, &["add", &format!("h{n}")]);
        assert!(out.success(), "hosts.sh add h{n} failed:\n{}", out.all());
        let f: Vec<&str> = out.stdout.split_whitespace().collect();
        let host = match f.as_slice() {
            [_, netns, addr] => Host { n, netns: netns.to_string(), addr: addr.to_string() },
            _ => panic!("bad hosts.sh add answer {:?}", out.stdout),
        };
        self.hosts.push(host.clone());
        host
    }

    /// The machine dies: every process on host `n` is killed and the host removed.
    pub fn remove(&mut self, n: usize) {
        let out = hosts_sh(&self.tag, &["remove", &n.to_string()]);
        assert!(out.success(), "hosts.sh remove {n} failed:\n{}", out.all());
        self.hosts.retain(|h| h.n != n);
    }

    /// `hosts.sh exec hN CMD...`.
    pub fn exec(&self, n: usize, cmd: &[&str]) -> Output {
        let name = format!("h{n}");
        let mut args = vec!["exec", name.as_str()];
        args.extend_from_slice(cmd);
        hosts_sh(&self.tag, &args)
    }

    fn exec_ok(&self, n: usize, cmd: &[&str]) {
        let out = self.exec(n, cmd);
        assert!(out.success(), "on h{n}: {} failed:\n{}", cmd.join(" "), out.all());
    }

    /// Add nftables rules (one per line) to host `n`'s `inet kafka08` table.
    fn nft(&self, n: usize, rules: &[String]) {
        let script: String = rules.iter().map(|r| format!("add rule inet kafka08 {r}\n")).collect();
        let out = run_with_env("zk-scripts/hosts.sh", &["exec", &format!("h{n}"), "nft", "-f", "-"], Some(&script), &[("KAFKA08_HOSTS_TAG", &self.tag)]);
        assert!(out.success(), "nft on h{n} failed:\n{script}{}", out.all());
    }

    /// Host `n` can no longer exchange packets with any other host; clients in the root
    /// namespace still reach it (Jepsen's "leader cut off from ZooKeeper and its followers
    /// while the client still talks to it").
    pub fn isolate(&self, n: usize) {
        for h in self.hosts.iter().filter(|h| h.n != n) {
            self.cut_both(n, h.n);
        }
    }

    /// Host `n` can exchange packets with nobody, clients included (what it sends still
    /// leaves, but no answer ever comes back, so no TCP connection works either way).
    pub fn isolate_all(&self, n: usize) {
        self.nft(n, &["input iifname eth0 drop".into()]);
        for h in self.hosts.iter().filter(|h| h.n != n) {
            self.cut(n, h.n);
        }
    }

    /// Packets from host `from` to host `to` vanish; the other direction still flows.
    /// (Dropped where they arrive: a drop on the way out would fail the sender's call at
    /// once with EPERM, which no real network does.)
    pub fn cut(&self, from: usize, to: usize) {
        let from_addr = self.host(from).addr.clone();
        self.nft(to, &[format!("input ip saddr {from_addr} drop")]);
    }

    /// No packets between hosts `a` and `b`, in either direction.
    pub fn cut_both(&self, a: usize, b: usize) {
        self.cut(a, b);
        self.cut(b, a);
    }

    /// Drop `percent` % of the packets host `n` receives, and of those it sends to other
    /// hosts (dropped where they arrive, as for [`Hosts::cut`]).
    pub fn loss(&self, n: usize, percent: u32) {
        assert!(percent <= 100, "loss of {percent}%");
        let addr = self.host(n).addr.clone();
        // numgen's values are 0..=99: "< 100" is refused, so 100 % is a plain drop.
        let chance = if percent >= 100 { String::new() } else { format!("numgen random mod 100 < {percent} ") };
        self.nft(n, &[format!("input iifname eth0 {chance}drop")]);
        for h in self.hosts.iter().filter(|h| h.n != n) {
            self.nft(h.n, &[format!("input ip saddr {addr} {chance}drop")]);
        }
    }

    /// Delay every packet host `n` sends by `ms` (± 20 %) with `tc netem`; false (nothing
    /// applied) if this kernel has no netem (then [`Hosts::throttle`] is the slow link).
    pub fn delay(&self, n: usize, ms: u32) -> bool {
        let (delay, jitter) = (format!("{ms}ms"), format!("{}ms", ms / 5));
        let out = self.exec(n, &["tc", "qdisc", "replace", "dev", "eth0", "root", "netem", "delay", &delay, &jitter]);
        out.success()
    }

    /// Whether `tc netem` works here (some kernels are built without it).
    pub fn has_netem(&self) -> bool {
        let n = self.hosts.first().expect("a host").n;
        let ok = self.delay(n, 1);
        self.exec(n, &["tc", "qdisc", "del", "dev", "eth0", "root"]);
        ok
    }

    /// Host `n` sends at most `kbit` kbit/s (`tc tbf`); what is over waits up to 500 ms
    /// in the queue, then is dropped: a congested link.
    pub fn throttle(&self, n: usize, kbit: u32) {
        self.exec_ok(n, &["tc", "qdisc", "replace", "dev", "eth0", "root", "tbf", "rate", &format!("{kbit}kbit"), "burst", "16kb", "latency", "500ms"]);
    }

    /// Remove every network fault from every host.
    pub fn heal(&self) {
        for h in &self.hosts {
            self.exec_ok(h.n, &["nft", "flush", "table", "inet", "kafka08"]);
            // No qdisc of ours is not an error.
            let _ = self.exec(h.n, &["tc", "qdisc", "del", "dev", "eth0", "root"]);
        }
    }

    /// Whether a TCP connection from host `from` (None: the root namespace) to `to`
    /// completes within `timeout`.
    pub fn can_connect(&self, from: Option<usize>, to: SocketAddr, timeout: Duration) -> bool {
        let netns = from.map(|n| self.host(n).netns.clone());
        in_netns(netns.as_deref(), move || TcpStream::connect_timeout(&to, timeout).is_ok())
    }

    /// A listener on host `n`'s address and `port` (a socket stays in the namespace it
    /// was made in).
    pub fn listen(&self, n: usize, port: u16) -> TcpListener {
        let h = self.host(n).clone();
        in_netns(Some(&h.netns), move || TcpListener::bind((h.addr.as_str(), port)).unwrap_or_else(|e| panic!("bind {}:{port} on h{}: {e}", h.addr, h.n)))
    }

    /// A UDP socket on host `n`'s address and `port` (to see one direction of a link
    /// alone, which TCP cannot: its handshake needs both).
    pub fn udp(&self, n: usize, port: u16) -> UdpSocket {
        let h = self.host(n).clone();
        in_netns(Some(&h.netns), move || UdpSocket::bind((h.addr.as_str(), port)).unwrap_or_else(|e| panic!("bind udp {}:{port} on h{}: {e}", h.addr, h.n)))
    }

    pub fn tag(&self) -> &str {
        &self.tag
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        let out = hosts_sh(&self.tag, &["down"]);
        if !out.success() {
            eprintln!("hosts.sh down failed:\n{}", out.all());
        }
    }
}

/// Run `f` on a thread of its own that first enters `netns` (setns affects the calling
/// thread only), and return what it returns.
fn in_netns<T: Send + 'static>(netns: Option<&str>, f: impl FnOnce() -> T + Send + 'static) -> T {
    let file = netns.map(|ns| File::open(format!("/run/netns/{ns}")).unwrap_or_else(|e| panic!("open netns {ns}: {e}")));
    std::thread::spawn(move || {
        if let Some(file) = file {
            // SAFETY: setns(2) on an open namespace file; it changes only this thread.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        }
        f()
    })
    .join()
    .expect("netns thread")
}

/// Make `cmd` run in network namespace `netns` (as `ip netns exec` does, without a
/// process in between: the child's pid is the program's).
pub fn enter_netns_on_exec(cmd: &mut Command, netns: &str) {
    let file = File::open(format!("/run/netns/{netns}")).unwrap_or_else(|e| panic!("open netns {netns}: {e}"));
    // SAFETY: the closure only calls setns(2), which is async-signal-safe, on an fd opened
    // before the fork (closed in the child by O_CLOEXEC at exec).
    unsafe {
        cmd.pre_exec(move || {
            if libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// SIGSTOP `pid` (a process fault for processes the kit does not own, e.g. a ZooKeeper
/// member: `ZkEnsemble::member_pid`).
pub fn pause_pid(pid: u32) {
    // SAFETY: plain kill(2).
    unsafe {
        libc::kill(pid as i32, libc::SIGSTOP);
    }
}

/// SIGCONT `pid`.
pub fn resume_pid(pid: u32) {
    // SAFETY: plain kill(2).
    unsafe {
        libc::kill(pid as i32, libc::SIGCONT);
    }
}

/// A cluster across hosts: a ZooKeeper member on each of h1..h3 (2181) and broker `n` on
/// host `n` (9092, `host.name` = the host's address), as on separate machines. The test
/// reaches all of them from the root namespace. Drop stops the brokers, the ensemble and
/// removes the hosts (in that order), also on a panic.
pub struct HostCluster {
    // Field order is drop order: our ZooKeeper session, brokers, ensemble, then the hosts.
    rt: tokio::runtime::Runtime,
    zkc: kafka08::zk::ZkClient,
    pub brokers: Vec<super::kafka::KafkaBroker>,
    pub zk: super::ZkEnsemble,
    pub hosts: Hosts,
    extra: Vec<(String, String)>,
}

impl HostCluster {
    /// `n` (>= 3) hosts, the ensemble on the first three, one broker per host; returns
    /// once every broker answers metadata listing all of them.
    pub fn start(n: usize, extra: &[(&str, &str)]) -> HostCluster {
        assert!(n >= 3, "a cluster across hosts needs 3 hosts for its ensemble");
        let hosts = Hosts::up(n);
        let zk = super::ZkEnsemble::start_on(&[hosts.host(1), hosts.host(2), hosts.host(3)]);
        let connect = zk.connect_string();
        let brokers: Vec<_> = hosts.all().iter().map(|h| super::kafka::KafkaBroker::start_on(h, h.n as i32, &connect, extra)).collect();
        let rt = super::cluster::Cluster::runtime();
        let zkc = rt.block_on(kafka08::zk::ZkClient::connect(&connect, Duration::from_secs(10), Duration::from_secs(30))).expect("connect to the ensemble");
        let extra = extra.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let c = HostCluster { rt, zkc, brokers, zk, hosts, extra };
        super::wait_until("every broker knows every broker", Duration::from_secs(60), || {
            c.brokers.iter().all(|b| super::wire::request(&b.addr(), 0, &kafka08::api::MetadataRequest { topics: vec![] }, Duration::from_secs(5)).is_some_and(|m| m.brokers.len() == n))
        });
        c
    }

    /// Every broker's `host:port`, for clients.
    pub fn bootstrap(&self) -> Vec<String> {
        self.brokers.iter().map(|b| b.addr()).collect()
    }

    /// The broker with id `id`.
    pub fn broker(&mut self, id: i32) -> &mut super::kafka::KafkaBroker {
        self.brokers.iter_mut().find(|b| b.id == id).unwrap_or_else(|| panic!("no broker {id}"))
    }

    /// Start broker `id` on host `n` with the cluster's settings (a replacement machine
    /// for a broker whose host died: same id, empty disk), in place of the old process.
    pub fn start_broker_on(&mut self, n: usize, id: i32) {
        let host = self.hosts.host(n).clone();
        let extra: Vec<(&str, &str)> = self.extra.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let b = super::kafka::KafkaBroker::start_on(&host, id, &self.zk.connect_string(), &extra);
        match self.brokers.iter().position(|b| b.id == id) {
            Some(i) => self.brokers[i] = b,
            None => self.brokers.push(b),
        }
    }

    /// The host broker `id` runs on.
    pub fn host_of(&self, id: i32) -> usize {
        let b = self.brokers.iter().find(|b| b.id == id).unwrap_or_else(|| panic!("no broker {id}"));
        self.hosts.all().iter().find(|h| h.addr == b.host()).map(|h| h.n).expect("the broker's host")
    }

    /// Create `topic` with topic-level `config`, then wait until every partition has a
    /// leader and a full ISR.
    pub fn create_topic(&self, topic: &str, partitions: i32, rf: i32, config: &[(&str, &str)]) {
        let mut props = kafka08::common::Properties::new();
        for (k, v) in config {
            props.set(*k, *v);
        }
        self.rt.block_on(kafka08::admin::create_topic(&self.zkc, topic, partitions, rf, &props)).expect("create topic");
        let took = self.wait_converged(topic, partitions, rf as usize, Duration::from_secs(60));
        assert!(took.is_some(), "{topic}: no leader and full ISR for every partition within 60 s of creation");
    }

    /// `/brokers/topics/<topic>/partitions/<p>/state`, if ZooKeeper answers.
    pub fn state(&self, topic: &str, p: i32) -> Option<kafka08::zk::json::PartitionState> {
        let path = kafka08::zk::paths::partition_state(topic, p);
        let read = self.rt.block_on(async { tokio::time::timeout(Duration::from_secs(5), self.zkc.get_data(&path)).await });
        let (data, _) = read.ok()?.ok()??;
        kafka08::zk::json::PartitionState::parse(&data).ok()
    }

    /// The host broker `id` registered in `/brokers/ids/<id>`, if it is registered.
    pub fn registered_host(&self, id: i32) -> Option<String> {
        let read = self.rt.block_on(async { tokio::time::timeout(Duration::from_secs(5), self.zkc.get_data(&format!("/brokers/ids/{id}"))).await });
        let (data, _) = read.ok()?.ok()??;
        kafka08::zk::json::BrokerRegistration::parse(&data).ok().map(|r| format!("{}:{}", r.host, r.port))
    }

    /// Each partition's state in ZooKeeper and what each running broker's metadata says
    /// of it, for a failure message.
    pub fn describe(&self, topic: &str, partitions: i32) -> String {
        let mut out = String::new();
        for p in 0..partitions {
            out.push_str(&format!("{topic}-{p}: zookeeper {:?}\n", self.state(topic, p)));
        }
        for b in &self.brokers {
            let md = super::wire::request(&b.addr(), 0, &kafka08::api::MetadataRequest { topics: vec![topic.to_string()] }, Duration::from_secs(5));
            let parts = md.and_then(|m| m.topics.first().map(|t| t.partitions.iter().map(|x| format!("p{} leader {} isr {:?}", x.partition, x.leader, x.isr)).collect::<Vec<_>>().join("; ")));
            out.push_str(&format!("broker {} ({}) says: {}\n", b.id, b.addr(), parts.unwrap_or_else(|| "no answer".into())));
        }
        out
    }

    /// Wait until every partition of `topic` has a leader and `rf` replicas in its ISR in
    /// ZooKeeper, and that leader answers metadata naming itself; how long that took, or
    /// `None` after `deadline`.
    pub fn wait_converged(&self, topic: &str, partitions: i32, rf: usize, deadline: Duration) -> Option<Duration> {
        let start = std::time::Instant::now();
        super::eventually(deadline, || {
            (0..partitions).all(|p| {
                let Some(s) = self.state(topic, p) else { return false };
                if s.leader < 0 || s.isr.len() != rf {
                    return false;
                }
                let Some(b) = self.brokers.iter().find(|b| b.id == s.leader) else { return false };
                let md = super::wire::request(&b.addr(), 0, &kafka08::api::MetadataRequest { topics: vec![topic.to_string()] }, Duration::from_secs(5));
                md.is_some_and(|m| m.topics.first().and_then(|t| t.partitions.iter().find(|x| x.partition == p)).is_some_and(|x| x.leader == s.leader && x.isr.len() == rf))
            })
        })
        .then(|| start.elapsed())
    }
}
