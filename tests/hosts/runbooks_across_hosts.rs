//! Runbooks across hosts, each executed under an acks=-1 workload that must lose nothing:
//! a rolling restart of every broker (controlled shutdown through
//! `bin/kafka-server-stop.sh`, one at a time, waiting for full ISRs in between), and a dead
//! machine replaced by a new one (new address, empty disk) under the same broker id.

use crate::support;

use std::time::Duration;
use support::hosts::HostCluster;
use support::jepsen::{assert_safe, finish, settings, topic_config, Workload, CONVERGE};

#[test]
fn rolling_restart_across_hosts_loses_no_acknowledged_write() {
    let mut extra = settings(false);
    extra.retain(|(k, _)| *k != "controlled.shutdown.enable");
    extra.push(("controlled.shutdown.enable", "true"));
    let mut c = HostCluster::start(3, &extra);
    c.create_topic("rolling", 3, 3, &topic_config(false));
    let workload = Workload::start(c.bootstrap(), "rolling", 3, "rolling");
    assert!(workload.wait_for_acks(20, Duration::from_secs(60)), "no writes acknowledged before the restarts");
    workload.set_faulty(true);
    for id in 1..=3 {
        assert_eq!(c.broker(id).stop_with_script(), Some(0), "broker {id} exits cleanly after controlled shutdown");
        assert!(workload.wait_for_acks(20, Duration::from_secs(60)), "broker {id} down: two replicas of three still take acks=-1 writes");
        c.broker(id).restart();
        let took = c.wait_converged("rolling", 3, 3, CONVERGE);
        assert!(took.is_some(), "broker {id} back: ISRs not full within {CONVERGE:?}:\n{}", c.describe("rolling", 3));
        eprintln!("rolling restart: broker {id} back in every ISR {:.1} s after its start", took.unwrap_or_default().as_secs_f64());
    }
    workload.set_faulty(false);
    let run = finish(&mut c, "rolling", 3, workload);
    assert_safe("rolling restart across hosts", &run);
}

#[test]
fn a_dead_host_is_replaced_by_a_new_one_under_the_same_broker_id() {
    let mut c = HostCluster::start(3, &settings(false));
    c.create_topic("replace", 3, 3, &topic_config(false));
    let workload = Workload::start(c.bootstrap(), "replace", 3, "replace");
    assert!(workload.wait_for_acks(20, Duration::from_secs(60)), "no writes acknowledged before the host dies");
    // The machine of broker 3 dies, with the ZooKeeper member it carried.
    let dead = c.host_of(3);
    let old_addr = c.hosts.host(dead).addr.clone();
    workload.set_faulty(true);
    c.hosts.remove(dead);
    support::wait_until("broker 3 leaves every ISR", Duration::from_secs(60), || (0..3).all(|p| c.state("replace", p).is_some_and(|s| s.leader >= 0 && !s.isr.contains(&3))));
    assert!(workload.wait_for_acks(20, Duration::from_secs(60)), "the two survivors take acks=-1 writes");
    // A new machine, a new address, an empty disk, the same broker.id.
    let new = c.hosts.add();
    assert_ne!(new.addr, old_addr, "the new machine has an address of its own");
    c.start_broker_on(new.n, 3);
    let want = format!("{}:9092", new.addr);
    support::wait_until("broker 3 registers the new machine's address", Duration::from_secs(60), || c.registered_host(3).as_deref() == Some(want.as_str()));
    let took = c.wait_converged("replace", 3, 3, CONVERGE);
    assert!(took.is_some(), "the new broker 3 did not join every ISR within {CONVERGE:?}:\n{}", c.describe("replace", 3));
    workload.set_faulty(false);
    eprintln!("replace host: broker 3 on h{} ({}) in every ISR {:.1} s after its start", new.n, new.addr, took.unwrap_or_default().as_secs_f64());
    // Clients learn the new address from any broker's metadata.
    let md = support::wire::request(&c.bootstrap()[0], 0, &kafka08::api::MetadataRequest { topics: vec![] }, Duration::from_secs(10)).expect("metadata");
    assert!(md.brokers.iter().any(|b| b.id == 3 && format!("{}:{}", b.host, b.port) == want), "metadata lists broker 3 at {want}: {:?}", md.brokers);
    let run = finish(&mut c, "replace", 3, workload);
    assert_safe("dead host replaced under the same broker id", &run);
}
