//! `tokio_util::codec::Decoder` adaptors (feature `tokio`) that only delegate to the sans-IO
//! decoders, through public API, as any proxy could.

use bytes::{Bytes, BytesMut};
use tokio_util::codec::Decoder;

use super::backend::parse_backend;
use super::frontend::{parse_startup, parse_tagged};
use super::{
    AuthKind, BackendDecoder, BackendMessage, DecodeError, Decoded, FrontendDecoder,
    FrontendMessage, Limits,
};

/// Errors of the codec adaptors: a decode error, or the IO error tokio reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The bytes were invalid.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The underlying stream failed.
    #[error("io error on the connection: {source}")]
    Io {
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
}

impl From<std::io::Error> for CodecError {
    fn from(source: std::io::Error) -> Self {
        CodecError::Io { source }
    }
}

/// Limits for re-reading bytes a decoder already validated under the caller's limits.
fn unbounded() -> Limits {
    Limits {
        max_frontend_message_bytes: usize::MAX,
        max_backend_message_bytes: usize::MAX,
        max_startup_bytes: usize::MAX,
        max_startup_params: usize::MAX,
        max_params: usize::MAX,
        max_columns: usize::MAX,
        max_fields: usize::MAX,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FrontendCtx {
    Startup,
    Tagged(Option<AuthKind>),
}

/// One owned frontend message: its bytes, re-read on demand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontendFrame {
    bytes: Bytes,
    ctx: FrontendCtx,
}

impl FrontendFrame {
    /// The message's wire bytes, for forwarding.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The typed message.
    pub fn message(&self) -> FrontendMessage<'_> {
        let r = match self.ctx {
            FrontendCtx::Startup => parse_startup(&self.bytes[4..], &unbounded()),
            FrontendCtx::Tagged(auth) => {
                parse_tagged(self.bytes[0], &self.bytes[5..], auth, &unbounded())
            }
        };
        // The decoder validated these exact bytes in this context; parsing is deterministic
        // and the limits here are wider, so it succeeds again.
        r.expect("frame bytes were validated by the decoder")
    }
}

/// A `tokio_util` decoder of frontend messages, delegating to [`FrontendDecoder`].
#[derive(Debug, Clone)]
pub struct FrontendCodec {
    dec: FrontendDecoder,
}

impl FrontendCodec {
    /// Wraps a decoder.
    pub fn new(dec: FrontendDecoder) -> Self {
        FrontendCodec { dec }
    }

    /// The decoder, to call [`FrontendDecoder::expect_auth`] and the like.
    pub fn decoder_mut(&mut self) -> &mut FrontendDecoder {
        &mut self.dec
    }
}

impl Decoder for FrontendCodec {
    type Item = FrontendFrame;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<FrontendFrame>, CodecError> {
        let (len, ctx) = match self.dec.decode(&src[..])? {
            Decoded::NeedMore { at_least } => {
                src.reserve(at_least.saturating_sub(src.len()));
                return Ok(None);
            }
            Decoded::Message { len, msg } => {
                let ctx = match msg {
                    m if m.tag().0 == 0 => FrontendCtx::Startup,
                    FrontendMessage::Password(_) => FrontendCtx::Tagged(Some(AuthKind::Password)),
                    FrontendMessage::SaslInitialResponse(_) => {
                        FrontendCtx::Tagged(Some(AuthKind::SaslInitial))
                    }
                    FrontendMessage::SaslResponse(_) => FrontendCtx::Tagged(Some(AuthKind::Sasl)),
                    FrontendMessage::GssResponse(_) => FrontendCtx::Tagged(Some(AuthKind::Gss)),
                    _ => FrontendCtx::Tagged(None),
                };
                (len, ctx)
            }
        };
        Ok(Some(FrontendFrame {
            bytes: src.split_to(len).freeze(),
            ctx,
        }))
    }
}

/// One owned backend message: its bytes, re-read on demand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendFrame {
    bytes: Bytes,
    single: Option<BackendMessage<'static>>,
}

impl BackendFrame {
    /// The message's wire bytes, for forwarding.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The typed message.
    pub fn message(&self) -> BackendMessage<'_> {
        if let Some(m) = self.single {
            return m;
        }
        // The decoder validated these exact bytes; parsing is deterministic and the limits
        // here are wider, so it succeeds again.
        parse_backend(self.bytes[0], &self.bytes[5..], &unbounded())
            .expect("frame bytes were validated by the decoder")
    }
}

/// A `tokio_util` decoder of backend messages, delegating to [`BackendDecoder`].
#[derive(Debug, Clone)]
pub struct BackendCodec {
    dec: BackendDecoder,
}

impl BackendCodec {
    /// Wraps a decoder.
    pub fn new(dec: BackendDecoder) -> Self {
        BackendCodec { dec }
    }

    /// The decoder, to call [`BackendDecoder::expect_ssl_response`] and the like.
    pub fn decoder_mut(&mut self) -> &mut BackendDecoder {
        &mut self.dec
    }
}

impl Decoder for BackendCodec {
    type Item = BackendFrame;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<BackendFrame>, CodecError> {
        let (len, single) = match self.dec.decode(&src[..])? {
            Decoded::NeedMore { at_least } => {
                src.reserve(at_least.saturating_sub(src.len()));
                return Ok(None);
            }
            Decoded::Message { len, msg } => {
                let single = match msg {
                    BackendMessage::SslResponse { accepted } => {
                        Some(BackendMessage::SslResponse { accepted })
                    }
                    BackendMessage::GssEncResponse { accepted } => {
                        Some(BackendMessage::GssEncResponse { accepted })
                    }
                    _ => None,
                };
                (len, single)
            }
        };
        Ok(Some(BackendFrame {
            bytes: src.split_to(len).freeze(),
            single,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::{PgStr, Query};

    #[test]
    fn codecs_delegate() {
        let mut wire = BytesMut::new();
        wire.extend_from_slice(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
        crate::pg::StartupMessage::encode_params(
            crate::pg::ProtocolVersion::V3_0,
            [(PgStr::from_static("user"), PgStr::from_static("u"))],
            &mut wire,
        );
        Query {
            sql: PgStr::from_static("SELECT 1"),
        }
        .encode(&mut wire);
        let mut c = FrontendCodec::new(FrontendDecoder::new(Limits::default()));
        let mut half = wire.split_to(10);
        let f = c.decode(&mut half).unwrap().unwrap();
        assert_eq!(f.message(), FrontendMessage::SslRequest);
        assert!(c.decode(&mut half).unwrap().is_none());
        half.unsplit(wire);
        let f = c.decode(&mut half).unwrap().unwrap();
        assert!(matches!(f.message(), FrontendMessage::Startup(s) if s.user().unwrap() == "u"));
        let f = c.decode(&mut half).unwrap().unwrap();
        assert!(matches!(f.message(), FrontendMessage::Query(q) if q.sql == "SELECT 1"));
        assert!(half.is_empty());

        let mut b = BackendCodec::new(BackendDecoder::new(Limits::default()));
        b.decoder_mut().expect_ssl_response();
        let mut wire = BytesMut::from(&b"NZ\0\0\0\x05I"[..]);
        let f = b.decode(&mut wire).unwrap().unwrap();
        assert_eq!(f.message(), BackendMessage::SslResponse { accepted: false });
        let f = b.decode(&mut wire).unwrap().unwrap();
        assert_eq!(&f.bytes()[..], b"Z\0\0\0\x05I");
        assert!(matches!(f.message(), BackendMessage::ReadyForQuery(_)));
    }
}
