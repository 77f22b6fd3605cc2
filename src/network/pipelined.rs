//! A client connection with several requests in flight: requests are written as they come,
//! and a reader task hands every response frame, in arrival order, to a channel shared by
//! the caller's connections. 0.8 brokers answer a connection's requests strictly in request
//! order, so the caller matches each frame with its oldest unanswered request
//! ([`PipelinedConnection::take_answer`]); a frame with another correlation id breaks the
//! connection, as in [`super::BrokerConnection`].
//!
//! Requests that get no response (produce with acks=0) are written and forgotten.

use super::client::{read_frame, ClientError};
use crate::api::{encode_request, ApiRequest, DecodeError, RequestHeader, DEFAULT_MAX_REQUEST_SIZE};
use bytes::Bytes;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// A response frame's payload (correlation id first), or why the connection ended,
/// tagged with the `T` its connection was opened with.
pub type Answer<T> = (T, Result<Bytes, ClientError>);

/// One connection; dropping it closes the socket and stops its reader.
#[derive(Debug)]
pub struct PipelinedConnection {
    writer: OwnedWriteHalf,
    reader: JoinHandle<()>,
    peer: String,
    next_correlation_id: i32,
    request_timeout: Duration,
    /// Unanswered requests, oldest first: correlation id and when it was written.
    pending: VecDeque<(i32, Instant)>,
}

impl PipelinedConnection {
    /// Connect to `host:port` within `timeout`; every response frame (or the error that
    /// ends the connection) goes to `answers` tagged with `tag`. `request_timeout` bounds
    /// each request's write and its wait for the answer ([`Self::deadline`]).
    pub async fn connect<T: Clone + Send + 'static>(
        host: &str,
        port: u16,
        timeout: Duration,
        request_timeout: Duration,
        tag: T,
        answers: mpsc::UnboundedSender<Answer<T>>,
    ) -> Result<PipelinedConnection, ClientError> {
        let stream = match tokio::time::timeout(timeout, TcpStream::connect((host, port))).await {
            Ok(r) => r?,
            Err(_) => return Err(ClientError::Timeout),
        };
        stream.set_nodelay(true)?;
        let (mut read_half, writer) = stream.into_split();
        let reader = tokio::spawn(async move {
            loop {
                let frame = read_frame(&mut read_half, DEFAULT_MAX_REQUEST_SIZE).await;
                let end = frame.is_err();
                if answers.send((tag.clone(), frame)).is_err() || end {
                    return;
                }
            }
        });
        Ok(PipelinedConnection {
            writer,
            reader,
            peer: format!("{}:{}", host, port),
            next_correlation_id: 0,
            request_timeout,
            pending: VecDeque::new(),
        })
    }

    /// `host:port` as given to `connect`.
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// Requests written and not answered yet.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// When the oldest unanswered request times out.
    pub fn deadline(&self) -> Option<Instant> {
        self.pending.front().map(|(_, at)| *at + self.request_timeout)
    }

    /// Write `request` (version 0) and return its correlation id; with `answered`, its
    /// response is awaited through the answers channel. After an error the connection is
    /// unusable: drop it.
    pub async fn write<R: ApiRequest>(&mut self, client_id: &str, request: &R, answered: bool) -> Result<i32, ClientError> {
        let correlation_id = self.next_correlation_id;
        let header = RequestHeader::new(R::API_KEY, 0, correlation_id, Some(client_id));
        let frame = encode_request(&header, request).map_err(ClientError::Encode)?;
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1);
        match tokio::time::timeout(self.request_timeout, self.writer.write_all(&frame)).await {
            Ok(r) => r?,
            Err(_) => return Err(ClientError::Timeout),
        }
        if answered {
            self.pending.push_back((correlation_id, Instant::now()));
        }
        Ok(correlation_id)
    }

    /// Match a response frame from the answers channel with the oldest unanswered request
    /// and return that request's correlation id.
    pub fn take_answer(&mut self, payload: &Bytes) -> Result<i32, ClientError> {
        let Some((expected, _)) = self.pending.pop_front() else {
            return Err(ClientError::CorrelationMismatch { expected: -1, actual: correlation_of(payload)? });
        };
        let actual = correlation_of(payload)?;
        if actual != expected {
            return Err(ClientError::CorrelationMismatch { expected, actual });
        }
        Ok(expected)
    }
}

fn correlation_of(payload: &Bytes) -> Result<i32, ClientError> {
    match payload.get(..4) {
        Some(b) => Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(ClientError::Decode(DecodeError::Truncated)),
    }
}

impl Drop for PipelinedConnection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}
