//! Broker metrics (0.8.2 `kafka.metrics`, which published Yammer metrics over JMX),
//! rendered as Prometheus text under the names the Prometheus JMX exporter gives 0.8.2's
//! MBeans, so dashboards built on the exporter work unchanged.
//!
//! # Names
//! The exporter's Kafka example rules (`example_configs/kafka-2_0_0.yml`, lower-cased
//! output names) applied to 0.8.2's beans give:
//!
//! | 0.8.2 bean (attribute) | rendered |
//! |---|---|
//! | `kafka.server:type=BrokerTopicMetrics,name=MessagesInPerSec[,topic=T]` (Count) | counter `kafka_server_brokertopicmetrics_messagesin_total[{topic}]` |
//! | `kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions` (Value) | gauge `kafka_server_replicamanager_underreplicatedpartitions` |
//! | `kafka.server:type=ReplicaManager,name=IsrShrinksPerSec` (Count) | counter `kafka_server_replicamanager_isrshrinks_total` |
//! | `kafka.network:type=RequestMetrics,name=TotalTimeMs,request=R` (Count, NthPercentile) | `kafka_network_requestmetrics_totaltimems_count{request}`, gauge `kafka_network_requestmetrics_totaltimems{request,quantile="0.99"}` |
//! | likewise `RequestQueueTimeMs`, `LocalTimeMs`, `RemoteTimeMs`, `ResponseQueueTimeMs`, `ResponseSendTimeMs` | `kafka_network_requestmetrics_{requestqueuetimems,localtimems,remotetimems,responsequeuetimems,responsesendtimems}[_count]` |
//! | `kafka.log:type=Log,name=Size,topic=T,partition=P` (Value) | gauge `kafka_log_log_size{topic,partition}` |
//! | `kafka.server:type=ReplicaFetcherManager,name=MaxLag,clientId=Replica` (Value) | gauge `kafka_server_replicafetchermanager_maxlag{clientId}` |
//!
//! One departure, forced by the text formats: the exporter typed a timer's `_count`
//! series COUNTER, but a counter's samples must end in `_total`, so it is rendered
//! untyped (`unknown` in OpenMetrics) under the exporter's exact name. Queries and
//! dashboards see the same series. (The older `kafka-0-8-2.yml` example renders a few of
//! these differently — `kafka_log_size`, a timer as a bare count, per-topic counters
//! untyped beside typed all-topic ones; the names here are those of the current example,
//! which are the ones dashboards use.)
//!
//! # Cost on the data path
//! Counting is a handful of relaxed atomic adds per request (per partition for the topic
//! counters), on counters the request already holds: no lock and no map lookup per
//! message. Gauges (partition counts, log sizes, lag) are computed when scraped. The
//! request timers take their stage times from the socket server (five clock reads per
//! request) and add them when the response is written; `benches/broker_throughput.rs`
//! times one request's update and compares throughput with the endpoint off and on.
//!
//! # Formats
//! [`encode`] writes either the classic text format 0.0.4 (what the exporter served) or
//! OpenMetrics 1.0, through the `prometheus-client` crate's encoders; [`http::serve`]
//! picks by the scraper's `Accept` header, as Prometheus itself negotiates.

pub mod http;
mod process;
mod timer;

pub use timer::{Timer, QUANTILES, WINDOW};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeGaugeValue, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, RwLock};

/// Labels of one sample, in the order the exporter's rules emit them.
pub type Labels<'a> = Vec<(&'a str, String)>;

/// 0.8.2's `LogFlushStats.logFlushTimer` (`kafka.log:type=LogFlushStats,
/// name=LogFlushRateAndTimeMs`): process-wide, as it was in 0.8.2.
pub static LOG_FLUSH_STATS: LazyLock<Timer> = LazyLock::new(Timer::new);

/// The per-topic meters of 0.8.2's `BrokerTopicMetrics`, as monotonic counts.
#[derive(Debug, Default)]
pub struct TopicCounters {
    pub messages_in: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub failed_produce_requests: AtomicU64,
    pub failed_fetch_requests: AtomicU64,
}

