//! `Producer`: 0.8.2's `kafka.producer.Producer` over tokio. Sync mode sends in the
//! caller's task through the [`EventHandler`]; async mode puts messages on a bounded queue
//! drained by a background task (0.8.2's `ProducerSendThread`).
//!
//! The async queue holds at most `queue.buffering.max.messages` messages, counted by a
//! semaphore, but moves them in the chunks `send` was given: one channel hop per call, not
//! per message. A message leaves the count when the send task takes it, as it left 0.8.2's
//! `LinkedBlockingQueue`.

use super::config::{ProducerConfig, ProducerType};
use super::error::ProducerError;
use super::event_handler::EventHandler;
use super::pipeline::Pipeline;
use super::KeyedMessage;
use crate::common::Properties;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// A 0.8.2 producer. Share it between tasks with an `Arc`: `send` takes `&self`.
///
/// Must be created inside a tokio runtime (async mode spawns its send task there); see
/// [`super::BlockingProducer`] for callers without one.
pub struct Producer {
    config: Arc<ProducerConfig>,
    mode: Mode,
    closed: AtomicBool,
}

enum Mode {
    Sync(Box<tokio::sync::Mutex<EventHandler>>),
    Async(AsyncQueue),
}

struct AsyncQueue {
    /// Dropped by `close`: the send task then drains what is queued and ends.
    sender: Mutex<Option<mpsc::UnboundedSender<Vec<KeyedMessage>>>>,
    /// One permit per free place in the queue (`queue.buffering.max.messages`).
    room: Arc<Semaphore>,
    task: tokio::sync::Mutex<Option<JoinHandle<()>>>,
    stats: Arc<AsyncStats>,
}

/// What the background task could not send (0.8.2 only logged it).
#[derive(Default)]
pub(super) struct AsyncStats {
    failed_batches: AtomicU64,
    failed_messages: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl AsyncStats {
    /// A batch (or part of one) of `messages` given up with `error`.
    pub(super) fn record_failure(&self, messages: u64, error: String) {
        self.failed_batches.fetch_add(1, Ordering::SeqCst);
        self.failed_messages.fetch_add(messages, Ordering::SeqCst);
        *self.last_error.lock().expect("stats lock") = Some(error);
    }
}

impl Producer {
    pub fn new(config: ProducerConfig) -> Producer {
        let config = Arc::new(config);
        let handler = EventHandler::new(config.clone());
        let mode = match config.producer_type {
            ProducerType::Sync => Mode::Sync(Box::new(tokio::sync::Mutex::new(handler))),
            ProducerType::Async => {
                let (tx, rx) = mpsc::unbounded_channel();
                let room = Arc::new(Semaphore::new(config.queue_buffering_max_messages));
                let stats = Arc::new(AsyncStats::default());
                let batch_size = config.batch_num_messages;
                let queue_time = Duration::from_millis(config.queue_buffering_max_ms);
                let task = if config.max_in_flight > 1 {
                    let pipeline = Pipeline::new(handler, stats.clone());
                    tokio::spawn(pipelined_send_loop(rx, room.clone(), pipeline, batch_size, queue_time))
                } else {
                    tokio::spawn(send_loop(rx, room.clone(), handler, batch_size, queue_time, stats.clone()))
                };
                Mode::Async(AsyncQueue {
                    sender: Mutex::new(Some(tx)),
                    room,
                    task: tokio::sync::Mutex::new(Some(task)),
                    stats,
                })
            }
        };
        Producer { config, mode, closed: AtomicBool::new(false) }
    }

    /// A producer from 0.8.2 producer properties.
    pub fn from_properties(props: &Properties) -> Result<Producer, ProducerError> {
        Ok(Producer::new(ProducerConfig::from_properties(props)?))
    }

    pub fn config(&self) -> &ProducerConfig {
        &self.config
    }

