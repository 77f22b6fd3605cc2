//! What a scrape of the broker's metrics endpoint reads: the counters the request path
//! keeps, and gauges computed now from the replica manager, the logs, the controller and
//! the socket server. Names and labels are explained in [`crate::metrics`].

use super::replica_manager::ReplicaManager;
use crate::controller::ControllerHandle;
use crate::metrics::{Families, Labels, MetricsSource, RequestMetrics, LOG_FLUSH_STATS};
use crate::network::RequestQueueProbe;
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock, Weak};

pub struct BrokerMetrics {
    pub replica_manager: Weak<ReplicaManager>,
    pub requests: Arc<RequestMetrics>,
    pub controller: Arc<OnceLock<ControllerHandle>>,
    pub request_queue: RequestQueueProbe,
}

impl MetricsSource for BrokerMetrics {
    fn encode(&self, f: &mut Families<'_>) -> fmt::Result {
        let Some(rm) = self.replica_manager.upgrade() else { return Ok(()) };
        rm.topic_stats.encode(f)?;

        // kafka.server:type=ReplicaManager
        let partitions = rm.all_partitions();
        let leaders = partitions.iter().filter(|p| p.is_leader()).count();
        let under = partitions.iter().filter(|p| p.is_under_replicated()).count();
        f.gauge("kafka_server_replicamanager_partitioncount", "Partitions hosted (ReplicaManager PartitionCount).", partitions.len() as f64)?;
        f.gauge("kafka_server_replicamanager_leadercount", "Partitions led (ReplicaManager LeaderCount).", leaders as f64)?;
        f.gauge(
            "kafka_server_replicamanager_underreplicatedpartitions",
            "Led partitions with fewer in-sync than assigned replicas (ReplicaManager UnderReplicatedPartitions).",
            under as f64,
        )?;
        f.counter("kafka_server_replicamanager_isrshrinks", "ISR shrinks (ReplicaManager IsrShrinksPerSec).", rm.isr_shrinks.load(Ordering::Relaxed))?;
        f.counter("kafka_server_replicamanager_isrexpands", "ISR expansions (ReplicaManager IsrExpandsPerSec).", rm.isr_expands.load(Ordering::Relaxed))?;
        let max_lag = partitions.iter().map(|p| p.fetcher_lag()).max().unwrap_or(0);
        f.gauge_family(
            "kafka_server_replicafetchermanager_maxlag",
            "Largest follower lag in messages (ReplicaFetcherManager MaxLag).",
            [(vec![("clientId", "Replica".to_string())], max_lag as f64)],
        )?;

        // kafka.controller
        let active = self.controller.get().is_some_and(|c| c.is_active());
        f.gauge(
            "kafka_controller_kafkacontroller_activecontrollercount",
            "1 on the broker that is the controller (KafkaController ActiveControllerCount).",
            if active { 1.0 } else { 0.0 },
        )?;
        let default_stats = crate::controller::ControllerStats::default();
        let stats = self.controller.get().map(|c| c.stats()).unwrap_or(&default_stats);
        f.gauge(
            "kafka_controller_kafkacontroller_offlinepartitionscount",
            "Partitions without a live leader (KafkaController OfflinePartitionsCount).",
            stats.offline_partitions.load(Ordering::Relaxed) as f64,
        )?;
        f.gauge(
            "kafka_controller_kafkacontroller_preferredreplicaimbalancecount",
            "Partitions not led by their preferred replica (KafkaController PreferredReplicaImbalanceCount).",
            stats.preferred_replica_imbalance.load(Ordering::Relaxed) as f64,
        )?;
        f.counter(
            "kafka_controller_controllerstats_uncleanleaderelections",
            "Unclean leader elections (ControllerStats UncleanLeaderElectionsPerSec).",
            stats.unclean_leader_elections.load(Ordering::Relaxed),
        )?;
        f.timer(
            "kafka_controller_controllerstats_leaderelectionrateandtimems",
            "Leader election time in ms (ControllerStats LeaderElectionRateAndTimeMs).",
            &stats.leader_election,
        )?;

        // kafka.network
        self.requests.encode(f)?;
        f.gauge(
            "kafka_network_requestchannel_requestqueuesize",
            "Requests being handled, bounded by queued.max.requests (RequestChannel RequestQueueSize).",
            self.request_queue.size() as f64,
        )?;

        // kafka.log
        let mut logs = rm.log_manager.all_logs();
        logs.sort_by(|a, b| a.0.cmp(&b.0));
        let labels = |tp: &crate::common::TopicPartition| -> Labels<'static> {
            vec![("topic", tp.topic.clone()), ("partition", tp.partition.to_string())]
        };
        f.gauge_family(
            "kafka_log_log_size",
            "Bytes of the partition's segments (Log Size).",
            logs.iter().map(|(tp, log)| (labels(tp), log.size_in_bytes() as f64)),
        )?;
        f.gauge_family(
            "kafka_log_log_logendoffset",
            "Offset of the next message appended (Log LogEndOffset).",
            logs.iter().map(|(tp, log)| (labels(tp), log.log_end_offset() as f64)),
        )?;
        f.gauge_family(
            "kafka_log_log_numlogsegments",
            "Segments of the partition (Log NumLogSegments).",
            logs.iter().map(|(tp, log)| (labels(tp), log.num_segments() as f64)),
        )?;
        f.timer("kafka_log_logflushstats_logflushrateandtimems", "Log flush time in ms (LogFlushStats LogFlushRateAndTimeMs).", &LOG_FLUSH_STATS)
    }
}
