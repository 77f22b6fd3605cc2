use super::sendfile::send_file_region;
use bytes::{Buf, Bytes, BytesMut};
use std::collections::HashMap;
use std::fs::File;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot, watch, Semaphore};
use tokio::task::JoinHandle;

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// One piece of a response frame (the 4-byte size prefix included in the first piece).
#[derive(Debug, Clone)]
pub enum ResponseChunk {
    Bytes(Bytes),
    /// `len` bytes of `file` from `position`, sent with `sendfile`.
    File { file: Arc<File>, position: u64, len: usize },
}

/// What the handler decided for one request.
pub enum Outcome {
    /// Write this complete frame.
    Respond(Vec<ResponseChunk>),
    /// The answer comes later (long poll, acks=-1); later requests are read meanwhile, and
    /// responses still go out in request order.
    Deferred(BoxFuture<Outcome>),
    /// Work that waits on something outside the broker (ZooKeeper): awaited before the
    /// next request of this connection is read, as a handler's own future is, but without
    /// holding one of the `queued.max.requests` permits, so a client flooding such
    /// requests cannot keep follower fetches and controller requests waiting.
    Inline(BoxFuture<Outcome>),
    /// Nothing is written (produce with acks=0).
    NoResponse,
    /// Close the connection once the responses before this one are written (undecodable
    /// request, unknown API key, a failed acks=0 produce).
    Close,
}

/// Who sent a request.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    pub id: u64,
    pub peer: SocketAddr,
}

pub trait RequestHandler: Send + Sync + 'static {
    /// Handle one request payload (the frame without its size prefix). The returned future
    /// is awaited before the next request of this connection is read.
    fn handle(&self, request: Bytes, conn: &ConnectionInfo) -> BoxFuture<Outcome>;

    /// A label for a request, read cheaply from its payload before it is handled, and
    /// given back to [`RequestHandler::completed`] (what kind of request it was).
    fn tag(&self, _request: &[u8]) -> u32 {
        NO_TAG
    }

    /// The request labelled `tag` is done: its response written (or none was due, or the
    /// connection closes after it). `times` says when it passed each stage.
    fn completed(&self, _tag: u32, _times: &RequestTimes) {}
}

/// The tag of a request nobody asked to hear about again.
pub const NO_TAG: u32 = u32::MAX;

/// When a request passed each stage of the socket server, as 0.8.2's
/// `RequestChannel.Request` stamped them for `RequestMetrics`.
#[derive(Debug, Clone, Copy)]
pub struct RequestTimes {
    /// Its whole frame was read.
    pub received: Instant,
    /// It got one of the `queued.max.requests` places and went to the handler.
    pub dequeued: Instant,
    /// The handler's own part was done (a deferred answer waits from here).
    pub local_done: Instant,
    /// Its answer was ready (after a purgatory, for a deferred one).
    pub response_ready: Instant,
    /// The connection's writer began writing it (after the responses before it).
    pub send_start: Instant,
    /// It was written.
    pub send_end: Instant,
}

impl RequestTimes {
    /// 0.8.2's RequestQueueTimeMs, LocalTimeMs, RemoteTimeMs, ResponseQueueTimeMs,
    /// ResponseSendTimeMs and TotalTimeMs, in that order.
    pub fn stages(&self) -> [Duration; 6] {
        [
            self.dequeued.saturating_duration_since(self.received),
            self.local_done.saturating_duration_since(self.dequeued),
            self.response_ready.saturating_duration_since(self.local_done),
            self.send_start.saturating_duration_since(self.response_ready),
            self.send_end.saturating_duration_since(self.send_start),
            self.send_end.saturating_duration_since(self.received),
        ]
    }
}

/// The 0.8.2 socket-server settings.
#[derive(Debug, Clone)]
pub struct SocketServerConfig {
    /// `host.name`; empty = all interfaces.
    pub host: String,
    /// `port`; 0 = any free port.
    pub port: u16,
    /// `socket.send.buffer.bytes`
    pub send_buffer_bytes: usize,
    /// `socket.receive.buffer.bytes`
    pub receive_buffer_bytes: usize,
    /// `socket.request.max.bytes`: a larger frame closes the connection.
    pub max_request_bytes: usize,
    /// `queued.max.requests`: requests being handled at once, over all connections.
    pub queued_max_requests: usize,
    /// `connections.max.idle.ms`
    pub connections_max_idle_ms: u64,
    /// `max.connections.per.ip` and its overrides.
    pub max_connections_per_ip: usize,
    pub max_connections_per_ip_overrides: HashMap<String, usize>,
    /// Responses a connection may have pending before it stops reading requests.
    pub max_in_flight_per_connection: usize,
}

