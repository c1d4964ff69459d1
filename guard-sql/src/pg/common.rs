//! Types shared by both directions: decode outcome, limits, strings, the output buffer trait,
//! and the internal byte reader and frame writer.

use std::fmt;

/// The outcome of one `decode` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<M> {
    /// The buffer does not hold a whole message yet. Nothing was consumed; call again once the
    /// buffer holds at least `at_least` bytes (the whole message when its length is known,
    /// otherwise its header).
    NeedMore {
        /// The buffer length below which another call cannot make progress.
        at_least: usize,
    },
    /// One whole message: it occupies `buf[..len]`.
    Message {
        /// Bytes the message occupies at the start of the buffer (always at least 1).
        len: usize,
        /// The message, borrowing from the buffer.
        msg: M,
    },
}

/// Bounds the decoders check before they trust a length or a count.
///
/// Fields are public so a default can be adjusted in place:
///
/// ```
/// let mut limits = guard_sql::pg::Limits::default();
/// limits.max_frontend_message_bytes = 1 << 20;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest frontend message (tag and length word included). Default 64 MiB: a client's
    /// Query, Parse, Bind or CopyData larger than that is refused. PostgreSQL itself refuses
    /// messages over 1 GiB (`PQ_LARGE_MESSAGE_LIMIT`, src/backend/libpq/pqcomm.c).
    pub max_frontend_message_bytes: usize,
    /// Largest backend message. Default 1 GiB + 64 KiB: a single datum is at most 1 GiB
    /// (`MaxAllocSize`), so a DataRow may carry that plus its framing.
    pub max_backend_message_bytes: usize,
    /// Largest untagged startup packet. Default 10 000, PostgreSQL's own
    /// `MAX_STARTUP_PACKET_LENGTH` (src/include/libpq/pqcomm.h).
    pub max_startup_bytes: usize,
    /// Most name/value pairs in a StartupMessage. Default 64.
    pub max_startup_params: usize,
    /// Most parameters (and parameter types, parameter format codes) in Parse, Bind,
    /// FunctionCall and ParameterDescription. Default 65 535, the most an Int16 count holds.
    pub max_params: usize,
    /// Most columns in RowDescription and DataRow (and result format codes). Default 1664,
    /// PostgreSQL's `MaxTupleAttributeNumber`, the most a result row can have.
    pub max_columns: usize,
    /// Most fields in an ErrorResponse or NoticeResponse, or names in a SASL mechanism list or
    /// NegotiateProtocolVersion. Default 64.
    pub max_fields: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frontend_message_bytes: 64 << 20,
            max_backend_message_bytes: (1 << 30) + (64 << 10),
            max_startup_bytes: 10_000,
            max_startup_params: 64,
            max_params: 65_535,
            max_columns: 1664,
            max_fields: 64,
        }
    }
}

/// A message tag byte as it appears on the wire; [`Tag::UNTAGGED`] (0) stands for the
/// untagged startup packets and the single-byte encryption answers.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tag(pub u8);

impl Tag {
    /// The pseudo tag of untagged packets.
    pub const UNTAGGED: Tag = Tag(0);
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => f.write_str("untagged packet"),
            b if b.is_ascii_graphic() => write!(f, "'{}' ({:#04x})", b as char, b),
            b => write!(f, "{b:#04x}"),
        }
    }
}

/// A protocol string: the bytes of a NUL-terminated `String` field, without the NUL.
///
/// PostgreSQL strings are bytes in the connection's encoding, usually UTF-8; [`PgStr::to_str`]
/// checks. A `PgStr` never contains a NUL byte: decoders cannot produce one and the
/// constructors refuse one, so encoding never yields a malformed message.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct PgStr<'a>(&'a [u8]);

/// A string handed to [`PgStr`] contains a NUL byte, which no protocol string may.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("protocol strings cannot contain a nul byte (found one at offset {position})")]
pub struct InteriorNulError {
    /// Offset of the first NUL byte.
    pub position: usize,
}

impl<'a> PgStr<'a> {
    /// The empty string (the unnamed statement or portal).
    pub const EMPTY: PgStr<'static> = PgStr(b"");

    /// Wraps bytes, refusing a NUL byte.
    ///
    /// # Errors
    ///
    /// [`InteriorNulError`] when `bytes` contains a NUL.
    pub fn try_new(bytes: &'a [u8]) -> Result<Self, InteriorNulError> {
        match memchr::memchr(0, bytes) {
            Some(position) => Err(InteriorNulError { position }),
            None => Ok(PgStr(bytes)),
        }
    }

