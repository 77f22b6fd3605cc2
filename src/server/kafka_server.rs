//! Broker start-up and shutdown (0.8.2 `KafkaServer`), broker registration (0.8.2
//! `KafkaHealthcheck`) and live topic config changes (0.8.2 `TopicConfigManager`).
//!
//! Start-up order is 0.8.2's: log manager, socket server, replica manager, controller
//! election, topic config manager, and registration in `/brokers/ids` last, so that a
//! registered broker is one that serves.

use super::apis::KafkaApis;
use super::config::KafkaConfig;
use super::metadata_cache::MetadataCache;
use super::offset_manager::{OffsetManager, OffsetManagerConfig};
use super::replica_manager::ReplicaManager;
use crate::api::{Broker, ControlledShutdownRequest};
use crate::common::{Clock, ErrorCode, SystemClock};
use crate::controller::{ControllerConfig, ControllerHandle, KafkaController};
use crate::log::{CleanerConfig, LogConfig, LogManager};
use crate::metrics::http::MetricsServer;
use crate::metrics::RequestMetrics;
use super::broker_metrics::BrokerMetrics;
use crate::network::{BrokerConnection, SocketServer, SocketServerConfig};
use crate::zk::{json, paths, QueryError, ZkClient, ZkError};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Added to `replica.fetch.wait.max.ms` when waiting for our last fetches to leave the
/// leaders before a controlled shutdown (request transit and scheduling).
const PARKED_FETCH_MARGIN: Duration = Duration::from_millis(300);

/// Why the broker could not start.
#[derive(Debug)]
pub struct StartupError(pub String);

impl std::fmt::Display for StartupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartupError {}

