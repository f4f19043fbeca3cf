//! Memory mappings shared with the kernel (packet rings, AF_XDP rings and UMEM).

use std::io;
use std::os::fd::RawFd;
use std::ptr::NonNull;

/// A mapping owned by one value; unmapped on drop.
#[derive(Debug)]
pub(crate) struct Mapping {
    base: NonNull<u8>,
    len: usize,
}

impl Mapping {
    /// Maps `len` bytes of `fd` at `offset`, shared and writable: the kernel's view of a ring.
    pub(crate) fn of_fd(fd: RawFd, len: usize, offset: u64) -> io::Result<Mapping> {
        let offset = libc::off_t::try_from(offset)
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: a fresh shared mapping chosen by the kernel (no fixed address, so nothing of
        // ours is replaced); the kernel checks len and offset against the object behind fd. The
        // result is checked before use.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd,
                offset,
            )
        };
        Mapping::checked(p, len)
    }

    /// Maps `len` bytes of zeroed private memory (an AF_XDP UMEM), populated up front so the
    /// kernel's page pinning at registration does not fault them in one by one.
    pub(crate) fn anonymous(len: usize) -> io::Result<Mapping> {
        // SAFETY: a fresh anonymous mapping at an address the kernel picks; checked before use.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        Mapping::checked(p, len)
    }

    fn checked(p: *mut libc::c_void, len: usize) -> io::Result<Mapping> {
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = NonNull::new(p.cast::<u8>()).ok_or_else(|| io::Error::other("mmap: null"))?;
        Ok(Mapping { base, len })
    }

    /// The first byte.
    pub(crate) fn base(&self) -> NonNull<u8> {
        self.base
    }

    /// Length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: base/len are exactly what mmap returned; the owners only hand out borrows
        // tied to their own lifetime, so nothing points into the mapping after this.
        unsafe {
            libc::munmap(self.base.as_ptr().cast(), self.len);
        }
    }
}

// SAFETY: the mapping is owned by this value alone (no aliasing pointer escapes its owner), so
// moving it to another thread is as safe as moving a Vec; the kernel side synchronises with
// whichever thread uses it through the atomics of the ring protocol.
unsafe impl Send for Mapping {}
