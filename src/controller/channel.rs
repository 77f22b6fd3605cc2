//! The controller's channels to brokers (0.8.2 `ControllerChannelManager`): one task and
//! one queue per live broker, so requests reach each broker in the order they were decided
//! and a slow or dead broker delays nobody else. A request is retried (reconnecting) until
//! it is answered or the broker is removed.

use super::context::ControllerRequest;
use crate::api::Broker;
use crate::common::ErrorCode;
use crate::network::{BrokerConnection, ClientError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Pause between attempts to reach a broker (0.8.2's RequestSendThread slept 300 ms).
pub const RETRY_BACKOFF: Duration = Duration::from_millis(300);

/// A request and, if someone waits for it, how to tell them the broker answered.
struct Queued {
    request: ControllerRequest,
    answered: Option<oneshot::Sender<()>>,
}

struct BrokerChannel {
    broker: Broker,
    queue: mpsc::Sender<Queued>,
    task: JoinHandle<()>,
}

/// Where the decision core's requests to brokers go ([`super::change::Effect::Send`]): the
/// channels in the controller, a recorder in the unit tests.
pub trait RequestSink {
    /// Queue `request` for `broker` (never waits).
    fn send(&mut self, broker: i32, request: ControllerRequest);
    /// Queue it, and learn when the broker answered (the receiver fails when the request
    /// is dropped).
    fn send_tracked(&mut self, broker: i32, request: ControllerRequest) -> oneshot::Receiver<()>;
}

impl RequestSink for ControllerChannelManager {
    fn send(&mut self, broker: i32, request: ControllerRequest) {
        ControllerChannelManager::send(self, broker, request)
    }

    fn send_tracked(&mut self, broker: i32, request: ControllerRequest) -> oneshot::Receiver<()> {
        ControllerChannelManager::send_tracked(self, broker, request)
    }
}

pub struct ControllerChannelManager {
    client_id: String,
    socket_timeout: Duration,
    queue_size: usize,
    /// One counter for all channels and reconnects, as 0.8.2's controller context kept.
    correlation_id: Arc<AtomicI32>,
    channels: HashMap<i32, BrokerChannel>,
}

impl ControllerChannelManager {
    pub fn new(client_id: String, socket_timeout: Duration, queue_size: usize) -> ControllerChannelManager {
        ControllerChannelManager {
            client_id,
            socket_timeout,
            queue_size: queue_size.max(1),
            correlation_id: Arc::new(AtomicI32::new(0)),
            channels: HashMap::new(),
        }
    }

    /// Start a channel to `broker` (replacing one to an older registration of the id).
    pub fn add_broker(&mut self, broker: Broker) {
        if let Some(existing) = self.channels.get(&broker.id) {
            if existing.broker == broker {
                return;
            }
            self.remove_broker(broker.id);
        }
        let (tx, rx) = mpsc::channel(self.queue_size);
        let task = tokio::spawn(send_loop(
            broker.clone(),
            rx,
            self.client_id.clone(),
            self.socket_timeout,
            self.correlation_id.clone(),
        ));
        self.channels.insert(broker.id, BrokerChannel { broker, queue: tx, task });
    }

    /// Stop the channel: queued and in-flight requests to the broker are dropped.
    pub fn remove_broker(&mut self, id: i32) {
        if let Some(ch) = self.channels.remove(&id) {
            ch.task.abort();
        }
    }

    /// Queue a request. Never waits: the event loop must not block on a broker (a full
    /// queue deadlocked 0.8.1's controller, KAFKA-1305). A full queue drops the request.
    pub fn send(&self, broker_id: i32, request: ControllerRequest) {
        self.enqueue(broker_id, Queued { request, answered: None });
    }

    /// [`Self::send`], and learn when the broker has answered the request. The receiver
    /// fails instead when the request is dropped (full queue, broker removed).
    pub fn send_tracked(&self, broker_id: i32, request: ControllerRequest) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        self.enqueue(broker_id, Queued { request, answered: Some(tx) });
        rx
    }

    fn enqueue(&self, broker_id: i32, queued: Queued) {
        match self.channels.get(&broker_id) {
            None => log::warn!("controller has no channel to broker {}; dropping {}", broker_id, queued.request.name()),
            Some(ch) => {
                if let Err(e) = ch.queue.try_send(queued) {
                    let name = match &e {
                        mpsc::error::TrySendError::Full(q) | mpsc::error::TrySendError::Closed(q) => q.request.name(),
                    };
                    log::error!(
                        "controller queue to broker {} is full ({} requests, controller.message.queue.size); dropping {}",
                        broker_id,
                        self.queue_size,
                        name
                    );
                }
            }
        }
    }

    pub fn shutdown(&mut self) {
        for (_, ch) in self.channels.drain() {
            ch.task.abort();
        }
    }

    /// Deliver what is queued, for at most `timeout` in all, then stop every channel. A
    /// controller that stops (after moving leadership away in a controlled shutdown) must
    /// not drop the LeaderAndIsr that tell the new leaders; a broker that does not answer
    /// in time loses its requests, as it would on `shutdown`.
    pub async fn drain(&mut self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        for (id, ch) in self.channels.drain() {
            drop(ch.queue);
            let mut task = ch.task;
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                log::warn!("controller could not deliver its last requests to broker {} within {:?}", id, timeout);
                task.abort();
            }
        }
    }
}

