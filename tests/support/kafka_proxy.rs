//! A Kafka-protocol proxy in front of one broker, for client tests. Start it first, then
//! the broker with `advertised.port` = [`KafkaProxy::port`] so that the metadata sends
//! clients through it, then [`KafkaProxy::set_target`]. It reads the frames of each
//! connection (so it knows which answers are produce answers) and can:
//!
//! - count produce requests forwarded and not yet answered, per connection, and keep the
//!   highest count seen ([`KafkaProxy::max_produce_in_flight`]): proof of pipelining that
//!   does not depend on timing;
//! - hold back produce answers ([`KafkaProxy::hold_answers`]);
//! - close every current connection ([`KafkaProxy::cut`]), as a broker that goes away;
//! - swallow the next produce request ([`KafkaProxy::drop_next_produce`]): it never reaches
//!   the broker, and the client meets the next request's answer instead of its own.
//!
//! Connections that never send a produce request (the controller's) are forwarded the same
//! way but never held.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

const PRODUCE: i16 = 0;

#[derive(Default)]
struct Shared {
    target: Mutex<Option<String>>,
    gate_closed: Mutex<bool>,
    gate: Condvar,
    max_in_flight: AtomicUsize,
    produce_requests: AtomicUsize,
    drop_next: AtomicBool,
    dropped: AtomicUsize,
    sockets: Mutex<Vec<TcpStream>>,
    stop: AtomicBool,
}

pub struct KafkaProxy {
    pub port: u16,
    shared: Arc<Shared>,
}

impl KafkaProxy {
    /// Listen on a free 127.0.0.1 port; connections wait for [`KafkaProxy::set_target`].
    pub fn start() -> KafkaProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        std::thread::spawn(move || {
            for inbound in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(inbound) = inbound else { continue };
                let target = loop {
                    if let Some(t) = s.target.lock().unwrap().clone() {
                        break t;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                };
                let Ok(outbound) = TcpStream::connect(&target) else { continue };
                serve(inbound, outbound, s.clone());
            }
        });
        KafkaProxy { port, shared }
    }

    /// The broker's own address.
    pub fn set_target(&self, addr: &str) {
        *self.shared.target.lock().unwrap() = Some(addr.to_string());
    }

    /// Hold produce answers until the guard is dropped. Take it after the client, so that
    /// a failing test lets the answers go before the client's close waits for them.
    pub fn hold_answers(&self) -> HeldAnswers<'_> {
        *self.shared.gate_closed.lock().unwrap() = true;
        HeldAnswers(self)
    }

    fn open_gate(&self) {
        *self.shared.gate_closed.lock().unwrap() = false;
        self.shared.gate.notify_all();
    }

    /// The most produce requests one connection had unanswered at once.
    pub fn max_produce_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }

    /// Produce requests forwarded so far.
    pub fn produce_requests(&self) -> usize {
        self.shared.produce_requests.load(Ordering::SeqCst)
    }

    /// Swallow the next produce request.
    pub fn drop_next_produce(&self) {
        self.shared.drop_next.store(true, Ordering::SeqCst);
    }

    /// Produce requests swallowed so far.
    pub fn dropped(&self) -> usize {
        self.shared.dropped.load(Ordering::SeqCst)
    }

    /// Close every current connection (new ones are accepted).
    pub fn cut(&self) {
        for s in self.shared.sockets.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
        self.shared.gate.notify_all();
    }
}

/// Produce answers are held while this lives.
pub struct HeldAnswers<'a>(&'a KafkaProxy);

impl Drop for HeldAnswers<'_> {
    fn drop(&mut self) {
        self.0.open_gate();
    }
}

impl Drop for KafkaProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.open_gate();
        self.cut();
        let _ = TcpStream::connect(("127.0.0.1", self.port)); // wake the accept loop
    }
}

fn read_frame(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut size = [0u8; 4];
    s.read_exact(&mut size).ok()?;
    let n = i32::from_be_bytes(size);
    if n < 0 {
        return None;
    }
    let mut frame = vec![0u8; 4 + n as usize];
    frame[..4].copy_from_slice(&size);
    s.read_exact(&mut frame[4..]).ok()?;
    Some(frame)
}

/// A produce request's acks (after api key, version, correlation id and client id).
fn produce_acks(frame: &[u8]) -> Option<i16> {
    let client_len = i16::from_be_bytes(frame.get(12..14)?.try_into().ok()?).max(0) as usize;
    let at = 14 + client_len;
    Some(i16::from_be_bytes(frame.get(at..at + 2)?.try_into().ok()?))
}

fn serve(inbound: TcpStream, outbound: TcpStream, shared: Arc<Shared>) {
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    {
        let mut sockets = shared.sockets.lock().unwrap();
        sockets.extend(inbound.try_clone().ok());
        sockets.extend(outbound.try_clone().ok());
    }
    // Per answered request, in order: whether it is a produce request.
    let answers: Arc<(Mutex<VecDeque<bool>>, Condvar)> = Arc::default();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let closed = Arc::new(AtomicBool::new(false));
    let (mut from_client, mut to_broker) = (inbound.try_clone().expect("clone"), outbound.try_clone().expect("clone"));
    let (mut from_broker, mut to_client) = (outbound, inbound);
    {
        let (shared, answers, in_flight, closed) = (shared.clone(), answers.clone(), in_flight.clone(), closed.clone());
        std::thread::spawn(move || {
            while let Some(frame) = read_frame(&mut from_client) {
                let api_key = i16::from_be_bytes([frame[4], frame[5]]);
                let produce = api_key == PRODUCE;
                let answered = !produce || produce_acks(&frame).is_some_and(|a| a != 0);
                if produce && shared.drop_next.swap(false, Ordering::SeqCst) {
                    shared.dropped.fetch_add(1, Ordering::SeqCst);
                    continue;
                }
                if answered {
                    answers.0.lock().unwrap().push_back(produce);
                }
                if produce && answered {
                    let n = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    shared.max_in_flight.fetch_max(n, Ordering::SeqCst);
                }
                if produce {
                    shared.produce_requests.fetch_add(1, Ordering::SeqCst);
                }
                if to_broker.write_all(&frame).is_err() {
                    break;
                }
            }
            closed.store(true, Ordering::SeqCst);
            let _ = to_broker.shutdown(Shutdown::Both);
            shared.gate.notify_all();
        });
    }
    std::thread::spawn(move || {
        while let Some(frame) = read_frame(&mut from_broker) {
            let produce = answers.0.lock().unwrap().pop_front().unwrap_or(false);
            if produce {
                let mut gate_closed = shared.gate_closed.lock().unwrap();
                while *gate_closed && !closed.load(Ordering::SeqCst) && !shared.stop.load(Ordering::SeqCst) {
                    gate_closed = shared.gate.wait_timeout(gate_closed, Duration::from_millis(50)).unwrap().0;
                }
            }
            // Answered from here on: a client sends its next request only after reading it.
            if produce {
                in_flight.fetch_sub(1, Ordering::SeqCst);
            }
            if to_client.write_all(&frame).is_err() {
                break;
            }
        }
        let _ = to_client.shutdown(Shutdown::Both);
    });
}
