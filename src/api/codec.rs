//! The 0.8 primitive types (docs/wire-protocol.md): a [`Reader`] over `Bytes` and a [`Writer`]
//! over `BytesMut`. Every read checks the remaining length first, so no input can panic.

use super::error::{DecodeError, EncodeError};
use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Reads 0.8 primitives from the front of a `Bytes`. `bytes`/message-set fields are
/// returned as zero-copy slices of the input.
#[derive(Debug, Clone)]
pub struct Reader {
    buf: Bytes,
}

impl Reader {
    pub fn new(buf: Bytes) -> Reader {
        Reader { buf }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Everything not read yet.
    pub fn into_rest(self) -> Bytes {
        self.buf
    }

    fn need(&self, n: usize) -> Result<(), DecodeError> {
        if self.buf.len() < n {
            Err(DecodeError::Truncated)
        } else {
            Ok(())
        }
    }

    pub fn i8(&mut self) -> Result<i8, DecodeError> {
        self.need(1)?;
        Ok(self.buf.get_i8())
    }

    pub fn i16(&mut self) -> Result<i16, DecodeError> {
        self.need(2)?;
        Ok(self.buf.get_i16())
    }

    pub fn i32(&mut self) -> Result<i32, DecodeError> {
        self.need(4)?;
        Ok(self.buf.get_i32())
    }

    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        self.need(8)?;
        Ok(self.buf.get_i64())
    }

    /// `n` raw bytes, zero-copy.
    pub fn raw(&mut self, n: usize) -> Result<Bytes, DecodeError> {
        self.need(n)?;
        Ok(self.buf.split_to(n))
    }

    /// A nullable `string`: int16 length, any negative length is null (as 0.8.2's
    /// `readShortString`). Invalid UTF-8 is replaced with U+FFFD, as Java's decoder does,
    /// rather than refused.
    pub fn nullable_string(&mut self) -> Result<Option<String>, DecodeError> {
        let len = self.i16()?;
        if len < 0 {
            return Ok(None);
        }
        let raw = self.raw(len as usize)?;
        Ok(Some(match String::from_utf8(raw.to_vec()) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }))
    }

    /// A `string` that may not be null (topic and group names): null is
    /// `Invalid(what)`. The reference would fail later with a NullPointerException.
    pub fn string(&mut self, what: &'static str) -> Result<String, DecodeError> {
        self.nullable_string()?.ok_or(DecodeError::Invalid(what))
    }

    /// A `string` where null means the same as "" (offset metadata, consumer id).
    pub fn string_or_empty(&mut self) -> Result<String, DecodeError> {
        Ok(self.nullable_string()?.unwrap_or_default())
    }

    /// A nullable `bytes`: int32 length, -1 null, below -1 `BadLength`.
    pub fn nullable_bytes(&mut self) -> Result<Option<Bytes>, DecodeError> {
        let len = self.i32()?;
        match len {
            -1 => Ok(None),
            n if n < -1 => Err(DecodeError::BadLength(n)),
            n => self.raw(n as usize).map(Some),
        }
    }

    /// An int32 byte size followed by that many bytes (a message set). A negative size is
    /// `BadLength` (the reference fails on `ByteBuffer.limit(negative)`).
    pub fn sized_bytes(&mut self) -> Result<Bytes, DecodeError> {
        let len = self.i32()?;
        if len < 0 {
            return Err(DecodeError::BadLength(len));
        }
        self.raw(len as usize)
    }

    /// An `array`: int32 count then the elements. A negative count is zero elements, as in
    /// almost every 0.8.2 parser (`1 to count`). `min_element_size` (the smallest encoding
    /// of one element, > 0) lets a huge count fail as `Truncated` before any work or
    /// allocation.
    pub fn array<T>(
        &mut self,
        min_element_size: usize,
        read: impl FnMut(&mut Reader) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        let count = self.i32()?;
        self.elements(count.max(0) as usize, min_element_size, read)
    }

    /// An `array` whose negative count is an error (`BadLength`): the Metadata request
    /// topic list, the one range-checked count in 0.8.2.
    pub fn strict_array<T>(
        &mut self,
        min_element_size: usize,
        read: impl FnMut(&mut Reader) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        let count = self.i32()?;
        if count < 0 {
            return Err(DecodeError::BadLength(count));
        }
        self.elements(count as usize, min_element_size, read)
    }

    fn elements<T>(
        &mut self,
        count: usize,
        min_element_size: usize,
        mut read: impl FnMut(&mut Reader) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        let min = min_element_size.max(1);
        if count > self.remaining() / min {
            return Err(DecodeError::Truncated);
        }
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            out.push(read(self)?);
        }
        Ok(out)
    }

    /// `array[int32]`, negative count = empty.
    pub fn i32_array(&mut self) -> Result<Vec<i32>, DecodeError> {
        self.array(4, |r| r.i32())
    }

    /// `array[int64]`, negative count = empty.
    pub fn i64_array(&mut self) -> Result<Vec<i64>, DecodeError> {
        self.array(8, |r| r.i64())
    }
}

/// Writes 0.8 primitives to the end of a `BytesMut`.
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut BytesMut,
}

/// Largest int16 string length.
pub const MAX_STRING_LEN: usize = i16::MAX as usize;

