//! Decode errors: what was wrong, who sent it, and what goes on the wire.

use std::fmt;

use super::Tag;

/// Which side of the connection sent the bytes that failed to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sender {
    /// The client (decoded by [`FrontendDecoder`](super::FrontendDecoder)).
    Frontend,
    /// The server (decoded by [`BackendDecoder`](super::BackendDecoder)).
    Backend,
}

impl fmt::Display for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Sender::Frontend => "frontend",
            Sender::Backend => "backend",
        })
    }
}

/// Whose fault an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fault {
    /// The client sent bytes that break the protocol.
    Client,
    /// The upstream server did.
    Upstream,
    /// The embedding program misused an API or supplied invalid configuration.
    Caller,
}

/// Untrusted bytes that are not a valid message in the current phase.
///
/// After an error the stream cannot be resynchronised: drop the connection, telling the peer
/// with an ErrorResponse carrying [`DecodeError::sqlstate`] where the protocol allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {sender} message: {kind}")]
pub struct DecodeError {
    sender: Sender,
    kind: DecodeErrorKind,
}

/// What exactly was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The length word announces more than the configured [`Limits`](super::Limits) allow.
    #[error("{tag} message of {len} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// The message tag.
        tag: Tag,
        /// Announced length, tag included.
        len: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The length word is smaller than the smallest message of that kind.
    #[error("{tag} message length {len} is below the minimum of {min}")]
    BadLength {
        /// The message tag.
        tag: Tag,
        /// The length word as sent.
        len: u32,
        /// The smallest valid length.
        min: u32,
    },
    /// A tag the protocol does not define for this direction and phase.
    #[error("unknown message tag {tag} in the {phase} phase")]
    UnknownTag {
        /// The tag byte.
        tag: Tag,
        /// `"startup"` or `"normal"`.
        phase: &'static str,
    },
    /// A startup packet whose code is neither a protocol version nor a known request.
    #[error("unknown startup request code {code:#010x}")]
    UnknownRequestCode {
        /// The code as sent.
        code: u32,
    },
    /// A StartupMessage for a major protocol version other than 3.
    #[error("unsupported frontend protocol {major}.{minor}: expected 3.x")]
    UnsupportedProtocol {
        /// Major version.
        major: u16,
        /// Minor version.
        minor: u16,
    },
    /// An Authentication message with an unknown request code.
    #[error("unknown authentication request code {code}")]
    UnknownAuthentication {
        /// The code as sent.
        code: i32,
    },
    /// A field that does not fit the message or has an invalid value.
    #[error("malformed {tag} message: {reason}")]
    Malformed {
        /// The message tag.
        tag: Tag,
        /// What was expected and not found.
        reason: &'static str,
    },
    /// An element count above the configured [`Limits`](super::Limits).
    #[error("{tag} message has {count} {what}, more than the limit of {limit}")]
    TooMany {
        /// The message tag.
        tag: Tag,
        /// What was counted.
        what: &'static str,
        /// The count found.
        count: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A well-formed message that the protocol does not allow at this point.
    #[error("unexpected {tag} message: {reason}")]
    Unexpected {
        /// The message tag.
        tag: Tag,
        /// Why it is not allowed here.
        reason: &'static str,
    },
}

impl DecodeError {
    pub(crate) fn new(sender: Sender, kind: DecodeErrorKind) -> Self {
        DecodeError { sender, kind }
    }

    /// Which side sent the bytes.
    pub fn sender(&self) -> Sender {
        self.sender
    }

    /// What was wrong.
    pub fn kind(&self) -> &DecodeErrorKind {
        &self.kind
    }

    /// Whose fault it is: the client for frontend bytes, the upstream for backend bytes.
    pub fn fault(&self) -> Fault {
        match self.sender {
            Sender::Frontend => Fault::Client,
            Sender::Backend => Fault::Upstream,
        }
    }

    /// SQLSTATE for the ErrorResponse sent before dropping the connection: `0A000`
    /// (feature_not_supported) for an unsupported protocol version, as PostgreSQL answers,
    /// otherwise `08P01` (protocol_violation).
    pub fn sqlstate(&self) -> &'static str {
        match self.kind {
            DecodeErrorKind::UnsupportedProtocol { .. } => "0A000",
            _ => "08P01",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_sqlstates() {
        let e = DecodeError::new(
            Sender::Frontend,
            DecodeErrorKind::TooLarge {
                tag: Tag(b'Q'),
                len: 100,
                limit: 10,
            },
        );
        assert_eq!(
            e.to_string(),
            "invalid frontend message: 'Q' (0x51) message of 100 bytes exceeds the limit of 10"
        );
        assert_eq!(e.sqlstate(), "08P01");
        assert_eq!(e.fault(), Fault::Client);
        let e = DecodeError::new(
            Sender::Backend,
            DecodeErrorKind::UnsupportedProtocol { major: 2, minor: 0 },
        );
        assert_eq!(e.sqlstate(), "0A000");
        assert_eq!(e.fault(), Fault::Upstream);
    }
}
