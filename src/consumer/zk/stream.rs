//! Streams (0.8.2 `KafkaStream` + `ConsumerIterator`): each stream drains one bounded queue
//! of fetched chunks (`queued.max.message.chunks`) that the fetchers fill, and hands out
//! messages one at a time, advancing the partition's consumed offset as it does.
//!
//! Ownership is checked per message, not per chunk: when a rebalance revokes a partition,
//! no message of it is handed out afterwards, and every message handed out before is
//! counted in the consumed offset that the rebalance commits. That replaces 0.8's "clear
//! the queues" step, which raced with an iterator in the middle of a chunk.

use super::error::ConsumerError;
use crate::common::TopicPartition;
use crate::message::{deep_iter, DeepIter};
use bytes::Bytes;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// One consumed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageAndMetadata {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
}

#[derive(Debug)]
struct ConsumeState {
    /// Offset of the next message to hand out (what a commit stores); -1 = unknown yet.
    consumed: i64,
    revoked: bool,
}

/// A partition this consumer owns in the current rebalance generation (0.8's
/// `PartitionTopicInfo`). Revoked when the generation ends.
#[derive(Debug)]
pub(crate) struct PartitionTopicInfo {
    pub tp: TopicPartition,
    pub thread_id: String,
    state: Mutex<ConsumeState>,
    /// Next offset to fetch; -1 = unknown (use `auto.offset.reset`).
    fetched: AtomicI64,
}

impl PartitionTopicInfo {
    pub fn new(tp: TopicPartition, thread_id: String, offset: i64) -> PartitionTopicInfo {
        PartitionTopicInfo {
            tp,
            thread_id,
            state: Mutex::new(ConsumeState { consumed: offset, revoked: false }),
            fetched: AtomicI64::new(offset),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ConsumeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn consumed_offset(&self) -> i64 {
        self.lock().consumed
    }

    pub fn fetch_offset(&self) -> i64 {
        self.fetched.load(Ordering::SeqCst)
    }

    /// Advance the fetch offset only if it still is `expected`.
    pub fn compare_and_set_fetch_offset(&self, expected: i64, new: i64) -> bool {
        self.fetched.compare_exchange(expected, new, Ordering::SeqCst, Ordering::SeqCst).is_ok()
    }

    /// After an offset reset both positions move (0.8.2 `resetFetchOffset` +
    /// `resetConsumeOffset`).
    pub fn reset(&self, offset: i64) {
        let mut st = self.lock();
        st.consumed = offset;
        self.fetched.store(offset, Ordering::SeqCst);
    }

    /// Stop handing out messages of this partition; returns the final consumed offset.
    /// After this returns no stream will move the consumed offset again.
    pub fn revoke(&self) -> i64 {
        let mut st = self.lock();
        st.revoked = true;
        st.consumed
    }

    pub fn is_revoked(&self) -> bool {
        self.lock().revoked
    }
}

/// What a fetcher puts into a stream's queue.
#[derive(Debug)]
pub(crate) enum Chunk {
    /// A message set fetched at `fetch_offset` (may end with a partial message).
    Data { pti: Arc<PartitionTopicInfo>, fetch_offset: i64, messages: Bytes },
    /// The partition is stuck at `offset`: the message there does not fit the fetch size.
    TooLarge { pti: Arc<PartitionTopicInfo>, offset: i64, fetch_size: i32 },
}

pub(crate) type ChunkSender = mpsc::Sender<Chunk>;

struct CurrentChunk {
    pti: Arc<PartitionTopicInfo>,
    fetch_offset: i64,
    iter: DeepIter,
    first: bool,
}

/// A stream of messages for one consumer thread. Use [`KafkaStream::next`] inside tokio, or
/// iterate it (blocking) on a thread of its own — 0.8's one-thread-per-stream model.
///
/// `next` returns `None` once the connector shuts down, `Some(Err(Timeout))` when
/// `consumer.timeout.ms` passes without a message (the stream stays usable), and is
/// cancel-safe: a message is either returned or stays for the next call.
pub struct KafkaStream {
    rx: mpsc::Receiver<Chunk>,
    shutdown: watch::Receiver<bool>,
    timeout: Option<Duration>,
    client_id: String,
    current: Option<CurrentChunk>,
    runtime: Option<tokio::runtime::Handle>,
}

impl std::fmt::Debug for KafkaStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaStream").field("client_id", &self.client_id).field("timeout", &self.timeout).finish()
    }
}

