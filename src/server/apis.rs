//! Request dispatch (0.8.2 `KafkaApis`): decodes each request and answers it from the
//! replica manager, the metadata cache and ZooKeeper. An undecodable request, an unknown
//! API key or an unsupported version closes the connection, as 0.8 did; ApiVersions is
//! answered (docs/wire-protocol.md) so clients with default settings can connect.

use super::controller_fence::ControllerFence;
use super::metadata_cache::MetadataCache;
use super::offset_manager::OffsetManager;
use super::replica_manager::{LeaderAppend, PartitionError, ReplicaManager};
use crate::api::{
    self, ApiResponse, ApiVersionsResponse, ChunkedFrame, FetchRequest, FetchResponse, FetchResponsePartition, MetadataRequest,
    MetadataResponse, OffsetsRequest, OffsetsResponse, OffsetsResponsePartition, ProduceRequest, ProduceResponse,
    ProduceResponsePartition, RecordPayload, Request, RequestHeader, TopicMetadata,
};
use crate::common::{validate_topic_name, ErrorCode, Properties, TopicPartition};
use crate::controller::{ControlledShutdownError, ControllerHandle};
use crate::log::FetchRegion;
use crate::network::{BoxFuture, ConnectionInfo, Outcome, RequestHandler, RequestTimes, ResponseChunk, NO_TAG};
use crate::zk::ZkClient;
use bytes::Bytes;
use std::sync::{Arc, OnceLock};
use crate::metrics::{request_index, RequestMetrics};
use std::time::Duration;

impl RecordPayload for FetchRegion {
    fn len(&self) -> usize {
        self.length
    }
}

#[derive(Clone)]
pub struct KafkaApis {
    pub replica_manager: Arc<ReplicaManager>,
    pub metadata_cache: Arc<MetadataCache>,
    pub zk: ZkClient,
    /// Set once the controller starts (after the socket server, as 0.8.2 started them).
    pub controller: Arc<OnceLock<ControllerHandle>>,
    pub offset_manager: Arc<OffsetManager>,
    /// Controller requests are believed only from the controller ZooKeeper elected.
    pub controller_fence: Arc<ControllerFence>,
    /// Client requests waiting on ZooKeeper right now (see [`KafkaApis::zookeeper_bound`]).
    pub zookeeper_requests: Arc<tokio::sync::Semaphore>,
    /// 0.8.2's `RequestMetrics`: counted here, where the request's kind is known.
    pub request_metrics: Arc<RequestMetrics>,
}

/// The `RequestMetrics` names a request counts under, read from its header without
/// decoding it: its key's name, and for a fetch also `FetchConsumer` or `FetchFollower`
/// (0.8.2 `RequestChannel.updateRequestMetrics`), as a network tag: the first index into
/// `REQUEST_NAMES` in the low byte, the second plus one in the next (0: none).
fn request_metrics_tag(request: &[u8]) -> u32 {
    let Some(key) = request.get(0..2).map(|b| i16::from_be_bytes([b[0], b[1]])) else { return NO_TAG };
    let Some(key) = api::ApiKey::from_code(key) else { return NO_TAG };
    let name = match key {
        api::ApiKey::Produce => "Produce",
        api::ApiKey::Fetch => "Fetch",
        api::ApiKey::Offsets => "Offsets",
        api::ApiKey::Metadata => "Metadata",
        api::ApiKey::LeaderAndIsr => "LeaderAndIsr",
        api::ApiKey::StopReplica => "StopReplica",
        api::ApiKey::UpdateMetadata => "UpdateMetadata",
        api::ApiKey::ControlledShutdown => "ControlledShutdown",
        api::ApiKey::OffsetCommit => "OffsetCommit",
        api::ApiKey::OffsetFetch => "OffsetFetch",
        api::ApiKey::ConsumerMetadata => "ConsumerMetadata",
        api::ApiKey::ApiVersions => "ApiVersions",
    };
    let Some(first) = request_index(name) else { return NO_TAG };
    let mut tag = first as u32;
    if key == api::ApiKey::Fetch {
        // Header: key, version, correlation id, client id (i16 length + bytes); then the
        // fetch's replica id, >= 0 for a follower.
        let client_id_len = request.get(8..10).map_or(0, |b| i16::from_be_bytes([b[0], b[1]]).max(0) as usize);
        let at = 10 + client_id_len;
        let replica_id = request.get(at..at + 4).map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        let detail = if replica_id.is_some_and(|r| r >= 0) { "FetchFollower" } else { "FetchConsumer" };
        if let Some(second) = request_index(detail) {
            tag |= (second as u32 + 1) << 8;
        }
    }
    tag
}

