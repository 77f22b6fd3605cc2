//! A blocking-style request/response client over one TCP connection (0.8's
//! `BlockingChannel` + `SimpleConsumer`/`SyncProducer` send path), async over tokio.
//!
//! One request is in flight at a time: write a frame, read exactly one size-prefixed
//! response frame, check the echoed correlation id. Used by the controller's channels to
//! brokers, and meant for producers, consumers and tools.
//!
//! After any error except a refused encode the connection is unusable (a timed-out read
//! may leave half a frame in the socket), so it is marked broken and every later call
//! fails with [`ClientError::Broken`]: reconnect.

use crate::api::{
    decode_response, encode_request, ApiRequest, DecodeError, EncodeError, RequestHeader, DEFAULT_MAX_REQUEST_SIZE,
    SIZE_PREFIX,
};
use bytes::{Bytes, BytesMut};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What went wrong on a [`BrokerConnection`].
#[derive(Debug)]
pub enum ClientError {
    /// Connecting, writing or reading failed (including the peer closing the connection).
    Io(io::Error),
    /// The connect or the request did not complete within its timeout.
    Timeout,
    /// The response frame could not be decoded (or its size is out of range).
    Decode(DecodeError),
    /// The request could not be encoded (the connection is still usable).
    Encode(EncodeError),
    /// The response answers another request.
    CorrelationMismatch { expected: i32, actual: i32 },
    /// An earlier error left the connection unusable.
    Broken,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Io(e) => write!(f, "i/o error: {}", e),
            ClientError::Timeout => write!(f, "timed out"),
            ClientError::Decode(e) => write!(f, "cannot decode response: {}", e),
            ClientError::Encode(e) => write!(f, "cannot encode request: {}", e),
            ClientError::CorrelationMismatch { expected, actual } => {
                write!(f, "correlation id mismatch: expected {}, received {}", expected, actual)
            }
            ClientError::Broken => write!(f, "connection is broken by an earlier error"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<io::Error> for ClientError {
    fn from(e: io::Error) -> Self {
        ClientError::Io(e)
    }
}

impl From<DecodeError> for ClientError {
    fn from(e: DecodeError) -> Self {
        ClientError::Decode(e)
    }
}

/// One connection to a broker; requests go one at a time.
#[derive(Debug)]
pub struct BrokerConnection {
    stream: TcpStream,
    peer: String,
    next_correlation_id: i32,
    request_timeout: Duration,
    max_response_size: usize,
    broken: bool,
}

impl BrokerConnection {
    /// Connect to `host:port` within `timeout`; `timeout` is also the request timeout (as
    /// 0.8's socket timeouts were), see [`BrokerConnection::set_request_timeout`].
    pub async fn connect(host: &str, port: u16, timeout: Duration) -> Result<BrokerConnection, ClientError> {
        let stream = match tokio::time::timeout(timeout, TcpStream::connect((host, port))).await {
            Ok(r) => r?,
            Err(_) => return Err(ClientError::Timeout),
        };
        stream.set_nodelay(true)?;
        Ok(BrokerConnection {
            stream,
            peer: format!("{}:{}", host, port),
            next_correlation_id: 0,
            request_timeout: timeout,
            max_response_size: DEFAULT_MAX_REQUEST_SIZE,
            broken: false,
        })
    }

    /// `host:port` as given to `connect`.
    pub fn peer(&self) -> &str {
        &self.peer
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }

    /// How long one request (write and response) may take.
    pub fn set_request_timeout(&mut self, timeout: Duration) {
        self.request_timeout = timeout;
    }

    /// Largest response frame accepted (payload bytes); larger ones are a decode error.
    pub fn set_max_response_size(&mut self, max: usize) {
        self.max_response_size = max;
    }

    /// The correlation id the next request gets.
    pub fn next_correlation_id(&self) -> i32 {
        self.next_correlation_id
    }

    /// Continue numbering from `id` (a controller keeps one counter across reconnects).
    pub fn set_next_correlation_id(&mut self, id: i32) {
        self.next_correlation_id = id;
    }

    pub fn is_broken(&self) -> bool {
        self.broken
    }

    fn take_correlation_id(&mut self) -> i32 {
        let id = self.next_correlation_id;
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1);
        id
    }

    /// Send `request` at version 0 and wait for its response.
    pub async fn send<R: ApiRequest>(&mut self, client_id: &str, request: &R) -> Result<R::Response, ClientError> {
        self.send_versioned(client_id, 0, request).await
    }

    /// Send `request` at `version` (OffsetCommit/OffsetFetch v1) and wait for its response.
    pub async fn send_versioned<R: ApiRequest>(
        &mut self,
        client_id: &str,
        version: i16,
        request: &R,
    ) -> Result<R::Response, ClientError> {
        if self.broken {
            return Err(ClientError::Broken);
        }
        let correlation_id = self.next_correlation_id;
        let header = RequestHeader::new(R::API_KEY, version, correlation_id, Some(client_id));
        let frame = encode_request(&header, request).map_err(ClientError::Encode)?;
        self.take_correlation_id();
        let payload = self.exchange(&frame, Some(correlation_id)).await?;
        match decode_response::<R::Response>(version, payload) {
            Ok((_, body)) => Ok(body),
            Err(e) => {
                self.broken = true;
                Err(ClientError::Decode(e))
            }
        }
    }

    /// Send a request that gets no response (produce with acks=0).
    pub async fn send_oneway<R: ApiRequest>(&mut self, client_id: &str, request: &R) -> Result<(), ClientError> {
        if self.broken {
            return Err(ClientError::Broken);
        }
        let header = RequestHeader::new(R::API_KEY, 0, self.next_correlation_id, Some(client_id));
        let frame = encode_request(&header, request).map_err(ClientError::Encode)?;
        self.take_correlation_id();
        let timeout = self.request_timeout;
        let result = match tokio::time::timeout(timeout, self.stream.write_all(&frame)).await {
            Ok(r) => r.map_err(ClientError::Io),
            Err(_) => Err(ClientError::Timeout),
        };
        if result.is_err() {
            self.broken = true;
        }
        result
    }

    /// Send an already encoded request frame (size prefix included) and return the
    /// response frame's payload (correlation id first). The correlation id is checked
    /// against the one inside `frame`. The connection's own counter is not used.
    pub async fn send_raw(&mut self, frame: &[u8]) -> Result<Bytes, ClientError> {
        if self.broken {
            return Err(ClientError::Broken);
        }
        // size(4) api_key(2) api_version(2) correlation_id(4)
        let expected = (frame.len() >= 12).then(|| i32::from_be_bytes([frame[8], frame[9], frame[10], frame[11]]));
        self.exchange(frame, expected).await
    }

    async fn exchange(&mut self, frame: &[u8], expected: Option<i32>) -> Result<Bytes, ClientError> {
        let timeout = self.request_timeout;
        let max = self.max_response_size;
        let stream = &mut self.stream;
        let io = async move {
            stream.write_all(frame).await?;
            read_frame(stream, max).await
        };
        let result = match tokio::time::timeout(timeout, io).await {
            Ok(r) => r,
            Err(_) => Err(ClientError::Timeout),
        };
        let payload = match result {
            Ok(p) => p,
            Err(e) => {
                self.broken = true;
                return Err(e);
            }
        };
        if let Some(expected) = expected {
            if payload.len() < 4 {
                self.broken = true;
                return Err(ClientError::Decode(DecodeError::Truncated));
            }
            let actual = i32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]);
            if actual != expected {
                self.broken = true;
                return Err(ClientError::CorrelationMismatch { expected, actual });
            }
        }
        Ok(payload)
    }
}