impl Default for SocketServerConfig {
    fn default() -> Self {
        SocketServerConfig {
            host: String::new(),
            port: 9092,
            send_buffer_bytes: 100 * 1024,
            receive_buffer_bytes: 100 * 1024,
            max_request_bytes: 100 * 1024 * 1024,
            queued_max_requests: 500,
            connections_max_idle_ms: 600_000,
            max_connections_per_ip: usize::MAX,
            max_connections_per_ip_overrides: HashMap::new(),
            max_in_flight_per_connection: 64,
        }
    }
}

/// How long [`SocketServer::shutdown`] waits for connections still inside a handler.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A running socket server; dropping it does not stop it, [`SocketServer::shutdown`] does.
pub struct SocketServer {
    local_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    acceptor: JoinHandle<()>,
    open: Arc<AtomicUsize>,
    shared: Arc<Shared>,
}

/// Reads the size of a socket server's request queue; see [`SocketServer::request_queue`].
#[derive(Clone)]
pub struct RequestQueueProbe(Arc<Shared>);

impl RequestQueueProbe {
    pub fn size(&self) -> usize {
        self.0.config.queued_max_requests.max(1).saturating_sub(self.0.queue.available_permits())
    }
}

struct Shared {
    config: SocketServerConfig,
    handler: Arc<dyn RequestHandler>,
    queue: Semaphore,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    open: Arc<AtomicUsize>,
}

impl SocketServer {
    /// Bind and start accepting.
    pub async fn start(config: SocketServerConfig, handler: Arc<dyn RequestHandler>) -> io::Result<SocketServer> {
        let host = if config.host.is_empty() { "0.0.0.0" } else { config.host.as_str() };
        let addr = tokio::net::lookup_host((host, config.port))
            .await?
            .next()
            .ok_or_else(|| io::Error::other(format!("cannot resolve host.name {}", host)))?;
        let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
        socket.set_reuseaddr(true)?;
        // Accepted sockets inherit the listener's buffer sizes on Linux.
        let _ = socket.set_recv_buffer_size(config.receive_buffer_bytes as u32);
        let _ = socket.set_send_buffer_size(config.send_buffer_bytes as u32);
        socket.bind(addr)?;
        let listener = socket.listen(1024)?;
        let local_addr = listener.local_addr()?;
        let (tx, rx) = watch::channel(false);
        let open = Arc::new(AtomicUsize::new(0));
        let shared = Arc::new(Shared {
            queue: Semaphore::new(config.queued_max_requests.max(1)),
            config,
            handler,
            per_ip: Mutex::new(HashMap::new()),
            open: open.clone(),
        });
        let acceptor = tokio::spawn(accept_loop(listener, shared.clone(), rx));
        Ok(SocketServer { local_addr, shutdown: tx, acceptor, open, shared })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Requests taken from the connections and not yet answered by the handler, over all
    /// connections: the queue `queued.max.requests` bounds (0.8.2's `RequestQueueSize`).
    pub fn request_queue(&self) -> RequestQueueProbe {
        RequestQueueProbe(self.shared.clone())
    }

    /// Connections currently open.
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Stop accepting and close every connection.
    /// Connections waiting on a peer are cut at once; one still inside its handler
    /// (awaiting ZooKeeper, say) gets [`SHUTDOWN_GRACE`] before the broker moves on, so
    /// a stopped broker always reaches its clean-shutdown steps.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let mut acceptor = self.acceptor;
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut acceptor).await.is_err() {
            log::warn!("{} connection(s) still busy {:?} after shutdown began; leaving them", self.open.load(Ordering::SeqCst), SHUTDOWN_GRACE);
            acceptor.abort();
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let mut next_id = 0u64;
    let mut conns: Vec<JoinHandle<()>> = Vec::new();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                log::warn!("accept failed: {}", e);
                // Out of file descriptors and the like: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if !admit(&shared, peer.ip()) {
            log::info!("Rejected connection from {}, address already has the configured maximum of connections", peer.ip());
            drop(stream);
            continue;
        }
        next_id += 1;
        let info = ConnectionInfo { id: next_id, peer };
        conns.retain(|h| !h.is_finished());
        conns.push(tokio::spawn(connection(stream, info, shared.clone(), shutdown.clone())));
    }
    // Stop accepting at once: a connection accepted now would never be served.
    drop(listener);
    for c in conns {
        let _ = c.await;
    }
}