/// The longest a fetch is parked (its `max_wait_ms` is capped here): 0.8.2 let a client
/// park a fetch for 2^31 ms. Followers wait `replica.fetch.wait.max.ms` (500 ms) and
/// consumers `fetch.wait.max.ms` (100 ms) by default; an empty answer after 30 s is
/// simply fetched again.
pub const MAX_FETCH_WAIT_MS: u64 = 30_000;

/// The most message bytes one fetch response carries (unless its first partition's own
/// max_bytes is larger): 0.8.2 answered the sum of every partition's max_bytes, which for
/// a follower 1 MB behind on more than 100 partitions passed the 100 MiB a response may
/// have, and the follower retried the same undecodable fetch for ever.
pub const MAX_FETCH_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

static FETCH_ROTATION: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Client requests that may wait on ZooKeeper served at once, over all connections.
pub const ZOOKEEPER_CLIENT_REQUESTS: usize = 8;

/// The most partitions one OffsetCommit or OffsetFetch v0 may name: each is a ZooKeeper
/// call. 0.8.2 had no limit; a consumer owning more than this in one group is beyond any
/// deployment 0.8 supported. A request above it closes the connection, as an oversized
/// request does.
pub const MAX_ZOOKEEPER_OFFSET_PARTITIONS: usize = 10_000;

fn respond<R: ApiResponse>(correlation_id: i32, body: &R) -> Outcome {
    match api::encode_response(correlation_id, body) {
        Ok(b) => Outcome::Respond(vec![ResponseChunk::Bytes(b)]),
        Err(e) => {
            log::error!("cannot encode a response: {}", e);
            Outcome::Close
        }
    }
}

fn fetch_frame(correlation_id: i32, resp: FetchResponse<FetchRegion>) -> Outcome {
    match resp.into_frame(correlation_id) {
        Ok(ChunkedFrame { chunks, .. }) => Outcome::Respond(
            chunks
                .into_iter()
                .map(|c| match c {
                    api::Chunk::Bytes(b) => ResponseChunk::Bytes(b),
                    api::Chunk::Payload(r) => ResponseChunk::File { file: r.file, position: r.position, len: r.length },
                })
                .collect(),
        ),
        Err(e) => {
            log::error!("cannot encode a fetch response: {}", e);
            Outcome::Close
        }
    }
}

impl RequestHandler for KafkaApis {
    fn handle(&self, request: Bytes, conn: &ConnectionInfo) -> BoxFuture<Outcome> {
        let (header, req) = match api::decode_request(request) {
            Ok(x) => x,
            Err(e) => {
                log::info!("Closing connection from {} after an undecodable request: {}", conn.peer, e);
                return Box::pin(async { Outcome::Close });
            }
        };
        let this = self.clone();
        let peer = conn.peer;
        Box::pin(async move { this.dispatch(header, req, peer).await })
    }

    fn tag(&self, request: &[u8]) -> u32 {
        request_metrics_tag(request)
    }

    /// 0.8.2's `RequestMetrics`, updated once the response is written.
    fn completed(&self, tag: u32, times: &RequestTimes) {
        if tag == NO_TAG {
            return;
        }
        let stages = times.stages();
        self.request_metrics.record((tag & 0xff) as usize, &stages);
        if let Some(second) = ((tag >> 8) & 0xff).checked_sub(1) {
            self.request_metrics.record(second as usize, &stages);
        }
    }
}

/// A produce request whose sets are validated and not yet written.
struct StagedProduce {
    acks: i16,
    timeout_ms: i32,
    parts: Vec<StagedPartition>,
}

struct StagedPartition {
    topic: Arc<str>,
    partition: i32,
    /// The partition's leader epoch before the set was validated.
    epoch: i32,
    /// Validated, or the error code it failed with (the reason is logged at once: a
    /// request naming thousands of partitions of a long topic must not hold a message
    /// naming the topic for each).
    append: Result<LeaderAppend, ErrorCode>,
}

