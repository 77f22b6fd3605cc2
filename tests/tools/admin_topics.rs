//! The admin API (`kafka08::admin`) the broker uses for auto-creation and the offsets topic,
//! against a real ZooKeeper: typed errors, what lands in ZooKeeper, concurrent creation.

use crate::support;

use kafka08::admin::{self, AdminError, ReplicaAssignment};
use kafka08::common::{parse_properties, Properties};
use kafka08::zk::json::{BrokerRegistration, PartitionState};
use kafka08::zk::{paths, ZkClient};
use std::time::Duration;
use support::ZkServer;

struct Env {
    zk: ZkClient,
    rt: tokio::runtime::Runtime,
    _server: ZkServer,
}

impl Env {
    fn start(brokers: &[i32]) -> Env {
        let server = ZkServer::start();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let zk = rt
            .block_on(ZkClient::connect(
                &server.connect_string(),
                Duration::from_secs(30),
                Duration::from_secs(30),
            ))
            .unwrap();
        for &id in brokers {
            let reg = BrokerRegistration::new("127.0.0.1", 9092 + id, -1, 1428512949385);
            rt.block_on(zk.create_ephemeral_expect_conflict(&paths::broker(id), &reg.to_bytes()))
                .unwrap();
        }
        Env {
            zk,
            rt,
            _server: server,
        }
    }

    fn get(&self, path: &str) -> Option<String> {
        self.rt
            .block_on(self.zk.get_data(path))
            .unwrap()
            .map(|(d, _)| String::from_utf8(d).unwrap())
    }
}