pub struct KafkaServer {
    pub config: Arc<KafkaConfig>,
    pub zk: ZkClient,
    pub log_manager: Arc<LogManager>,
    pub replica_manager: Arc<ReplicaManager>,
    pub metadata_cache: Arc<MetadataCache>,
    pub offset_manager: Arc<OffsetManager>,
    socket_server: Option<SocketServer>,
    metrics_server: Option<MetricsServer>,
    /// Shared with the request handler, which serves ControlledShutdown through it.
    controller: Arc<OnceLock<ControllerHandle>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// The log cleaner's settings from the `log.cleaner.*` keys (0.8.2 `KafkaServer.createLogManager`).
fn cleaner_config_of(config: &KafkaConfig) -> CleanerConfig {
    CleanerConfig {
        num_threads: config.log_cleaner_threads.max(1) as usize,
        dedupe_buffer_size: config.log_cleaner_dedupe_buffer_size.max(0) as usize,
        dedupe_buffer_load_factor: config.log_cleaner_io_buffer_load_factor,
        io_buffer_size: config.log_cleaner_io_buffer_size.max(0) as usize,
        max_io_bytes_per_second: config.log_cleaner_io_max_bytes_per_second,
        backoff_ms: config.log_cleaner_backoff_ms.max(0) as u64,
        enable_cleaner: config.log_cleaner_enable,
    }
}

/// Overrides of every topic in `/config/topics`, over the broker defaults.
async fn all_topic_configs(zk: &ZkClient, defaults: &LogConfig) -> HashMap<String, LogConfig> {
    let mut out = HashMap::new();
    let topics = zk.topics_with_config().await.unwrap_or_default();
    for t in topics {
        if let Some(c) = topic_config(zk, &t, defaults).await {
            out.insert(t, c);
        }
    }
    out
}

async fn topic_config(zk: &ZkClient, topic: &str, defaults: &LogConfig) -> Option<LogConfig> {
    let props = match zk.topic_config(topic).await {
        Ok(props) => props,
        Err(e) => {
            log::warn!("ignoring the config overrides of topic {}: {}", topic, e);
            return None;
        }
    };
    match defaults.with_topic_overrides(&props) {
        Ok(c) => Some(c),
        Err(e) => {
            log::warn!("ignoring invalid config overrides of topic {}: {}", topic, e);
            None
        }
    }
}

impl KafkaServer {
    pub async fn startup(config: KafkaConfig) -> Result<KafkaServer, StartupError> {
        let config = Arc::new(config);
        let id = config.broker_id;
        log::info!("[Kafka Server {}], starting", id);
        let zk = ZkClient::connect(
            &config.zookeeper_connect,
            Duration::from_millis(config.zookeeper_session_timeout_ms.max(1) as u64),
            Duration::from_millis(config.zk_connection_timeout_ms().max(1) as u64),
        )
        .await
        .map_err(|e| StartupError(format!("cannot connect to ZooKeeper at {}: {}", config.zookeeper_connect, e)))?;
        for p in paths::PERSISTENT_PATHS {
            zk.ensure_path(p).await.map_err(|e| StartupError(format!("cannot create {} in ZooKeeper: {}", p, e)))?;
        }

        let defaults = config.log_defaults();
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let topic_configs = all_topic_configs(&zk, &defaults).await;
        let dirs = config.log_dirs();
        let log_manager = {
            let defaults = defaults.clone();
            tokio::task::spawn_blocking(move || LogManager::open(&dirs, defaults, topic_configs, clock))
                .await
                .map_err(|e| StartupError(e.to_string()))?
                .map_err(|e| StartupError(e.to_string()))?
        };
        let log_manager = Arc::new(log_manager);
        log_manager.start_background(
            config.log_retention_check_interval_ms,
            config.log_flush_scheduler_interval_ms,
            config.log_flush_offset_checkpoint_interval_ms as i64,
        );
        log_manager.start_cleaner(cleaner_config_of(&config)).map_err(|e| StartupError(e.to_string()))?;

        let replica_manager = ReplicaManager::new(config.clone(), log_manager.clone(), zk.clone());
        let metadata_cache = Arc::new(MetadataCache::new());
        let controller_slot = Arc::new(OnceLock::new());
        // Before the socket server: the first LeaderAndIsr must find the offset manager.
        let offset_manager = OffsetManager::new(OffsetManagerConfig::from_kafka_config(&config), replica_manager.clone(), zk.clone());
        let listener: Arc<dyn super::replica_manager::LeadershipListener> = offset_manager.clone();
        replica_manager.set_leadership_listener(Arc::downgrade(&listener));
        let request_metrics = Arc::new(RequestMetrics::default());
        let apis = Arc::new(KafkaApis {
            replica_manager: replica_manager.clone(),
            metadata_cache: metadata_cache.clone(),
            zk: zk.clone(),
            controller: controller_slot.clone(),
            offset_manager: offset_manager.clone(),
            controller_fence: Arc::new(super::controller_fence::ControllerFence::new(zk.clone())),
            zookeeper_requests: Arc::new(tokio::sync::Semaphore::new(super::apis::ZOOKEEPER_CLIENT_REQUESTS)),
            request_metrics: request_metrics.clone(),
        });
        let socket_config = SocketServerConfig {
            host: config.bind_host().unwrap_or("").to_string(),
            port: config.port,
            send_buffer_bytes: config.socket_send_buffer_bytes.max(1) as usize,
            receive_buffer_bytes: config.socket_receive_buffer_bytes.max(1) as usize,
            max_request_bytes: config.socket_request_max_bytes.max(1) as usize,
            queued_max_requests: config.queued_max_requests.max(1) as usize,
            connections_max_idle_ms: config.connections_max_idle_ms.max(1) as u64,
            max_connections_per_ip: config.max_connections_per_ip.max(1) as usize,
            max_connections_per_ip_overrides: config.max_connections_per_ip_overrides().into_iter().map(|(k, v)| (k, v.max(0) as usize)).collect(),
            ..SocketServerConfig::default()
        };
        let socket_server = SocketServer::start(socket_config, apis)
            .await
            .map_err(|e| StartupError(format!("cannot bind {}:{}: {}", config.bind_host().unwrap_or("0.0.0.0"), config.port, e)))?;

        let metrics_server = if config.metrics_http_port == 0 {
            None
        } else {
            let source = BrokerMetrics {
                replica_manager: Arc::downgrade(&replica_manager),
                requests: request_metrics.clone(),
                controller: controller_slot.clone(),
                request_queue: socket_server.request_queue(),
            };
            let host = config.metrics_bind_host().unwrap_or("0.0.0.0");
            let server = MetricsServer::start(host, config.metrics_http_port, crate::metrics::registry(Arc::new(source)))
                .await
                .map_err(|e| StartupError(format!("cannot bind the metrics endpoint (metrics.http.port) {}:{}: {}", host, config.metrics_http_port, e)))?;
            log::info!("[Kafka Server {}], metrics on http://{}/metrics", id, server.local_addr());
            Some(server)
        };

        let mut tasks = Vec::new();
        // High watermark checkpoints (replica.high.watermark.checkpoint.interval.ms).
        {
            let rm = Arc::downgrade(&replica_manager);
            let every = Duration::from_millis(config.replica_high_watermark_checkpoint_interval_ms.max(100) as u64);
            tasks.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let Some(rm) = rm.upgrade() else { return };
                    tokio::task::spawn_blocking(move || rm.checkpoint_high_watermarks()).await.ok();
                }
            }));
        }

        // ISR expiration (replica.lag.time.max.ms).
        {
            let rm = Arc::downgrade(&replica_manager);
            let every = Duration::from_millis((config.replica_lag_time_max_ms / 2).max(100) as u64);
            tasks.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                loop {
                    tick.tick().await;
                    let Some(rm) = rm.upgrade() else { return };
                    rm.shrink_isrs().await;
                }
            }));
        }

        // Stale offsets expiry (offsets.retention.check.interval.ms).
        tasks.push(tokio::spawn(OffsetManager::run_expiry(Arc::downgrade(&offset_manager))));

        let controller = KafkaController::start(zk.clone(), id, ControllerConfig::from_kafka_config(&config));
        if controller_slot.set(controller).is_err() {
            unreachable!("the controller starts once");
        }

        tasks.push(tokio::spawn(topic_config_manager(zk.clone(), log_manager.clone(), defaults)));

        let host = config.advertised_host();
        let port = config.advertised_port();
        let port = if port == 0 { socket_server.local_addr().port() } else { port };
        let metrics_port = metrics_server.as_ref().map(|m| m.local_addr().port());
        register_broker(&zk, id, &host, port, metrics_port).await?;
        tasks.push(tokio::spawn(reregister_on_new_session(zk.clone(), id, host.clone(), port, metrics_port)));
        log::info!("[Kafka Server {}], started (listening on {}, registered as {}:{})", id, socket_server.local_addr(), host, port);
        Ok(KafkaServer {
            config,
            zk,
            log_manager,
            replica_manager,
            metadata_cache,
            offset_manager,
            socket_server: Some(socket_server),
            metrics_server,
            controller: controller_slot,
            tasks,
        })
    }

    pub fn local_port(&self) -> Option<u16> {
        self.socket_server.as_ref().map(|s| s.local_addr().port())
    }

    /// Where the metrics endpoint listens, when `metrics.http.port` turned it on.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics_server.as_ref().map(|m| m.local_addr())
    }

    pub fn controller(&self) -> Option<&ControllerHandle> {
        self.controller.get()
    }

    /// SIGTERM: hand leadership over (controlled shutdown), stop serving, stop fetchers,
    /// write checkpoints, shut the logs down cleanly, leave the controller role,
    /// deregister, close the session.
    pub async fn shutdown(mut self) {
        let id = self.config.broker_id;
        log::info!("[Kafka Server {}], shutting down", id);
        if self.config.controlled_shutdown_enable {
            self.controlled_shutdown().await;
        }
        if let Some(s) = self.socket_server.take() {
            s.shutdown().await;
        }
        if let Some(m) = self.metrics_server.take() {
            m.shutdown().await;
        }
        self.replica_manager.fetchers.shutdown();
        self.offset_manager.shutdown();
        for t in self.tasks.drain(..) {
            t.abort();
        }
        if let Some(c) = self.controller.get() {
            c.shutdown().await;
        }
        let rm = self.replica_manager.clone();
        let lm = self.log_manager.clone();
        let _ = tokio::task::spawn_blocking(move || {
            rm.checkpoint_high_watermarks();
            if let Err(e) = lm.shutdown() {
                log::error!("log manager shutdown: {}", e);
            }
        })
        .await;
        if let Err(e) = self.zk.delete_own_ephemeral(&paths::broker(id)).await {
            log::warn!("cannot deregister broker {}: {}", id, e);
        }
        log::info!("[Kafka Server {}], shut down completed", id);
    }

    /// 0.8.2 `KafkaServer.controlledShutdown`: ask the controller, up to
    /// `controlled.shutdown.max.retries` times, to move every leadership away from this
    /// broker; success is an answer without error and without partitions remaining. Each
    /// attempt reads `/controller` again (the controller may have moved, or be this very
    /// broker: the request then comes back through our own socket server, still open).
    /// When every attempt failed the broker shuts down anyway. Returns whether it succeeded.
    async fn controlled_shutdown(&self) -> bool {
        let id = self.config.broker_id;
        let attempts = self.config.controlled_shutdown_max_retries.max(0);
        let backoff = Duration::from_millis(self.config.controlled_shutdown_retry_backoff_ms.max(0) as u64);
        let timeout = Duration::from_millis(self.config.controller_socket_timeout_ms.max(1) as u64);
        log::info!("[Kafka Server {}], Starting controlled shutdown", id);
        if attempts > 0 {
            self.stop_fetching_for_controlled_shutdown().await;
        }
        let mut channel: Option<(Broker, BrokerConnection)> = None;
        for attempt in 1..=attempts {
            match self.controlled_shutdown_attempt(&mut channel, timeout).await {
                Ok(()) => {
                    log::info!("[Kafka Server {}], Controlled shutdown succeeded", id);
                    return true;
                }
                Err(why) => log::warn!("[Kafka Server {}], Controlled shutdown attempt {} of {} failed: {}", id, attempt, attempts, why),
            }
            if attempt < attempts {
                tokio::time::sleep(backoff).await;
                log::warn!("[Kafka Server {}], Retrying controlled shutdown after the previous attempt failed...", id);
            }
        }
        log::warn!("[Kafka Server {}], Proceeding to do an unclean shutdown as all the controlled shutdown attempts failed", id);
        false
    }

    /// Stop replicating before the controller takes this broker out of the ISRs, and let
    /// the last fetches run out: a fetch still parked at a leader (up to the
    /// `replica.fetch.wait.max.ms` it asked for) re-reads when woken, and that read makes
    /// the leader add this broker back to the ISR the controller has just shrunk.
    async fn stop_fetching_for_controlled_shutdown(&self) {
        let fetching = !self.replica_manager.fetchers.assigned().is_empty();
        self.replica_manager.fetchers.shutdown();
        if fetching {
            let parked = Duration::from_millis(self.config.replica_fetch_wait_max_ms.max(0) as u64);
            tokio::time::sleep(parked + PARKED_FETCH_MARGIN).await;
        }
    }

    /// One ControlledShutdown request to the current controller, reusing `channel` while
    /// the controller stays the same broker at the same address.
    async fn controlled_shutdown_attempt(&self, channel: &mut Option<(Broker, BrokerConnection)>, timeout: Duration) -> Result<(), String> {
        let controller = self.current_controller().await?;
        if channel.as_ref().is_none_or(|(b, c)| *b != controller || c.is_broken()) {
            let port = u16::try_from(controller.port).map_err(|_| format!("controller {} has a bad port {}", controller.id, controller.port))?;
            let conn = BrokerConnection::connect(&controller.host, port, timeout)
                .await
                .map_err(|e| format!("cannot connect to controller {} at {}:{}: {}", controller.id, controller.host, controller.port, e))?;
            *channel = Some((controller, conn));
        }
        let (controller, conn) = channel.as_mut().expect("connected above");
        // ControlledShutdown v0 has no client id in its header; the argument is not sent.
        let response = match conn.send("", &ControlledShutdownRequest { broker_id: self.config.broker_id }).await {
            Ok(r) => r,
            Err(e) => {
                let why = format!(
                    "error talking to controller {}, possibly because leader movement took longer than controller.socket.timeout.ms: {}",
                    controller.id, e
                );
                *channel = None;
                return Err(why);
            }
        };
        if response.error_code == ErrorCode::NoError && response.partitions_remaining.is_empty() {
            return Ok(());
        }
        let remaining: Vec<String> = response.partitions_remaining.iter().map(|tp| tp.to_string()).collect();
        log::info!("[Kafka Server {}], Remaining partitions to move: {}", self.config.broker_id, remaining.join(","));
        log::info!("[Kafka Server {}], Error code from controller: {}", self.config.broker_id, response.error_code.code());
        Err(format!("controller {} answered {} with {} partitions remaining", controller.id, response.error_code, remaining.len()))
    }

    /// The controller's id and address, from `/controller` and its registration.
    async fn current_controller(&self) -> Result<Broker, String> {
        let id = self
            .zk
            .controller_id()
            .await
            .map_err(|e| format!("cannot read {}: {}", paths::CONTROLLER, e))?
            .ok_or_else(|| "there is no controller".to_string())?;
        self.zk
            .broker(id)
            .await
            .map_err(|e| format!("cannot read {}: {}", paths::broker(id), e))?
            .ok_or_else(|| format!("controller {} is not registered", id))
    }
}

