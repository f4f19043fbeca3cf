//! The one error type of the protocol crate: an errno with a position and a reason.

use std::fmt;

use crate::errno;

/// A decode or validation failure, carrying its wire meaning.
///
/// `errno` is what the kernel would put (negated) in `NLMSG_ERROR`; `offset` is the byte offset
/// of the offending attribute or field from the start of the buffer handed to the decoder (the
/// daemon rebases it onto the whole message for `NLMSGERR_ATTR_OFFS`); `msg` is the extack text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// Positive errno value (`errno::EINVAL`, …).
    pub errno: i32,
    /// Byte offset of the problem within the decoded buffer.
    pub offset: usize,
    /// Human-readable reason, suitable for `NLMSGERR_ATTR_MSG`.
    pub msg: &'static str,
}

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with the given errno at `offset`.
    pub const fn new(errno: i32, offset: usize, msg: &'static str) -> Self {
        Error { errno, offset, msg }
    }

    /// `EINVAL` at `offset`: the kernel's answer to almost any malformed input.
    pub const fn inval(offset: usize, msg: &'static str) -> Self {
        Error::new(errno::EINVAL, offset, msg)
    }

    /// The same error moved `base` bytes further into an enclosing buffer.
    #[must_use]
    pub const fn rebase(self, base: usize) -> Self {
        Error {
            offset: self.offset + base,
            ..self
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match errno::name(self.errno) {
            Some(name) => write!(f, "{} ({}) at byte {}", self.msg, name, self.offset),
            None => write!(
                f,
                "{} (errno {}) at byte {}",
                self.msg, self.errno, self.offset
            ),
        }
    }
}

impl std::error::Error for Error {}
