//! COPY data: the layout of a COPY statement, the equivalent SELECT, and a sans-IO row codec.
//!
//! `COPY ... TO STDOUT` output carries no column names, so a proxy that masks results column by
//! column needs two things this module supplies:
//!
//! 1. The columns: [`copy_select`] turns the COPY into a SELECT whose Describe (a hidden
//!    Parse + Describe on the same upstream session) yields exactly the columns the COPY
//!    emits, in order.
//! 2. The values: [`CopyOptions::from_sql`] reads the format (text, CSV, binary) and the
//!    options that decide the byte layout; a [`CopyDecoder`] turns the CopyData payloads into
//!    rows of fields (NULL or the decoded value), and a [`CopyEncoder`] writes masked rows back
//!    in the same layout.
//!
//! Nothing here does IO: the caller feeds payloads and forwards what the encoder wrote,
//! wrapped in CopyData messages of its choosing.
//!
//! ```text
//! COPY sql --> copy_select --> Parse + Describe upstream --> column names and sources
//!          --> CopyOptions::from_sql --> CopyDecoder / CopyEncoder
//! CopyData payloads --> CopyDecoder::push / next --> Header | Row | Trailer
//!                       Row --> mask field i by column i's rule --> CopyEncoder::encode_row
//!                       Header, Trailer --> forwarded unchanged
//! ```
//!
//! ```
//! use guard_sql::copy::{copy_select, CopyDecoder, CopyEncoder, CopyItem, CopyLimits, CopyOptions};
//!
//! let sql = "COPY users (id, email) TO STDOUT";
//! assert_eq!(copy_select(sql)?.unwrap().sql, r#"SELECT "id", "email" FROM ONLY "users""#);
//!
//! let opts = CopyOptions::from_sql(sql)?;
//! let mut dec = CopyDecoder::new(&opts, CopyLimits::default())?;
//! dec.expect_fields(2); // from the Describe
//! let enc = CopyEncoder::new(&opts)?;
//! let mut out = Vec::new();
//! dec.push(b"1\tada@example.com\n2\t\\N\n")?;
//! while let Some(item) = dec.next()? {
//!     if let CopyItem::Row(row) = item {
//!         let id = row.get(0).flatten();
//!         let email = row.get(1).flatten().map(|_| &b"<email>"[..]);
//!         enc.encode_row([id, email], &mut out)?;
//!     }
//! }
//! assert_eq!(out, b"1\t<email>\n2\t\\N\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod decode;
mod encode;
mod options;

pub use decode::{
    BINARY_SIGNATURE, CopyDataError, CopyDataErrorKind, CopyDecoder, CopyItem, CopyLimits, Row,
};
pub use encode::{CopyEncodeError, CopyEncoder};
pub use options::{
    CopyDirection, CopyFormat, CopyHeader, CopyOptions, CopySelect, CopySqlError, ForceQuote,
    copy_select, encoding_embeds_ascii,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_types_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<CopyOptions>();
        check::<CopySelect>();
        check::<CopyDecoder>();
        check::<CopyEncoder>();
        check::<CopyItem<'static>>();
        check::<Row<'static>>();
        check::<CopyDataError>();
        check::<CopySqlError>();
        check::<CopyEncodeError>();
        check::<CopyLimits>();
    }
}
