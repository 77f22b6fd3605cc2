//! `offsets.storage=kafka` against a real ZooKeeper and a scripted broker (the broker side
//! of Kafka-stored offsets is built elsewhere): the consumer finds the coordinator with
//! ConsumerMetadata, reads offsets with OffsetFetch v1 (retrying "load in progress"),
//! starts fetching there, commits with OffsetCommit v1, also writes ZooKeeper with
//! `dual.commit.enabled`, and a dual fetch takes the larger of the two.

use crate::support;

use bytes::BytesMut;
use crate::support::hlc::*;
use kafka08::api::{self, Broker, Request};
use kafka08::common::ErrorCode;
use kafka08::consumer::zk::{ConsumerError, KafkaStream, ZookeeperConsumerConnector};
use kafka08::message::{encode_messages, CompressionCodec, Message};
use kafka08::zk::json::{BrokerRegistration, TopicAssignment};
use kafka08::zk::paths;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::ZkServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const TOPIC: &str = "kt";
const LOG_END: i64 = 8;

#[derive(Default)]
struct FakeState {
    /// Kafka-stored offsets by (group, partition).
    committed: HashMap<(String, i32), i64>,
    /// What the broker was asked, in order.
    events: Vec<String>,
    /// Answer the next OffsetFetch with OffsetsLoadInProgress (14).
    loading_once: bool,
}

fn respond(request: Request, port: u16, state: &Mutex<FakeState>, cid: i32) -> Option<bytes::Bytes> {
    let me = Broker::new(1, "127.0.0.1", port as i32);
    let mut st = state.lock().unwrap();
    let frame = match request {
        Request::Metadata(_) => api::encode_response(
            cid,
            &api::MetadataResponse {
                brokers: vec![me],
                topics: vec![api::TopicMetadata {
                    error_code: ErrorCode::NoError,
                    topic: TOPIC.into(),
                    partitions: vec![api::PartitionMetadata {
                        error_code: ErrorCode::NoError,
                        partition: 0,
                        leader: 1,
                        replicas: vec![1],
                        isr: vec![1],
                    }],
                }],
            },
        ),
        Request::ConsumerMetadata(_) => {
            st.events.push("ConsumerMetadata".into());
            api::encode_response(cid, &api::ConsumerMetadataResponse::found(me))
        }
        Request::OffsetFetch(r) => {
            st.events.push(format!("OffsetFetch {}", r.group));
            let loading = std::mem::take(&mut st.loading_once);
            let entries: Vec<(&str, api::OffsetFetchResponsePartition)> = r
                .partitions()
                .into_iter()
                .map(|(topic, partition)| {
                    let offset = st.committed.get(&(r.group.clone(), partition)).copied().unwrap_or(-1);
                    let error_code = if loading { ErrorCode::OffsetsLoadInProgress } else { ErrorCode::NoError };
                    (
                        topic,
                        api::OffsetFetchResponsePartition {
                            partition,
                            offset,
                            metadata: String::new(),
                            error_code,
                        },
                    )
                })
                .collect();
            api::encode_response(cid, &api::OffsetFetchResponse::from_partitions(entries))
        }
        Request::OffsetCommit(r) => {
            let mut entries = Vec::new();
            for (topic, p) in r.partitions() {
                st.events.push(format!(
                    "OffsetCommit {} gen={} id={:?} {}/{}={} ts={}",
                    r.group, r.generation_id, r.consumer_id, topic, p.partition, p.offset, p.timestamp
                ));
                st.committed.insert((r.group.clone(), p.partition), p.offset);
                entries.push((
                    topic.to_string(),
                    api::OffsetCommitResponsePartition { partition: p.partition, error_code: ErrorCode::NoError },
                ));
            }
            api::encode_response(cid, &api::OffsetCommitResponse::from_partitions(entries))
        }
        Request::Offsets(r) => {
            let entries: Vec<(String, api::OffsetsResponsePartition)> = r
                .partitions()
                .into_iter()
                .map(|(t, p)| {
                    let o = if p.time == api::EARLIEST_TIME { 0 } else { LOG_END };
                    (
                        t.to_string(),
                        api::OffsetsResponsePartition {
                            partition: p.partition,
                            error_code: ErrorCode::NoError,
                            offsets: vec![o],
                        },
                    )
                })
                .collect();
            api::encode_response(cid, &api::OffsetsResponse::from_partitions(entries))
        }
        Request::Fetch(r) => {
            let entries: Vec<(String, api::FetchResponsePartition)> = r
                .partitions()
                .into_iter()
                .map(|(t, p)| {
                    st.events.push(format!("Fetch {}/{}@{}", t, p.partition, p.fetch_offset));
                    let from = p.fetch_offset.clamp(0, LOG_END);
                    let msgs: Vec<Message> = (from..LOG_END)
                        .map(|o| Message::new(None, Some(format!("k-{}", o).as_bytes()), CompressionCodec::None))
                        .collect();
                    let set = encode_messages(CompressionCodec::None, &msgs, from);
                    (
                        t.to_string(),
                        api::FetchResponsePartition {
                            partition: p.partition,
                            error_code: ErrorCode::NoError,
                            high_watermark: LOG_END,
                            message_set: set,
                        },
                    )
                })
                .collect();
            api::encode_response(cid, &api::FetchResponse::from_partitions(entries))
        }
        _ => return None,
    };
    frame.ok()
}

