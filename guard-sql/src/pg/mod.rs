//! The PostgreSQL v3 wire protocol, sans-IO: decoders and encoders for both directions.
//!
//! [`FrontendDecoder`] reads what a client sends, [`BackendDecoder`] what a server sends. Each
//! takes a byte slice and answers [`Decoded::NeedMore`] (nothing consumed) or
//! [`Decoded::Message`] with the number of bytes the message used; the caller keeps the buffer,
//! decides what to do with `buf[..len]` (forward it untouched, drop it, answer with an error) and
//! advances. Decoded messages borrow from the caller's buffer, so forwarding costs no copy.
//!
//! The decoders track the protocol phase themselves: untagged startup packets
//! (StartupMessage for protocol 3.0 and 3.2, SSLRequest, GSSENCRequest, CancelRequest), the
//! single-byte answers to SSLRequest/GSSENCRequest, and the shared tag `'p'` of the
//! authentication responses (see [`AuthKind`]).
//!
//! Every message of the protocol documentation ("Message Formats", PostgreSQL 15-18, protocol
//! 3.0 and 3.2) has a typed form in [`FrontendMessage`] or [`BackendMessage`] and an `encode`
//! method that writes exactly the bytes it was decoded from. Messages the gateway builds from
//! scratch have helpers: [`ErrorBuilder`], [`DataRow::encode_values`],
//! [`RowDescription::encode_fields`], [`StartupMessage::encode_params`] and more.
//! Sans-IO authentication helpers (SCRAM-SHA-256, MD5, cleartext) live in [`auth`];
//! [`scrub_message_values`] takes the values out of a server message's text.
//!
//! # Example: the decode loop
//!
//! ```
//! use guard_sql::pg::{Decoded, FrontendDecoder, FrontendMessage, Limits, PgStr, Query};
//!
//! // What a client sent: a startup packet and a simple query.
//! let mut wire = Vec::new();
//! guard_sql::pg::StartupMessage::encode_params(
//!     guard_sql::pg::ProtocolVersion::V3_0,
//!     [(PgStr::from_static("user"), PgStr::from_static("alice"))],
//!     &mut wire,
//! );
//! Query { sql: PgStr::from_static("SELECT 1") }.encode(&mut wire);
//!
//! let mut dec = FrontendDecoder::new(Limits::default());
//! let mut buf = &wire[..];
//! let mut seen = Vec::new();
//! loop {
//!     match dec.decode(buf)? {
//!         Decoded::NeedMore { .. } => break, // read more from the socket
//!         Decoded::Message { len, msg } => {
//!             if let FrontendMessage::Query(q) = &msg {
//!                 seen.push(q.sql.to_str()?.to_owned());
//!             }
//!             // forward &buf[..len] upstream, or answer with an error
//!             buf = &buf[len..];
//!         }
//!     }
//! }
//! assert_eq!(seen, ["SELECT 1"]);
//! assert!(buf.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod backend;
mod common;
mod error;
mod frontend;
mod message;
mod views;

pub mod auth;
pub mod binary;
#[cfg(feature = "tokio")]
mod codec;

pub use backend::{
    Authentication, BackendDecoder, BackendKeyData, BackendMessage, CommandComplete, CopyResponse,
    DataRow, ErrorResponse, FieldDescription, FunctionCallResponse, NegotiateProtocolVersion,
    NoticeResponse, NotificationResponse, ParameterDescription, ParameterStatus, ReadyForQuery,
    RowDescription, TransactionStatus,
};
#[cfg(feature = "tokio")]
pub use codec::{BackendCodec, BackendFrame, CodecError, FrontendCodec, FrontendFrame};
pub use common::{CopyData, Decoded, EncodeBuf, InteriorNulError, Limits, PgStr, Tag};
pub use error::{DecodeError, DecodeErrorKind, Fault, Sender};
pub use frontend::{
    AuthKind, Bind, CANCEL_REQUEST_CODE, CancelRequest, Close, CopyFail, Describe, Execute,
    FrontendDecoder, FrontendMessage, FunctionCall, GSSENC_REQUEST_CODE, GssResponse, Parse,
    PasswordLike, PasswordMessage, ProtocolVersion, Query, SSL_REQUEST_CODE, SaslInitialResponse,
    SaslResponse, StartupMessage, Target,
};
pub use message::scrub_message_values;
pub use views::{
    ErrorBuilder, ErrorFields, FieldDescriptions, FormatCodes, NameList, Oids, Severity,
    StartupParams, Values, ValuesIter,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync>() {}

    #[test]
    fn public_types_are_send_and_sync() {
        send_sync::<FrontendDecoder>();
        send_sync::<BackendDecoder>();
        send_sync::<FrontendMessage<'static>>();
        send_sync::<BackendMessage<'static>>();
        send_sync::<DecodeError>();
        send_sync::<Limits>();
        send_sync::<ErrorBuilder>();
        send_sync::<Decoded<FrontendMessage<'static>>>();
        send_sync::<auth::ScramClient>();
        send_sync::<auth::ScramServer>();
        send_sync::<auth::ScramSecret>();
        send_sync::<auth::AuthError>();
    }
}
