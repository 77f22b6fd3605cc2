//! The socket server (`kafka.network`): accepts connections, reads size-prefixed frames,
//! hands each request payload to a [`RequestHandler`], and writes the responses back in
//! request order, sending file regions with `sendfile` (zero-copy).
//!
//! It holds no application logic and never parses a request body or a message set: the
//! handler decides what a request means, whether it is answered, and whether the
//! connection closes.
//!
//! Ordering: a request's handler runs to completion (its ordered part) before the next
//! request of the same connection is read, so side effects (appends) happen in arrival
//! order as in 0.8. A handler may return a deferred part (a long-poll fetch, an acks=-1
//! produce); deferred parts complete concurrently, but their responses are still written
//! strictly in request order.

mod client;
mod pipelined;
mod sendfile;
mod server;

pub use client::{BrokerConnection, ClientError};
pub use pipelined::{Answer, PipelinedConnection};
pub use server::{
    BoxFuture, ConnectionInfo, Outcome, RequestHandler, RequestQueueProbe, RequestTimes, ResponseChunk, SocketServer, SocketServerConfig, NO_TAG,
};