    /// Wraps a literal.
    ///
    /// # Panics
    ///
    /// When `s` contains a NUL byte (at compile time in a const context): a literal with a
    /// NUL is a programming error.
    pub const fn from_static(s: &'static str) -> PgStr<'static> {
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            assert!(b[i] != 0, "protocol strings cannot contain a nul byte");
            i += 1;
        }
        PgStr(b)
    }

    /// The bytes, without the terminating NUL.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// The string as UTF-8.
    ///
    /// # Errors
    ///
    /// When the bytes are not UTF-8 (a client encoding other than UTF-8).
    pub fn to_str(&self) -> Result<&'a str, std::str::Utf8Error> {
        std::str::from_utf8(self.0)
    }

    /// The string, with invalid UTF-8 replaced by U+FFFD.
    pub fn to_string_lossy(&self) -> std::borrow::Cow<'a, str> {
        String::from_utf8_lossy(self.0)
    }

    /// Length in bytes, without the terminating NUL.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the string is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Built by decoders: the reader already split at the first NUL.
    pub(crate) fn from_split(bytes: &'a [u8]) -> Self {
        PgStr(bytes)
    }
}

impl<'a> TryFrom<&'a str> for PgStr<'a> {
    type Error = InteriorNulError;

    fn try_from(s: &'a str) -> Result<Self, Self::Error> {
        PgStr::try_new(s.as_bytes())
    }
}

impl<'a> TryFrom<&'a [u8]> for PgStr<'a> {
    type Error = InteriorNulError;

    fn try_from(s: &'a [u8]) -> Result<Self, Self::Error> {
        PgStr::try_new(s)
    }
}

impl fmt::Debug for PgStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_string_lossy(), f)
    }
}

impl fmt::Display for PgStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_lossy())
    }
}

impl PartialEq<str> for PgStr<'_> {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for PgStr<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

/// CopyData (`'d'`), sent by either side: a chunk of COPY data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyData<'a> {
    /// The chunk.
    pub data: &'a [u8],
}

impl CopyData<'_> {
    /// Writes the message.
    pub fn encode(&self, out: &mut impl EncodeBuf) {
        frame(out, b'd', |o| o.put(self.data));
    }
}

/// A buffer the encoders write to: `Vec<u8>` or `bytes::BytesMut`. Sealed.
pub trait EncodeBuf: sealed::Sealed {}

impl EncodeBuf for Vec<u8> {}
impl EncodeBuf for bytes::BytesMut {}

pub(crate) mod sealed {
    /// The operations encoders need: append, current length, patch a length word.
    #[allow(unreachable_pub)] // sealed-trait pattern: public name in a private module
    pub trait Sealed {
        /// Appends bytes.
        fn put(&mut self, b: &[u8]);
        /// Bytes written so far.
        fn written(&self) -> usize;
        /// Overwrites `v.len()` bytes at `at`.
        fn patch(&mut self, at: usize, v: &[u8]);
        /// Appends a big-endian i16.
        fn put_i16(&mut self, v: i16) {
            self.put(&v.to_be_bytes());
        }
        /// Appends a big-endian i32.
        fn put_i32(&mut self, v: i32) {
            self.put(&v.to_be_bytes());
        }
        /// Appends a big-endian u32.
        fn put_u32(&mut self, v: u32) {
            self.put(&v.to_be_bytes());
        }
        /// Appends a NUL-terminated string.
        fn put_cstr(&mut self, s: &[u8]) {
            self.put(s);
            self.put(&[0]);
        }
    }

    impl Sealed for Vec<u8> {
        fn put(&mut self, b: &[u8]) {
            self.extend_from_slice(b);
        }
        fn written(&self) -> usize {
            self.len()
        }
        fn patch(&mut self, at: usize, v: &[u8]) {
            self[at..at + v.len()].copy_from_slice(v);
        }
    }

    impl Sealed for bytes::BytesMut {
        fn put(&mut self, b: &[u8]) {
            self.extend_from_slice(b);
        }
        fn written(&self) -> usize {
            self.len()
        }
        fn patch(&mut self, at: usize, v: &[u8]) {
            self[at..at + v.len()].copy_from_slice(v);
        }
    }
}

pub(crate) use sealed::Sealed as Out;

/// Writes `tag`, a length word and the body `f` writes, then patches the length.
///
/// # Panics
///
/// When the body makes the message longer than `i32::MAX` bytes, which no valid message is;
/// only a caller building a message from more than 2 GiB of its own data gets there.
pub(crate) fn frame<O: Out + ?Sized>(out: &mut O, tag: u8, f: impl FnOnce(&mut O)) {
    out.put(&[tag]);
    untagged(out, f);
}