/// A broker that serves one topic with one partition (offsets 0..8) and stores offsets.
async fn fake_broker(state: Arc<Mutex<FakeState>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let state = state.clone();
            tokio::spawn(async move {
                let mut buf = BytesMut::new();
                loop {
                    while let Ok(Some(payload)) = api::split_frame(&mut buf, 1 << 20) {
                        let Ok((header, request)) = api::decode_request(payload) else {
                            return;
                        };
                        let is_fetch = matches!(request, Request::Fetch(_));
                        if matches!(request, Request::OffsetFetch(_) | Request::OffsetCommit(_)) {
                            state.lock().unwrap().events.push(format!("version {}", header.api_version));
                        }
                        let Some(frame) = respond(request, port, &state, header.correlation_id) else {
                            return;
                        };
                        if is_fetch {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            // a long poll, shortened
                        }
                        if sock.write_all(&frame).await.is_err() {
                            return;
                        }
                    }
                    match sock.read_buf(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                }
            });
        }
    });
    port
}

async fn drain(stream: &mut KafkaStream) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    loop {
        match stream.next().await {
            Some(Ok(m)) => {
                out.push((m.offset, String::from_utf8_lossy(m.value.as_deref().unwrap_or_default()).into_owned()))
            }
            Some(Err(ConsumerError::Timeout)) => return out,
            other => panic!("{:?}", other),
        }
    }
}

async fn consume_once(zk: &str, group: &str, extra: &[(&str, &str)]) -> Vec<(i64, String)> {
    let mut pairs =
        vec![("offsets.storage", "kafka"), ("consumer.timeout.ms", "1000"), ("offsets.channel.backoff.ms", "100")];
    pairs.extend_from_slice(extra);
    let c = ZookeeperConsumerConnector::create(config(zk, group, &pairs)).await.unwrap();
    let mut s = c
        .create_message_streams(&BTreeMap::from([(TOPIC.to_string(), 1)]))
        .await
        .unwrap()
        .remove(TOPIC)
        .unwrap()
        .remove(0);
    let got = drain(&mut s).await;
    c.commit_offsets().await.unwrap();
    c.shutdown().await;
    got
}

#[test]
fn kafka_stored_offsets_through_the_coordinator_with_dual_commit() {
    let _serial = serial();
    let zk_server = ZkServer::start();
    let zk_connect = zk_server.connect_string();
    let rt = runtime();
    rt.block_on(async {
        let state = Arc::new(Mutex::new(FakeState { loading_once: true, ..FakeState::default() }));
        state.lock().unwrap().committed.insert(("g".into(), 0), 5);
        let port = fake_broker(state.clone()).await;
        let zk = zk_client(&zk_connect).await;
        zk.create_ephemeral_expect_conflict(
            &paths::broker(1),
            &BrokerRegistration::new("127.0.0.1", port as i32, -1, 1).to_bytes(),
        )
        .await
        .unwrap();
        zk.create_persistent(&paths::topic(TOPIC), &TopicAssignment::new(BTreeMap::from([(0, vec![1])])).to_bytes())
            .await
            .unwrap();

        // Starts at the Kafka-stored offset 5 (after one "load in progress").
        let got = consume_once(&zk_connect, "g", &[]).await;
        assert_eq!(got, vec![(5, "k-5".into()), (6, "k-6".into()), (7, "k-7".into())]);
        let events = state.lock().unwrap().events.clone();
        assert!(events.iter().any(|e| e == "ConsumerMetadata"), "{:?}", events);
        assert_eq!(
            events.iter().filter(|e| e.as_str() == "OffsetFetch g").count(),
            2,
            "retried after load in progress: {:?}",
            events
        );
        assert!(events.iter().any(|e| e == "Fetch kt/0@5"), "{:?}", events);
        assert!(events.iter().filter(|e| e.starts_with("version")).all(|e| e == "version 1"), "v1 only: {:?}", events);
        assert!(
            events.iter().any(|e| e == "OffsetCommit g gen=-1 id=\"\" kt/0=8 ts=-1"),
            "OffsetCommit v1 with 0.8.2's defaults: {:?}",
            events
        );
        // Dual commit: ZooKeeper has it too.
        assert_eq!(committed(&zk, "g", TOPIC, 0).await, Some(8));

        // The Kafka offset goes back to 3; ZooKeeper still says 8: a dual fetch takes 8...
        state.lock().unwrap().committed.insert(("g".into(), 0), 3);
        assert_eq!(consume_once(&zk_connect, "g", &[]).await, vec![]);
        // ...and without dual commit only Kafka counts (that consumer committed 8 back).
        state.lock().unwrap().committed.insert(("g".into(), 0), 3);
        let got = consume_once(&zk_connect, "g", &[("dual.commit.enabled", "false")]).await;
        assert_eq!(got.iter().map(|(o, _)| *o).collect::<Vec<_>>(), vec![3, 4, 5, 6, 7]);
    });
}

