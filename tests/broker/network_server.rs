//! The socket server with a toy handler: framing limits, in-order pipelined responses,
//! no-response and close outcomes, sendfile regions, idle and per-IP limits.

use bytes::Bytes;
use kafka08::network::{BoxFuture, ConnectionInfo, Outcome, RequestHandler, ResponseChunk, SocketServer, SocketServerConfig};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Request payload: id (u32), mode (u8), delay ms (u32).
/// Modes: 0 answer now, 1 answer after the delay (deferred), 2 no response, 3 close,
/// 4 answer with the file region registered in the handler.
struct Toy {
    seen: Mutex<Vec<u32>>,
    file: Mutex<Option<(Arc<std::fs::File>, u64, usize)>>,
}

fn frame(id: u32, mode: u8, delay: u32) -> Vec<u8> {
    let mut b = vec![0, 0, 0, 9];
    b.extend_from_slice(&id.to_be_bytes());
    b.push(mode);
    b.extend_from_slice(&delay.to_be_bytes());
    b
}

fn answer(id: u32) -> Outcome {
    let mut b = vec![0, 0, 0, 4];
    b.extend_from_slice(&id.to_be_bytes());
    Outcome::Respond(vec![ResponseChunk::Bytes(Bytes::from(b))])
}

impl RequestHandler for Toy {
    fn handle(&self, request: Bytes, _conn: &ConnectionInfo) -> BoxFuture<Outcome> {
        let id = u32::from_be_bytes(request[..4].try_into().unwrap());
        let mode = request[4];
        let delay = u32::from_be_bytes(request[5..9].try_into().unwrap());
        self.seen.lock().unwrap().push(id);
        let file = self.file.lock().unwrap().clone();
        Box::pin(async move {
            match mode {
                0 => answer(id),
                1 => Outcome::Deferred(Box::pin(async move {
                    tokio::time::sleep(Duration::from_millis(delay as u64)).await;
                    answer(id)
                })),
                2 => Outcome::NoResponse,
                3 => Outcome::Close,
                _ => {
                    let (f, pos, len) = file.expect("file registered");
                    let mut head = (len as u32).to_be_bytes().to_vec();
                    head.truncate(4);
                    Outcome::Respond(vec![ResponseChunk::Bytes(Bytes::from(head)), ResponseChunk::File { file: f, position: pos, len }])
                }
            }
        })
    }
}

async fn start(config: SocketServerConfig) -> (SocketServer, Arc<Toy>) {
    let toy = Arc::new(Toy { seen: Mutex::new(Vec::new()), file: Mutex::new(None) });
    let cfg = SocketServerConfig { host: "127.0.0.1".into(), port: 0, ..config };
    let server = SocketServer::start(cfg, toy.clone()).await.unwrap();
    (server, toy)
}

async fn read_answer(s: &mut TcpStream) -> Option<u32> {
    let mut b = [0u8; 8];
    match tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut b)).await {
        Ok(Ok(_)) => Some(u32::from_be_bytes(b[4..].try_into().unwrap())),
        _ => None,
    }
}

/// True when the server closed the connection (EOF) within the deadline.
async fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 64];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut b)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn pipelined_requests_are_handled_and_answered_in_order() {
    let (server, toy) = start(SocketServerConfig::default()).await;
    let mut s = TcpStream::connect(server.local_addr()).await.unwrap();
    let mut all = Vec::new();
    for id in 0..60u32 {
        // Deferred answers with decreasing delays would come back reversed if order were
        // not enforced; some are immediate, some get no response.
        let mode = match id % 5 {
            0 => 0,
            4 => 2,
            _ => 1,
        };
        all.extend(frame(id, mode, 60 - id));
    }
    s.write_all(&all).await.unwrap();
    for id in (0..60u32).filter(|i| i % 5 != 4) {
        assert_eq!(read_answer(&mut s).await, Some(id));
    }
    assert_eq!(*toy.seen.lock().unwrap(), (0..60).collect::<Vec<_>>());
    server.shutdown().await;
}

#[tokio::test]
async fn oversized_and_non_positive_frames_close_only_that_connection() {
    let cfg = SocketServerConfig { max_request_bytes: 1000, ..Default::default() };
    let (server, _) = start(cfg).await;
    for size in [1001i32, i32::MAX, 0, -5] {
        let mut bad = TcpStream::connect(server.local_addr()).await.unwrap();
        bad.write_all(&size.to_be_bytes()).await.unwrap();
        assert!(closed_by_server(&mut bad).await, "size {}", size);
    }
    let mut good = TcpStream::connect(server.local_addr()).await.unwrap();
    good.write_all(&frame(7, 0, 0)).await.unwrap();
    assert_eq!(read_answer(&mut good).await, Some(7));
    server.shutdown().await;
}

