//! A ZooKeeper proxy that loses one answer: it forwards a client's connection to the real
//! server untouched until armed with a znode path; the next `setData` on that path reaches
//! the server (which applies it), but the answer never comes back and the connection
//! closes, as when a network drops the reply. The client sees a lost connection, not the
//! outcome, and reconnects through the proxy within its session timeout (same session).
//! That is the one ZooKeeper failure where a write's result is unknown to its writer.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// ZooKeeper's opcode for setData.
const OP_SET_DATA: i32 = 5;
/// Frames larger than this are not ZooKeeper requests of ours: pass the connection through.
const MAX_FRAME: usize = 1 << 20;

pub struct ZkAnswerLoss {
    port: u16,
    armed: Arc<Mutex<Option<String>>>,
    lost: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl ZkAnswerLoss {
    /// A proxy on a free 127.0.0.1 port in front of `target` (`host:port`).
    pub fn start(target: &str) -> ZkAnswerLoss {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let armed: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
        let lost = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, l, s, target) = (armed.clone(), lost.clone(), stop.clone(), target.to_string());
        std::thread::spawn(move || {
            for inbound in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(inbound) = inbound else { continue };
                let Ok(outbound) = TcpStream::connect(&target) else { continue };
                serve(inbound, outbound, a.clone(), l.clone());
            }
        });
        ZkAnswerLoss { port, armed, lost, stop }
    }

    pub fn connect_string(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Lose the answer to the next setData on `path`.
    pub fn lose_next_set_data(&self, path: &str) {
        self.lost.store(false, Ordering::SeqCst);
        *self.armed.lock().unwrap_or_else(|e| e.into_inner()) = Some(path.to_string());
    }

    /// Whether an answer has been lost since the last arming.
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }
}

impl Drop for ZkAnswerLoss {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Forward one connection: requests frame by frame (to spot the armed write), answers as
/// bytes, until the armed write passes; then drop the answers and close both sides.
fn serve(client: TcpStream, server: TcpStream, armed: Arc<Mutex<Option<String>>>, lost: Arc<AtomicBool>) {
    let dropping = Arc::new(AtomicBool::new(false));
    let (mut c_read, mut s_write) = (client.try_clone().expect("clone"), server.try_clone().expect("clone"));
    let (mut s_read, mut c_write) = (server, client);
    let d = dropping.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 64 * 1024];
        loop {
            let n = match s_read.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if d.load(Ordering::SeqCst) || c_write.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = c_write.shutdown(Shutdown::Both);
        let _ = s_read.shutdown(Shutdown::Both);
    });
    std::thread::spawn(move || {
        let mut first = true;
        loop {
            let mut len = [0u8; 4];
            if c_read.read_exact(&mut len).is_err() {
                break;
            }
            let size = i32::from_be_bytes(len).max(0) as usize;
            if size > MAX_FRAME {
                break;
            }
            let mut frame = vec![0u8; size];
            if c_read.read_exact(&mut frame).is_err() {
                break;
            }
            // The first frame is the connect request, without a request header.
            let lose = !first && is_armed_set_data(&frame, &armed);
            first = false;
            if lose {
                dropping.store(true, Ordering::SeqCst);
            }
            if s_write.write_all(&len).and_then(|_| s_write.write_all(&frame)).is_err() {
                break;
            }
            if lose {
                // Let the server apply it; its answer is dropped meanwhile.
                std::thread::sleep(Duration::from_millis(500));
                lost.store(true, Ordering::SeqCst);
                break;
            }
        }
        let _ = c_read.shutdown(Shutdown::Both);
        let _ = s_write.shutdown(Shutdown::Both);
    });
}

/// A setData (xid, opcode, then the path as a length-prefixed string) on the armed path;
/// disarms on a match.
fn is_armed_set_data(frame: &[u8], armed: &Mutex<Option<String>>) -> bool {
    let int = |at: usize| frame.get(at..at + 4).map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    if int(4) != Some(OP_SET_DATA) {
        return false;
    }
    let Some(len) = int(8).filter(|l| *l >= 0) else { return false };
    let Some(path) = frame.get(12..12 + len as usize) else { return false };
    let mut armed = armed.lock().unwrap_or_else(|e| e.into_inner());
    if armed.as_deref().map(str::as_bytes) == Some(path) {
        *armed = None;
        return true;
    }
    false
}
