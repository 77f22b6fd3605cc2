//! The cluster web console (`bin/kafka08-manager.sh`), in the spirit of kafka-manager:
//! an overview of brokers, topics and consumer groups, a page per topic, broker and group,
//! charts of throughput and lag over the last minutes, and the admin actions that exist.
//!
//! It reads ZooKeeper, the brokers' wire protocol and their metrics endpoints (see
//! [`cluster`]); it writes only through `admin` and the admin tools' own commands, with
//! the validation and error text of 0.8.2's `kafka-topics.sh`,
//! `kafka-preferred-replica-election.sh` and `kafka-reassign-partitions.sh`. The page is
//! one HTML file, one script and one style sheet compiled into the binary
//! (`include_str!`): no build step and no files at run time.
//!
//! # Actions
//! [`ACTIONS`] lists what the console offers; the page shows exactly those. An action is
//! one entry there, one arm in [`run_action`] and one form in the script's
//! `ACTION_FORMS`. The answer is the lines the tool prints ([`ToolOutput`]); the
//! destructive ones (reassignment execute, topic deletion) ask in the page first.
//!
//! # Memory
//! The history behind the charts keeps [`HISTORY_POINTS`] samples per series, taken every
//! [`SAMPLE_EVERY`], for at most [`MAX_SERIES`] series.

pub mod cluster;

use crate::tools::{self, preferred_replica_election as election, reassign_partitions_command as reassign, ToolOutput};
use reassign::ReassignCommand;
use crate::zk::ZkClient;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cluster::BrokerSample;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");

/// How often the history is sampled.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// Samples kept per series: 10 minutes at [`SAMPLE_EVERY`].
pub const HISTORY_POINTS: usize = 120;
/// Series kept at most (brokers × 2 + topics + groups); the rest are not drawn.
pub const MAX_SERIES: usize = 2000;
/// Consumer groups whose lag is sampled for the charts (the first by name).
const MAX_SAMPLED_GROUPS: usize = 50;

/// The admin actions the console offers: (id, label, destructive). Destructive ones ask
/// for confirmation in the page.
pub const ACTIONS: &[(&str, &str, bool)] = &[
    ("create-topic", "Create topic", false),
    ("add-partitions", "Add partitions", false),
    ("change-config", "Change config", false),
    ("preferred-election", "Preferred replica election", false),
    ("reassign-generate", "Generate reassignment", false),
    ("reassign-execute", "Execute reassignment", true),
    ("reassign-verify", "Verify reassignment", false),
    ("delete-topic", "Delete topic", true),
];

/// What `--execute` calls the reassignment file in its one message naming it
/// (`Partition reassignment data file <name> is empty`) when the JSON comes from the page.
pub const PAGE_FILE_NAME: &str = "entered in the console";

/// Time series of one thing (a broker's bytes in, a topic's messages in, a group's lag):
/// rates for counters, values for gauges.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Series {
    pub points: VecDeque<(u64, f64)>,
}

impl Series {
    fn push(&mut self, t: u64, v: f64) {
        if self.points.len() == HISTORY_POINTS {
            self.points.pop_front();
        }
        self.points.push_back((t, v));
    }
}

#[derive(Default)]
struct History {
    series: BTreeMap<String, Series>,
    /// The previous counter readings, for rates.
    last: HashMap<String, (u64, f64)>,
    /// The latest scrape of each broker.
    samples: HashMap<i32, BrokerSample>,
}

impl History {
    fn gauge(&mut self, key: String, t: u64, v: f64) {
        if self.series.len() >= MAX_SERIES && !self.series.contains_key(&key) {
            return;
        }
        self.series.entry(key).or_default().push(t, v);
    }

    /// A counter reading becomes a per-second rate since the previous one (a reset, as
    /// after a broker restart, starts over).
    fn counter(&mut self, key: String, t: u64, v: f64) {
        if let Some((t0, v0)) = self.last.insert(key.clone(), (t, v)) {
            if t > t0 && v >= v0 {
                self.gauge(key, t, (v - v0) * 1000.0 / (t - t0) as f64);
            }
        }
    }
}

#[derive(Clone)]
pub struct Manager {
    zk: ZkClient,
    history: Arc<Mutex<History>>,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

#[derive(Debug, Serialize)]
struct ErrorBody {
    error: String,
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(ErrorBody { error: message.into() })).into_response()
}