/// Read one size-prefixed frame and return its payload.
pub(super) async fn read_frame<S: tokio::io::AsyncRead + Unpin>(stream: &mut S, max: usize) -> Result<Bytes, ClientError> {
    let mut prefix = [0u8; SIZE_PREFIX];
    stream.read_exact(&mut prefix).await?;
    let size = i32::from_be_bytes(prefix);
    if size <= 0 || size as usize > max {
        return Err(ClientError::Decode(DecodeError::BadFrameSize { size, max }));
    }
    let mut buf = BytesMut::zeroed(size as usize);
    stream.read_exact(&mut buf).await?;
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{
        decode_request, encode_response, split_frame, Request, UpdateMetadataRequest, UpdateMetadataResponse,
    };
    use crate::common::ErrorCode;
    use tokio::net::TcpListener;

    /// A server that answers each request per `answer(correlation_id) -> frame bytes`.
    async fn server(answer: impl Fn(i32) -> Option<Vec<u8>> + Send + 'static) -> (u16, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = BytesMut::new();
            loop {
                while let Some(payload) = split_frame(&mut buf, 1 << 20).unwrap() {
                    let (header, _req) = decode_request(payload).unwrap();
                    match answer(header.correlation_id) {
                        Some(bytes) => s.write_all(&bytes).await.unwrap(),
                        None => return,
                    }
                }
                if s.read_buf(&mut buf).await.unwrap() == 0 {
                    return;
                }
            }
        });
        (port, task)
    }

    fn update_metadata() -> UpdateMetadataRequest {
        UpdateMetadataRequest { controller_id: 1, controller_epoch: 2, partition_states: vec![], alive_brokers: vec![] }
    }

    #[tokio::test]
    async fn correlation_ids_increase_and_responses_decode() {
        let (port, task) = server(|c| {
            Some(encode_response(c, &UpdateMetadataResponse { error_code: ErrorCode::NoError }).unwrap().to_vec())
        })
        .await;
        let mut conn = BrokerConnection::connect("127.0.0.1", port, Duration::from_secs(5)).await.unwrap();
        conn.set_next_correlation_id(7);
        for _ in 0..3 {
            let r = conn.send("c", &update_metadata()).await.unwrap();
            assert_eq!(r.error_code, ErrorCode::NoError);
        }
        assert_eq!(conn.next_correlation_id(), 10);
        drop(conn);
        task.await.unwrap();
    }

    #[tokio::test]
    async fn a_wrong_correlation_id_breaks_the_connection() {
        let (port, task) = server(|c| {
            Some(encode_response(c + 1, &UpdateMetadataResponse { error_code: ErrorCode::NoError }).unwrap().to_vec())
        })
        .await;
        let mut conn = BrokerConnection::connect("127.0.0.1", port, Duration::from_secs(5)).await.unwrap();
        match conn.send("c", &update_metadata()).await {
            Err(ClientError::CorrelationMismatch { expected: 0, actual: 1 }) => {}
            other => panic!("unexpected {:?}", other),
        }
        assert!(matches!(conn.send("c", &update_metadata()).await, Err(ClientError::Broken)));
        drop(conn);
        task.await.unwrap();
    }

    #[tokio::test]
    async fn silence_is_a_timeout_and_oversized_frames_are_refused() {
        let (port, task) = server(|_| Some(vec![])).await;
        let mut conn = BrokerConnection::connect("127.0.0.1", port, Duration::from_millis(200)).await.unwrap();
        assert!(matches!(conn.send("c", &update_metadata()).await, Err(ClientError::Timeout)));
        drop(conn);
        task.await.unwrap();

        let (port, task) = server(|_| Some(vec![0, 0, 0, 100])).await;
        let mut conn = BrokerConnection::connect("127.0.0.1", port, Duration::from_secs(5)).await.unwrap();
        conn.set_max_response_size(10);
        assert!(matches!(
            conn.send("c", &update_metadata()).await,
            Err(ClientError::Decode(DecodeError::BadFrameSize { size: 100, max: 10 }))
        ));
        drop(conn);
        task.await.unwrap();
    }

    #[tokio::test]
    async fn send_raw_returns_the_payload_and_a_closed_peer_is_io() {
        let (port, task) = server(|c| {
            if c == 5 {
                Some(encode_response(c, &UpdateMetadataResponse { error_code: ErrorCode::NoError }).unwrap().to_vec())
            } else {
                None
            }
        })
        .await;
        let mut conn = BrokerConnection::connect("127.0.0.1", port, Duration::from_secs(5)).await.unwrap();
        let header = RequestHeader::new(crate::api::ApiKey::UpdateMetadata, 0, 5, Some("raw"));
        let frame = Request::UpdateMetadata(update_metadata()).encode(&header).unwrap();
        let payload = conn.send_raw(&frame).await.unwrap();
        assert_eq!(&payload[..], &[0, 0, 0, 5, 0, 0]);
        assert!(matches!(conn.send("c", &update_metadata()).await, Err(ClientError::Io(_))));
        drop(conn);
        task.await.unwrap();
    }
}
