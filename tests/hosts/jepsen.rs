//! Jepsen-style partition tests on a cluster across three hosts (a ZooKeeper member and a
//! broker on each): clients in the root namespace send unique values with acks=-1 to a
//! topic with replication factor 3 and `min.insync.replicas=2` while a nemesis applies
//! faults; then everything heals and a checker reads every partition. With
//! `unclean.leader.election.enable=false` no acknowledged value may be missing and the
//! cluster must converge (a leader and a full ISR for every partition) within a bound; with
//! it on the run must complete and its losses are printed (0.8.2's documented trade-off:
//! availability over durability), not asserted away.
//!
//! Each run prints one `jepsen:` line: attempted / acknowledged / lost, the acknowledged
//! share during faults, and the time to converge after healing.

use crate::support;

use std::time::{Duration, Instant};
use support::hosts::{pause_pid, resume_pid, HostCluster};
use support::jepsen::{assert_safe, finish, report, settings, topic_config, Rng, Run, Workload, CONVERGE};
use support::wait_until;

/// One fault of the nemesis.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// The host of the first partition's leader, cut from the other hosts (ZooKeeper and
    /// followers); clients still reach it.
    IsolateLeader,
    Isolate(usize),
    CutOneWay(usize, usize),
    CutBoth(usize, usize),
    Loss(usize, u32),
    Slow(usize),
    /// SIGSTOP a broker (past its session timeout).
    PauseBroker(i32),
    /// kill -9 a broker, start it again when healing.
    KillBroker(i32),
    StopZkMember(usize),
    /// SIGSTOP a ZooKeeper member.
    PauseZkMember(usize),
}

/// Deals the faults of a deck of all ten kinds, shuffled by the seed, so that every run
/// applies every kind (a fresh deck once one is used up); hosts, brokers and amounts are
/// drawn from the same seed.
struct Nemesis {
    rng: Rng,
    netem: bool,
    deck: Vec<u8>,
}

const FAULT_KINDS: u8 = 10;

impl Nemesis {
    fn new(seed: u64, netem: bool) -> Nemesis {
        Nemesis { rng: Rng::new(seed), netem, deck: Vec::new() }
    }

    fn pick(&mut self) -> Fault {
        if self.deck.is_empty() {
            self.deck = (0..FAULT_KINDS).collect();
            for i in (1..self.deck.len()).rev() {
                let j = self.rng.range(0, i as u64) as usize;
                self.deck.swap(i, j);
            }
        }
        let kind = self.deck.pop().expect("a full deck");
        let h = self.rng.range(1, 3) as usize;
        let other = h % 3 + 1;
        let id = self.rng.range(1, 3) as i32;
        match kind {
            0 => Fault::IsolateLeader,
            1 => Fault::Isolate(h),
            2 => Fault::CutOneWay(h, other),
            3 => Fault::CutBoth(h, other),
            4 => Fault::Loss(h, self.rng.range(20, 50) as u32),
            5 => Fault::Slow(h),
            6 => Fault::PauseBroker(id),
            7 => Fault::KillBroker(id),
            8 => Fault::StopZkMember(h),
            _ => Fault::PauseZkMember(h),
        }
    }

    fn apply(&self, c: &mut HostCluster, topic: &str, f: Fault) -> String {
        match f {
            Fault::IsolateLeader => {
                let Some(leader) = c.state(topic, 0).map(|s| s.leader).filter(|l| *l >= 0) else { return "isolate-leader: no leader now, nothing done".into() };
                let h = c.host_of(leader);
                c.hosts.isolate(h);
                format!("isolate leader {leader} (h{h}) from ZooKeeper and its followers")
            }
            Fault::Isolate(h) => {
                c.hosts.isolate(h);
                format!("isolate h{h}")
            }
            Fault::CutOneWay(a, b) => {
                c.hosts.cut(a, b);
                format!("cut h{a} -> h{b}")
            }
            Fault::CutBoth(a, b) => {
                c.hosts.cut_both(a, b);
                format!("cut h{a} <-> h{b}")
            }
            Fault::Loss(h, p) => {
                c.hosts.loss(h, p);
                format!("{p}% loss on h{h}")
            }
            Fault::Slow(h) => {
                if self.netem && c.hosts.delay(h, 200) {
                    format!("200 ms delay on h{h}")
                } else {
                    c.hosts.throttle(h, 256);
                    format!("256 kbit/s link on h{h}")
                }
            }
            Fault::PauseBroker(id) => {
                c.broker(id).pause();
                format!("SIGSTOP broker {id}")
            }
            Fault::KillBroker(id) => {
                c.broker(id).kill();
                format!("kill -9 broker {id}")
            }
            Fault::StopZkMember(n) => {
                c.zk.stop_member(n);
                format!("stop ZooKeeper member {n}")
            }
            Fault::PauseZkMember(n) => match c.zk.member_pid(n) {
                Some(pid) => {
                    pause_pid(pid);
                    format!("SIGSTOP ZooKeeper member {n}")
                }
                None => format!("ZooKeeper member {n} not running, nothing done"),
            },
        }
    }

