//! A ZooKeeper session for kafka08 over the `zookeeper-client` crate, with the helper
//! semantics 0.8 relied on from ZkClient (docs/zookeeper-layout.md, conventions):
//! parents created on demand, "expect conflict" ephemeral creation, unconditional and
//! conditional updates, recursive delete, watches that fire on creation too.
//!
//! Session expiry is explicit: the client reconnects with a new session by itself and
//! bumps a generation number that owners of ephemerals and watches listen to
//! ([`ZkClient::session_generation`]); they re-create what the old session held. Nothing
//! here assumes a watch fires exactly once per change: callers re-read after every wake-up.

use super::paths::split_chroot;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::watch;
use zookeeper_client as zkc;

pub use zkc::Stat;

/// What went wrong talking to ZooKeeper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZkError {
    NoNode,
    NodeExists,
    BadVersion,
    NotEmpty,
    SessionExpired,
    /// Connection loss, timeouts and anything else the server or client reports.
    Other(String),
}

impl std::fmt::Display for ZkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ZkError::NoNode => write!(f, "node does not exist"),
            ZkError::NodeExists => write!(f, "node already exists"),
            ZkError::BadVersion => write!(f, "version mismatch"),
            ZkError::NotEmpty => write!(f, "node has children"),
            ZkError::SessionExpired => write!(f, "session expired"),
            ZkError::Other(s) => write!(f, "{}", s),
        }
    }
}

impl std::error::Error for ZkError {}

impl From<zkc::Error> for ZkError {
    fn from(e: zkc::Error) -> Self {
        match e {
            zkc::Error::NoNode => ZkError::NoNode,
            zkc::Error::NodeExists => ZkError::NodeExists,
            zkc::Error::BadVersion => ZkError::BadVersion,
            zkc::Error::NotEmpty => ZkError::NotEmpty,
            zkc::Error::SessionExpired => ZkError::SessionExpired,
            other => ZkError::Other(other.to_string()),
        }
    }
}

pub type ZkResult<T> = Result<T, ZkError>;

fn persistent() -> zkc::CreateOptions<'static> {
    zkc::CreateMode::Persistent.with_acls(zkc::Acls::anyone_all())
}

fn ephemeral() -> zkc::CreateOptions<'static> {
    zkc::CreateMode::Ephemeral.with_acls(zkc::Acls::anyone_all())
}

fn persistent_sequential() -> zkc::CreateOptions<'static> {
    zkc::CreateMode::PersistentSequential.with_acls(zkc::Acls::anyone_all())
}

fn parent_of(path: &str) -> Option<&str> {
    match path.rfind('/') {
        Some(0) | None => None,
        Some(i) => Some(&path[..i]),
    }
}

/// A wake-up for a watch: resolves when the watched node or its children may have changed,
/// or when the session changed. Re-read after it resolves.
pub type WatchFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

struct Inner {
    client: RwLock<zkc::Client>,
    generation: watch::Sender<u64>,
}

/// A shared ZooKeeper session (chrooted as the connect string says).
#[derive(Clone)]
pub struct ZkClient {
    inner: Arc<Inner>,
    connect: String,
    session_timeout: Duration,
    connection_timeout: Duration,
}

impl std::fmt::Debug for ZkClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZkClient").field("connect", &self.connect).finish()
    }
}

async fn connect_once(connect: &str, session_timeout: Duration, connection_timeout: Duration) -> ZkResult<zkc::Client> {
    let (hosts, chroot) = split_chroot(connect);
    let connector = zkc::Client::connector().with_session_timeout(session_timeout).with_connection_timeout(connection_timeout);
    let connect_fut = async {
        if !chroot.is_empty() {
            // 0.8.2 creates the chroot at start-up (KAFKA-404): from an unrooted client.
            let root = connector.clone().connect(hosts).await?;
            create_parents_and_node(&root, chroot).await.or_else(|e| if e == ZkError::NodeExists { Ok(()) } else { Err(e) })?;
            drop(root);
        }
        connector.connect(connect).await.map_err(ZkError::from)
    };
    match tokio::time::timeout(connection_timeout + Duration::from_secs(1), connect_fut).await {
        Ok(r) => r,
        Err(_) => Err(ZkError::Other(format!("Unable to connect to zookeeper server within timeout: {}", connection_timeout.as_millis()))),
    }
}