impl<'a> Writer<'a> {
    pub fn new(buf: &'a mut BytesMut) -> Writer<'a> {
        Writer { buf }
    }

    /// Bytes in the underlying buffer (including anything written before this writer).
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn buf_mut(&mut self) -> &mut BytesMut {
        self.buf
    }

    pub fn i8(&mut self, v: i8) {
        self.buf.put_i8(v);
    }

    pub fn i16(&mut self, v: i16) {
        self.buf.put_i16(v);
    }

    pub fn i32(&mut self, v: i32) {
        self.buf.put_i32(v);
    }

    pub fn i64(&mut self, v: i64) {
        self.buf.put_i64(v);
    }

    pub fn raw(&mut self, b: &[u8]) {
        self.buf.put_slice(b);
    }

    /// A non-null `string`.
    pub fn string(&mut self, s: &str) -> Result<(), EncodeError> {
        if s.len() > MAX_STRING_LEN {
            return Err(EncodeError::StringTooLong(s.len()));
        }
        self.buf.put_i16(s.len() as i16);
        self.buf.put_slice(s.as_bytes());
        Ok(())
    }

    /// A nullable `string`; null is written as length -1.
    pub fn nullable_string(&mut self, s: Option<&str>) -> Result<(), EncodeError> {
        match s {
            Some(s) => self.string(s),
            None => {
                self.buf.put_i16(-1);
                Ok(())
            }
        }
    }

    /// A nullable `bytes`; null is written as length -1.
    pub fn nullable_bytes(&mut self, b: Option<&[u8]>) -> Result<(), EncodeError> {
        match b {
            Some(b) => self.sized_bytes(b),
            None => {
                self.buf.put_i32(-1);
                Ok(())
            }
        }
    }

    /// int32 byte size then the bytes (a message set).
    pub fn sized_bytes(&mut self, b: &[u8]) -> Result<(), EncodeError> {
        self.size(b.len())?;
        self.buf.put_slice(b);
        Ok(())
    }

    /// An int32 size or count that must fit.
    pub fn size(&mut self, n: usize) -> Result<(), EncodeError> {
        let n = i32::try_from(n).map_err(|_| EncodeError::TooLarge(n))?;
        self.buf.put_i32(n);
        Ok(())
    }

    /// An `array`: count then each element.
    pub fn array<T>(
        &mut self,
        items: &[T],
        mut write: impl FnMut(&mut Writer<'_>, &T) -> Result<(), EncodeError>,
    ) -> Result<(), EncodeError> {
        self.size(items.len())?;
        for item in items {
            write(self, item)?;
        }
        Ok(())
    }

    pub fn i32_array(&mut self, items: &[i32]) -> Result<(), EncodeError> {
        self.array(items, |w, v| {
            w.i32(*v);
            Ok(())
        })
    }

    pub fn i64_array(&mut self, items: &[i64]) -> Result<(), EncodeError> {
        self.array(items, |w, v| {
            w.i64(*v);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(b: &[u8]) -> Reader {
        Reader::new(Bytes::copy_from_slice(b))
    }

    #[test]
    fn integers_are_big_endian() {
        let mut r = reader(&[0x01, 0x02, 0x03, 0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 0, 0, 0, 0, 9]);
        assert_eq!(r.i8().unwrap(), 1);
        assert_eq!(r.i16().unwrap(), 0x0203);
        assert_eq!(r.i32().unwrap(), -2);
        assert_eq!(r.i64().unwrap(), 9);
        assert_eq!(r.i8(), Err(DecodeError::Truncated));
    }

    #[test]
    fn any_negative_string_length_is_null() {
        assert_eq!(reader(&[0xff, 0xff]).nullable_string().unwrap(), None);
        assert_eq!(reader(&[0x80, 0x00]).nullable_string().unwrap(), None);
        assert_eq!(reader(&[0, 0]).nullable_string().unwrap(), Some(String::new()));
        assert_eq!(reader(&[0, 2, b'h', b'i']).nullable_string().unwrap(), Some("hi".into()));
        assert_eq!(reader(&[0, 3, b'h', b'i']).nullable_string(), Err(DecodeError::Truncated));
        assert_eq!(reader(&[0xff, 0xff]).string("topic"), Err(DecodeError::Invalid("topic")));
        assert_eq!(reader(&[0xff, 0xff]).string_or_empty().unwrap(), "");
    }

    #[test]
    fn invalid_utf8_is_replaced_not_refused() {
        assert_eq!(reader(&[0, 2, 0xff, b'a']).nullable_string().unwrap(), Some("\u{fffd}a".into()));
    }

    #[test]
    fn bytes_lengths() {
        assert_eq!(reader(&[0xff, 0xff, 0xff, 0xff]).nullable_bytes().unwrap(), None);
        assert_eq!(reader(&[0xff, 0xff, 0xff, 0xfe]).nullable_bytes(), Err(DecodeError::BadLength(-2)));
        assert_eq!(reader(&[0xff, 0xff, 0xff, 0xff]).sized_bytes(), Err(DecodeError::BadLength(-1)));
        assert_eq!(reader(&[0, 0, 0, 1, 7]).sized_bytes().unwrap(), Bytes::from_static(&[7]));
    }

    #[test]
    fn negative_array_count_is_empty_except_strict() {
        let neg = [0xff, 0xff, 0xff, 0xfb];
        assert_eq!(reader(&neg).i32_array().unwrap(), Vec::<i32>::new());
        assert_eq!(reader(&neg).strict_array(2, |r| r.i16()), Err(DecodeError::BadLength(-5)));
    }

    #[test]
    fn huge_array_count_fails_before_allocating() {
        assert_eq!(reader(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 1]).i32_array(), Err(DecodeError::Truncated));
    }

    #[test]
    fn writer_refuses_oversized_strings() {
        let mut buf = BytesMut::new();
        let mut w = Writer::new(&mut buf);
        assert!(w.string(&"x".repeat(MAX_STRING_LEN)).is_ok());
        assert_eq!(w.string(&"x".repeat(MAX_STRING_LEN + 1)), Err(EncodeError::StringTooLong(32768)));
        w.nullable_string(None).unwrap();
        assert_eq!(&buf[buf.len() - 2..], &[0xff, 0xff]);
    }
}