    fn heal(&self, c: &mut HostCluster, f: Fault) {
        c.hosts.heal();
        match f {
            Fault::PauseBroker(id) => c.broker(id).resume(),
            Fault::KillBroker(id) => c.broker(id).restart(),
            Fault::StopZkMember(n) => c.zk.start_member(n),
            Fault::PauseZkMember(n) => {
                if let Some(pid) = c.zk.member_pid(n) {
                    resume_pid(pid);
                }
            }
            _ => {}
        }
    }
}

/// The nemesis for `seed`: one deck (every kind of fault once, in the seed's order), each
/// held 4-6 s, with 1-2 s of calm in between (about 70 s).
fn random_faults(c: &mut HostCluster, topic: &str, partitions: i32, seed: u64) -> Run {
    let netem = c.hosts.has_netem();
    let mut nemesis = Nemesis::new(seed, netem);
    let workload = Workload::start(c.bootstrap(), topic, partitions, &format!("s{seed}"));
    assert!(workload.wait_for_acks(20, Duration::from_secs(60)), "no writes acknowledged before the faults");
    let start = Instant::now();
    for dealt in 1..=FAULT_KINDS {
        let f = nemesis.pick();
        let what = nemesis.apply(c, topic, f);
        workload.set_faulty(true);
        eprintln!("nemesis {:>5.1}s: {what}", start.elapsed().as_secs_f64());
        std::thread::sleep(Duration::from_millis(nemesis.rng.range(4000, 6000)));
        nemesis.heal(c, f);
        workload.set_faulty(false);
        eprintln!("nemesis {:>5.1}s: healed", start.elapsed().as_secs_f64());
        if dealt == FAULT_KINDS {
            // Convergence is timed from this last heal.
            break;
        }
        std::thread::sleep(Duration::from_millis(nemesis.rng.range(1000, 2000)));
    }
    finish(c, topic, partitions, workload)
}

#[test]
fn random_partitions_lose_no_acknowledged_write_with_unclean_election_off() {
    let mut c = HostCluster::start(3, &settings(false));
    c.create_topic("jepsen", 3, 3, &topic_config(false));
    let run = random_faults(&mut c, "jepsen", 3, 0x5eed_0001);
    assert_safe("random nemesis, seed 0x5eed0001, unclean off", &run);
}

#[test]
fn random_partitions_with_unclean_election_on_complete_and_report_losses() {
    let mut c = HostCluster::start(3, &settings(true));
    c.create_topic("jepsen-unclean", 3, 3, &topic_config(true));
    let run = random_faults(&mut c, "jepsen-unclean", 3, 0x5eed_0002);
    report("random nemesis, seed 0x5eed0002, unclean ON", &run);
    assert!(run.converged_in.is_some(), "unclean on: the cluster did not converge within {CONVERGE:?} of healing");
}

/// Jepsen's classic 0.8 case: the leader is cut off from ZooKeeper and from its followers
/// while the client still reaches it. The rest elect a new leader; the old one must not
/// acknowledge anything it cannot replicate (its ISR can shrink only through ZooKeeper,
/// which it cannot reach, and min.insync.replicas=2 refuses an ISR of itself).
#[test]
fn leader_isolated_from_zookeeper_and_followers_but_not_clients_loses_nothing() {
    let mut c = HostCluster::start(3, &settings(false));
    c.create_topic("classic", 1, 3, &topic_config(false));
    let workload = Workload::start(c.bootstrap(), "classic", 1, "classic");
    assert!(workload.wait_for_acks(20, Duration::from_secs(60)), "no writes acknowledged before the partition");
    let old = c.state("classic", 0).expect("state").leader;
    let h = c.host_of(old);
    c.hosts.isolate(h);
    workload.set_faulty(true);
    let isolated = Instant::now();
    wait_until("the majority side elects another leader", Duration::from_secs(60), || c.state("classic", 0).is_some_and(|s| s.leader >= 0 && s.leader != old && !s.isr.contains(&old)));
    let elected_in = isolated.elapsed();
    // The new leader takes writes while the old one is still reachable by the client.
    assert!(workload.wait_for_acks(20, Duration::from_secs(60)), "the new leader takes no writes during the partition");
    let before_heal = workload.acked();
    std::thread::sleep(Duration::from_secs(5));
    workload.set_faulty(false);
    let run = finish(&mut c, "classic", 1, workload);
    eprintln!("jepsen: classic: leader {old} on h{h} isolated; new leader elected after {:.1} s; {before_heal} acknowledged before healing", elected_in.as_secs_f64());
    assert_safe("classic isolated leader, unclean off", &run);
}

