//! `Producer`: 0.8.2's `kafka.producer.Producer` over tokio. Sync mode sends in the
//! caller's task through the [`EventHandler`]; async mode puts messages on a bounded queue
//! drained by a background task (0.8.2's `ProducerSendThread`).

use super::config::{ProducerConfig, ProducerType};
use super::error::ProducerError;
use super::event_handler::EventHandler;
use super::KeyedMessage;
use crate::common::Properties;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::{self, error::SendTimeoutError, error::TrySendError};
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
    sender: Mutex<Option<mpsc::Sender<KeyedMessage>>>,
    task: tokio::sync::Mutex<Option<JoinHandle<()>>>,
    stats: Arc<AsyncStats>,
}

/// What the background task could not send (0.8.2 only logged it).
#[derive(Default)]
struct AsyncStats {
    failed_batches: AtomicU64,
    failed_messages: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Producer {
    pub fn new(config: ProducerConfig) -> Producer {
        let config = Arc::new(config);
        let handler = EventHandler::new(config.clone());
        let mode = match config.producer_type {
            ProducerType::Sync => Mode::Sync(Box::new(tokio::sync::Mutex::new(handler))),
            ProducerType::Async => {
                let (tx, rx) = mpsc::channel(config.queue_buffering_max_messages);
                let stats = Arc::new(AsyncStats::default());
                let task = tokio::spawn(send_loop(
                    rx,
                    handler,
                    config.batch_num_messages,
                    Duration::from_millis(config.queue_buffering_max_ms),
                    stats.clone(),
                ));
                Mode::Async(AsyncQueue {
                    sender: Mutex::new(Some(tx)),
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

    async fn enqueue(&self, queue: &AsyncQueue, messages: Vec<KeyedMessage>) -> Result<(), ProducerError> {
        let sender = queue.sender.lock().expect("sender lock").clone().ok_or(ProducerError::Closed)?;
        let timeout = self.config.queue_enqueue_timeout_ms;
        for (enqueued, m) in messages.into_iter().enumerate() {
            let full = |m: KeyedMessage| {
                log::warn!("Event queue is full of unsent messages, dropping a message for topic {}", m.topic);
                ProducerError::QueueFull { topic: m.topic, enqueued }
            };
            if timeout < 0 {
                sender.send(m).await.map_err(|_| ProducerError::Closed)?;
            } else if timeout == 0 {
                match sender.try_send(m) {
                    Ok(()) => {}
                    Err(TrySendError::Full(m)) => return Err(full(m)),
                    Err(TrySendError::Closed(_)) => return Err(ProducerError::Closed),
                }
            } else {
                match sender.send_timeout(m, Duration::from_millis(timeout as u64)).await {
                    Ok(()) => {}
                    Err(SendTimeoutError::Timeout(m)) => return Err(full(m)),
                    Err(SendTimeoutError::Closed(_)) => return Err(ProducerError::Closed),
                }
            }
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
    mut rx: mpsc::Receiver<KeyedMessage>,
    mut handler: EventHandler,
    batch_size: usize,
    queue_time: Duration,
    stats: Arc<AsyncStats>,
) {
    let mut events = Vec::with_capacity(batch_size);
    let mut last_send = Instant::now();
    loop {
        match tokio::time::timeout_at(last_send + queue_time, rx.recv()).await {
            Ok(Some(m)) => {
                events.push(m);
                if events.len() >= batch_size {
                    try_to_handle(&mut handler, std::mem::take(&mut events), &stats).await;
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
        stats.failed_batches.fetch_add(1, Ordering::SeqCst);
        stats.failed_messages.fetch_add(unsent, Ordering::SeqCst);
        *stats.last_error.lock().expect("stats lock") = Some(e.to_string());
    }
}