impl KafkaApis {
    async fn dispatch(&self, header: RequestHeader, req: Request, peer: std::net::SocketAddr) -> Outcome {
        let cid = header.correlation_id;
        match req {
            Request::Produce(r) => {
                // Every set is validated here, in the one pass that also tells whether its
                // write may block (recompression, fsync): such a produce is written on the
                // blocking pool. The connection reads its next request after the write.
                let staged = self.stage_produce(r);
                if staged.parts.iter().any(|p| p.append.as_ref().is_ok_and(|a| a.may_block())) {
                    let this = self.clone();
                    tokio::task::spawn_blocking(move || this.handle_produce(cid, staged)).await.unwrap_or(Outcome::Close)
                } else {
                    self.handle_produce(cid, staged)
                }
            }
            Request::Fetch(r) => self.handle_fetch(cid, r),
            Request::Offsets(r) => self.handle_offsets(cid, r),
            // Only a Metadata that may auto-create a topic waits on ZooKeeper.
            Request::Metadata(r) if r.topics.iter().all(|t| self.metadata_cache.contains_topic(t)) => self.handle_metadata(cid, r).await,
            Request::Metadata(r) => self.zookeeper_bound(move |this| async move { this.handle_metadata(cid, r).await }),
            Request::LeaderAndIsr(r) => {
                if !self.believe_controller("LeaderAndIsr", r.controller_id, r.controller_epoch, peer).await {
                    return respond(cid, &api::LeaderAndIsrResponse { error_code: ErrorCode::StaleControllerEpoch, partitions: vec![] });
                }
                let (error_code, partitions) = self.replica_manager.become_leader_or_follower(&r).await;
                respond(cid, &api::LeaderAndIsrResponse { error_code, partitions })
            }
            Request::UpdateMetadata(r) => {
                let error_code = if !self.believe_controller("UpdateMetadata", r.controller_id, r.controller_epoch, peer).await
                    || r.controller_epoch < self.replica_manager.controller_epoch()
                {
                    ErrorCode::StaleControllerEpoch
                } else {
                    self.metadata_cache.update(&r);
                    ErrorCode::NoError
                };
                respond(cid, &api::UpdateMetadataResponse { error_code })
            }
            Request::StopReplica(r) => {
                if !self.believe_controller("StopReplica", r.controller_id, r.controller_epoch, peer).await {
                    return respond(cid, &api::StopReplicaResponse { error_code: ErrorCode::StaleControllerEpoch, partitions: vec![] });
                }
                // Deleting logs waits for their fsync threads and removes folders: off
                // the async workers, which also keep the ZooKeeper session alive.
                let rm = self.replica_manager.clone();
                let Ok((error_code, partitions)) = tokio::task::spawn_blocking(move || rm.stop_replicas(&r)).await else {
                    return Outcome::Close;
                };
                respond(cid, &api::StopReplicaResponse { error_code, partitions })
            }
            Request::ApiVersions(_) => respond(cid, &ApiVersionsResponse::kafka_0_8_2()),
            Request::UnsupportedApiVersions => respond(cid, &ApiVersionsResponse::unsupported_version()),
            Request::OffsetCommit(r) if header.api_version == 0 => {
                self.zookeeper_bound(move |this| async move { this.handle_offset_commit_zookeeper(cid, r).await })
            }
            Request::OffsetCommit(r) => self.handle_offset_commit_kafka(cid, r),
            Request::OffsetFetch(r) if header.api_version == 0 => {
                self.zookeeper_bound(move |this| async move { this.handle_offset_fetch_zookeeper(cid, r).await })
            }
            Request::OffsetFetch(r) => self.handle_offset_fetch_kafka(cid, r),
            Request::ConsumerMetadata(r) => {
                self.zookeeper_bound(move |this| async move { this.handle_consumer_metadata(cid, r).await })
            }
            Request::ControlledShutdown(r) => {
                let result = match self.controller.get() {
                    Some(c) => c.controlled_shutdown(r.broker_id).await,
                    None => Err(ControlledShutdownError::NotController),
                };
                let resp = match result {
                    Ok(partitions_remaining) => {
                        api::ControlledShutdownResponse { error_code: ErrorCode::NoError, partitions_remaining }
                    }
                    Err(e) => {
                        log::warn!("controlled shutdown of broker {} asked by {}: {}", r.broker_id, peer, e);
                        api::ControlledShutdownResponse { error_code: e.error_code(), partitions_remaining: vec![] }
                    }
                };
                respond(cid, &resp)
            }
        }
    }

