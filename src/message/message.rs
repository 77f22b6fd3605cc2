use super::codec::CompressionCodec;
use super::error::MessageError;
use bytes::{BufMut, Bytes, BytesMut};

pub const MAGIC_V0: u8 = 0;
/// crc(4) + magic(1) + attributes(1) + key length(4) + value length(4).
pub const MIN_MESSAGE_SIZE: usize = 14;
/// Same as the minimum size: the bytes of a message that are not key or value.
pub const MESSAGE_OVERHEAD: usize = MIN_MESSAGE_SIZE;

const CRC_OFFSET: usize = 0;
const MAGIC_OFFSET: usize = 4;
const ATTRIBUTES_OFFSET: usize = 5;
const KEY_SIZE_OFFSET: usize = 6;

/// One v0 message: the bytes from the CRC to the end of the value, shared, never copied.
///
/// Construction only requires the 14-byte minimum so that tools can show damaged
/// messages; [`Message::validate`] (or [`Message::parse`]) is what the append path trusts.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    buf: Bytes,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("size", &self.size())
            .field("crc", &self.crc())
            .field("magic", &self.magic())
            .field("attributes", &self.attributes())
            .field("key_len", &self.key_size())
            .field("value_len", &self.value_size())
            .finish()
    }
}

fn read_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The size of the v0 message [`put_message`] writes for `key` and `value`.
pub fn encoded_size(key: Option<&[u8]>, value: Option<&[u8]>) -> usize {
    MIN_MESSAGE_SIZE + key.map_or(0, |k| k.len()) + value.map_or(0, |v| v.len())
}

