//! The JSON documents kafka08 stores in ZooKeeper (docs/zookeeper-layout.md), written
//! with the field order 0.8.2 was observed to write and read order-agnostically. Every
//! number is a 32-bit int (0.8's Scala parser converts numbers with `toInt`), so
//! millisecond timestamps are JSON strings.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Why a znode's content was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError(pub String);

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for JsonError {}

fn parse<'a, T: Deserialize<'a>>(what: &str, data: &'a [u8]) -> Result<T, JsonError> {
    serde_json::from_slice(data).map_err(|e| JsonError(format!("{} is not valid: {}", what, e)))
}

fn to_bytes<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("plain data serializes")
}

/// Timestamps are strings in 0.8.2 but some writers used numbers; accept both.
fn de_timestamp<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Ts {
        S(String),
        N(i64),
    }
    Ok(match Ts::deserialize(d)? {
        Ts::S(s) => s,
        Ts::N(n) => n.to_string(),
    })
}

/// `/brokers/ids/<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerRegistration {
    #[serde(default = "minus_one")]
    pub jmx_port: i32,
    #[serde(deserialize_with = "de_timestamp", default)]
    pub timestamp: String,
    pub host: String,
    #[serde(default = "one")]
    pub version: i32,
    pub port: i32,
    /// kafka08's own: the port of the broker's Prometheus endpoint (`metrics.http.port`),
    /// written only when it is on, so a broker without it registers 0.8.2's exact bytes.
    /// 0.8 readers (0.8.2's `Broker.createBroker`, kazoo, pykafka) ignore unknown fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_port: Option<i32>,
}

fn minus_one() -> i32 {
    -1
}

fn one() -> i32 {
    1
}

impl BrokerRegistration {
    pub fn new(host: &str, port: i32, jmx_port: i32, timestamp_ms: i64) -> BrokerRegistration {
        BrokerRegistration { jmx_port, timestamp: timestamp_ms.to_string(), host: host.to_string(), version: 1, port, metrics_port: None }
    }

    pub fn with_metrics_port(mut self, port: Option<u16>) -> BrokerRegistration {
        self.metrics_port = port.map(i32::from);
        self
    }
    pub fn to_bytes(&self) -> Vec<u8> {
        to_bytes(self)
    }
    pub fn parse(data: &[u8]) -> Result<BrokerRegistration, JsonError> {
        parse("broker registration", data)
    }
}

/// `/brokers/topics/<topic>`: partition id (decimal string) → replica list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicAssignment {
    #[serde(default = "one")]
    pub version: i32,
    #[serde(serialize_with = "ser_partitions", deserialize_with = "de_partitions")]
    pub partitions: BTreeMap<i32, Vec<i32>>,
}

fn ser_partitions<S: serde::Serializer>(m: &BTreeMap<i32, Vec<i32>>, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(m.len()))?;
    for (k, v) in m {
        map.serialize_entry(&k.to_string(), v)?;
    }
    map.end()
}

fn de_partitions<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<i32, Vec<i32>>, D::Error> {
    let raw: BTreeMap<String, Vec<i32>> = BTreeMap::deserialize(d)?;
    raw.into_iter()
        .map(|(k, v)| k.parse::<i32>().map(|p| (p, v)).map_err(|_| serde::de::Error::custom(format!("partition id {:?} is not an int", k))))
        .collect()
}

impl TopicAssignment {
    pub fn new(partitions: BTreeMap<i32, Vec<i32>>) -> TopicAssignment {
        TopicAssignment { version: 1, partitions }
    }
    pub fn to_bytes(&self) -> Vec<u8> {
        to_bytes(self)
    }
    pub fn parse(data: &[u8]) -> Result<TopicAssignment, JsonError> {
        parse("topic assignment", data)
    }
}

/// `/brokers/topics/<t>/partitions/<p>/state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionState {
    pub controller_epoch: i32,
    pub leader: i32,
    #[serde(default = "one")]
    pub version: i32,
    pub leader_epoch: i32,
    pub isr: Vec<i32>,
}