async fn create_parents_and_node(client: &zkc::Client, path: &str) -> ZkResult<()> {
    match client.create(path, b"", &persistent()).await {
        Ok(_) => Ok(()),
        Err(zkc::Error::NoNode) => {
            if let Some(parent) = parent_of(path) {
                match Box::pin(create_parents_and_node(client, parent)).await {
                    Ok(()) | Err(ZkError::NodeExists) => {}
                    Err(e) => return Err(e),
                }
            }
            client.create(path, b"", &persistent()).await.map(|_| ()).map_err(ZkError::from)
        }
        Err(e) => Err(e.into()),
    }
}

impl ZkClient {
    /// Connect (creating the chroot if needed). Fails after `connection_timeout`.
    pub async fn connect(connect: &str, session_timeout: Duration, connection_timeout: Duration) -> ZkResult<ZkClient> {
        let client = connect_once(connect, session_timeout, connection_timeout).await?;
        let (tx, _) = watch::channel(0u64);
        let zk = ZkClient {
            inner: Arc::new(Inner { client: RwLock::new(client), generation: tx }),
            connect: connect.to_string(),
            session_timeout,
            connection_timeout,
        };
        zk.spawn_supervisor();
        Ok(zk)
    }

    /// Renew the session when it expires; a clone of this handle keeps working.
    fn spawn_supervisor(&self) {
        let weak = Arc::downgrade(&self.inner);
        let (connect, st, ct) = (self.connect.clone(), self.session_timeout, self.connection_timeout);
        let mut states = self.raw().state_watcher();
        tokio::spawn(async move {
            loop {
                let state = states.changed().await;
                if !matches!(state, zkc::SessionState::Expired | zkc::SessionState::AuthFailed | zkc::SessionState::Closed) {
                    continue;
                }
                if weak.strong_count() == 0 {
                    // Every handle was dropped: a deliberate close, not a lost session.
                    return;
                }
                log::warn!("zookeeper session {:?}; opening a new session", state);
                loop {
                    let Some(inner) = weak.upgrade() else { return };
                    drop(inner);
                    match connect_once(&connect, st, ct).await {
                        Ok(c) => {
                            let Some(inner) = weak.upgrade() else { return };
                            states = c.state_watcher();
                            *inner.client.write().unwrap_or_else(|e| e.into_inner()) = c;
                            inner.generation.send_modify(|g| *g += 1);
                            log::info!("zookeeper session re-established");
                            break;
                        }
                        Err(e) => {
                            log::warn!("cannot reconnect to zookeeper: {}", e);
                            tokio::time::sleep(Duration::from_millis(500)).await;
                        }
                    }
                }
            }
        });
    }