#[tokio::test]
async fn close_outcome_writes_earlier_answers_then_closes() {
    let (server, _) = start(SocketServerConfig::default()).await;
    let mut s = TcpStream::connect(server.local_addr()).await.unwrap();
    let mut b = frame(1, 1, 50);
    b.extend(frame(2, 3, 0));
    b.extend(frame(3, 0, 0));
    s.write_all(&b).await.unwrap();
    assert_eq!(read_answer(&mut s).await, Some(1));
    assert!(closed_by_server(&mut s).await);
    server.shutdown().await;
}

#[tokio::test]
async fn file_regions_are_sent_verbatim() {
    let (server, toy) = start(SocketServerConfig::default()).await;
    let path = std::env::temp_dir().join(format!("kafka08-sendfile-{}", std::process::id()));
    let content: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::File::create(&path).unwrap().write_all(&content).unwrap();
    let f = Arc::new(std::fs::File::open(&path).unwrap());
    let (pos, len) = (12_345u64, 2_500_000usize);
    *toy.file.lock().unwrap() = Some((f, pos, len));
    let mut s = TcpStream::connect(server.local_addr()).await.unwrap();
    s.write_all(&frame(1, 4, 0)).await.unwrap();
    let mut head = [0u8; 4];
    s.read_exact(&mut head).await.unwrap();
    assert_eq!(u32::from_be_bytes(head) as usize, len);
    let mut got = vec![0u8; len];
    s.read_exact(&mut got).await.unwrap();
    assert!(got == content[pos as usize..pos as usize + len]);
    let _ = std::fs::remove_file(&path);
    server.shutdown().await;
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let cfg = SocketServerConfig { connections_max_idle_ms: 200, ..Default::default() };
    let (server, _) = start(cfg).await;
    let mut s = TcpStream::connect(server.local_addr()).await.unwrap();
    s.write_all(&frame(1, 0, 0)).await.unwrap();
    assert_eq!(read_answer(&mut s).await, Some(1));
    assert!(closed_by_server(&mut s).await);
    server.shutdown().await;
}

#[tokio::test]
async fn connections_per_ip_are_limited() {
    let cfg = SocketServerConfig { max_connections_per_ip: 2, ..Default::default() };
    let (server, _) = start(cfg).await;
    let mut a = TcpStream::connect(server.local_addr()).await.unwrap();
    let mut b = TcpStream::connect(server.local_addr()).await.unwrap();
    a.write_all(&frame(1, 0, 0)).await.unwrap();
    b.write_all(&frame(2, 0, 0)).await.unwrap();
    assert_eq!(read_answer(&mut a).await, Some(1));
    assert_eq!(read_answer(&mut b).await, Some(2));
    let mut c = TcpStream::connect(server.local_addr()).await.unwrap();
    assert!(closed_by_server(&mut c).await);
    drop(a);
    // Once a slot frees up, a new connection is served.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut d = TcpStream::connect(server.local_addr()).await.unwrap();
        if d.write_all(&frame(4, 0, 0)).await.is_ok() && read_answer(&mut d).await == Some(4) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "slot never freed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_truncated_request_waits_and_other_clients_are_served() {
    let (server, _) = start(SocketServerConfig::default()).await;
    let mut partial = TcpStream::connect(server.local_addr()).await.unwrap();
    partial.write_all(&frame(1, 0, 0)[..6]).await.unwrap();
    let mut other = TcpStream::connect(server.local_addr()).await.unwrap();
    other.write_all(&frame(2, 0, 0)).await.unwrap();
    assert_eq!(read_answer(&mut other).await, Some(2));
    partial.write_all(&frame(1, 0, 0)[6..]).await.unwrap();
    assert_eq!(read_answer(&mut partial).await, Some(1));
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_drops_pending_answers_and_stops_accepting() {
    let (server, toy) = start(SocketServerConfig::default()).await;
    let addr = server.local_addr();
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&frame(1, 1, 60_000)).await.unwrap();
    // The request is in the handler (its answer pending) before the shutdown starts.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !toy.seen.lock().unwrap().contains(&1) {
        assert!(std::time::Instant::now() < deadline, "the request never reached the handler");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::timeout(Duration::from_secs(5), server.shutdown()).await.expect("shutdown does not wait for a 60 s answer");
    assert!(closed_by_server(&mut s).await);
    assert!(TcpStream::connect(addr).await.is_err(), "nothing listens after shutdown");
}
