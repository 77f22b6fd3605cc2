//! TEMPORARY minimal client until the controller branch's BrokerConnection lands.
use crate::api::{self, ApiRequest, RequestHeader};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct BrokerConnection {
    stream: TcpStream,
    correlation: i32,
    timeout: Duration,
}

#[derive(Debug)]
pub struct ClientError(pub String);

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl BrokerConnection {
    pub async fn connect(host: &str, port: u16, timeout: Duration) -> Result<BrokerConnection, ClientError> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
            .await
            .map_err(|_| ClientError("connect timed out".into()))?
            .map_err(|e| ClientError(e.to_string()))?;
        let _ = stream.set_nodelay(true);
        Ok(BrokerConnection { stream, correlation: 0, timeout })
    }

    pub async fn send<R: ApiRequest>(&mut self, client_id: &str, request: &R) -> Result<R::Response, ClientError> {
        self.correlation = self.correlation.wrapping_add(1);
        let header = RequestHeader { api_key: R::API_KEY, api_version: 0, correlation_id: self.correlation, client_id: Some(client_id.to_string()) };
        let frame = api::encode_request(&header, request).map_err(|e| ClientError(e.to_string()))?;
        let io = async {
            self.stream.write_all(&frame).await?;
            let size = self.stream.read_i32().await?;
            if size <= 0 || size > 200 * 1024 * 1024 {
                return Err(std::io::Error::other("bad response size"));
            }
            let mut buf = vec![0u8; size as usize];
            self.stream.read_exact(&mut buf).await?;
            Ok(buf)
        };
        let buf = tokio::time::timeout(self.timeout.max(Duration::from_secs(30)), io)
            .await
            .map_err(|_| ClientError("request timed out".into()))?
            .map_err(|e| ClientError(e.to_string()))?;
        let (h, body) = api::decode_response::<R::Response>(0, bytes::Bytes::from(buf)).map_err(|e| ClientError(e.to_string()))?;
        if h.correlation_id != self.correlation {
            return Err(ClientError("correlation id mismatch".into()));
        }
        Ok(body)
    }
}