fn admit(shared: &Shared, ip: IpAddr) -> bool {
    let limit = shared
        .config
        .max_connections_per_ip_overrides
        .get(&ip.to_string())
        .copied()
        .unwrap_or(shared.config.max_connections_per_ip);
    let mut m = shared.per_ip.lock().unwrap_or_else(|e| e.into_inner());
    let n = m.entry(ip).or_insert(0);
    if *n >= limit {
        return false;
    }
    *n += 1;
    true
}

fn release(shared: &Shared, ip: IpAddr) {
    let mut m = shared.per_ip.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(n) = m.get_mut(&ip) {
        *n -= 1;
        if *n == 0 {
            m.remove(&ip);
        }
    }
}

/// A response slot in the connection's ordered pipeline.
enum Slot {
    Ready(Outcome),
    /// A deferred answer, and when it became ready.
    Waiting(oneshot::Receiver<(Outcome, Instant)>),
}

struct Pending {
    slot: Slot,
    tag: u32,
    /// The stages until `local_done` (the rest are stamped by the writer).
    times: RequestTimes,
}

async fn connection(stream: TcpStream, info: ConnectionInfo, shared: Arc<Shared>, shutdown: watch::Receiver<bool>) {
    shared.open.fetch_add(1, Ordering::SeqCst);
    let _ = stream.set_nodelay(true);
    let (reader, writer) = stream.into_split();
    let (tx, rx) = mpsc::channel::<Pending>(shared.config.max_in_flight_per_connection.max(1));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let write_deadline = Duration::from_millis(shared.config.connections_max_idle_ms.max(1));
    let writer_task = tokio::spawn(write_loop(writer, rx, in_flight.clone(), shutdown.clone(), write_deadline, shared.handler.clone()));
    if let Err(e) = read_loop(reader, &info, &shared, tx, in_flight, shutdown).await {
        log::debug!("connection {} from {} closed: {}", info.id, info.peer, e);
    }
    let _ = writer_task.await;
    release(&shared, info.peer.ip());
    shared.open.fetch_sub(1, Ordering::SeqCst);
}

async fn read_loop(
    mut reader: OwnedReadHalf,
    info: &ConnectionInfo,
    shared: &Shared,
    tx: mpsc::Sender<Pending>,
    in_flight: Arc<AtomicUsize>,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    let idle = Duration::from_millis(shared.config.connections_max_idle_ms.max(1));
    let mut buf = BytesMut::with_capacity(READ_BUFFER);
    loop {
        // Read until one whole frame is buffered.
        let frame = loop {
            if buf.len() >= 4 {
                let size = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
                if size <= 0 || size as usize > shared.config.max_request_bytes {
                    return Err(io::Error::other(format!(
                        "request of size {} is outside 1..={} (socket.request.max.bytes)",
                        size, shared.config.max_request_bytes
                    )));
                }
                let need = 4 + size as usize;
                if buf.len() >= need {
                    let mut frame = take_frame(&mut buf, need);
                    frame.advance(4);
                    break frame.freeze();
                }
                buf.reserve(frame_read_reserve(buf.len(), need));
            } else {
                buf.reserve(4096);
            }
            let n = tokio::select! {
                r = tokio::time::timeout(idle, reader.read_buf(&mut buf)) => match r {
                    Ok(r) => r?,
                    Err(_) => {
                        if in_flight.load(Ordering::SeqCst) == 0 {
                            return Err(io::Error::other("idle past connections.max.idle.ms"));
                        }
                        continue;
                    }
                },
                _ = shutdown.changed() => return Ok(()),
            };
            if n == 0 {
                return Ok(()); // peer closed
            }
        };
        let received = Instant::now();
        let tag = shared.handler.tag(&frame);
        let permit = shared.queue.acquire().await.map_err(|_| io::Error::other("request queue closed"))?;
        let dequeued = Instant::now();
        in_flight.fetch_add(1, Ordering::SeqCst);
        let mut outcome = shared.handler.handle(frame, info).await;
        drop(permit);
        while let Outcome::Inline(fut) = outcome {
            outcome = tokio::select! {
                o = fut => o,
                _ = shutdown.changed() => return Ok(()),
            };
        }
        let local_done = Instant::now();
        let close = matches!(outcome, Outcome::Close);
        let slot = match outcome {
            Outcome::Deferred(fut) => {
                let (otx, orx) = oneshot::channel();
                tokio::spawn(async move {
                    let outcome = resolve(fut).await;
                    let _ = otx.send((outcome, Instant::now()));
                });
                Slot::Waiting(orx)
            }
            other => Slot::Ready(other),
        };
        let times = RequestTimes { received, dequeued, local_done, response_ready: local_done, send_start: local_done, send_end: local_done };
        if tx.send(Pending { slot, tag, times }).await.is_err() {
            return Ok(()); // writer gone (peer reset)
        }
        if close {
            return Ok(());
        }
    }
}

