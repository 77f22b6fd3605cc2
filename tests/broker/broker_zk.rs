//! A broker's ZooKeeper contract: the persistent paths and the chroot it creates, its
//! ephemeral registration in 0.8.2's JSON, refusal of a duplicate broker id, clean
//! deregistration on SIGTERM, re-registration after its session expired.

use crate::support;

use kafka08::zk::{json, ZkClient};
use std::time::Duration;
use support::kafka::KafkaBroker;
use support::{wait_until, ZkServer};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

async fn zk(connect: &str) -> ZkClient {
    ZkClient::connect(connect, Duration::from_secs(6), Duration::from_secs(10)).await.unwrap()
}

#[test]
fn broker_registers_in_082_shape_under_a_chroot_it_creates() {
    let zks = ZkServer::start();
    let chrooted = format!("{}/kafka08/test", zks.connect_string());
    let mut b = KafkaBroker::start(7, &chrooted, &[]);
    let rt = rt();
    rt.block_on(async {
        let z = zk(&chrooted).await;
        for p in ["/consumers", "/brokers/ids", "/brokers/topics", "/config/changes", "/config/topics", "/admin/delete_topics"] {
            let stat = z.exists(p).await.unwrap().unwrap_or_else(|| panic!("{} missing", p));
            assert_eq!(stat.ephemeral_owner, 0, "{} must be persistent", p);
        }
        let (data, stat) = z.get_data("/brokers/ids/7").await.unwrap().expect("registered");
        assert_ne!(stat.ephemeral_owner, 0, "registration must be ephemeral");
        let text = String::from_utf8(data.clone()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["version"], 1);
        assert_eq!(v["host"], "127.0.0.1");
        assert_eq!(v["port"], b.port as i64);
        assert_eq!(v["jmx_port"], -1);
        assert!(v["timestamp"].is_string(), "timestamp must be a JSON string: {}", text);
        assert_eq!(v.as_object().unwrap().len(), 5, "no fields beyond 0.8.2's: {}", text);
        let reg = json::BrokerRegistration::parse(&data).unwrap();
        assert_eq!(reg.port, b.port as i32);
    });
    // SIGTERM: exit 0, registration gone at once (not after the session timeout).
    assert_eq!(b.stop(), Some(0));
    rt.block_on(async {
        let z = zk(&chrooted).await;
        assert!(z.get_data("/brokers/ids/7").await.unwrap().is_none());
    });
    assert!(b.log().contains("shut down completed"));
}

#[test]
fn a_broker_id_taken_by_another_address_refuses_to_start() {
    let zks = ZkServer::start();
    let _first = KafkaBroker::start(1, &zks.connect_string(), &[]);
    let dir = support::TempDir::new("dup");
    let port = support::free_port();
    let props = dir.path().join("server.properties");
    std::fs::write(
        &props,
        format!("broker.id=1\nport={}\nhost.name=127.0.0.1\nlog.dirs={}\nzookeeper.connect={}\n", port, dir.path().join("data").display(), zks.connect_string()),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kafka08"))
        .arg("kafka.Kafka")
        .arg(&props)
        .env("KAFKA08_EXIT_WITH_PARENT", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("A broker is already registered on the path /brokers/ids/1"), "{}", err);
}

#[test]
fn a_bad_config_value_refuses_start_naming_the_key() {
    let dir = support::TempDir::new("badcfg");
    let props = dir.path().join("server.properties");
    std::fs::write(&props, "broker.id=0\nzookeeper.connect=127.0.0.1:1\nnum.partitions=abc\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kafka08")).arg("kafka.Kafka").arg(&props).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("num.partitions"));
}

#[test]
fn broker_reregisters_after_its_session_expires() {
    let zks = ZkServer::start();
    let b = KafkaBroker::start(3, &zks.connect_string(), &[]);
    let rt = rt();
    let z = rt.block_on(zk(&zks.connect_string()));
    let owner = rt.block_on(z.get_data("/brokers/ids/3")).unwrap().unwrap().1.ephemeral_owner;
    // Freeze the broker past its 6 s session timeout: ZooKeeper expires the session and
    // drops the registration.
    b.pause();
    wait_until("registration expires", Duration::from_secs(30), || rt.block_on(z.get_data("/brokers/ids/3")).unwrap().is_none());
    b.resume();
    wait_until("broker re-registers with a new session", Duration::from_secs(30), || {
        matches!(rt.block_on(z.get_data("/brokers/ids/3")).unwrap(), Some((_, stat)) if stat.ephemeral_owner != owner)
    });
    // And it serves: ApiVersions is answered.
    let mut s = std::net::TcpStream::connect(b.addr()).unwrap();
    use std::io::{Read, Write};
    s.write_all(&[0, 0, 0, 0x10, 0, 0x12, 0, 0, 0, 0, 0, 7, 0, 6, b'c', b'l', b'i', b'e', b'n', b't']).unwrap();
    let mut head = [0u8; 8];
    s.read_exact(&mut head).unwrap();
    assert_eq!(&head[4..8], &[0, 0, 0, 7]);
}
