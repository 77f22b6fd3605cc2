//! Raw requests for tests and benches: one typed request on a connection of its own, a
//! size-prefixed frame read off a socket. Everything goes through `kafka08::api`, so a
//! test sees exactly what a 0.8 client would send and receive.

use bytes::Bytes;
use kafka08::api::{self, ApiRequest, RequestHeader};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// How long a request helper waits for an answer before giving up.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// One size-prefixed frame, without its size.
pub fn read_frame(s: &mut TcpStream) -> io::Result<Bytes> {
    let mut size = [0u8; 4];
    s.read_exact(&mut size)?;
    let size = i32::from_be_bytes(size);
    if size < 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("negative frame size {size}")));
    }
    let mut buf = vec![0u8; size as usize];
    s.read_exact(&mut buf)?;
    Ok(Bytes::from(buf))
}

/// Write `req` with API version `version` and `correlation_id` on `s`.
pub fn send<R: ApiRequest>(s: &mut TcpStream, version: i16, correlation_id: i32, req: &R) -> io::Result<()> {
    let h = RequestHeader::new(R::API_KEY, version, correlation_id, Some("test"));
    let frame = api::encode_request(&h, req).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    s.write_all(&frame)
}

/// One request of API version `version` on a fresh connection, answered within `timeout`;
/// `None` if the broker is unreachable, closes, or answers something that does not decode
/// or carries another correlation id.
pub fn request<R: ApiRequest>(addr: &str, version: i16, req: &R, timeout: Duration) -> Option<R::Response> {
    const CORRELATION_ID: i32 = 7;
    // Bounded connect too: a host cut off by a partition test drops the SYN, and an
    // unbounded connect would wait for the kernel's two minutes of retries.
    let mut s = std::net::ToSocketAddrs::to_socket_addrs(addr).ok()?.find_map(|a| TcpStream::connect_timeout(&a, timeout).ok())?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.set_write_timeout(Some(timeout)).ok()?;
    send(&mut s, version, CORRELATION_ID, req).ok()?;
    let frame = read_frame(&mut s).ok()?;
    let (header, response) = api::decode_response::<R::Response>(version, frame).ok()?;
    (header.correlation_id == CORRELATION_ID).then_some(response)
}

/// One version-0 request on a fresh connection; `None` if the broker is unreachable or closes.
pub fn try_call<R: ApiRequest>(addr: &str, req: &R) -> Option<R::Response> {
    request(addr, 0, req, REQUEST_TIMEOUT)
}

/// Like [`try_call`], but a missing answer fails the test.
pub fn call<R: ApiRequest>(addr: &str, req: &R) -> R::Response {
    try_call(addr, req).unwrap_or_else(|| panic!("no answer from {addr} to {:?}", R::API_KEY))
}
