use super::codec::{Reader, Writer};
use super::error::{DecodeError, EncodeError};

/// A broker as 0.8.2 writes it on the wire (`kafka.cluster.Broker`: id, host, port), in
/// Metadata, ConsumerMetadata, LeaderAndIsr and UpdateMetadata.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Broker {
    pub id: i32,
    pub host: String,
    pub port: i32,
}

impl Broker {
    pub fn new(id: i32, host: impl Into<String>, port: i32) -> Broker {
        Broker { id, host: host.into(), port }
    }

    /// The "no broker" placeholder 0.8.2 sends on error: id -1, host "", port -1.
    pub fn none() -> Broker {
        Broker { id: -1, host: String::new(), port: -1 }
    }

    /// Smallest encoding: id, empty host, port.
    pub(crate) const MIN_SIZE: usize = 10;

    pub(crate) fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.i32(self.id);
        w.string(&self.host)?;
        w.i32(self.port);
        Ok(())
    }

    /// A null host reads as "" (0.8.2 never writes one).
    pub(crate) fn decode(r: &mut Reader) -> Result<Broker, DecodeError> {
        Ok(Broker { id: r.i32()?, host: r.string_or_empty()?, port: r.i32()? })
    }
}