    /// Sync mode: send and wait for the acknowledgements (or the final error, naming the
    /// topic-partitions still unsent). Async mode: queue each message, waiting as
    /// `queue.enqueue.timeout.ms` says when the queue is full; a send error of the background
    /// task is logged and reported by [`Producer::close`].
    pub async fn send(&self, messages: Vec<KeyedMessage>) -> Result<(), ProducerError> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(ProducerError::Closed);
        }
        match &self.mode {
            Mode::Sync(handler) => handler.lock().await.handle(messages).await,
            Mode::Async(queue) => self.enqueue(queue, messages).await,
        }
    }

    /// `send` of one message.
    pub async fn send_one(&self, message: KeyedMessage) -> Result<(), ProducerError> {
        self.send(vec![message]).await
    }

    /// Queue `messages` in order, each taking a place in the queue: all the free places are
    /// taken at once; when none is free, the next message waits as
    /// `queue.enqueue.timeout.ms` says (forever, not at all, or that long) and the rest are
    /// not queued if it gives up.
    async fn enqueue(&self, queue: &AsyncQueue, messages: Vec<KeyedMessage>) -> Result<(), ProducerError> {
        let sender = queue.sender.lock().expect("sender lock").clone().ok_or(ProducerError::Closed)?;
        let timeout = self.config.queue_enqueue_timeout_ms;
        let total = messages.len();
        let mut rest = messages.into_iter();
        let mut enqueued = 0;
        while enqueued < total {
            let left = total - enqueued;
            let free = queue.room.available_permits().min(left);
            let taken = match (free > 0).then(|| queue.room.try_acquire_many(free as u32)) {
                Some(Ok(permits)) => {
                    permits.forget();
                    free
                }
                _ => {
                    let wait = queue.room.acquire();
                    let permit = if timeout < 0 {
                        Some(wait.await)
                    } else if timeout == 0 {
                        None
                    } else {
                        tokio::time::timeout(Duration::from_millis(timeout as u64), wait).await.ok()
                    };
                    match permit {
                        Some(Ok(p)) => {
                            p.forget();
                            1
                        }
                        Some(Err(_closed)) => return Err(ProducerError::Closed),
                        None => {
                            let topic = rest.next().map(|m| m.topic).unwrap_or_default();
                            log::warn!("Event queue is full of unsent messages, dropping a message for topic {}", topic);
                            return Err(ProducerError::QueueFull { topic, enqueued });
                        }
                    }
                }
            };
            let chunk: Vec<KeyedMessage> = rest.by_ref().take(taken).collect();
            if sender.send(chunk).is_err() {
                return Err(ProducerError::Closed);
            }
            enqueued += taken;
        }
        Ok(())
    }

    /// Stop accepting messages; in async mode send everything queued first (0.8.2
    /// `close` flushes through the send thread). Returns an error if any background batch
    /// failed during the producer's life. Later calls do nothing.
    pub async fn close(&self) -> Result<(), ProducerError> {
        if self.closed.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        match &self.mode {
            Mode::Sync(handler) => {
                handler.lock().await.close();
                Ok(())
            }
            Mode::Async(queue) => {
                drop(queue.sender.lock().expect("sender lock").take());
                if let Some(task) = queue.task.lock().await.take() {
                    if let Err(e) = task.await {
                        log::error!("producer send task ended abnormally: {}", e);
                    }
                }
                let batches = queue.stats.failed_batches.load(Ordering::SeqCst);
                if batches == 0 {
                    return Ok(());
                }
                Err(ProducerError::AsyncSendFailed {
                    batches,
                    messages: queue.stats.failed_messages.load(Ordering::SeqCst),
                    last: queue.stats.last_error.lock().expect("stats lock").clone().unwrap_or_default(),
                })
            }
        }
    }

    /// Async mode: messages the background task failed to send so far (0 in sync mode).
    pub fn failed_message_count(&self) -> u64 {
        match &self.mode {
            Mode::Sync(_) => 0,
            Mode::Async(q) => q.stats.failed_messages.load(Ordering::SeqCst),
        }
    }
}