    /// A client request that may wait on ZooKeeper (OffsetCommit/OffsetFetch v0, Metadata
    /// and ConsumerMetadata, which may auto-create): it runs without a `queued.max.requests`
    /// permit, and at most [`ZOOKEEPER_CLIENT_REQUESTS`] of them at once over all
    /// connections, so a client flooding them queues behind itself while follower
    /// fetches and controller requests are served.
    fn zookeeper_bound<F, Fut>(&self, work: F) -> Outcome
    where
        F: FnOnce(KafkaApis) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Outcome> + Send + 'static,
    {
        let this = self.clone();
        Outcome::Inline(Box::pin(async move {
            let Ok(_permit) = this.zookeeper_requests.clone().acquire_owned().await else { return Outcome::Close };
            work(this).await
        }))
    }

    /// False (and logged) when a controller request does not come from the controller
    /// ZooKeeper elected; it is then answered with 11 and changes nothing.
    async fn believe_controller(&self, api: &str, controller_id: i32, epoch: i32, peer: std::net::SocketAddr) -> bool {
        match self.controller_fence.check(controller_id, epoch).await {
            Ok(()) => true,
            Err(why) => {
                log::warn!(
                    "Broker {} refusing {} from {} (controller {}, epoch {}): {}",
                    self.replica_manager.broker_id,
                    api,
                    peer,
                    controller_id,
                    epoch,
                    why
                );
                false
            }
        }
    }