/// Register `/brokers/ids/<id>` (docs/zookeeper-layout.md): a node left by our own previous session (same
/// host and port) is waited out; another broker's registration refuses start-up.
async fn register_broker(zk: &ZkClient, id: i32, host: &str, port: u16, metrics_port: Option<u16>) -> Result<(), StartupError> {
    let path = paths::broker(id);
    let deadline = tokio::time::Instant::now() + zk.session_timeout() * 3 + Duration::from_secs(5);
    loop {
        let now_ms = SystemClock.now_ms();
        let data = json::BrokerRegistration::new(host, port as i32, -1, now_ms).with_metrics_port(metrics_port).to_bytes();
        match zk.create_ephemeral_expect_conflict(&path, &data).await {
            Ok(()) => {
                log::info!("Registered broker {} at path {} with address {}:{}.", id, path, host, port);
                return Ok(());
            }
            Err(ZkError::NodeExists) => {
                let (same, watch) = match zk.watch_broker(id).await {
                    Ok((None, _)) => continue,
                    Ok((Some(b), watch)) => (b.host == host && b.port == port as i32, Some(watch)),
                    Err(QueryError::Corrupt(_)) => (false, None),
                    Err(e) => return Err(StartupError(e.to_string())),
                };
                if !same || tokio::time::Instant::now() > deadline {
                    return Err(StartupError(format!(
                        "A broker is already registered on the path {}. This probably indicates that you either have configured a brokerid that is already in use, or else you have shutdown this broker and restarted it faster than the zookeeper timeout so it appears to be re-registering.",
                        path
                    )));
                }
                log::info!("Waiting for the registration of broker {} left by an earlier session to expire", id);
                if let Some(watch) = watch {
                    let _ = tokio::time::timeout(zk.session_timeout(), watch).await;
                }
            }
            Err(e) => return Err(StartupError(format!("cannot register broker {}: {}", id, e))),
        }
    }
}