impl TopicCounters {
    fn values(&self) -> [u64; 5] {
        [
            self.messages_in.load(Ordering::Relaxed),
            self.bytes_in.load(Ordering::Relaxed),
            self.bytes_out.load(Ordering::Relaxed),
            self.failed_produce_requests.load(Ordering::Relaxed),
            self.failed_fetch_requests.load(Ordering::Relaxed),
        ]
    }
}

/// The rendered names of [`TopicCounters`]' fields, in order (0.8.2's meter names without
/// `PerSec`, lower-cased).
const TOPIC_COUNTER_NAMES: [(&str, &str); 5] = [
    ("kafka_server_brokertopicmetrics_messagesin", "Messages appended (BrokerTopicMetrics MessagesInPerSec)."),
    ("kafka_server_brokertopicmetrics_bytesin", "Bytes produced (BrokerTopicMetrics BytesInPerSec)."),
    ("kafka_server_brokertopicmetrics_bytesout", "Bytes fetched (BrokerTopicMetrics BytesOutPerSec)."),
    ("kafka_server_brokertopicmetrics_failedproducerequests", "Failed produce partitions (BrokerTopicMetrics FailedProduceRequestsPerSec)."),
    ("kafka_server_brokertopicmetrics_failedfetchrequests", "Failed fetch partitions (BrokerTopicMetrics FailedFetchRequestsPerSec)."),
];

/// 0.8.2's `BrokerTopicStats`: the all-topics counters and one set per topic. A partition
/// holds its topic's `Arc` (from [`BrokerTopicStats::topic`], taken once when the partition
/// is created) and adds to it and to [`BrokerTopicStats::all`] directly.
#[derive(Debug, Default)]
pub struct BrokerTopicStats {
    pub all: TopicCounters,
    topics: RwLock<HashMap<String, Arc<TopicCounters>>>,
}

impl BrokerTopicStats {
    /// The counters of `topic`, created at first use.
    pub fn topic(&self, topic: &str) -> Arc<TopicCounters> {
        if let Some(c) = self.topics.read().unwrap_or_else(|e| e.into_inner()).get(topic) {
            return c.clone();
        }
        self.topics.write().unwrap_or_else(|e| e.into_inner()).entry(topic.to_string()).or_default().clone()
    }

    /// Forget a deleted topic's counters (0.8.2 kept them until restart; a re-created
    /// topic then started from the old counts).
    pub fn remove_topic(&self, topic: &str) {
        self.topics.write().unwrap_or_else(|e| e.into_inner()).remove(topic);
    }

    pub fn encode(&self, f: &mut Families<'_>) -> fmt::Result {
        let mut topics: Vec<(String, [u64; 5])> =
            self.topics.read().unwrap_or_else(|e| e.into_inner()).iter().map(|(t, c)| (t.clone(), c.values())).collect();
        topics.sort_by(|a, b| a.0.cmp(&b.0));
        let all = self.all.values();
        for (i, (name, help)) in TOPIC_COUNTER_NAMES.iter().enumerate() {
            let samples = std::iter::once((vec![], all[i])).chain(topics.iter().map(|(t, v)| (vec![("topic", t.clone())], v[i])));
            f.counter_family(name, help, samples)?;
        }
        Ok(())
    }
}

/// Request names of 0.8.2's `RequestMetrics` (its `RequestKeys` names, plus
/// `FetchConsumer` and `FetchFollower`, which split `Fetch` by who asked), and kafka08's
/// `ApiVersions`. Each has a request count and a total-time timer.
pub const REQUEST_NAMES: [&str; 16] = [
    "Produce",
    "Fetch",
    "FetchConsumer",
    "FetchFollower",
    "Offsets",
    "Metadata",
    "LeaderAndIsr",
    "StopReplica",
    "UpdateMetadata",
    "ControlledShutdown",
    "OffsetCommit",
    "OffsetFetch",
    "ConsumerMetadata",
    "JoinGroup",
    "Heartbeat",
    "ApiVersions",
];