/// The same through real brokers: offsets committed to the broker's `__consumer_offsets`
/// outlive a restart of that broker (they are read back from the log, not from memory).
#[test]
fn kafka_stored_offsets_on_real_brokers_survive_a_restart() {
    use support::cluster::{try_call, Cluster};
    let _serial = serial();
    let mut cluster =
        Cluster::start(1, &[("offsets.topic.replication.factor", "1"), ("offsets.topic.num.partitions", "2")]);
    let coordinating = |cluster: &Cluster| {
        support::wait_until("the broker coordinates group real", Duration::from_secs(30), || {
            try_call(&cluster.bootstrap(), &api::ConsumerMetadataRequest { group: "real".into() })
                .is_some_and(|r| r.error_code == ErrorCode::NoError)
        })
    };
    coordinating(&cluster);
    cluster.create_topic("kst", 1, 1);
    produce(&cluster.bootstrap(), "kst", &[0], &values("v", 0..6));
    let zk_connect = cluster.zk.connect_string();
    let kafka_only = [
        ("offsets.storage", "kafka"),
        ("dual.commit.enabled", "false"),
        ("consumer.timeout.ms", "1500"),
        ("consumer.id", "a"),
    ];
    let rt = runtime();
    rt.block_on(async {
        let zk = zk_client(&zk_connect).await;
        let a = ZookeeperConsumerConnector::create(config(&zk_connect, "real", &kafka_only)).await.unwrap();
        let mut s = a
            .create_message_streams(&BTreeMap::from([("kst".to_string(), 1)]))
            .await
            .unwrap()
            .remove("kst")
            .unwrap()
            .remove(0);
        let mut first = Vec::new();
        tokio::time::timeout(Duration::from_secs(60), async {
            while first.len() < 4 {
                match s.next().await {
                    Some(Ok(m)) => first.push(m.offset),
                    Some(Err(ConsumerError::Timeout)) => {}
                    other => panic!("{:?}", other),
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("only {first:?} of the first 4 messages within 60 s"));
        a.commit_offsets().await.unwrap();
        a.shutdown().await;
        assert_eq!(first, vec![0, 1, 2, 3]);
        assert_eq!(
            committed(&zk, "real", "kst", 0).await,
            None,
            "kafka storage without dual commit leaves ZooKeeper alone"
        );
    });

    // The coordinator goes away and comes back: what it knows now comes from its log.
    cluster.brokers[0].restart();
    cluster.wait_for_leaders("kst", 1);
    coordinating(&cluster);
    rt.block_on(async {

        let mut b_config = kafka_only;
        b_config[3] = ("consumer.id", "b");
        let b = ZookeeperConsumerConnector::create(config(&zk_connect, "real", &b_config)).await.unwrap();
        let mut s = b
            .create_message_streams(&BTreeMap::from([("kst".to_string(), 1)]))
            .await
            .unwrap()
            .remove("kst")
            .unwrap()
            .remove(0);
        let rest: Vec<i64> = drain(&mut s).await.iter().map(|(o, _)| *o).collect();
        assert_eq!(rest, vec![4, 5], "resumed at the Kafka-stored offset");
        b.shutdown().await;
    });
}
