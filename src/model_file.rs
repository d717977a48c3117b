//! A model stored in a byte range of an open file: an Android app's uncompressed asset
//! (`AssetFileDescriptor`: one file descriptor for the whole APK, with the asset's offset and
//! length), or any model appended to a larger file.

use crate::error::{Error, ErrorCode, Result};
use std::fs::File;
use std::sync::Arc;

/// `length` bytes of an open file from `offset`, read with positioned reads (`pread`): the
/// file's own offset, shared with every duplicate of its descriptor, is never moved.
///
/// The range holds its own handle to the file (a duplicate of the caller's descriptor for
/// [`FileRange::from_fd`]): the caller's descriptor is never closed by the SDK and may be closed
/// as soon as the range is built. Cheap to clone (the handle is shared).
#[derive(Debug, Clone)]
pub struct FileRange {
    file: Arc<File>,
    offset: u64,
    length: u64,
}

impl FileRange {
    /// The range `[offset, offset + length)` of `file`. Fails with
    /// [`ErrorCode::InvalidArgument`] when `length` is 0, the file is not a regular file, or
    /// the range ends past the end of the file; with [`ErrorCode::Io`] when the file's size
    /// cannot be read.
    pub fn new(file: File, offset: u64, length: u64) -> Result<FileRange> {
        let range = FileRange { file: Arc::new(file), offset, length };
        range.check()?;
        Ok(range)
    }

    /// The range of the file open as `fd`, which stays the caller's: it is duplicated (`dup`),
    /// and the duplicate is what the SDK reads and closes. Fails as [`FileRange::new`] does,
    /// and with [`ErrorCode::InvalidArgument`] when `fd` cannot be duplicated (not an open
    /// descriptor).
    #[cfg(unix)]
    pub fn from_fd(fd: std::os::fd::BorrowedFd<'_>, offset: u64, length: u64) -> Result<FileRange> {
        let owned = fd.try_clone_to_owned().map_err(|e| {
            Error::invalid(format!("file descriptor {fd:?} cannot be duplicated: {e}"))
        })?;
        FileRange::new(File::from(owned), offset, length)
    }

    /// Where the range starts, in bytes from the start of the file.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The range's length in bytes.
    pub fn length(&self) -> u64 {
        self.length
    }

    /// A printable description for error messages.
    pub fn describe(&self) -> String {
        format!("the model file range (offset {}, length {})", self.offset, self.length)
    }

    /// Checks the range against the file as it is now.
    fn check(&self) -> Result<()> {
        if self.length == 0 {
            return Err(Error::invalid("the model file range is empty (length 0)"));
        }
        let end = self.offset.checked_add(self.length).ok_or_else(|| {
            Error::invalid(format!(
                "offset {} + length {} overflows a 64-bit file offset",
                self.offset, self.length
            ))
        })?;
        let meta = self.file.metadata().map_err(|e| {
            Error::new(ErrorCode::Io, format!("reading the model file's size: {e}"))
        })?;
        if !meta.is_file() {
            return Err(Error::invalid(
                "the model file descriptor is not a regular file (a pipe, socket or directory \
                 cannot be read at an offset)",
            ));
        }
        if end > meta.len() {
            return Err(Error::invalid(format!(
                "offset {} + length {} ends past the end of the file ({} bytes)",
                self.offset,
                self.length,
                meta.len()
            )));
        }
        Ok(())
    }

    /// Reads the range. Over `max_bytes` is [`ErrorCode::LimitExceeded`], checked before
    /// reading; a range that no longer fits the file is [`ErrorCode::InvalidArgument`]; a
    /// failed read [`ErrorCode::Io`].
    pub fn read(&self, max_bytes: u64) -> Result<Vec<u8>> {
        if self.length > max_bytes {
            return Err(Error::new(
                ErrorCode::LimitExceeded,
                format!("the model is {} bytes, over the limit of {max_bytes} bytes", self.length),
            ));
        }
        self.check()?;
        let len = usize::try_from(self.length).map_err(|_| {
            Error::new(ErrorCode::LimitExceeded, "the model does not fit in memory")
        })?;
        let mut bytes = vec![0u8; len];
        read_exact_at(&self.file, &mut bytes, self.offset)
            .map_err(|e| Error::new(ErrorCode::Io, format!("reading {}: {e}", self.describe())))?;
        Ok(bytes)
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

#[cfg(not(any(unix, windows)))]
fn read_exact_at(_: &File, _: &mut [u8], _: u64) -> std::io::Result<()> {
    Err(std::io::Error::other("positioned reads are not supported on this platform"))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom, Write};
    use std::os::fd::AsFd;

    fn temp_file(bytes: &[u8]) -> File {
        let path = std::env::temp_dir().join(format!(
            "resnext-file-range-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    #[test]
    fn reads_the_range_without_moving_the_callers_offset() {
        let mut f = temp_file(b"headerMODELtrailer");
        f.seek(SeekFrom::Start(3)).unwrap();
        let range = FileRange::from_fd(f.as_fd(), 6, 5).unwrap();
        assert_eq!(range.read(100).unwrap(), b"MODEL");
        assert_eq!(f.stream_position().unwrap(), 3);
        // The caller's descriptor may go: the range reads its own duplicate.
        drop(f);
        assert_eq!(range.read(5).unwrap(), b"MODEL");
    }

    #[test]
    fn bad_ranges_are_refused() {
        let f = temp_file(b"0123456789");
        let code =
            |offset, length| FileRange::from_fd(f.as_fd(), offset, length).unwrap_err().code();
        assert_eq!(code(0, 0), ErrorCode::InvalidArgument);
        assert_eq!(code(5, 6), ErrorCode::InvalidArgument);
        assert_eq!(code(11, 1), ErrorCode::InvalidArgument);
        assert_eq!(code(u64::MAX, 2), ErrorCode::InvalidArgument);
        assert!(FileRange::from_fd(f.as_fd(), 0, 10).is_ok());
        let range = FileRange::from_fd(f.as_fd(), 2, 8).unwrap();
        assert_eq!(range.read(7).unwrap_err().code(), ErrorCode::LimitExceeded);
        let dir = File::open(std::env::temp_dir()).unwrap();
        assert_eq!(FileRange::new(dir, 0, 1).unwrap_err().code(), ErrorCode::InvalidArgument);
    }
}