/// Index into [`REQUEST_NAMES`].
pub fn request_index(name: &str) -> Option<usize> {
    REQUEST_NAMES.iter().position(|n| *n == name)
}

/// 0.8.2's `RequestMetrics` timers (`RequestChannel.Request.updateRequestMetrics`), in
/// the order [`RequestMetrics::record`] takes their durations: the rendered name and
/// what each measures.
pub const REQUEST_TIMERS: [(&str, &str); 6] = [
    ("kafka_network_requestmetrics_requestqueuetimems", "Time in ms a request waited for a place among queued.max.requests (RequestMetrics RequestQueueTimeMs)."),
    ("kafka_network_requestmetrics_localtimems", "Time in ms the broker worked on a request itself (RequestMetrics LocalTimeMs)."),
    ("kafka_network_requestmetrics_remotetimems", "Time in ms a request waited in a purgatory, for followers or min bytes (RequestMetrics RemoteTimeMs)."),
    ("kafka_network_requestmetrics_responsequeuetimems", "Time in ms a ready response waited for the responses before it (RequestMetrics ResponseQueueTimeMs)."),
    ("kafka_network_requestmetrics_responsesendtimems", "Time in ms writing a response took (RequestMetrics ResponseSendTimeMs)."),
    ("kafka_network_requestmetrics_totaltimems", "Time in ms from a request read to its response written (RequestMetrics TotalTimeMs)."),
];

/// 0.8.2's `RequestMetrics`: per request name, `RequestsPerSec` (a count) and the six
/// timers of [`REQUEST_TIMERS`], all updated when the response has been written, as
/// 0.8.2 did. Recording is relaxed atomic adds: no lock.
#[derive(Debug)]
pub struct RequestMetrics {
    requests: [AtomicU64; REQUEST_NAMES.len()],
    timers: [[Timer; REQUEST_TIMERS.len()]; REQUEST_NAMES.len()],
}

impl Default for RequestMetrics {
    fn default() -> Self {
        RequestMetrics {
            requests: std::array::from_fn(|_| AtomicU64::new(0)),
            timers: std::array::from_fn(|_| std::array::from_fn(|_| Timer::new())),
        }
    }
}

impl RequestMetrics {
    /// Count one answered request of [`REQUEST_NAMES`]`[index]`, with the durations of its
    /// stages in [`REQUEST_TIMERS`]' order.
    pub fn record(&self, index: usize, stages: &[std::time::Duration; REQUEST_TIMERS.len()]) {
        if let (Some(c), Some(timers)) = (self.requests.get(index), self.timers.get(index)) {
            c.fetch_add(1, Ordering::Relaxed);
            for (t, d) in timers.iter().zip(stages) {
                t.record(*d);
            }
        }
    }

    pub fn requests(&self, name: &str) -> u64 {
        request_index(name).map(|i| self.requests[i].load(Ordering::Relaxed)).unwrap_or(0)
    }

    pub fn encode(&self, f: &mut Families<'_>) -> fmt::Result {
        let samples = REQUEST_NAMES.iter().zip(&self.requests).map(|(n, c)| (vec![("request", n.to_string())], c.load(Ordering::Relaxed)));
        f.counter_family("kafka_network_requestmetrics_requests", "Requests answered (RequestMetrics RequestsPerSec).", samples)?;
        for (i, (name, help)) in REQUEST_TIMERS.iter().enumerate() {
            let timers: Vec<(Labels, &Timer)> =
                REQUEST_NAMES.iter().zip(&self.timers).map(|(n, t)| (vec![("request", n.to_string())], &t[i])).collect();
            f.timer_family(name, help, &timers)?;
        }
        Ok(())
    }
}

/// What a scrape asks for: something that writes metric families.
pub trait MetricsSource: Send + Sync + 'static {
    fn encode(&self, f: &mut Families<'_>) -> fmt::Result;
}

/// Writes metric families through `prometheus-client`'s encoder, under exact names.
pub struct Families<'a> {
    enc: DescriptorEncoder<'a>,
}