impl Drop for ControllerChannelManager {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn send_loop(
    broker: Broker,
    mut queue: mpsc::Receiver<Queued>,
    client_id: String,
    timeout: Duration,
    correlation_id: Arc<AtomicI32>,
) {
    let mut conn: Option<BrokerConnection> = None;
    while let Some(Queued { request, mut answered }) = queue.recv().await {
        let mut failures = 0u32;
        loop {
            let result = match conn.as_mut() {
                Some(c) => {
                    c.set_next_correlation_id(correlation_id.fetch_add(1, Ordering::Relaxed));
                    send_one(c, &client_id, &request).await
                }
                None => match connect(&broker, timeout).await {
                    Ok(c) => {
                        conn = Some(c);
                        continue;
                    }
                    Err(e) => Err(e),
                },
            };
            match result {
                Ok(error_code) => {
                    if error_code != ErrorCode::NoError {
                        log::warn!(
                            "broker {} answered {} from the controller with {}",
                            broker.id,
                            request.name(),
                            error_code
                        );
                    }
                    if let Some(tx) = answered.take() {
                        let _ = tx.send(());
                    }
                    break;
                }
                Err(e) => {
                    conn = None;
                    // The first failure is worth a warning; the retries only while debugging.
                    if failures == 0 {
                        log::warn!(
                            "controller cannot send {} to broker {} at {}:{}: {}; retrying",
                            request.name(),
                            broker.id,
                            broker.host,
                            broker.port,
                            e
                        );
                    } else {
                        log::debug!(
                            "controller retry {} of {} to broker {}: {}",
                            failures,
                            request.name(),
                            broker.id,
                            e
                        );
                    }
                    failures = failures.saturating_add(1);
                    tokio::time::sleep(RETRY_BACKOFF).await;
                }
            }
        }
    }
}

async fn connect(broker: &Broker, timeout: Duration) -> Result<BrokerConnection, ClientError> {
    let port = u16::try_from(broker.port).map_err(|_| {
        ClientError::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("bad port {}", broker.port)))
    })?;
    BrokerConnection::connect(&broker.host, port, timeout).await
}

/// Send one request; the response's top-level error code.
async fn send_one(
    conn: &mut BrokerConnection,
    client_id: &str,
    request: &ControllerRequest,
) -> Result<ErrorCode, ClientError> {
    Ok(match request {
        ControllerRequest::LeaderAndIsr(r) => {
            let resp = conn.send(client_id, r).await?;
            for p in resp.partitions.iter().filter(|p| p.error_code != ErrorCode::NoError) {
                log::warn!("broker refused LeaderAndIsr for [{},{}]: {}", p.topic, p.partition, p.error_code);
            }
            resp.error_code
        }
        ControllerRequest::UpdateMetadata(r) => conn.send(client_id, r).await?.error_code,
        ControllerRequest::StopReplica(r) => conn.send(client_id, r).await?.error_code,
    })
}