/// 0.8.2 `ProducerSendThread.processEvents`: collect messages until `batch_size` are
/// waiting or `queue_time` has passed since the last send, then hand them to the event
/// handler; when the queue closes, send what is left.
async fn send_loop(
    mut rx: mpsc::UnboundedReceiver<Vec<KeyedMessage>>,
    room: Arc<Semaphore>,
    mut handler: EventHandler,
    batch_size: usize,
    queue_time: Duration,
    stats: Arc<AsyncStats>,
) {
    // However this task ends (a panic included), callers waiting for room get `Closed`
    // rather than waiting for places that will never be freed.
    let _room_closer = CloseOnDrop(room.clone());
    let mut events = Vec::with_capacity(batch_size);
    let mut last_send = Instant::now();
    loop {
        match tokio::time::timeout_at(last_send + queue_time, rx.recv()).await {
            Ok(Some(chunk)) => {
                let mut chunk = chunk.into_iter();
                loop {
                    let before = events.len();
                    events.extend(chunk.by_ref().take(batch_size - before));
                    room.add_permits(events.len() - before);
                    if events.len() < batch_size {
                        break;
                    }
                    let batch = std::mem::replace(&mut events, Vec::with_capacity(batch_size));
                    try_to_handle(&mut handler, batch, &stats).await;
                    last_send = Instant::now();
                }
            }
            Ok(None) => break,
            Err(_expired) => {
                try_to_handle(&mut handler, std::mem::take(&mut events), &stats).await;
                last_send = Instant::now();
            }
        }
    }
    try_to_handle(&mut handler, events, &stats).await;
    handler.close();
}

/// `send_loop` with several requests in flight (`max.in.flight.requests.per.connection`
/// above 1): batches are collected the same way and handed to the [`Pipeline`], which sends
/// without waiting for earlier answers. The queue is read only while the pipeline holds
/// less than a batch not yet on the wire, so a slow broker still makes `send` wait
/// (`queue.buffering.max.messages`, `queue.enqueue.timeout.ms`) as before.
async fn pipelined_send_loop(
    mut rx: mpsc::UnboundedReceiver<Vec<KeyedMessage>>,
    room: Arc<Semaphore>,
    mut pipeline: Pipeline,
    batch_size: usize,
    queue_time: Duration,
) {
    let _room_closer = CloseOnDrop(room.clone());
    let mut events = Vec::with_capacity(batch_size);
    let mut last_send = Instant::now();
    loop {
        let accepting = pipeline.backlog_len() < batch_size;
        enum Step {
            Chunk(Option<Vec<KeyedMessage>>),
            Expired,
            Event(super::pipeline::Event),
        }
        let step = tokio::select! {
            chunk = rx.recv(), if accepting => Step::Chunk(chunk),
            _ = tokio::time::sleep_until(last_send + queue_time), if accepting => Step::Expired,
            event = pipeline.next_event() => Step::Event(event),
        };
        match step {
            Step::Chunk(Some(chunk)) => {
                let mut chunk = chunk.into_iter();
                loop {
                    let before = events.len();
                    events.extend(chunk.by_ref().take(batch_size - before));
                    room.add_permits(events.len() - before);
                    if events.len() < batch_size {
                        break;
                    }
                    let batch = std::mem::replace(&mut events, Vec::with_capacity(batch_size));
                    pipeline.submit(batch).await;
                    last_send = Instant::now();
                }
            }
            Step::Chunk(None) => break,
            Step::Expired => {
                pipeline.submit(std::mem::take(&mut events)).await;
                last_send = Instant::now();
            }
            Step::Event(event) => pipeline.handle_event(event).await,
        }
    }
    pipeline.submit(events).await;
    pipeline.drain().await;
}

struct CloseOnDrop(Arc<Semaphore>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

async fn try_to_handle(handler: &mut EventHandler, events: Vec<KeyedMessage>, stats: &AsyncStats) {
    if events.is_empty() {
        return;
    }
    let n = events.len() as u64;
    if let Err(e) = handler.handle(events).await {
        log::error!("Error in handling batch of {} events: {}", n, e);
        let unsent = match &e {
            ProducerError::FailedToSend { failures, .. } => failures.iter().map(|f| f.messages as u64).sum(),
            _ => n,
        };
        stats.record_failure(unsent, e.to_string());
    }
}