impl Families<'_> {
    /// A counter without labels; `name` is without its `_total`.
    pub fn counter(&mut self, name: &str, help: &str, value: u64) -> fmt::Result {
        self.counter_family(name, help, std::iter::once((vec![], value)))
    }

    pub fn counter_f64(&mut self, name: &str, help: &str, value: f64) -> fmt::Result {
        let mut m = self.enc.encode_descriptor(name, help, None, MetricType::Counter)?;
        m.encode_counter::<NoLabelSet, _, f64>(&value, None)
    }

    /// A counter family; a sample with no labels is written without braces.
    pub fn counter_family<'l>(&mut self, name: &str, help: &str, samples: impl IntoIterator<Item = (Labels<'l>, u64)>) -> fmt::Result {
        let mut m = self.enc.encode_descriptor(name, help, None, MetricType::Counter)?;
        for (labels, v) in samples {
            if labels.is_empty() {
                m.encode_counter::<NoLabelSet, _, f64>(&v, None)?;
            } else {
                m.encode_family(&labels)?.encode_counter::<NoLabelSet, _, f64>(&v, None)?;
            }
        }
        Ok(())
    }

    pub fn gauge(&mut self, name: &str, help: &str, value: f64) -> fmt::Result {
        self.gauge_family(name, help, std::iter::once((vec![], value)))
    }

    pub fn gauge_family<'l>(&mut self, name: &str, help: &str, samples: impl IntoIterator<Item = (Labels<'l>, f64)>) -> fmt::Result {
        self.sampled(name, help, MetricType::Gauge, samples)
    }

    fn sampled<'l, V: EncodeGaugeValue>(
        &mut self,
        name: &str,
        help: &str,
        ty: MetricType,
        samples: impl IntoIterator<Item = (Labels<'l>, V)>,
    ) -> fmt::Result {
        let mut m = self.enc.encode_descriptor(name, help, None, ty)?;
        for (labels, v) in samples {
            if labels.is_empty() {
                m.encode_gauge(&v)?;
            } else {
                m.encode_family(&labels)?.encode_gauge(&v)?;
            }
        }
        Ok(())
    }

    /// A timer the way the exporter's rules render a Yammer timer or histogram: a gauge
    /// family `name{...,quantile}` and the count as `name_count{...}` (untyped: see the
    /// module doc).
    pub fn timer_family(&mut self, name: &str, help: &str, timers: &[(Labels<'_>, &Timer)]) -> fmt::Result {
        let mut quantiles = Vec::with_capacity(timers.len() * QUANTILES.len());
        for (labels, t) in timers {
            for ((label, _), v) in QUANTILES.iter().zip(t.quantiles_ms()) {
                let mut l = labels.clone();
                l.push(("quantile", label.to_string()));
                quantiles.push((l, v));
            }
        }
        self.gauge_family(name, help, quantiles)?;
        let counts = timers.iter().map(|(l, t)| (l.clone(), t.count()));
        self.sampled(&format!("{}_count", name), help, MetricType::Unknown, counts)
    }

    pub fn timer(&mut self, name: &str, help: &str, timer: &Timer) -> fmt::Result {
        self.timer_family(name, help, &[(vec![], timer)])
    }
}

/// Adapts a [`MetricsSource`] to `prometheus-client`'s collector.
struct SourceCollector(Arc<dyn MetricsSource>);

impl fmt::Debug for SourceCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SourceCollector")
    }
}

impl Collector for SourceCollector {
    fn encode(&self, enc: DescriptorEncoder) -> fmt::Result {
        let mut f = Families { enc };
        self.0.encode(&mut f)?;
        process::encode(&mut f)
    }
}

/// A registry holding `source` and the `process_*` metrics.
pub fn registry(source: Arc<dyn MetricsSource>) -> Registry {
    let mut r = Registry::default();
    r.register_collector(Box::new(SourceCollector(source)));
    r
}

/// The exposition formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4`, what the JMX exporter served.
    Text004,
    /// `application/openmetrics-text; version=1.0.0`.
    OpenMetrics,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text004 => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// What to answer an `Accept` header with: OpenMetrics when the scraper asks for it.
    pub fn negotiate(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Text004,
        }
    }
}