async fn reregister_on_new_session(zk: ZkClient, id: i32, host: String, port: u16, metrics_port: Option<u16>) {
    let mut generation = zk.session_generation();
    while generation.changed().await.is_ok() {
        log::info!("New ZooKeeper session: re-registering broker {}", id);
        for p in paths::PERSISTENT_PATHS {
            let _ = zk.ensure_path(p).await;
        }
        if let Err(e) = register_broker(&zk, id, &host, port, metrics_port).await {
            log::error!("re-registration of broker {} failed: {}", id, e);
        }
    }
}

/// Notifications older than this are removed by brokers that applied a change (0.8.2).
const CHANGE_EXPIRATION_MS: i64 = 15 * 60 * 1000;

/// 0.8.2 `TopicConfigManager`: apply `/config/topics/<t>` to local logs whenever a
/// `/config/changes/config_change_N` notification newer than the last one seen appears.
async fn topic_config_manager(zk: ZkClient, log_manager: Arc<LogManager>, defaults: LogConfig) {
    let mut last_seen: i64 = -1;
    loop {
        let (changes, watch) = match zk.watch_config_changes().await {
            Ok(x) => x,
            Err(e) => {
                log::warn!("cannot watch {}: {}", paths::CONFIG_CHANGES, e);
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let mut applied = false;
        for change in &changes {
            if change.seq <= last_seen {
                continue;
            }
            if let Ok(Some(topic)) = zk.config_change_topic(change).await {
                let hosts_topic = log_manager.all_logs().iter().any(|(tp, _)| tp.topic == topic);
                if hosts_topic {
                    let cfg = topic_config(&zk, &topic, &defaults).await;
                    log::info!("Processing config change notification {} for topic {}", change.name, topic);
                    log_manager.update_topic_config(&topic, cfg);
                    applied = true;
                }
            }
            last_seen = change.seq;
        }
        if applied {
            let now = SystemClock.now_ms();
            for change in &changes {
                match zk.config_change_ctime(change).await {
                    Ok(Some(ctime)) if now - ctime > CHANGE_EXPIRATION_MS => {
                        let _ = zk.delete_config_change(change).await;
                    }
                    _ => break,
                }
            }
        }
        watch.await;
    }
}