    /// Check and validate every partition of a produce ([`ReplicaManager::prepare_leader_append`]),
    /// taking each set out of the request so that it can be numbered in place. A repeated
    /// `(topic, partition)` keeps its last set, in the first one's place (0.8.2 parsed the
    /// request into a map).
    fn stage_produce(&self, req: ProduceRequest) -> StagedProduce {
        let mut names = api::SharedNames::default();
        let mut sets: Vec<(Arc<str>, i32, Bytes)> = Vec::with_capacity(req.topics.iter().map(|t| t.partitions.len()).sum());
        let mut index: std::collections::HashMap<(Arc<str>, i32), usize> = std::collections::HashMap::new();
        for t in req.topics {
            let topic = names.get(&t.topic);
            for p in t.partitions {
                match index.entry((topic.clone(), p.partition)) {
                    std::collections::hash_map::Entry::Occupied(e) => sets[*e.get()].2 = p.message_set,
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(sets.len());
                        sets.push((topic.clone(), p.partition, p.message_set));
                    }
                }
            }
        }
        let parts = sets
            .into_iter()
            .map(|(topic, partition, set)| {
                let tp = TopicPartition::new(&*topic, partition);
                // Read before the append: if leadership moves in between, the epoch differs
                // at the end and the produce gets an error, never a false success.
                let epoch = self.replica_manager.partition(&tp).map(|part| part.leader_epoch()).unwrap_or(-1);
                let append = self.replica_manager.prepare_leader_append(&tp, set, req.acks).map_err(|e| self.produce_failed(&topic, partition, e));
                StagedPartition { topic, partition, epoch, append }
            })
            .collect();
        StagedProduce { acks: req.acks, timeout_ms: req.timeout_ms, parts }
    }

    /// Log and count a partition of a produce that failed; its error code.
    fn produce_failed(&self, topic: &str, partition: i32, PartitionError(code, why): PartitionError) -> ErrorCode {
        log::debug!("produce to [{},{}] failed: {}", topic, partition, why);
        self.replica_manager.record_failed_produce(topic);
        code
    }

    fn handle_produce(&self, cid: i32, req: StagedProduce) -> Outcome {
        let acks = req.acks;
        // Per partition: the answer so far and, for acks=-1, the offset the high watermark
        // must pass in the leader epoch the append was made in.
        let mut results: Vec<(Arc<str>, ProduceResponsePartition, Option<(i64, i32)>)> = Vec::with_capacity(req.parts.len());
        let mut failed = false;
        for StagedPartition { topic, partition, epoch, append } in req.parts {
            match append.and_then(|a| self.replica_manager.commit_leader_append(a).map_err(|e| self.produce_failed(&topic, partition, e))) {
                Ok(info) => {
                    let wait_for = (info.last_offset >= 0).then_some((info.last_offset + 1, epoch));
                    results.push((topic, ProduceResponsePartition { partition, error_code: ErrorCode::NoError, base_offset: info.first_offset }, wait_for));
                }
                Err(code) => {
                    failed = true;
                    results.push((topic, ProduceResponsePartition { partition, error_code: code, base_offset: -1 }, None));
                }
            }
        }
        if acks == 0 {
            // No response; a failure closes the connection so the client notices (0.8.2).
            return if failed { Outcome::Close } else { Outcome::NoResponse };
        }
        let needs_wait = acks == -1 && results.iter().any(|(_, _, w)| w.is_some());
        if !needs_wait {
            return respond(cid, &ProduceResponse::from_partitions(results.into_iter().map(|(t, p, _)| (t, p))));
        }
        // acks = -1: wait until every ISR member has the messages (high watermark past
        // them), or the request's timeout passes (error 7, data stays written).
        let rm = self.replica_manager.clone();
        let timeout = Duration::from_millis(req.timeout_ms.max(0) as u64);
        Outcome::Deferred(Box::pin(async move {
            let deadline = tokio::time::Instant::now() + timeout;
            'partitions: for (t, p, w) in &results {
                let Some((need, epoch)) = *w else { continue };
                loop {
                    let Some(part) = rm.partition(&TopicPartition::new(&**t, p.partition)) else { continue 'partitions };
                    if !part.is_leader() || part.leader_epoch() != epoch {
                        continue 'partitions;
                    }
                    let Some(rx) = part.wait_for_high_watermark(need) else { continue 'partitions };
                    drop(part);
                    match tokio::time::timeout_at(deadline, rx).await {
                        Ok(Ok(())) => continue 'partitions,
                        Ok(Err(_)) => continue, // leadership changed: look again
                        Err(_) => break 'partitions, // timed out
                    }
                }
            }
            let parts = results.into_iter().map(|(t, mut p, w)| {
                if let Some((need, epoch)) = w {
                    match rm.partition(&TopicPartition::new(&*t, p.partition)) {
                        // Leadership lost and regained meanwhile: the messages may have been
                        // truncated while we followed, and the watermark now counts others.
                        Some(part) if !part.is_leader() || part.leader_epoch() != epoch => p.error_code = ErrorCode::NotLeaderForPartition,
                        Some(part) if part.high_watermark() >= need => {
                            // Written and replicated, but the ISR shrank below the minimum
                            // meanwhile (0.8.2, error 20: the data stays).
                            if part.isr_size() < part.log.config().min_insync_replicas.max(1) as usize {
                                p.error_code = ErrorCode::NotEnoughReplicasAfterAppend;
                            }
                        }
                        _ => p.error_code = ErrorCode::RequestTimedOut,
                    }
                }
                (t, p)
            });
            respond(cid, &ProduceResponse::from_partitions(parts))
        }))
    }

    /// Read every requested partition once; returns the response, its payload size,
    /// whether any partition failed (0.8.2 answers at once then), and what each partition
    /// sent (`None`: failed), for [`ReplicaManager::record_fetch`] once it is the answer.
    fn read_fetch<'r>(&self, req: &'r FetchRequest, first: bool) -> (FetchResponse<FetchRegion>, usize, bool, FetchSent<'r>) {
        let mut bytes = 0usize;
        let mut error = false;
        let partitions = req.partitions();
        let mut sent = Vec::new();
        let mut slots: Vec<Option<FetchResponsePartition<FetchRegion>>> = (0..partitions.len()).map(|_| None).collect();
        // A response carries at most MAX_FETCH_RESPONSE_BYTES of messages (or the first
        // partition's max_bytes, when larger): a partition that would take it past gets an
        // empty set this time and its data in a later fetch. The first partition read
        // turns with every fetch, so none waits behind busier ones for ever. Its position
        // still counts for a follower.
        let start = if partitions.is_empty() { 0 } else { FETCH_ROTATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % partitions.len() };
        for k in 0..partitions.len() {
            let i = (start + k) % partitions.len();
            let (topic, p) = partitions[i];
            let tp = TopicPartition::new(topic, p.partition);
            let want = p.max_bytes.max(0) as usize;
            let grant = if k == 0 || bytes.saturating_add(want) <= MAX_FETCH_RESPONSE_BYTES { want } else { 0 };
            let part = match self.replica_manager.read(&tp, req.replica_id, p.fetch_offset, grant, first) {
                Ok((region, hw)) => {
                    bytes += region.length;
                    sent.push((topic, p.partition, Some(region.length)));
                    FetchResponsePartition { partition: p.partition, error_code: ErrorCode::NoError, high_watermark: hw, message_set: region }
                }
                Err(PartitionError(code, _)) => {
                    error = true;
                    sent.push((topic, p.partition, None));
                    let hw = self.replica_manager.partition(&tp).map(|x| x.high_watermark()).unwrap_or(-1);
                    FetchResponsePartition { partition: p.partition, error_code: code, high_watermark: hw, message_set: empty_region() }
                }
            };
            slots[i] = Some(part);
        }
        let entries = partitions.iter().zip(slots).filter_map(|((topic, _), part)| part.map(|part| (*topic, part)));
        (FetchResponse::from_partitions(entries), bytes, error, sent)
    }

    fn handle_fetch(&self, cid: i32, req: FetchRequest) -> Outcome {
        // Register with every requested partition before the first read: an append in
        // between would otherwise go unnoticed, and the fetch would sleep its whole
        // max_wait. Only these partitions' changes wake it; until then it costs nothing.
        let waiter = Arc::new(tokio::sync::Notify::new());
        self.wake_on_change(&req, &waiter);
        let (resp, bytes, error, sent) = self.read_fetch(&req, true);
        if req.max_wait_ms <= 0 || bytes >= req.min_bytes.max(0) as usize || error || req.partitions().is_empty() {
            self.replica_manager.record_fetch(sent);
            return fetch_frame(cid, resp);
        }
        drop(sent);
        // Long poll: park until enough bytes arrived or max_wait passes.
        let this = self.clone();
        let wait = Duration::from_millis((req.max_wait_ms as u64).min(MAX_FETCH_WAIT_MS));
        let deadline = tokio::time::Instant::now() + wait;
        Outcome::Deferred(Box::pin(async move {
            loop {
                if tokio::time::timeout_at(deadline, waiter.notified()).await.is_err() {
                    break;
                }
                this.wake_on_change(&req, &waiter);
                let (_, bytes, error, _) = this.read_fetch(&req, false);
                if bytes >= req.min_bytes.max(0) as usize || error {
                    break;
                }
            }
            let (resp, _, _, sent) = this.read_fetch(&req, false);
            this.replica_manager.record_fetch(sent);
            fetch_frame(cid, resp)
        }))
    }

    fn wake_on_change(&self, req: &FetchRequest, waiter: &Arc<tokio::sync::Notify>) {
        for (topic, p) in req.partitions() {
            if let Some(part) = self.replica_manager.partition(&TopicPartition::new(topic, p.partition)) {
                part.wake_on_change(waiter);
            }
        }
    }

    fn handle_offsets(&self, cid: i32, req: OffsetsRequest) -> Outcome {
        let mut entries = Vec::new();
        for (topic, p) in req.partitions() {
            let tp = TopicPartition::new(topic, p.partition);
            let part = if p.max_offsets < 0 {
                OffsetsResponsePartition { partition: p.partition, error_code: ErrorCode::Unknown, offsets: vec![] }
            } else {
                match self.replica_manager.offsets_before(&tp, req.replica_id, p.time, p.max_offsets as usize) {
                    Ok(offsets) => OffsetsResponsePartition { partition: p.partition, error_code: ErrorCode::NoError, offsets },
                    Err(PartitionError(code, _)) => OffsetsResponsePartition { partition: p.partition, error_code: code, offsets: vec![] },
                }
            };
            entries.push((topic, part));
        }
        let answer = respond(cid, &OffsetsResponse::from_partitions(entries));
        match crate::common::failpoint::offsets_delay() {
            Some(delay) if req.replica_id < 0 => {
                log::warn!("failpoint: answering Offsets request {} in {:?}", cid, delay);
                Outcome::Deferred(Box::pin(async move {
                    tokio::time::sleep(delay).await;
                    answer
                }))
            }
            _ => answer,
        }
    }

    async fn handle_metadata(&self, cid: i32, req: MetadataRequest) -> Outcome {
        let requested: Vec<String> =
            if req.topics.is_empty() { self.metadata_cache.topics() } else { req.unique_topics().into_iter().map(String::from).collect() };
        let mut topics = Vec::new();
        for t in requested {
            if let Some(md) = self.metadata_cache.topic_metadata(&t) {
                topics.push(md);
                continue;
            }
            let error_code = if !self.replica_manager.config().auto_create_topics_enable {
                ErrorCode::UnknownTopicOrPartition
            } else if validate_topic_name(&t).is_err() {
                ErrorCode::InvalidTopic
            } else {
                match self.auto_create(&t).await {
                    Ok(()) => ErrorCode::LeaderNotAvailable,
                    Err(code) => code,
                }
            };
            topics.push(TopicMetadata { error_code, topic: t, partitions: vec![] });
        }
        respond(cid, &MetadataResponse { brokers: self.metadata_cache.alive_brokers(), topics })
    }

    /// OffsetCommit v0 (0.8.2 `handleOffsetCommitRequest`, version 0): any broker; per
    /// partition, an unknown topic is 3, metadata longer than `offset.metadata.max.bytes`
    /// is 12, otherwise the offset goes to ZooKeeper (the metadata is not kept).
    async fn handle_offset_commit_zookeeper(&self, cid: i32, req: api::OffsetCommitRequest) -> Outcome {
        let om = &self.offset_manager;
        let mut entries = Vec::new();
        let partitions = req.partitions();
        if partitions.len() > MAX_ZOOKEEPER_OFFSET_PARTITIONS {
            log::info!("Closing a connection after an OffsetCommit v0 naming {} partitions (at most {})", partitions.len(), MAX_ZOOKEEPER_OFFSET_PARTITIONS);
            return Outcome::Close;
        }
        for (topic, p) in partitions {
            let error_code = if !self.metadata_cache.contains_topic(topic) {
                ErrorCode::UnknownTopicOrPartition
            } else if om.metadata_too_large(&p.metadata) {
                ErrorCode::OffsetMetadataTooLarge
            } else {
                om.commit_to_zookeeper(&req.group, topic, p.partition, p.offset).await
            };
            entries.push((topic, api::OffsetCommitResponsePartition { partition: p.partition, error_code }));
        }
        respond(cid, &api::OffsetCommitResponse::from_partitions(entries))
    }

    /// OffsetCommit v1: appended to the group's `__consumer_offsets` partition by its
    /// leader; with `offsets.commit.required.acks` = -1 the answer waits for the ISR.
    fn handle_offset_commit_kafka(&self, cid: i32, req: api::OffsetCommitRequest) -> Outcome {
        // Appended now, so a request read after this one on the connection sees it.
        let pending = self.offset_manager.append_commit(&req);
        let om = self.offset_manager.clone();
        Outcome::Deferred(Box::pin(async move {
            let entries = om.complete_commit(pending).await;
            respond(cid, &api::OffsetCommitResponse::from_partitions(entries))
        }))
    }

    /// OffsetFetch v0: any broker; an unknown topic or nothing committed is -1 with 3.
    async fn handle_offset_fetch_zookeeper(&self, cid: i32, req: api::OffsetFetchRequest) -> Outcome {
        let mut entries = Vec::new();
        let partitions = req.partitions();
        if partitions.len() > MAX_ZOOKEEPER_OFFSET_PARTITIONS {
            log::info!("Closing a connection after an OffsetFetch v0 naming {} partitions (at most {})", partitions.len(), MAX_ZOOKEEPER_OFFSET_PARTITIONS);
            return Outcome::Close;
        }
        for (topic, partition) in partitions {
            let (offset, error_code) = if !self.metadata_cache.contains_topic(topic) {
                (-1, ErrorCode::UnknownTopicOrPartition)
            } else {
                self.offset_manager.fetch_from_zookeeper(&req.group, topic, partition).await
            };
            entries.push((topic, api::OffsetFetchResponsePartition { partition, offset, metadata: String::new(), error_code }));
        }
        respond(cid, &api::OffsetFetchResponse::from_partitions(entries))
    }

    /// OffsetFetch v1 (0.8.2 treats every version but 0 this way): a partition the
    /// metadata cache does not know is -1 with 3; the rest come from the coordinator's
    /// cache (16 elsewhere, 14 while loading, -1 with 0 when nothing is committed).
    fn handle_offset_fetch_kafka(&self, cid: i32, req: api::OffsetFetchRequest) -> Outcome {
        let (known, unknown): (Vec<(&str, i32)>, Vec<(&str, i32)>) =
            req.partitions().into_iter().partition(|&(topic, partition)| self.metadata_cache.partition_state(topic, partition).is_some());
        let mut entries: Vec<(&str, api::OffsetFetchResponsePartition)> = unknown
            .into_iter()
            .map(|(topic, partition)| {
                let p = api::OffsetFetchResponsePartition { partition, offset: -1, metadata: String::new(), error_code: ErrorCode::UnknownTopicOrPartition };
                (topic, p)
            })
            .collect();
        if !known.is_empty() {
            entries.extend(self.offset_manager.fetch(&req.group, &known));
        }
        respond(cid, &api::OffsetFetchResponse::from_partitions(entries))
    }

    /// ConsumerMetadata (0.8.2 `handleConsumerMetadataRequest`): the live leader of the
    /// group's offsets partition, else 15. The offsets topic is created when missing,
    /// whatever `auto.create.topics.enable` says.
    async fn handle_consumer_metadata(&self, cid: i32, req: api::ConsumerMetadataRequest) -> Outcome {
        let partition = self.offset_manager.partition_for(&req.group);
        let coordinator = match self.metadata_cache.topic_metadata(crate::common::OFFSETS_TOPIC) {
            Some(md) => md
                .partitions
                .iter()
                .find(|p| p.partition == partition && p.leader >= 0)
                .and_then(|p| self.metadata_cache.broker(p.leader)),
            None => {
                let _ = self.auto_create(crate::common::OFFSETS_TOPIC).await;
                None
            }
        };
        let resp = match coordinator {
            Some(b) => api::ConsumerMetadataResponse::found(b),
            None => api::ConsumerMetadataResponse::error(ErrorCode::ConsumerCoordinatorNotAvailable),
        };
        respond(cid, &resp)
    }

    /// Auto-create a topic with `num.partitions` and `default.replication.factor` (0.8.2:
    /// the offsets topic gets its own settings). A topic created concurrently is fine.
    async fn auto_create(&self, topic: &str) -> Result<(), ErrorCode> {
        let config = self.replica_manager.config();
        let (partitions, rf, props) = if topic == crate::common::OFFSETS_TOPIC {
            let live = self.metadata_cache.alive_brokers().len().max(1) as i32;
            let mut props = Properties::new();
            props.set("segment.bytes", config.offsets_topic_segment_bytes.to_string());
            props.set("cleanup.policy", "compact");
            (config.offsets_topic_num_partitions, config.offsets_topic_replication_factor.min(live as i16) as i32, props)
        } else {
            (config.num_partitions, config.default_replication_factor, Properties::new())
        };
        match crate::admin::create_topic(&self.zk, topic, partitions, rf, &props).await {
            Ok(_) => {
                log::info!("Auto creation of topic {} with {} partitions and replication factor {} is successful!", topic, partitions, rf);
                Ok(())
            }
            Err(crate::admin::AdminError::TopicExists(_)) => Ok(()),
            Err(e) => {
                log::warn!("Auto creation of topic {} failed: {}", topic, e);
                Err(ErrorCode::LeaderNotAvailable)
            }
        }
    }
}