/// Frames from this size on get a buffer of their own (see [`take_frame`]).
const UNIQUE_FRAME_MIN: usize = 16 * 1024;

/// What a connection's read buffer starts with.
const READ_BUFFER: usize = 64 * 1024;

/// Split the first `need` bytes (one whole frame) off `buf`. A large frame gets a buffer
/// of its own when what follows it is at most an eighth of it (those bytes are copied to
/// a new `buf`): a produce's only message set is then validated and numbered in place
/// instead of copied whole. Small frames share `buf`'s allocation, which is reused once
/// they are dropped.
fn take_frame(buf: &mut BytesMut, need: usize) -> BytesMut {
    let rest = buf.len() - need;
    if need >= UNIQUE_FRAME_MIN && rest <= need / 8 {
        let mut next = BytesMut::with_capacity(READ_BUFFER.max(rest));
        next.extend_from_slice(&buf[need..]);
        buf.truncate(need);
        std::mem::replace(buf, next)
    } else {
        buf.split_to(need)
    }
}

/// Room to add before the next read of a frame of `need` bytes of which `buffered` are
/// here. The buffer grows as bytes arrive (doubling, from 64 KiB), never to the size the
/// frame declares up front: a client that announces `socket.request.max.bytes` (100 MB)
/// and sends one byte costs 64 KiB, not 100 MB, per connection.
fn frame_read_reserve(buffered: usize, need: usize) -> usize {
    const FIRST_STEP: usize = 64 * 1024;
    need.saturating_sub(buffered).min(buffered.max(FIRST_STEP))
}

/// Follow chains of deferred outcomes to a final one.
async fn resolve(mut fut: BoxFuture<Outcome>) -> Outcome {
    loop {
        match fut.await {
            Outcome::Deferred(next) | Outcome::Inline(next) => fut = next,
            other => return other,
        }
    }
}

async fn write_loop(
    mut writer: OwnedWriteHalf,
    mut rx: mpsc::Receiver<Pending>,
    in_flight: Arc<AtomicUsize>,
    mut shutdown: watch::Receiver<bool>,
    write_deadline: Duration,
    handler: Arc<dyn RequestHandler>,
) {
    while let Some(Pending { slot, tag, mut times }) = rx.recv().await {
        let outcome = match slot {
            Slot::Ready(o) => o,
            // On shutdown, answers still waiting (a long poll, an acks=-1 produce) are
            // dropped with the connection rather than holding the broker's exit.
            Slot::Waiting(r) => tokio::select! {
                o = r => match o {
                    Ok((o, ready)) => {
                        times.response_ready = ready;
                        o
                    }
                    Err(_) => Outcome::Close,
                },
                _ = wait_true(&mut shutdown) => Outcome::Close,
            },
        };
        let outcome = match outcome {
            Outcome::Deferred(f) | Outcome::Inline(f) => tokio::select! {
                o = resolve(f) => {
                    times.response_ready = Instant::now();
                    o
                }
                _ = wait_true(&mut shutdown) => Outcome::Close,
            },
            o => o,
        };
        in_flight.fetch_sub(1, Ordering::SeqCst);
        times.send_start = Instant::now();
        match outcome {
            Outcome::Respond(chunks) => {
                // A peer that stops reading (zero window) must not hold this task, the
                // connection, and with them the broker's shutdown forever: every response
                // has `connections.max.idle.ms` to go out, and shutdown cuts it short.
                let written = tokio::select! {
                    r = tokio::time::timeout(write_deadline, write_chunks(&mut writer, chunks)) => match r {
                        Ok(r) => r,
                        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "the peer read nothing within connections.max.idle.ms")),
                    },
                    _ = wait_true(&mut shutdown) => Err(io::Error::other("shutting down")),
                };
                if let Err(e) = written {
                    // A peer that went away is routine; a file region that came up short
                    // is not (the connection is closed either way).
                    if e.kind() == io::ErrorKind::UnexpectedEof {
                        log::warn!("closing a connection: {}", e);
                    } else {
                        log::debug!("write failed: {}", e);
                    }
                    break;
                }
                times.send_end = Instant::now();
                handler.completed(tag, &times);
            }
            Outcome::NoResponse => {
                times.send_end = times.send_start;
                handler.completed(tag, &times);
            }
            Outcome::Close | Outcome::Deferred(_) | Outcome::Inline(_) => {
                times.send_end = times.send_start;
                handler.completed(tag, &times);
                break;
            }
        }
    }
    // A FIN to a peer that reads nothing cannot block: it is queued behind the unsent
    // bytes; bounded anyway.
    let _ = tokio::time::timeout(Duration::from_secs(1), writer.shutdown()).await;
}