/// The ZooKeeper leader's host is cut off: the ensemble elects another leader, which may
/// expire every broker's session at once; controller, leaders and ISRs must recover.
#[test]
fn isolating_the_zookeeper_leaders_host_loses_nothing_and_converges() {
    let mut c = HostCluster::start(3, &settings(false));
    c.create_topic("zk-leader", 3, 3, &topic_config(false));
    let workload = Workload::start(c.bootstrap(), "zk-leader", 3, "zk-leader");
    assert!(workload.wait_for_acks(20, Duration::from_secs(60)), "no writes acknowledged before the partition");
    let zk_leader = c.zk.leader().expect("a ZooKeeper leader");
    c.hosts.isolate(zk_leader);
    workload.set_faulty(true);
    eprintln!("jepsen: zk-leader: isolating h{zk_leader}");
    std::thread::sleep(Duration::from_secs(8));
    workload.set_faulty(false);
    let run = finish(&mut c, "zk-leader", 3, workload);
    assert_safe("ZooKeeper leader's host isolated, unclean off", &run);
}

/// The one way 0.8.2 loses acknowledged writes by design: a replica that fell out of the
/// ISR becomes leader when every ISR member is gone, if unclean election is on. A follower
/// stalls (SIGSTOP, past its session timeout) until it is out of the ISR, writes are
/// acknowledged by the other two, both of those die, and the stale one wakes up. (A cut
/// between the hosts would also cut the ZooKeeper members on them apart, and could move
/// leadership to the very follower meant to fall behind.)
fn stale_follower_run(unclean: bool) -> (Run, bool) {
    let topic = if unclean { "stale-unclean" } else { "stale-clean" };
    let mut c = HostCluster::start(3, &settings(unclean));
    c.create_topic(topic, 1, 3, &topic_config(unclean));
    let workload = Workload::start(c.bootstrap(), topic, 1, topic);
    assert!(workload.wait_for_acks(20, Duration::from_secs(60)), "no writes acknowledged");
    let s = c.state(topic, 0).expect("state");
    let leader = s.leader;
    let stale = *s.isr.iter().find(|r| **r != leader).expect("a follower");
    c.broker(stale).pause();
    workload.set_faulty(true);
    wait_until(&format!("follower {stale} leaves the ISR"), Duration::from_secs(60), || c.state(topic, 0).is_some_and(|s| !s.isr.contains(&stale) && s.isr.len() == 2));
    assert!(workload.wait_for_acks(20, Duration::from_secs(60)), "the ISR of two takes no writes");
    // Both ISR members die (whichever of them leads by now).
    let isr = c.state(topic, 0).expect("state").isr;
    assert!(!isr.contains(&stale), "{stale} came back into the ISR across the cut: {isr:?}");
    for id in &isr {
        c.broker(*id).kill();
    }
    c.broker(stale).resume();
    // Unclean on: the stale follower leads. Off: nobody leads until an ISR member returns.
    let stale_led = support::eventually(Duration::from_secs(20), || c.state(topic, 0).is_some_and(|s| s.leader == stale));
    std::thread::sleep(Duration::from_secs(3));
    for id in &isr {
        c.broker(*id).restart();
    }
    workload.set_faulty(false);
    (finish(&mut c, topic, 1, workload), stale_led)
}

#[test]
fn a_stale_follower_never_leads_with_unclean_election_off() {
    let (run, stale_led) = stale_follower_run(false);
    assert!(!stale_led, "a replica outside the ISR was elected leader with unclean election off");
    assert_safe("stale follower, unclean off", &run);
}

#[test]
fn a_stale_follower_leads_and_loses_writes_with_unclean_election_on() {
    let (run, stale_led) = stale_follower_run(true);
    report("stale follower, unclean ON", &run);
    eprintln!("jepsen: stale follower, unclean ON: the stale replica was elected: {stale_led}; {} acknowledged values lost", run.lost);
    assert!(stale_led, "unclean election on: the only live replica was not elected");
    assert!(run.converged_in.is_some(), "unclean on: the cluster did not converge within {CONVERGE:?}");
}