impl Manager {
    pub fn new(zk: ZkClient) -> Manager {
        Manager { zk, history: Arc::new(Mutex::new(History::default())) }
    }

    fn history(&self) -> std::sync::MutexGuard<'_, History> {
        self.history.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn samples(&self) -> HashMap<i32, BrokerSample> {
        self.history().samples.clone()
    }

    /// One round of sampling: scrape every broker's metrics, read the groups' lag.
    pub async fn sample(&self) {
        let Ok(brokers) = cluster::brokers(&self.zk).await else { return };
        let t = now_ms();
        let mut scraped = HashMap::new();
        for b in &brokers {
            if let Some(port) = b.metrics_port.and_then(|p| u16::try_from(p).ok()) {
                if let Some(s) = cluster::scrape(&b.host, port).await {
                    scraped.insert(b.id, s);
                }
            }
        }
        let mut lags = Vec::new();
        if let Ok(groups) = cluster::group_names(&self.zk).await {
            for g in groups.into_iter().take(MAX_SAMPLED_GROUPS) {
                if let Ok(Some(v)) = cluster::group(&self.zk, &g, &brokers).await {
                    if let Some(lag) = v.total_lag {
                        lags.push((g, lag));
                    }
                }
            }
        }
        let mut h = self.history();
        let mut by_topic: BTreeMap<String, f64> = BTreeMap::new();
        for (id, s) in &scraped {
            h.counter(format!("broker:{id}:bytes_in"), t, s.bytes_in);
            h.counter(format!("broker:{id}:bytes_out"), t, s.bytes_out);
            for (topic, v) in &s.messages_in_by_topic {
                *by_topic.entry(topic.clone()).or_default() += v;
            }
        }
        for (topic, v) in by_topic {
            h.counter(format!("topic:{topic}:messages_in"), t, v);
        }
        for (g, lag) in lags {
            h.gauge(format!("group:{g}:lag"), t, lag as f64);
        }
        h.samples = scraped;
    }

    pub fn router(self) -> Router {
        Router::new()
            .route("/", get(|| async { Html(INDEX_HTML) }))
            .route("/app.js", get(|| async { ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], APP_JS) }))
            .route("/style.css", get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE_CSS) }))
            .route("/api/overview", get(overview))
            .route("/api/topics/{name}", get(topic_page))
            .route("/api/brokers/{id}", get(broker_page))
            .route("/api/groups/{name}", get(group_page))
            .route("/api/actions", post(action))
            .with_state(self)
    }
}

#[derive(Serialize)]
struct Overview {
    brokers: Vec<cluster::BrokerView>,
    topics: Vec<cluster::TopicView>,
    groups: Vec<GroupSummary>,
    actions: Vec<ActionInfo>,
    history: BTreeMap<String, Series>,
}

#[derive(Serialize)]
struct GroupSummary {
    name: String,
    lag: Option<f64>,
}

#[derive(Serialize)]
struct ActionInfo {
    id: &'static str,
    label: &'static str,
    destructive: bool,
}

fn actions() -> Vec<ActionInfo> {
    ACTIONS.iter().map(|(id, label, destructive)| ActionInfo { id, label, destructive: *destructive }).collect()
}

fn series_with_prefix(m: &Manager, prefix: &str) -> BTreeMap<String, Series> {
    m.history().series.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(k, v)| (k.clone(), v.clone())).collect()
}

async fn overview(State(m): State<Manager>) -> Response {
    let mut brokers = match cluster::brokers(&m.zk).await {
        Ok(b) => b,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, format!("cannot read the brokers from ZooKeeper: {e}")),
    };
    let samples = m.samples();
    let topics = match cluster::topics(&m.zk, &brokers, &samples).await {
        Ok(t) => t,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, format!("cannot read the topics from ZooKeeper: {e}")),
    };
    cluster::count_partitions(&mut brokers, &topics);
    let names = cluster::group_names(&m.zk).await.unwrap_or_default();
    let lags: HashMap<String, f64> = {
        let h = m.history();
        names.iter().filter_map(|g| h.series.get(&format!("group:{g}:lag")).and_then(|s| s.points.back()).map(|(_, v)| (g.clone(), *v))).collect()
    };
    let groups = names.into_iter().map(|name| GroupSummary { lag: lags.get(&name).copied(), name }).collect();
    let mut history = series_with_prefix(&m, "broker:");
    history.extend(series_with_prefix(&m, "topic:"));
    Json(Overview { brokers, topics, groups, actions: actions(), history }).into_response()
}