async fn write_chunks(writer: &mut OwnedWriteHalf, chunks: Vec<ResponseChunk>) -> io::Result<()> {
    // Small header chunks are gathered into one write; file regions go out with sendfile.
    let mut pending = BytesMut::new();
    for c in chunks {
        match c {
            ResponseChunk::Bytes(b) => {
                if pending.is_empty() && b.len() >= 64 * 1024 {
                    writer.write_all(&b).await?;
                } else {
                    pending.extend_from_slice(&b);
                }
            }
            ResponseChunk::File { file, position, len } => {
                if !pending.is_empty() {
                    writer.write_all(&pending).await?;
                    pending.clear();
                }
                send_file_region(writer.as_ref(), &file, position, len).await?;
            }
        }
    }
    if !pending.is_empty() {
        writer.write_all(&pending).await?;
    }
    Ok(())
}

async fn wait_true(rx: &mut watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_frame_gets_a_buffer_of_its_own_unless_much_follows_it() {
        let frame_len = UNIQUE_FRAME_MIN * 2;
        for (follows, own) in [(0, true), (frame_len / 8, true), (frame_len / 8 + 1, false)] {
            let bytes: Vec<u8> = (0..frame_len + follows).map(|i| i as u8).collect();
            let mut buf = BytesMut::from(&bytes[..]);
            let frame = take_frame(&mut buf, frame_len);
            assert_eq!((&frame[..], &buf[..]), (&bytes[..frame_len], &bytes[frame_len..]), "{follows} bytes follow");
            assert_eq!(frame.freeze().try_into_mut().is_ok(), own, "{follows} bytes follow");
        }
        // A small frame shares the buffer (reused for the next reads once it is dropped).
        let mut buf = BytesMut::from(&[7u8; 100][..]);
        let frame = take_frame(&mut buf, 100).freeze();
        assert_eq!((frame.len(), buf.len()), (100, 0));
        assert!(frame.try_into_mut().is_err());
    }

    #[test]
    fn a_partial_frame_grows_its_buffer_as_bytes_arrive() {
        let max = 100 * 1024 * 1024;
        // One byte of a frame announced at 100 MB: room for 64 KiB, not 100 MB.
        assert_eq!(frame_read_reserve(5, max + 4), 64 * 1024);
        // Then doubling with what has arrived, never past the frame.
        assert_eq!(frame_read_reserve(1 << 20, max + 4), 1 << 20);
        assert_eq!(frame_read_reserve(max, max + 4), 4);
        assert_eq!(frame_read_reserve(10, 30), 20);
        assert_eq!(frame_read_reserve(30, 30), 0);
        // Bytes needed are always offered, so a whole frame is read in O(log n) grows.
        let (mut have, need) = (4usize, max + 4);
        let mut grows = 0;
        while have < need {
            have += frame_read_reserve(have, need);
            grows += 1;
        }
        assert!(grows < 20, "{grows}");
    }
}