impl PartitionState {
    pub fn new(leader: i32, leader_epoch: i32, isr: Vec<i32>, controller_epoch: i32) -> PartitionState {
        PartitionState { controller_epoch, leader, version: 1, leader_epoch, isr }
    }
    pub fn to_bytes(&self) -> Vec<u8> {
        to_bytes(self)
    }
    pub fn parse(data: &[u8]) -> Result<PartitionState, JsonError> {
        parse("partition state", data)
    }
}

/// `/controller`. Readers also accept a bare integer (a pre-JSON format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControllerRegistration {
    #[serde(default = "one")]
    pub version: i32,
    pub brokerid: i32,
    #[serde(deserialize_with = "de_timestamp", default)]
    pub timestamp: String,
}

impl ControllerRegistration {
    pub fn new(broker_id: i32, timestamp_ms: i64) -> ControllerRegistration {
        ControllerRegistration { version: 1, brokerid: broker_id, timestamp: timestamp_ms.to_string() }
    }
    pub fn to_bytes(&self) -> Vec<u8> {
        to_bytes(self)
    }
    pub fn parse(data: &[u8]) -> Result<ControllerRegistration, JsonError> {
        if let Ok(id) = std::str::from_utf8(data).unwrap_or("").trim().parse::<i32>() {
            return Ok(ControllerRegistration { version: 1, brokerid: id, timestamp: String::new() });
        }
        parse("controller registration", data)
    }
}

/// `/controller_epoch`: decimal text.
pub fn parse_int(what: &str, data: &[u8]) -> Result<i64, JsonError> {
    std::str::from_utf8(data)
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .ok_or_else(|| JsonError(format!("{} is not a decimal number", what)))
}

/// `/config/topics/<topic>`: overrides only, values always strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TopicConfig {
    #[serde(default = "one")]
    pub version: i32,
    #[serde(default)]
    pub config: BTreeMap<String, String>,
}

impl TopicConfig {
    pub fn new(config: BTreeMap<String, String>) -> TopicConfig {
        TopicConfig { version: 1, config }
    }
    pub fn to_bytes(&self) -> Vec<u8> {
        to_bytes(self)
    }
    pub fn parse(data: &[u8]) -> Result<TopicConfig, JsonError> {
        let c: TopicConfig = parse("topic config", data)?;
        if c.version != 1 {
            return Err(JsonError(format!("topic config has unknown version {}", c.version)));
        }
        Ok(c)
    }
}

/// `/config/changes/config_change_N`: the topic as a JSON string literal.
pub fn config_change_notification(topic: &str) -> Vec<u8> {
    to_bytes(&topic)
}

/// 0.8 readers strip the first and last character; accept a JSON string or a bare name.
pub fn parse_config_change_notification(data: &[u8]) -> Option<String> {
    if let Ok(s) = serde_json::from_slice::<String>(data) {
        return Some(s);
    }
    let s = std::str::from_utf8(data).ok()?.trim();
    (!s.is_empty()).then(|| s.trim_matches('"').to_string())
}

/// `/consumers/<group>/ids/<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerRegistration {
    #[serde(default = "one")]
    pub version: i32,
    #[serde(default)]
    pub subscription: BTreeMap<String, i32>,
    #[serde(default = "static_pattern")]
    pub pattern: String,
    #[serde(deserialize_with = "de_timestamp", default)]
    pub timestamp: String,
}

fn static_pattern() -> String {
    "static".to_string()
}

impl ConsumerRegistration {
    pub fn to_bytes(&self) -> Vec<u8> {
        to_bytes(self)
    }
    /// `Err` for data that is not the Java layout (pykafka writes a bare topic name): the
    /// caller skips such members rather than crashing.
    pub fn parse(data: &[u8]) -> Result<ConsumerRegistration, JsonError> {
        parse("consumer registration", data)
    }
}

/// One entry of `/admin/reassign_partitions` or `/admin/preferred_replica_election`
/// (without replicas).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionEntry {
    pub topic: String,
    pub partition: i32,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub replicas: Option<Vec<i32>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionList {
    #[serde(default = "one")]
    pub version: i32,
    pub partitions: Vec<PartitionEntry>,
}

