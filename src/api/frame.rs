//! Size-prefixed frames (docs/wire-protocol.md): check that a complete frame is buffered, then
//! split it off (mini-redis's `Frame::check` / `Frame::parse`); write frames with their
//! size prefix.

use super::codec::Writer;
use super::error::{DecodeError, EncodeError};
use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Bytes of the int32 size prefix.
pub const SIZE_PREFIX: usize = 4;

/// 0.8.2's `socket.request.max.bytes` default (100 MiB).
pub const DEFAULT_MAX_REQUEST_SIZE: usize = 104_857_600;

/// Whether `buf` starts with a complete frame. `Ok(Some(n))`: the first `n` bytes
/// (prefix included) are one frame. `Ok(None)`: read more. `Err(BadFrameSize)`: the size
/// is `<= 0` or above `max_size`; 0.8.2 closes the connection without a response.
pub fn check_frame(buf: &[u8], max_size: usize) -> Result<Option<usize>, DecodeError> {
    if buf.len() < SIZE_PREFIX {
        return Ok(None);
    }
    let size = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if size <= 0 || size as usize > max_size {
        return Err(DecodeError::BadFrameSize { size, max: max_size });
    }
    let total = SIZE_PREFIX + size as usize;
    Ok(if buf.len() >= total { Some(total) } else { None })
}

/// If `buf` starts with a complete frame, remove it and return its payload (the bytes
/// after the size prefix), without copying.
pub fn split_frame(buf: &mut BytesMut, max_size: usize) -> Result<Option<Bytes>, DecodeError> {
    match check_frame(buf, max_size)? {
        None => Ok(None),
        Some(total) => {
            let mut frame = buf.split_to(total);
            frame.advance(SIZE_PREFIX);
            Ok(Some(frame.freeze()))
        }
    }
}

/// Write a frame: reserve the size prefix, let `body` write the payload, then fill the
/// prefix in.
pub fn write_frame(
    buf: &mut BytesMut,
    body: impl FnOnce(&mut Writer<'_>) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    let start = buf.len();
    buf.put_i32(0);
    let result = body(&mut Writer::new(buf));
    let size = buf.len() - start - SIZE_PREFIX;
    let result = result.and_then(|()| i32::try_from(size).map_err(|_| EncodeError::TooLarge(size)));
    match result {
        Ok(size) => {
            buf[start..start + SIZE_PREFIX].copy_from_slice(&size.to_be_bytes());
            Ok(())
        }
        Err(e) => {
            buf.truncate(start);
            Err(e)
        }
    }
}

/// A frame as one `Bytes`.
pub fn encode_frame(body: impl FnOnce(&mut Writer<'_>) -> Result<(), EncodeError>) -> Result<Bytes, EncodeError> {
    let mut buf = BytesMut::new();
    write_frame(&mut buf, body)?;
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_waits_for_the_whole_frame() {
        let frame = [0, 0, 0, 3, 1, 2, 3, 9];
        assert_eq!(check_frame(&frame[..2], 100), Ok(None));
        assert_eq!(check_frame(&frame[..6], 100), Ok(None));
        assert_eq!(check_frame(&frame[..7], 100), Ok(Some(7)));
        assert_eq!(check_frame(&frame, 100), Ok(Some(7)));
    }

    #[test]
    fn check_refuses_bad_sizes() {
        assert_eq!(check_frame(&[0, 0, 0, 0], 100), Err(DecodeError::BadFrameSize { size: 0, max: 100 }));
        assert_eq!(check_frame(&[0xff, 0xff, 0xff, 0xff], 100), Err(DecodeError::BadFrameSize { size: -1, max: 100 }));
        assert_eq!(check_frame(&[0, 0, 0, 101], 100), Err(DecodeError::BadFrameSize { size: 101, max: 100 }));
        assert_eq!(check_frame(&[0, 0, 0, 100], 100), Ok(None));
    }

    #[test]
    fn split_removes_exactly_one_frame() {
        let mut buf = BytesMut::from(&[0, 0, 0, 2, 7, 8, 0, 0, 0, 1, 9][..]);
        assert_eq!(split_frame(&mut buf, 100).unwrap(), Some(Bytes::from_static(&[7, 8])));
        assert_eq!(split_frame(&mut buf, 100).unwrap(), Some(Bytes::from_static(&[9])));
        assert_eq!(split_frame(&mut buf, 100).unwrap(), None);
    }

    #[test]
    fn write_frame_patches_size_and_rolls_back_on_error() {
        let mut buf = BytesMut::from(&b"x"[..]);
        write_frame(&mut buf, |w| {
            w.i16(5);
            Ok(())
        })
        .unwrap();
        assert_eq!(&buf[..], &[b'x', 0, 0, 0, 2, 0, 5]);
        let err = write_frame(&mut buf, |w| w.string(&"y".repeat(40000)));
        assert!(err.is_err());
        assert_eq!(buf.len(), 7);
    }
}