impl KafkaStream {
    pub(crate) fn new(
        capacity: usize,
        shutdown: watch::Receiver<bool>,
        timeout: Option<Duration>,
        client_id: &str,
    ) -> (ChunkSender, KafkaStream) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let runtime = tokio::runtime::Handle::try_current().ok();
        (tx, KafkaStream { rx, shutdown, timeout, client_id: client_id.to_string(), current: None, runtime })
    }

    /// The next message left in the chunk being handed out (dropping it once used up).
    fn next_in_current(&mut self) -> Option<Result<MessageAndMetadata, ConsumerError>> {
        while let Some(cur) = self.current.as_mut() {
            match next_in_chunk(cur) {
                Some(item) => return Some(item),
                None => self.current = None,
            }
        }
        None
    }

    /// The next message, waiting for one as long as `consumer.timeout.ms` allows.
    pub async fn next(&mut self) -> Option<Result<MessageAndMetadata, ConsumerError>> {
        let deadline = self.timeout.map(|t| tokio::time::Instant::now() + t);
        loop {
            if let Some(item) = self.next_in_current() {
                return Some(item);
            }
            if *self.shutdown.borrow() {
                return None;
            }
            let rx = &mut self.rx;
            let shutdown = &mut self.shutdown;
            let wait = async {
                tokio::select! {
                    c = rx.recv() => c,
                    _ = shutdown.wait_for(|s| *s) => None,
                }
            };
            let chunk = match deadline {
                Some(d) => match tokio::time::timeout_at(d, wait).await {
                    Ok(c) => c,
                    Err(_) => return Some(Err(ConsumerError::Timeout)),
                },
                None => wait.await,
            };
            match chunk {
                None => return None,
                Some(c) => {
                    if let Some(e) = self.take_chunk(c) {
                        return Some(Err(e));
                    }
                }
            }
        }
    }

    /// The next message if one is at hand (fetched and queued for this stream), without
    /// waiting; `None` when none is (or the connector is shutting down). Cheaper than a
    /// [`KafkaStream::next`] polled once, for a caller that drains what is ready.
    pub fn try_next(&mut self) -> Option<Result<MessageAndMetadata, ConsumerError>> {
        loop {
            if let Some(item) = self.next_in_current() {
                return Some(item);
            }
            if *self.shutdown.borrow() {
                return None;
            }
            let chunk = self.rx.try_recv().ok()?;
            if let Some(e) = self.take_chunk(chunk) {
                return Some(Err(e));
            }
        }
    }

    /// Make a fetched chunk the current one; the error a stuck partition reports.
    fn take_chunk(&mut self, chunk: Chunk) -> Option<ConsumerError> {
        match chunk {
            Chunk::Data { pti, fetch_offset, messages } => {
                self.current = Some(CurrentChunk { pti, fetch_offset, iter: deep_iter(messages), first: true });
                None
            }
            Chunk::TooLarge { pti, offset, fetch_size } => (!pti.is_revoked()).then(|| ConsumerError::MessageSizeTooLarge {
                topic: pti.tp.topic.clone(),
                partition: pti.tp.partition,
                offset,
                fetch_size,
            }),
        }
    }
}

/// Hand out the next message of the chunk, or `None` when it is used up (or its partition
/// was revoked). Messages below the consumed offset were handed out before (a compressed
/// set starts before the fetch offset, or a moved partition was fetched twice): skipped.
fn next_in_chunk(cur: &mut CurrentChunk) -> Option<Result<MessageAndMetadata, ConsumerError>> {
    loop {
        let entry = cur.iter.next()?;
        let mut st = cur.pti.lock();
        if st.revoked {
            return None;
        }
        let tp = &cur.pti.tp;
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                // The rest of the set cannot be read past a broken wrapper.
                let offset = st.consumed.max(cur.fetch_offset);
                return Some(Err(ConsumerError::InvalidMessage {
                    topic: tp.topic.clone(),
                    partition: tp.partition,
                    offset,
                    reason: e.to_string(),
                }));
            }
        };
        if entry.offset < st.consumed {
            continue;
        }
        if cur.first && st.consumed >= 0 && entry.offset > st.consumed && cur.fetch_offset > st.consumed {
            log::warn!(
                "consumed offset {} of {} is behind the fetch offset {} of the next chunk; messages may have been skipped",
                st.consumed,
                tp,
                cur.fetch_offset
            );
        }
        cur.first = false;
        st.consumed = entry.offset + 1;
        if let Err(e) = entry.message.validate() {
            return Some(Err(ConsumerError::InvalidMessage {
                topic: tp.topic.clone(),
                partition: tp.partition,
                offset: entry.offset,
                reason: e.to_string(),
            }));
        }
        return Some(Ok(MessageAndMetadata {
            topic: tp.topic.clone(),
            partition: tp.partition,
            offset: entry.offset,
            key: entry.message.key(),
            value: entry.message.value(),
        }));
    }
}

/// Blocking iteration for a consumer thread outside the runtime (0.8's model). Panics if
/// called on a runtime thread, like any blocking call there would.
impl Iterator for KafkaStream {
    type Item = Result<MessageAndMetadata, ConsumerError>;

