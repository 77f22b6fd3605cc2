//! Zero-copy transfer of a file region to a non-blocking socket.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use tokio::io::Interest;
use tokio::net::TcpStream;

/// Send `len` bytes of `file` from `position` to `stream` with `sendfile(2)`, waiting for
/// writability as needed. Fails if the file is shorter than the region.
pub async fn send_file_region(stream: &TcpStream, file: &File, position: u64, len: usize) -> io::Result<()> {
    let mut offset = position as libc::off_t;
    let mut remaining = len;
    while remaining > 0 {
        stream.writable().await?;
        let res = stream.try_io(Interest::WRITABLE, || {
            let chunk = remaining.min(1 << 30);
            // SAFETY: both fds are valid for the duration of the call; `offset` is a valid
            // pointer to an off_t that sendfile updates.
            let n = unsafe { libc::sendfile(stream.as_raw_fd(), file.as_raw_fd(), &mut offset, chunk) };
            if n < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(n as usize)
            }
        });
        match res {
            Ok(0) => {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file region is shorter than announced"));
            }
            Ok(n) => remaining -= n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