/// Per requested partition: topic, partition, and the bytes read (`None`: it failed).
type FetchSent<'r> = Vec<(&'r str, i32, Option<usize>)>;

fn empty_region() -> FetchRegion {
    static EMPTY: std::sync::OnceLock<Arc<std::fs::File>> = std::sync::OnceLock::new();
    let file = EMPTY.get_or_init(|| Arc::new(std::fs::File::open("/dev/null").expect("/dev/null opens"))).clone();
    FetchRegion { file, position: 0, length: 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{FetchRequest, MetadataRequest};

    fn payload<R: crate::api::ApiRequest>(req: &R, client_id: &str) -> Bytes {
        // The frame without its size prefix.
        let header = RequestHeader::new(R::API_KEY, 0, 7, Some(client_id));
        api::encode_request(&header, req).expect("encode").slice(4..)
    }

    #[test]
    fn the_metrics_tag_names_the_request_and_who_fetched() {
        let name = |tag: u32, shift: u32| crate::metrics::REQUEST_NAMES.get((((tag >> shift) & 0xff) as usize).wrapping_sub(shift.min(1) as usize)).copied();
        let fetch = |replica_id| FetchRequest { replica_id, max_wait_ms: 0, min_bytes: 0, topics: vec![] };
        let consumer = request_metrics_tag(&payload(&fetch(-1), "a-client"));
        assert_eq!((name(consumer, 0), name(consumer, 8)), (Some("Fetch"), Some("FetchConsumer")));
        let follower = request_metrics_tag(&payload(&fetch(2), ""));
        assert_eq!((name(follower, 0), name(follower, 8)), (Some("Fetch"), Some("FetchFollower")));
        let metadata = request_metrics_tag(&payload(&MetadataRequest { topics: vec![] }, "c"));
        assert_eq!((name(metadata, 0), metadata >> 8), (Some("Metadata"), 0));
        assert_eq!(request_metrics_tag(&[0, 99, 0, 0]), NO_TAG, "an unknown key");
        assert_eq!(request_metrics_tag(&[0]), NO_TAG, "a short frame");
    }
}