pub fn encode(registry: &Registry, format: Format) -> Result<String, fmt::Error> {
    let mut out = String::with_capacity(16 * 1024);
    match format {
        Format::Text004 => prometheus_client::encoding::prometheus_text::encode(&mut out, registry)?,
        Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, registry)?,
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Sample(BrokerTopicStats, RequestMetrics);

    impl MetricsSource for Sample {
        fn encode(&self, f: &mut Families<'_>) -> fmt::Result {
            self.0.encode(f)?;
            self.1.encode(f)
        }
    }

    fn sample() -> Arc<Sample> {
        let s = Arc::new(Sample(BrokerTopicStats::default(), RequestMetrics::default()));
        let t = s.0.topic("clicks");
        t.messages_in.fetch_add(3, Ordering::Relaxed);
        s.0.all.messages_in.fetch_add(3, Ordering::Relaxed);
        let ms = std::time::Duration::from_millis;
        s.1.record(request_index("Produce").unwrap(), &[ms(0), ms(1), ms(2), ms(0), ms(1), ms(4)]);
        s
    }

    #[test]
    fn text_004_has_the_exporter_names_types_and_labels() {
        let text = encode(&registry(sample()), Format::Text004).unwrap();
        for line in [
            "# TYPE kafka_server_brokertopicmetrics_messagesin_total counter",
            "kafka_server_brokertopicmetrics_messagesin_total 3",
            "kafka_server_brokertopicmetrics_messagesin_total{topic=\"clicks\"} 3",
            "kafka_server_brokertopicmetrics_failedfetchrequests_total 0",
            "# TYPE kafka_network_requestmetrics_requests_total counter",
            "kafka_network_requestmetrics_requests_total{request=\"Produce\"} 1",
            "kafka_network_requestmetrics_requests_total{request=\"FetchFollower\"} 0",
            "# TYPE kafka_network_requestmetrics_totaltimems gauge",
            "# TYPE kafka_network_requestmetrics_totaltimems_count untyped",
            "kafka_network_requestmetrics_totaltimems_count{request=\"Produce\"} 1",
            "# TYPE kafka_network_requestmetrics_requestqueuetimems gauge",
            "kafka_network_requestmetrics_requestqueuetimems_count{request=\"Produce\"} 1",
            "kafka_network_requestmetrics_localtimems_count{request=\"Produce\"} 1",
            "kafka_network_requestmetrics_remotetimems_count{request=\"Produce\"} 1",
            "kafka_network_requestmetrics_responsequeuetimems_count{request=\"Fetch\"} 0",
            "kafka_network_requestmetrics_responsesendtimems_count{request=\"Produce\"} 1",
            "# TYPE process_cpu_seconds_total counter",
            "# TYPE process_resident_memory_bytes gauge",
        ] {
            assert!(text.lines().any(|l| l == line), "missing line {:?} in\n{}", line, text);
        }
        let p99 = text
            .lines()
            .find_map(|l| l.strip_prefix("kafka_network_requestmetrics_totaltimems{request=\"Produce\",quantile=\"0.99\"} "))
            .expect("produce p99");
        let v: f64 = p99.parse().unwrap();
        assert!((3.7..4.3).contains(&v), "p99 {} is not about 4 ms", v);
    }

    #[test]
    fn openmetrics_ends_with_eof_and_keeps_the_count_name() {
        let text = encode(&registry(sample()), Format::OpenMetrics).unwrap();
        assert!(text.ends_with("# EOF\n"));
        assert!(text.lines().any(|l| l == "# TYPE kafka_network_requestmetrics_totaltimems_count unknown"), "{}", text);
        assert!(text.lines().any(|l| l == "kafka_server_brokertopicmetrics_messagesin_total{topic=\"clicks\"} 3"), "{}", text);
    }

    #[test]
    fn accept_header_picks_the_format() {
        assert_eq!(Format::negotiate(None), Format::Text004);
        assert_eq!(Format::negotiate(Some("text/plain;version=0.0.4;q=0.5,*/*;q=0.1")), Format::Text004);
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75")),
            Format::OpenMetrics
        );
    }
}