    fn next(&mut self) -> Option<Self::Item> {
        let handle = self.runtime.clone().expect("KafkaStream created outside a tokio runtime");
        handle.block_on(KafkaStream::next(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{encode_messages, CompressionCodec, Message};

    fn set(first: i64, values: &[&str], codec: CompressionCodec) -> Bytes {
        let msgs: Vec<Message> =
            values.iter().map(|v| Message::new(None, Some(v.as_bytes()), CompressionCodec::None)).collect();
        encode_messages(codec, &msgs, first)
    }

    #[tokio::test]
    async fn messages_advance_the_consumed_offset_and_duplicates_are_skipped() {
        let (_stx, srx) = watch::channel(false);
        let (tx, mut s) = KafkaStream::new(2, srx, Some(Duration::from_millis(50)), "c");
        let pti = Arc::new(PartitionTopicInfo::new(TopicPartition::new("t", 0), "c-0".into(), 0));
        tx.send(Chunk::Data {
            pti: pti.clone(),
            fetch_offset: 0,
            messages: set(0, &["a", "b"], CompressionCodec::None),
        })
        .await
        .unwrap();
        // A re-fetch of offsets 0..3 (a partition moved between fetchers): 0 and 1 skipped.
        tx.send(Chunk::Data {
            pti: pti.clone(),
            fetch_offset: 0,
            messages: set(0, &["a", "b", "c"], CompressionCodec::Gzip),
        })
        .await
        .unwrap();
        let got: Vec<(i64, Bytes)> = [s.next().await, s.next().await, s.next().await]
            .into_iter()
            .map(|m| {
                let m = m.unwrap().unwrap();
                (m.offset, m.value.unwrap())
            })
            .collect();
        assert_eq!(got, vec![(0, Bytes::from("a")), (1, Bytes::from("b")), (2, Bytes::from("c"))]);
        assert_eq!(pti.consumed_offset(), 3);
        assert_eq!(s.next().await, Some(Err(ConsumerError::Timeout)));
        // Still usable after a timeout.
        tx.send(Chunk::Data { pti: pti.clone(), fetch_offset: 3, messages: set(3, &["d"], CompressionCodec::None) })
            .await
            .unwrap();
        assert_eq!(s.next().await.unwrap().unwrap().offset, 3);
    }

    #[tokio::test]
    async fn try_next_hands_out_what_is_queued_without_waiting() {
        let (stx, srx) = watch::channel(false);
        let (tx, mut s) = KafkaStream::new(4, srx, None, "c");
        let pti = Arc::new(PartitionTopicInfo::new(TopicPartition::new("t", 0), "c-0".into(), 0));
        assert!(s.try_next().is_none());
        tx.send(Chunk::Data { pti: pti.clone(), fetch_offset: 0, messages: set(0, &["a"], CompressionCodec::None) }).await.unwrap();
        tx.send(Chunk::TooLarge { pti: pti.clone(), offset: 1, fetch_size: 10 }).await.unwrap();
        assert_eq!(s.try_next().unwrap().unwrap().offset, 0);
        assert!(matches!(s.try_next(), Some(Err(ConsumerError::MessageSizeTooLarge { offset: 1, .. }))));
        assert!(s.try_next().is_none());
        // Shutting down: nothing more, even what is queued.
        tx.send(Chunk::Data { pti: pti.clone(), fetch_offset: 1, messages: set(1, &["b"], CompressionCodec::None) }).await.unwrap();
        stx.send(true).unwrap();
        assert!(s.try_next().is_none());
    }

    #[tokio::test]
    async fn a_revoked_partition_hands_out_nothing_more() {
        let (stx, srx) = watch::channel(false);
        let (tx, mut s) = KafkaStream::new(2, srx, None, "c");
        let pti = Arc::new(PartitionTopicInfo::new(TopicPartition::new("t", 0), "c-0".into(), 0));
        tx.send(Chunk::Data {
            pti: pti.clone(),
            fetch_offset: 0,
            messages: set(0, &["a", "b", "c"], CompressionCodec::None),
        })
        .await
        .unwrap();
        assert_eq!(s.next().await.unwrap().unwrap().offset, 0);
        assert_eq!(pti.revoke(), 1);
        let other = Arc::new(PartitionTopicInfo::new(TopicPartition::new("t", 1), "c-0".into(), 5));
        tx.send(Chunk::Data { pti: other.clone(), fetch_offset: 5, messages: set(5, &["x"], CompressionCodec::None) })
            .await
            .unwrap();
        let m = s.next().await.unwrap().unwrap();
        assert_eq!((m.partition, m.offset), (1, 5));
        assert_eq!(pti.consumed_offset(), 1);
        stx.send(true).unwrap();
        assert_eq!(s.next().await, None);
    }

    #[test]
    fn blocking_iteration_outside_the_runtime() {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let (_stx, srx) = watch::channel(false);
        let (tx, s) = rt.block_on(async { KafkaStream::new(1, srx, Some(Duration::from_millis(100)), "c") });
        let pti = Arc::new(PartitionTopicInfo::new(TopicPartition::new("t", 0), "c-0".into(), -1));
        rt.block_on(tx.send(Chunk::Data { pti, fetch_offset: 7, messages: set(7, &["z"], CompressionCodec::None) }))
            .unwrap();
        let mut it = s;
        assert_eq!(Iterator::next(&mut it).unwrap().unwrap().offset, 7);
        assert_eq!(Iterator::next(&mut it), Some(Err(ConsumerError::Timeout)));
    }
}