#[derive(Serialize)]
struct TopicPage {
    topic: cluster::TopicView,
    history: BTreeMap<String, Series>,
    actions: Vec<ActionInfo>,
}

async fn topic_page(State(m): State<Manager>, Path(name): Path<String>) -> Response {
    let brokers = cluster::brokers(&m.zk).await.unwrap_or_default();
    match cluster::topic(&m.zk, &name, &brokers, &m.samples(), true).await {
        Ok(Some(topic)) => {
            let history = series_with_prefix(&m, &format!("topic:{name}:"));
            Json(TopicPage { topic, history, actions: actions() }).into_response()
        }
        Ok(None) => error(StatusCode::NOT_FOUND, format!("Topic {name} does not exist")),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

#[derive(Serialize)]
struct BrokerPage {
    broker: cluster::BrokerView,
    partitions: Vec<(String, i32, bool)>,
    history: BTreeMap<String, Series>,
}

async fn broker_page(State(m): State<Manager>, Path(id): Path<i32>) -> Response {
    let mut brokers = match cluster::brokers(&m.zk).await {
        Ok(b) => b,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    let topics = cluster::topics(&m.zk, &brokers, &m.samples()).await.unwrap_or_default();
    cluster::count_partitions(&mut brokers, &topics);
    let Some(broker) = brokers.into_iter().find(|b| b.id == id) else {
        return error(StatusCode::NOT_FOUND, format!("Broker {id} is not registered"));
    };
    let partitions = topics
        .iter()
        .flat_map(|t| t.partitions.iter().filter(|p| p.replicas.contains(&id)).map(move |p| (t.name.clone(), p.partition, p.leader == id)))
        .collect();
    let history = series_with_prefix(&m, &format!("broker:{id}:"));
    Json(BrokerPage { broker, partitions, history }).into_response()
}

#[derive(Serialize)]
struct GroupPage {
    group: cluster::GroupView,
    history: BTreeMap<String, Series>,
}

async fn group_page(State(m): State<Manager>, Path(name): Path<String>) -> Response {
    let brokers = cluster::brokers(&m.zk).await.unwrap_or_default();
    match cluster::group(&m.zk, &name, &brokers).await {
        Ok(Some(group)) => {
            let history = series_with_prefix(&m, &format!("group:{name}:"));
            Json(GroupPage { group, history }).into_response()
        }
        Ok(None) => error(StatusCode::NOT_FOUND, format!("Consumer group {name} does not exist")),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

/// An action as the page posts it. Numbers arrive as text, as typed, and are checked
/// the way `kafka-topics.sh` checked its options.
#[derive(Debug, Deserialize)]
pub struct ActionRequest {
    pub action: String,
    #[serde(default)]
    pub topic: String,
    #[serde(default)]
    pub partitions: String,
    #[serde(default)]
    pub replication_factor: String,
    /// `key=value` lines.
    #[serde(default)]
    pub config: String,
    /// Keys to remove (change-config).
    #[serde(default)]
    pub delete_config: String,
    /// preferred-election: `kafka-preferred-replica-election.sh`'s `--path-to-json-file`
    /// content; empty for every partition.
    #[serde(default)]
    pub partitions_json: String,
    /// reassign-generate: the `--topics-to-move-json-file` content.
    #[serde(default)]
    pub topics_json: String,
    /// reassign-generate: `--broker-list`.
    #[serde(default)]
    pub broker_list: String,
    /// reassign-execute and reassign-verify: the `--reassignment-json-file` content.
    #[serde(default)]
    pub reassignment_json: String,
}

/// The answer to an action: the lines the tool prints (joined in `message` or `error`).
#[derive(Debug, Serialize)]
struct ActionResult {
    ok: bool,
    lines: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Run one action: the lines its 0.8.2 tool prints for it, and whether it succeeded. The
/// election, reassignment and deletion run the tools' own commands, checks included.
pub async fn run_action(zk: &ZkClient, req: &ActionRequest) -> ToolOutput {
    match req.action.as_str() {
        "preferred-election" => {
            let requested = match req.partitions_json.trim() {
                "" => None,
                json => match election::parse_election_data(json.as_bytes()) {
                    Ok(set) => Some(set),
                    Err(message) => return election::failed(&message),
                },
            };
            election::elect(zk, requested).await
        }
        "reassign-generate" | "reassign-execute" | "reassign-verify" => {
            let action = req.action.trim_start_matches("reassign-");
            let given = |option: &str| match option {
                "topics-to-move-json-file" => !req.topics_json.trim().is_empty(),
                "broker-list" => !req.broker_list.trim().is_empty(),
                "reassignment-json-file" => !req.reassignment_json.trim().is_empty(),
                _ => false,
            };
            if let Err(usage) = reassign::check_options(action, given) {
                return ToolOutput { lines: vec![usage], ok: false };
            }
            let command = match action {
                "generate" => ReassignCommand::Generate { topics_json: req.topics_json.clone(), broker_list: req.broker_list.trim().to_string() },
                "execute" => ReassignCommand::Execute { file: PAGE_FILE_NAME.to_string(), json: req.reassignment_json.clone() },
                _ => ReassignCommand::Verify { json: req.reassignment_json.clone() },
            };
            reassign::reassign(zk, &command).await
        }
        "delete-topic" => tools::topics_command::delete_topics(zk, req.topic.trim(), true).await,
        _ => match topic_command_args(req) {
            Some(args) => tools::topics_command::run_on(zk, &args).await,
            None => ToolOutput { lines: vec![format!("Unknown action {}", req.action)], ok: false },
        },
    }
}

/// The `kafka-topics.sh` arguments of a create, add-partitions or change-config action:
/// fields as typed, one `--config` per non-empty line, one `--deleteConfig` per key. A
/// topic page's topic is matched by its exact name (`--topic` is a regular expression).
fn topic_command_args(req: &ActionRequest) -> Option<Vec<String>> {
    let topic = req.topic.trim();
    let mut args: Vec<String> = match req.action.as_str() {
        "create-topic" => vec!["--create".into(), "--topic".into(), topic.into()],
        "add-partitions" | "change-config" => vec!["--alter".into(), "--topic".into(), regex::escape(topic)],
        _ => return None,
    };
    let mut option = |name: &str, value: &str| {
        let value = value.trim();
        if !value.is_empty() {
            args.extend([format!("--{name}"), value.to_string()]);
        }
    };
    match req.action.as_str() {
        "create-topic" => {
            option("partitions", &req.partitions);
            option("replication-factor", &req.replication_factor);
        }
        "add-partitions" => option("partitions", &req.partitions),
        _ => {}
    }
    if req.action != "add-partitions" {
        req.config.lines().for_each(|line| option("config", line));
    }
    if req.action == "change-config" {
        req.delete_config.split([',', '\n']).for_each(|key| option("deleteConfig", key));
    }
    Some(args)
}

async fn action(State(m): State<Manager>, Json(req): Json<ActionRequest>) -> Response {
    let out = run_action(&m.zk, &req).await;
    let text = out.lines.join("\n");
    if out.ok {
        Json(ActionResult { ok: true, lines: out.lines, message: Some(text), error: None }).into_response()
    } else {
        (StatusCode::BAD_REQUEST, Json(ActionResult { ok: false, lines: out.lines, message: None, error: Some(text) })).into_response()
    }
}

/// Serve the console on `host:port` until the process is stopped.
pub async fn serve(zk_connect: &str, host: &str, port: u16) -> Result<(), String> {
    let zk = ZkClient::connect(zk_connect, Duration::from_secs(30), Duration::from_secs(30))
        .await
        .map_err(|e| format!("cannot connect to ZooKeeper at {zk_connect}: {e}"))?;
    let manager = Manager::new(zk);
    let listener = tokio::net::TcpListener::bind((host, port)).await.map_err(|e| format!("cannot bind {host}:{port}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let sampler = manager.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SAMPLE_EVERY);
        loop {
            tick.tick().await;
            sampler.sample().await;
        }
    });
    println!("kafka08-manager: serving http://{addr}/ for the cluster at {zk_connect}");
    axum::serve(listener, manager.router()).await.map_err(|e| e.to_string())
}