/// Append one v0 message to `b` and fill in its CRC, computed over the bytes just written
/// (one contiguous pass, no intermediate buffer): what [`Message::new`] and the producer's
/// set builder both use.
pub fn put_message(b: &mut BytesMut, key: Option<&[u8]>, value: Option<&[u8]>, codec: CompressionCodec) {
    let start = b.len();
    b.reserve(encoded_size(key, value));
    b.put_u32(0);
    b.put_u8(MAGIC_V0);
    b.put_u8(codec as u8);
    match key {
        Some(k) => {
            b.put_i32(k.len() as i32);
            b.put_slice(k);
        }
        None => b.put_i32(-1),
    }
    match value {
        Some(v) => {
            b.put_i32(v.len() as i32);
            b.put_slice(v);
        }
        None => b.put_i32(-1),
    }
    let crc = crc32fast::hash(&b[start + MAGIC_OFFSET..]);
    b[start + CRC_OFFSET..start + CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
}

/// Validate raw message bytes (CRC to the end of the value) without wrapping them: the
/// append path checks every message of a set this way, with no per-message allocation or
/// reference count.
pub fn validate_message_bytes(b: &[u8]) -> Result<(), MessageError> {
    if b.len() < MIN_MESSAGE_SIZE {
        return Err(MessageError::TooSmall(b.len()));
    }
    let key_len = read_i32(b, KEY_SIZE_OFFSET);
    if key_len < -1 {
        return Err(MessageError::Malformed("negative key length"));
    }
    let value_len_at = KEY_SIZE_OFFSET + 4 + key_len.max(0) as usize;
    if value_len_at + 4 > b.len() {
        return Err(MessageError::Malformed("key runs past the end of the message"));
    }
    let value_len = read_i32(b, value_len_at);
    if value_len < -1 {
        return Err(MessageError::Malformed("negative value length"));
    }
    if value_len_at + 4 + value_len.max(0) as usize != b.len() {
        return Err(MessageError::Malformed("value length does not match the message size"));
    }
    let stored = read_i32(b, CRC_OFFSET) as u32;
    let computed = crc32fast::hash(&b[MAGIC_OFFSET..]);
    if stored != computed {
        return Err(MessageError::BadCrc { stored, computed });
    }
    if b[MAGIC_OFFSET] != MAGIC_V0 {
        return Err(MessageError::BadMagic(b[MAGIC_OFFSET]));
    }
    Ok(())
}

impl Message {
    /// Wrap raw message bytes; fails only below the 14-byte minimum.
    pub fn from_bytes(buf: Bytes) -> Result<Message, MessageError> {
        if buf.len() < MIN_MESSAGE_SIZE {
            return Err(MessageError::TooSmall(buf.len()));
        }
        Ok(Message { buf })
    }

    /// Wrap and fully validate (structure, magic 0, CRC).
    pub fn parse(buf: Bytes) -> Result<Message, MessageError> {
        let m = Message::from_bytes(buf)?;
        m.validate()?;
        Ok(m)
    }

    /// Build a message, computing its CRC.
    pub fn new(key: Option<&[u8]>, value: Option<&[u8]>, codec: CompressionCodec) -> Message {
        let mut b = BytesMut::with_capacity(encoded_size(key, value));
        put_message(&mut b, key, value, codec);
        Message { buf: b.freeze() }
    }

    /// Structure, magic and CRC. The structure check comes first so that a CRC-valid but
    /// inconsistent message is still refused.
    pub fn validate(&self) -> Result<(), MessageError> {
        validate_message_bytes(&self.buf)
    }

    pub fn is_valid(&self) -> bool {
        self.validate().is_ok()
    }

    pub fn as_bytes(&self) -> &Bytes {
        &self.buf
    }

    pub fn size(&self) -> usize {
        self.buf.len()
    }

    pub fn crc(&self) -> u32 {
        read_i32(&self.buf, CRC_OFFSET) as u32
    }

    pub fn compute_crc(&self) -> u32 {
        crc32fast::hash(&self.buf[MAGIC_OFFSET..])
    }

    pub fn magic(&self) -> u8 {
        self.buf[MAGIC_OFFSET]
    }

    pub fn attributes(&self) -> u8 {
        self.buf[ATTRIBUTES_OFFSET]
    }

    /// The codec bits (0..=7); unknown values are reported by [`Message::codec`].
    pub fn codec_id(&self) -> u8 {
        self.attributes() & 0x07
    }

    pub fn codec(&self) -> Result<CompressionCodec, MessageError> {
        CompressionCodec::from_id(self.codec_id())
    }

    pub fn is_compressed(&self) -> bool {
        self.codec_id() != 0
    }

    /// Key length field (-1 for null).
    pub fn key_size(&self) -> i32 {
        read_i32(&self.buf, KEY_SIZE_OFFSET)
    }

    fn value_size_offset(&self) -> Option<usize> {
        let at = KEY_SIZE_OFFSET + 4 + self.key_size().max(0) as usize;
        (at + 4 <= self.buf.len()).then_some(at)
    }

    /// Value length field (-1 for null); the "payloadsize" DumpLogSegments prints.
    pub fn value_size(&self) -> i32 {
        self.value_size_offset().map_or(-1, |at| read_i32(&self.buf, at))
    }

    /// The key, or None when null (or when the message is damaged).
    pub fn key(&self) -> Option<Bytes> {
        let len = self.key_size();
        if len < 0 {
            return None;
        }
        let start = KEY_SIZE_OFFSET + 4;
        let end = start.checked_add(len as usize)?;
        (end <= self.buf.len()).then(|| self.buf.slice(start..end))
    }

    /// The value, or None when null (or when the message is damaged).
    pub fn value(&self) -> Option<Bytes> {
        let at = self.value_size_offset()?;
        let len = read_i32(&self.buf, at);
        if len < 0 {
            return None;
        }
        let start = at + 4;
        let end = start.checked_add(len as usize)?;
        (end <= self.buf.len()).then(|| self.buf.slice(start..end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn spec_worked_example_9_1_encodes_byte_for_byte() {
        let m = Message::new(None, Some(b"hello"), CompressionCodec::None);
        assert_eq!(&m.as_bytes()[..], &hex("87 A7 7A B2 00 00 FF FF FF FF 00 00 00 05 68 65 6C 6C 6F")[..]);
        assert_eq!(m.crc(), 0x87A77AB2);
        let parsed = Message::parse(Bytes::from(hex("87A77AB20000FFFFFFFF0000000568656C6C6F"))).unwrap();
        assert_eq!(parsed, m);
        assert_eq!(parsed.key(), None);
        assert_eq!(parsed.value().as_deref(), Some(&b"hello"[..]));
        assert_eq!(parsed.value_size(), 5);
    }

    #[test]
    fn bad_crc_bad_magic_and_malformed_are_typed_errors() {
        let m = Message::new(Some(b"k"), Some(b"v"), CompressionCodec::None);
        let mut b = m.as_bytes().to_vec();
        let last = b.len() - 1;
        b[last] ^= 1;
        assert!(matches!(Message::parse(Bytes::from(b)), Err(MessageError::BadCrc { .. })));

        let mut b = m.as_bytes().to_vec();
        b[4] = 1;
        let crc = crc32fast::hash(&b[4..]);
        b[..4].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(Message::parse(Bytes::from(b)), Err(MessageError::BadMagic(1)));

        let mut b = m.as_bytes().to_vec();
        b[9] = 9; // key length 9 > available
        let crc = crc32fast::hash(&b[4..]);
        b[..4].copy_from_slice(&crc.to_be_bytes());
        assert!(matches!(Message::parse(Bytes::from(b)), Err(MessageError::Malformed(_))));

        assert_eq!(Message::parse(Bytes::from_static(&[0; 13])), Err(MessageError::TooSmall(13)));
    }

    #[test]
    fn null_key_and_null_value_is_the_14_byte_minimum() {
        let m = Message::new(None, None, CompressionCodec::None);
        assert_eq!(m.size(), 14);
        assert!(m.is_valid());
        assert_eq!(m.value(), None);
        assert_eq!(m.value_size(), -1);
    }
}