#[test]
fn create_topic_returns_typed_errors_the_broker_can_match() {
    let env = Env::start(&[0, 1]);
    let zk = &env.zk;
    let none = Properties::new();
    let a = env
        .rt
        .block_on(admin::create_topic(zk, "auto", 4, 2, &none))
        .unwrap();
    assert_eq!(a.len(), 4);
    assert_eq!(
        env.rt
            .block_on(admin::fetch_assignment(zk, "auto"))
            .unwrap(),
        Some(a)
    );
    assert!(env.rt.block_on(admin::topic_exists(zk, "auto")).unwrap());
    assert_eq!(
        env.get("/config/topics/auto").as_deref(),
        Some(r#"{"version":1,"config":{}}"#)
    );

    let err = env
        .rt
        .block_on(admin::create_topic(zk, "auto", 1, 1, &none))
        .unwrap_err();
    assert_eq!(err, AdminError::TopicExists("auto".into()));
    assert_eq!(err.to_string(), "Topic \"auto\" already exists.");
    assert!(matches!(
        env.rt.block_on(admin::create_topic(zk, "x", 1, 3, &none)),
        Err(AdminError::InvalidReplicationFactor(m)) if m == "replication factor: 3 larger than available brokers: 2"
    ));
    assert!(matches!(
        env.rt.block_on(admin::create_topic(zk, "x", 0, 1, &none)),
        Err(AdminError::InvalidPartitions(_))
    ));
    assert!(matches!(
        env.rt.block_on(admin::create_topic(zk, "x/y", 1, 1, &none)),
        Err(AdminError::InvalidTopic(_))
    ));
    assert!(matches!(
        env.rt.block_on(admin::create_topic(zk, "x", 1, 1, &parse_properties("retention.hours=1\n"))),
        Err(AdminError::InvalidConfig(m)) if m == "requirement failed: Unknown configuration \"retention.hours\"."
    ));
    assert!(!env.rt.block_on(admin::topic_exists(zk, "x")).unwrap());

    // The offsets topic, as the broker creates it (0.8.2 OffsetManager's overrides).
    let offsets = parse_properties("segment.bytes=104857600\ncleanup.policy=compact\n");
    env.rt
        .block_on(admin::create_topic(
            zk,
            admin::OFFSETS_TOPIC_NAME,
            50,
            2,
            &offsets,
        ))
        .unwrap();
    assert_eq!(
        env.get("/config/topics/__consumer_offsets").as_deref(),
        Some(r#"{"version":1,"config":{"cleanup.policy":"compact","segment.bytes":"104857600"}}"#)
    );
    assert_eq!(
        env.rt.block_on(admin::list_topics(zk)).unwrap(),
        vec!["__consumer_offsets".to_string(), "auto".to_string()]
    );
}

#[test]
fn concurrent_creation_of_one_topic_has_exactly_one_winner() {
    let env = Env::start(&[0]);
    let results: Vec<Result<ReplicaAssignment, AdminError>> = env.rt.block_on(async {
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let zk = env.zk.clone();
                tokio::spawn(async move {
                    admin::create_topic(&zk, "race", 2, 1, &Properties::new()).await
                })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{:?}",
        results
    );
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || r == &Err(AdminError::TopicExists("race".into()))),
        "{:?}",
        results
    );
}

#[test]
fn describe_change_config_add_partitions_and_delete_marker() {
    let env = Env::start(&[0, 1]);
    let zk = &env.zk;
    let assignment = admin::parse_replica_assignment("0:1").unwrap();
    env.rt
        .block_on(admin::create_topic_with_assignment(
            zk,
            "t",
            &assignment,
            &parse_properties("retention.ms=1000\n"),
        ))
        .unwrap();

    let d = env
        .rt
        .block_on(admin::describe_topic(zk, "t"))
        .unwrap()
        .unwrap();
    assert_eq!(d.replication_factor(), 2);
    assert_eq!(
        (d.partitions[0].leader, d.partitions[0].isr.clone()),
        (None, vec![])
    );
    assert!(d.partitions[0].is_under_replicated() && d.partitions[0].is_unavailable(&[0, 1]));
    assert_eq!(d.config.get("retention.ms"), Some("1000"));
    let state = PartitionState::new(1, 3, vec![1, 0], 2);
    env.rt
        .block_on(zk.update_persistent(&paths::partition_state("t", 0), &state.to_bytes()))
        .unwrap();
    let d = env
        .rt
        .block_on(admin::describe_topic(zk, "t"))
        .unwrap()
        .unwrap();
    assert_eq!(
        (d.partitions[0].leader, d.partitions[0].isr.clone()),
        (Some(1), vec![1, 0])
    );
    assert!(!d.partitions[0].is_unavailable(&[0, 1]));
    assert!(d.partitions[0].is_unavailable(&[0]));
    assert_eq!(
        env.rt
            .block_on(admin::describe_topic(zk, "missing"))
            .unwrap(),
        None
    );

    env.rt
        .block_on(admin::change_topic_config(
            zk,
            "t",
            &parse_properties("flush.ms=10\n"),
        ))
        .unwrap();
    assert_eq!(
        env.get("/config/topics/t").as_deref(),
        Some(r#"{"version":1,"config":{"flush.ms":"10"}}"#)
    );
    let changes = env
        .rt
        .block_on(zk.get_children(paths::CONFIG_CHANGES))
        .unwrap()
        .unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(
        env.get(&format!("{}/{}", paths::CONFIG_CHANGES, changes[0]))
            .as_deref(),
        Some("\"t\"")
    );
    assert_eq!(
        env.rt.block_on(admin::change_topic_config(
            zk,
            "missing",
            &Properties::new()
        )),
        Err(AdminError::TopicNotFound(
            "Topic \"missing\" does not exist.".into()
        ))
    );

    let current = env.rt.block_on(admin::fetch_topic_config(zk, "t")).unwrap();
    let added = env
        .rt
        .block_on(admin::add_partitions(zk, "t", 3, None, &current))
        .unwrap();
    assert_eq!(added.keys().copied().collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(
        env.rt
            .block_on(admin::fetch_assignment(zk, "t"))
            .unwrap()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        env.get("/config/topics/t").as_deref(),
        Some(r#"{"version":1,"config":{"flush.ms":"10"}}"#)
    );
    assert_eq!(
        env.rt.block_on(admin::add_partitions(
            zk,
            "missing",
            3,
            None,
            &Properties::new()
        )),
        Err(AdminError::TopicNotFound(
            "The topic missing does not exist".into()
        ))
    );

    assert!(env
        .rt
        .block_on(admin::mark_topic_for_deletion(zk, "t"))
        .unwrap());
    assert!(!env
        .rt
        .block_on(admin::mark_topic_for_deletion(zk, "t"))
        .unwrap());
    assert!(env
        .rt
        .block_on(admin::is_marked_for_deletion(zk, "t"))
        .unwrap());
    assert_eq!(env.get("/admin/delete_topics/t").as_deref(), Some(""));
}
