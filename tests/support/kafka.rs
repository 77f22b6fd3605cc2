//! Real kafka08 broker processes for integration tests: each on a port the OS picked, in
//! its own temp folder, killed on drop (also while a failing test unwinds; the broker's
//! log tail is printed then). `KAFKA08_EXIT_WITH_PARENT` makes a broker exit when the test
//! process dies without unwinding. [`KafkaBroker::start_on`] runs one on a host of
//! `support::hosts` instead: in the host's network namespace, on its address, port 9092.

use super::{free_port, print_log_tail, TempDir};
use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BROKER_START_DEADLINE: Duration = Duration::from_secs(60);
/// How many times a start may find its port taken before the test fails.
const MAX_PORT_CLASHES: usize = 5;

pub struct KafkaBroker {
    pub id: i32,
    pub port: u16,
    /// The address it binds and registers (`host.name`).
    host: String,
    /// The network namespace it runs in (a host of `support::hosts`), if any.
    netns: Option<String>,
    dir: TempDir,
    child: Option<Child>,
    zk_connect: String,
    extra: Vec<(String, String)>,
    env: Vec<(String, String)>,
    starts: usize,
    /// The broker executable: this build's, or another build's (a benchmark's baseline).
    program: PathBuf,
}

impl KafkaBroker {
    /// Start broker `id` against `zk_connect` (with chroot if wanted) and wait until it is
    /// registered and serving. `extra` adds or overrides server.properties keys.
    pub fn start(id: i32, zk_connect: &str, extra: &[(&str, &str)]) -> KafkaBroker {
        Self::start_with(id, "127.0.0.1", None, zk_connect, extra, &[])
    }

    /// [`KafkaBroker::start`] with environment variables for the broker process (its
    /// restarts keep them), e.g. a failpoint of `kafka08::common::failpoint`.
    pub fn start_with_env(id: i32, zk_connect: &str, extra: &[(&str, &str)], env: &[(&str, &str)]) -> KafkaBroker {
        Self::start_with(id, "127.0.0.1", None, zk_connect, extra, env)
    }

    /// [`KafkaBroker::start`] running another build's executable (a benchmark comparing
    /// builds in one run).
    pub fn start_program(program: &std::path::Path, id: i32, zk_connect: &str, extra: &[(&str, &str)]) -> KafkaBroker {
        let mut b = Self::new(id, "127.0.0.1", None, zk_connect, extra, &[]);
        b.program = program.to_path_buf();
        b.launch();
        b
    }

    /// Start broker `id` on `host` (a network namespace with its own address), as on a
    /// machine of its own: `host.name` is the host's address and the port 0.8.2's 9092.
    pub fn start_on(host: &super::hosts::Host, id: i32, zk_connect: &str, extra: &[(&str, &str)]) -> KafkaBroker {
        Self::start_with(id, &host.addr, Some(host.netns.clone()), zk_connect, extra, &[])
    }

    fn start_with(id: i32, host: &str, netns: Option<String>, zk_connect: &str, extra: &[(&str, &str)], env: &[(&str, &str)]) -> KafkaBroker {
        let mut b = Self::new(id, host, netns, zk_connect, extra, env);
        b.launch();
        b
    }