/// Like [`frame`] without the tag (startup packets).
pub(crate) fn untagged<O: Out + ?Sized>(out: &mut O, f: impl FnOnce(&mut O)) {
    let at = out.written();
    out.put(&[0; 4]);
    f(out);
    let len = out.written() - at;
    let len = i32::try_from(len).unwrap_or_else(|_| {
        panic!(
            "a protocol message is limited to {} bytes, this one has {len}",
            i32::MAX
        )
    });
    out.patch(at, &len.to_be_bytes());
}

/// Converts a caller-supplied count to the Int16 the protocol carries.
///
/// # Panics
///
/// When `n` exceeds 65 535: the protocol cannot express it; only a caller's own data gets
/// there (decoded messages are bounded by the same field).
pub(crate) fn count16(n: usize, what: &str) -> i16 {
    match u16::try_from(n) {
        Ok(v) => v as i16,
        Err(_) => panic!("{what}: {n} exceeds the protocol's Int16 count (65535)"),
    }
}

/// A cursor over one message body. Errors are the reason text for
/// [`DecodeErrorKind::Malformed`](super::DecodeErrorKind::Malformed).
#[derive(Clone, Copy)]
pub(crate) struct Reader<'a> {
    pub(crate) buf: &'a [u8],
}

pub(crate) type Res<T> = Result<T, &'static str>;

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    #[inline]
    pub(crate) fn bytes(&mut self, n: usize, what: &'static str) -> Res<&'a [u8]> {
        if self.buf.len() < n {
            return Err(what);
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }

    #[inline]
    pub(crate) fn array<const N: usize>(&mut self, what: &'static str) -> Res<[u8; N]> {
        match self.buf.split_first_chunk::<N>() {
            Some((a, rest)) => {
                self.buf = rest;
                Ok(*a)
            }
            None => Err(what),
        }
    }

    #[inline]
    pub(crate) fn u8(&mut self, what: &'static str) -> Res<u8> {
        Ok(self.array::<1>(what)?[0])
    }

    #[inline]
    pub(crate) fn i16(&mut self, what: &'static str) -> Res<i16> {
        Ok(i16::from_be_bytes(self.array(what)?))
    }

    #[inline]
    pub(crate) fn u16(&mut self, what: &'static str) -> Res<u16> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    #[inline]
    pub(crate) fn i32(&mut self, what: &'static str) -> Res<i32> {
        Ok(i32::from_be_bytes(self.array(what)?))
    }

    #[inline]
    pub(crate) fn u32(&mut self, what: &'static str) -> Res<u32> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    /// A NUL-terminated string.
    #[inline]
    pub(crate) fn cstr(&mut self, what: &'static str) -> Res<PgStr<'a>> {
        match memchr::memchr(0, self.buf) {
            Some(i) => {
                let s = &self.buf[..i];
                self.buf = &self.buf[i + 1..];
                Ok(PgStr::from_split(s))
            }
            None => Err(what),
        }
    }

    /// Everything left.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    /// Fails when bytes are left over.
    pub(crate) fn end(&self) -> Res<()> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err("trailing bytes after the last field")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgstr_refuses_nul() {
        assert_eq!(
            PgStr::try_new(b"a\0b"),
            Err(InteriorNulError { position: 1 })
        );
        assert_eq!(PgStr::try_from("abc").map(|s| s.len()), Ok(3));
        assert_eq!(PgStr::from_static("x"), "x");
        assert_eq!(format!("{:?}", PgStr::from_static("a\"")), "\"a\\\"\"");
    }

    #[test]
    fn tag_display() {
        assert_eq!(Tag(b'Q').to_string(), "'Q' (0x51)");
        assert_eq!(Tag(0).to_string(), "untagged packet");
        assert_eq!(Tag(0x01).to_string(), "0x01");
    }

    #[test]
    fn reader_reports_short_input() {
        let mut r = Reader::new(&[0, 1, 2]);
        assert_eq!(r.i16("a"), Ok(1));
        assert_eq!(r.i32("b"), Err("b"));
        assert_eq!(r.u8("c"), Ok(2));
        assert!(r.end().is_ok());
        let mut r = Reader::new(b"ab");
        assert_eq!(r.cstr("no nul"), Err("no nul"));
    }

    #[test]
    fn frame_patches_length() {
        let mut v = Vec::new();
        frame(&mut v, b'Q', |o| o.put_cstr(b"x"));
        assert_eq!(v, b"Q\0\0\0\x06x\0");
        let mut b = bytes::BytesMut::new();
        untagged(&mut b, |o| o.put_i32(7));
        assert_eq!(&b[..], b"\0\0\0\x08\0\0\0\x07");
    }
}
