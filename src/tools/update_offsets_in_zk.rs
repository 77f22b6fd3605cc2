//! `kafka.tools.UpdateOffsetsInZK earliest|latest consumer.properties topic`: set the
//! group's ZooKeeper offset of every partition of a topic to the leader's earliest or latest
//! offset (the group and ZooKeeper come from the consumer properties), printing 0.8.2's
//! `updating partition N with new offset: O` lines.

use crate::api::{EARLIEST_TIME, LATEST_TIME};
use crate::common::Properties;
use crate::consumer::simple::SimpleConsumer;
use crate::consumer::zk::ConsumerConfig;
use crate::zk::{paths, QueryError, ZkClient};
use std::time::Duration;

/// 0.8.2's usage line (`UpdateOffsetsInZK.getClass.getName` names the Scala object, `$` and all).
pub const USAGE: &str = "USAGE: kafka.tools.UpdateOffsetsInZK$ [earliest | latest] consumer.properties topic";

pub fn main(args: &[String]) -> i32 {
    // No option parser in 0.8.2: three positional words. `--help` and unknown flags are
    // answered the way every other tool answers them.
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{}", USAGE);
        return 0;
    }
    if let Some(flag) = args.iter().find(|a| a.starts_with("--") && a.len() > 2) {
        let name = flag[2..].split('=').next().unwrap_or("");
        eprintln!("{} is not a recognized option", name);
        eprintln!("{}", USAGE);
        return 1;
    }
    if args.len() < 3 {
        println!("{}", USAGE);
        return 1;
    }
    let time = match args[0].as_str() {
        "earliest" => EARLIEST_TIME,
        "latest" => LATEST_TIME,
        _ => {
            println!("{}", USAGE);
            return 1;
        }
    };
    match run(time, &args[1], &args[2]) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{}", e);
            1
        }
    }
}

fn run(time: i64, config_file: &str, topic: &str) -> Result<(), String> {
    let props = Properties::load(std::path::Path::new(config_file)).map_err(|e| format!("Error: {}", e))?;
    let config = ConsumerConfig::from_properties(&props).map_err(|e| format!("Error: {}", e))?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(async {
        let zk = ZkClient::connect(
            &config.zookeeper_connect,
            Duration::from_millis(config.zookeeper_session_timeout_ms),
            Duration::from_millis(config.zookeeper_connection_timeout_ms),
        )
        .await
        .map_err(|e| format!("Error: cannot connect to ZooKeeper at {}: {}", config.zookeeper_connect, e))?;
        let zk_err = |e: crate::zk::ZkError| format!("Error: ZooKeeper: {}", e);
        let assignment = match zk.topic_assignment(topic).await {
            Ok(Some(a)) => a,
            Ok(None) => return Err(format!("Can't find topic {}", topic)),
            Err(QueryError::Corrupt(why)) => return Err(format!("Error: bad JSON in {}", why)),
            Err(QueryError::Zk(e)) => return Err(zk_err(e)),
        };
        let mut updated = 0;
        // BTreeMap keys: partitions in ascending order, as 0.8.2 sorted them.
        for &partition in assignment.keys() {
            let leader = zk.partition_leader(topic, partition).await.map_err(|e| format!("Error: ZooKeeper: {}", e))?;
            let Some(leader) = leader else {
                return Err(format!("Broker None is unavailable. Cannot issue getOffsetsBefore request (partition {} of {} has no leader)", partition, topic));
            };
            let registration = match zk.broker(leader).await {
                Ok(b) => b,
                Err(QueryError::Corrupt(_)) => None,
                Err(QueryError::Zk(e)) => return Err(zk_err(e)),
            };
            let Some(broker) = registration else {
                return Err(format!("Broker information for broker id {} does not exist in ZK", leader));
            };
            let mut consumer = SimpleConsumer::new(broker.host.clone(), broker.port as u16, Duration::from_millis(10_000), 100 * 1024, "");
            let offsets = consumer
                .offsets_before(topic, partition, time, 1)
                .await
                .map_err(|e| format!("Error: cannot get the offset of partition {} of {} from broker {}: {}", partition, topic, leader, e))?;
            let Some(offset) = offsets.first().copied() else {
                return Err(format!("Error: broker {} returned no offset for partition {} of {}", leader, partition, topic));
            };
            println!("updating partition {} with new offset: {}", partition, offset);
            zk.update_persistent(&paths::consumer_offset(&config.group_id, topic, partition), offset.to_string().as_bytes()).await.map_err(zk_err)?;
            updated += 1;
        }
        println!("updated the offset for {} partitions", updated);
        Ok(())
    })
}