    /// The current session's client (for `multi` and anything not wrapped here).
    pub fn raw(&self) -> zkc::Client {
        self.inner.client.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn session_id(&self) -> i64 {
        self.raw().session_id().0
    }

    pub fn session_timeout(&self) -> Duration {
        self.session_timeout
    }

    /// Increments each time a new session replaces an expired one.
    pub fn session_generation(&self) -> watch::Receiver<u64> {
        self.inner.generation.subscribe()
    }

    /// Create the path and its missing parents (parents get empty data), persistent.
    /// An existing node is success.
    pub async fn ensure_path(&self, path: &str) -> ZkResult<()> {
        match create_parents_and_node(&self.raw(), path).await {
            Ok(()) | Err(ZkError::NodeExists) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Create a persistent node with data, parents as needed; `NodeExists` if present.
    pub async fn create_persistent(&self, path: &str, data: &[u8]) -> ZkResult<()> {
        let c = self.raw();
        match c.create(path, data, &persistent()).await {
            Ok(_) => Ok(()),
            Err(zkc::Error::NoNode) => {
                if let Some(p) = parent_of(path) {
                    self.ensure_path(p).await?;
                }
                c.create(path, data, &persistent()).await.map(|_| ()).map_err(ZkError::from)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Create a persistent-sequential node; returns the full path created.
    pub async fn create_persistent_sequential(&self, prefix: &str, data: &[u8]) -> ZkResult<String> {
        let c = self.raw();
        let create = || async { c.create(prefix, data, &persistent_sequential()).await };
        let seq = match create().await {
            Ok((_, seq)) => seq,
            Err(zkc::Error::NoNode) => {
                if let Some(p) = parent_of(prefix) {
                    self.ensure_path(p).await?;
                }
                create().await?.1
            }
            Err(e) => return Err(e.into()),
        };
        Ok(format!("{}{}", prefix, seq))
    }

    /// Create-ephemeral-expect-conflict: an existing node holding exactly `data`
    /// is ours (an earlier attempt during connection loss) and counts as success.
    pub async fn create_ephemeral_expect_conflict(&self, path: &str, data: &[u8]) -> ZkResult<()> {
        let c = self.raw();
        let r = match c.create(path, data, &ephemeral()).await {
            Err(zkc::Error::NoNode) => {
                if let Some(p) = parent_of(path) {
                    self.ensure_path(p).await?;
                }
                c.create(path, data, &ephemeral()).await
            }
            other => other,
        };
        match r {
            Ok(_) => Ok(()),
            Err(zkc::Error::NodeExists) => match self.get_data(path).await? {
                Some((existing, stat)) if existing == data && stat.ephemeral_owner == c.session_id().0 => Ok(()),
                _ => Err(ZkError::NodeExists),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// Update-persistent: unconditional set, creating the node (and parents) if
    /// missing.
    pub async fn update_persistent(&self, path: &str, data: &[u8]) -> ZkResult<()> {
        let c = self.raw();
        match c.set_data(path, data, None).await {
            Ok(_) => Ok(()),
            Err(zkc::Error::NoNode) => match self.create_persistent(path, data).await {
                Err(ZkError::NodeExists) => c.set_data(path, data, None).await.map(|_| ()).map_err(ZkError::from),
                other => other,
            },
            Err(e) => Err(e.into()),
        }
    }

    /// A plain set (`expected_version` `None`: any version); the new version. A missing
    /// node is `NoNode`, a version mismatch `BadVersion`.
    pub async fn set_data(&self, path: &str, data: &[u8], expected_version: Option<i32>) -> ZkResult<i32> {
        self.raw().set_data(path, data, expected_version).await.map(|stat| stat.version).map_err(ZkError::from)
    }

    /// Delete `path` if its version is `expected_version` (`BadVersion` otherwise).
    pub async fn delete_versioned(&self, path: &str, expected_version: i32) -> ZkResult<()> {
        self.raw().delete(path, Some(expected_version)).await.map_err(ZkError::from)
    }

    /// Conditional-update: set if the version matches; returns the new version.
    /// On `BadVersion`, if the stored data already equals `data` (our own retried write,
    /// KAFKA-1382), that is success with the stored version.
    pub async fn conditional_update(&self, path: &str, data: &[u8], expected_version: i32) -> ZkResult<i32> {
        match self.raw().set_data(path, data, Some(expected_version)).await {
            Ok(stat) => Ok(stat.version),
            Err(zkc::Error::BadVersion) => match self.get_data(path).await? {
                Some((stored, stat)) if stored == data => Ok(stat.version),
                _ => Err(ZkError::BadVersion),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// Data and stat, or `None` when the node does not exist.
    pub async fn get_data(&self, path: &str) -> ZkResult<Option<(Vec<u8>, Stat)>> {
        match self.raw().get_data(path).await {
            Ok(x) => Ok(Some(x)),
            Err(zkc::Error::NoNode) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The elected controller's broker id (`/controller`) and the controller epoch
    /// (`/controller_epoch`), each `None` when absent or unreadable as 0.8.2 wrote it. A
    /// `sync` first, so that a server lagging behind the ZooKeeper leader does not answer
    /// with an election it has not seen yet.
    pub async fn controller_and_epoch(&self) -> ZkResult<(Option<i32>, Option<i32>)> {
        self.raw().sync(super::paths::CONTROLLER_EPOCH).await.map_err(ZkError::from)?;
        let id = self
            .get_data(super::paths::CONTROLLER)
            .await?
            .and_then(|(data, _)| super::json::ControllerRegistration::parse(&data).ok())
            .map(|c| c.brokerid);
        let epoch = self
            .get_data(super::paths::CONTROLLER_EPOCH)
            .await?
            .and_then(|(data, _)| super::json::parse_int("controller epoch", &data).ok())
            .and_then(|e| i32::try_from(e).ok());
        Ok((id, epoch))
    }

    pub async fn exists(&self, path: &str) -> ZkResult<Option<Stat>> {
        self.raw().check_stat(path).await.map_err(ZkError::from)
    }

    /// Children (unsorted), or `None` when the node does not exist.
    pub async fn get_children(&self, path: &str) -> ZkResult<Option<Vec<String>>> {
        match self.raw().list_children(path).await {
            Ok(x) => Ok(Some(x)),
            Err(zkc::Error::NoNode) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Delete; a missing node is not an error. Returns whether it existed.
    pub async fn delete(&self, path: &str) -> ZkResult<bool> {
        match self.raw().delete(path, None).await {
            Ok(()) => Ok(true),
            Err(zkc::Error::NoNode) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Depth-first delete of a subtree; a missing node is not an error.
    pub async fn delete_recursive(&self, path: &str) -> ZkResult<()> {
        if let Some(children) = self.get_children(path).await? {
            for c in children {
                Box::pin(self.delete_recursive(&format!("{}/{}", path, c))).await?;
            }
        }
        match self.delete(path).await {
            Ok(_) => Ok(()),
            Err(ZkError::NotEmpty) => Box::pin(self.delete_recursive(path)).await,
            Err(e) => Err(e),
        }
    }

    /// Delete an ephemeral node only if this session owns it (never someone else's, the
    /// KAFKA-1971 trap).
    pub async fn delete_own_ephemeral(&self, path: &str) -> ZkResult<()> {
        let c = self.raw();
        if let Some(stat) = c.check_stat(path).await? {
            if stat.ephemeral_owner == c.session_id().0 {
                match c.delete(path, Some(stat.version)).await {
                    Ok(()) | Err(zkc::Error::NoNode) | Err(zkc::Error::BadVersion) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    /// Children of `path` (`None` if it does not exist) and a future that resolves when
    /// they may have changed: children changed, node created or deleted, session renewed.
    pub async fn watch_children(&self, path: &str) -> ZkResult<(Option<Vec<String>>, WatchFuture)> {
        let c = self.raw();
        let session = self.session_change();
        loop {
            match c.list_and_watch_children(path).await {
                Ok((children, w)) => {
                    return Ok((Some(children), Box::pin(race(async move { drop(w.changed().await) }, session))));
                }
                Err(zkc::Error::NoNode) => {
                    let (stat, w) = c.check_and_watch_stat(path).await?;
                    if stat.is_some() {
                        continue; // created in between: watch its children instead
                    }
                    return Ok((None, Box::pin(race(async move { drop(w.changed().await) }, session))));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Data of `path` (`None` if it does not exist) and a future that resolves when it may
    /// have changed (created, changed, deleted, or session renewed).
    pub async fn watch_data(&self, path: &str) -> ZkResult<(Option<(Vec<u8>, Stat)>, WatchFuture)> {
        let c = self.raw();
        let session = self.session_change();
        loop {
            match c.get_and_watch_data(path).await {
                Ok((data, stat, w)) => {
                    return Ok((Some((data, stat)), Box::pin(race(async move { drop(w.changed().await) }, session))));
                }
                Err(zkc::Error::NoNode) => {
                    let (stat, w) = c.check_and_watch_stat(path).await?;
                    if stat.is_some() {
                        continue;
                    }
                    return Ok((None, Box::pin(race(async move { drop(w.changed().await) }, session))));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Resolves when a new session replaces the current one.
    fn session_change(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.session_generation();
        async move {
            let _ = rx.changed().await;
        }
    }
}

async fn race(a: impl std::future::Future<Output = ()>, b: impl std::future::Future<Output = ()>) {
    tokio::select! {
        _ = a => {},
        _ = b => {},
    }
}