    fn new(id: i32, host: &str, netns: Option<String>, zk_connect: &str, extra: &[(&str, &str)], env: &[(&str, &str)]) -> KafkaBroker {
        KafkaBroker {
            id,
            // A host has every port to itself.
            port: if netns.is_some() { 9092 } else { free_port() },
            host: host.to_string(),
            netns,
            dir: TempDir::new(&format!("broker{id}")),
            child: None,
            zk_connect: zk_connect.to_string(),
            extra: extra.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            starts: 0,
            program: PathBuf::from(env!("CARGO_BIN_EXE_kafka08")),
        }
    }

    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The address it binds and registers.
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn properties_path(&self) -> PathBuf {
        self.dir.path().join("server.properties")
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    fn write_properties(&self) {
        let mut text = format!(
            "broker.id={}\nport={}\nhost.name={}\nlog.dirs={}\nzookeeper.connect={}\nzookeeper.session.timeout.ms=6000\n",
            self.id,
            self.port,
            self.host,
            self.data_dir().display(),
            self.zk_connect
        );
        for (k, v) in &self.extra {
            text.push_str(&format!("{k}={v}\n"));
        }
        fs::write(self.properties_path(), text).expect("write server.properties");
    }

    fn launch(&mut self) {
        self.starts += 1;
        self.launch_once();
        self.wait_started();
    }

    /// Write the properties and spawn the process (without waiting for it).
    fn launch_once(&mut self) {
        self.write_properties();
        let log = fs::OpenOptions::new().create(true).append(true).open(self.log_path()).expect("open broker log");
        let mut cmd = Command::new(&self.program);
        if let Some(ns) = &self.netns {
            super::hosts::enter_netns_on_exec(&mut cmd, ns);
        }
        let child = cmd
            .arg("kafka.Kafka")
            .arg(self.properties_path())
            .env("KAFKA08_EXIT_WITH_PARENT", "1")
            .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "info,zookeeper_client=warn".into()))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
            .expect("spawn kafka08 broker");
        self.child = Some(child);
    }

    fn wait_started(&mut self) {
        let deadline = Instant::now() + BROKER_START_DEADLINE;
        let want = self.starts;
        let mut port_clashes = 0;
        loop {
            let log = fs::read_to_string(self.log_path()).unwrap_or_default();
            if log.matches("], started (").count() >= want {
                return;
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                // Another process took the port between `free_port` and the broker's bind
                // (or, on a restart, while the broker was down): take another one.
                let clashed = log.lines().rev().take(20).any(|l| l.contains("cannot bind") && l.contains("in use"));
                if clashed && self.netns.is_none() && port_clashes < MAX_PORT_CLASHES {
                    port_clashes += 1;
                    let old = self.port;
                    self.port = free_port();
                    eprintln!("broker {}: port {old} was taken, starting on {} instead", self.id, self.port);
                    self.launch_once();
                    continue;
                }
                print_log_tail(&self.log_path());
                panic!("broker {} exited during start-up: {status}", self.id);
            }
            if Instant::now() > deadline {
                print_log_tail(&self.log_path());
                panic!("broker {} did not start within {:?}", self.id, BROKER_START_DEADLINE);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn signal(&self, sig: i32) {
        if let Some(pid) = self.pid() {
            // SAFETY: plain kill(2) on our own child.
            unsafe {
                libc::kill(pid as i32, sig);
            }
        }
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM (clean shutdown) and wait; returns the exit code.
    pub fn stop(&mut self) -> Option<i32> {
        self.stop_within(Duration::from_secs(30))
    }

    /// [`KafkaBroker::stop`], waiting at most `timeout` (a broker with many partitions, in
    /// a debug build, takes longer to shut its logs down).
    pub fn stop_within(&mut self, timeout: Duration) -> Option<i32> {
        let mut c = self.child.take()?;
        self.signal_child(&c, libc::SIGTERM);
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = c.try_wait() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                panic!("broker {} did not stop within {:?} of SIGTERM", self.id, timeout);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stop with `bin/kafka-server-stop.sh <this broker's server.properties>` (as an
    /// operator would) and wait for the exit; returns the exit code.
    pub fn stop_with_script(&mut self) -> Option<i32> {
        let out = super::run_with_env(
            "bin/kafka-server-stop.sh",
            &[self.properties_path().to_str().expect("utf-8 path")],
            None,
            &[("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))],
        );
        assert_eq!(out.code, Some(0), "kafka-server-stop.sh: {}", out.all());
        let mut c = self.child.take()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = c.try_wait() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                panic!("broker {} did not stop within 30 s of kafka-server-stop.sh", self.id);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal_child(&self, c: &Child, sig: i32) {
        // SAFETY: plain kill(2) on our own child.
        unsafe {
            libc::kill(c.id() as i32, sig);
        }
    }

    /// SIGSTOP, and return only once every thread of the broker has stopped: kill(2)
    /// returns before a thread running on another core has taken the signal, and such a
    /// thread could still answer a request the test sends next (a follower that "stopped
    /// fetching" fetched once more, so a commit expected to time out got NoError in CI).
    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
        let Some(pid) = self.pid() else { return };
        let stopped = || {
            let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else { return true };
            tasks.flatten().all(|t| {
                // The state follows the parenthesised command name: "tid (comm) T ...".
                let stat = fs::read_to_string(t.path().join("stat")).unwrap_or_default();
                stat.rsplit_once(')').is_none_or(|(_, rest)| matches!(rest.trim_start().chars().next(), Some('T' | 't' | 'Z' | 'X')))
            })
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !stopped() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    /// Start again on the same data directory, and on the same port unless another process
    /// took it meanwhile (then on a new one: read [`KafkaBroker::addr`] again).
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => c.try_wait().ok().flatten().is_none(),
            None => false,
        }
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

impl Drop for KafkaBroker {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- broker {} log ---", self.id);
            print_log_tail(&self.log_path());
        }
        self.resume();
        self.kill();
    }
}