impl PartitionList {
    pub fn to_bytes(&self) -> Vec<u8> {
        to_bytes(self)
    }
    pub fn parse(data: &[u8]) -> Result<PartitionList, JsonError> {
        parse("partition list", data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_registration_matches_082_bytes() {
        let b = BrokerRegistration::new("kafka1", 9092, -1, 1428512949385);
        assert_eq!(
            String::from_utf8(b.to_bytes()).unwrap(),
            r#"{"jmx_port":-1,"timestamp":"1428512949385","host":"kafka1","version":1,"port":9092}"#
        );
        // 0.8.0 layout: spaces, sorted keys.
        let old = br#"{ "host":"h1", "jmx_port":-1, "port":9092, "timestamp":"1380000000000", "version":1 }"#;
        let p = BrokerRegistration::parse(old).unwrap();
        assert_eq!((p.host.as_str(), p.port, p.timestamp.as_str()), ("h1", 9092, "1380000000000"));
        assert!(BrokerRegistration::parse(b"not json").is_err());
        // The metrics port, when on, follows 0.8.2's fields and reads back.
        let m = BrokerRegistration::new("kafka1", 9092, -1, 1428512949385).with_metrics_port(Some(7071));
        let text = String::from_utf8(m.to_bytes()).unwrap();
        assert_eq!(text, r#"{"jmx_port":-1,"timestamp":"1428512949385","host":"kafka1","version":1,"port":9092,"metrics_port":7071}"#);
        assert_eq!(BrokerRegistration::parse(text.as_bytes()).unwrap().metrics_port, Some(7071));
        assert_eq!(p.metrics_port, None);
    }

    #[test]
    fn partition_state_and_assignment_match_082_bytes() {
        let s = PartitionState::new(1, 7, vec![1, 2], 3);
        assert_eq!(
            String::from_utf8(s.to_bytes()).unwrap(),
            r#"{"controller_epoch":3,"leader":1,"version":1,"leader_epoch":7,"isr":[1,2]}"#
        );
        let a = TopicAssignment::parse(br#"{"version":1,"partitions":{"0":[2,1],"1":[1,2],"10":[2,1]}}"#).unwrap();
        assert_eq!(a.partitions[&10], vec![2, 1]);
        assert_eq!(String::from_utf8(TopicAssignment::new(a.partitions.clone()).to_bytes()).unwrap(), r#"{"version":1,"partitions":{"0":[2,1],"1":[1,2],"10":[2,1]}}"#);
        assert!(TopicAssignment::parse(br#"{"version":1,"partitions":{"x":[1]}}"#).is_err());
    }

    #[test]
    fn controller_and_config_documents() {
        let c = ControllerRegistration::new(1, 1428512949555);
        assert_eq!(String::from_utf8(c.to_bytes()).unwrap(), r#"{"version":1,"brokerid":1,"timestamp":"1428512949555"}"#);
        assert_eq!(ControllerRegistration::parse(b"2").unwrap().brokerid, 2);
        let mut m = BTreeMap::new();
        m.insert("retention.ms".to_string(), "86400000".to_string());
        assert_eq!(String::from_utf8(TopicConfig::new(m).to_bytes()).unwrap(), r#"{"version":1,"config":{"retention.ms":"86400000"}}"#);
        assert_eq!(TopicConfig::new(BTreeMap::new()).to_bytes(), br#"{"version":1,"config":{}}"#);
        assert_eq!(config_change_notification("foo"), b"\"foo\"");
        assert_eq!(parse_config_change_notification(b"\"foo\"").as_deref(), Some("foo"));
        assert_eq!(parse_int("epoch", b"7").unwrap(), 7);
    }

    #[test]
    fn consumer_registration_tolerates_foreign_data() {
        let c = ConsumerRegistration::parse(br#"{"version":1,"subscription":{"foo":2},"pattern":"static","timestamp":"1428512949666"}"#).unwrap();
        assert_eq!(c.subscription["foo"], 2);
        assert!(ConsumerRegistration::parse(b"mytopic").is_err());
    }
}
