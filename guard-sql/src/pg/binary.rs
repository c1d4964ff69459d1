//! The binary wire form of PostgreSQL's container values: arrays (`array_send`) and records
//! and composites (`record_send`). [`map_items`] walks one level of such a value, hands each
//! non-NULL item and its type OID to a callback, and writes the value again when the callback
//! changed an item, with the new lengths. A proxy that masks what is inside (text in arrays,
//! fields of row values) calls it again from the callback for nested containers.
//!
//! Layouts (all integers big-endian):
//! - array: `ndim i32, flags i32, element type u32, ndim × (size i32, lower bound i32)`, then
//!   one `length i32` (`-1`: NULL) and that many bytes per element;
//! - record: `nfields i32`, then per field `type u32, length i32, bytes`.
//!
//! Untrusted input: counts are checked against the bytes present before anything is kept, so
//! memory stays proportional to the value; a value that does not have the layout exactly
//! (short, trailing bytes, more than [`MAX_ARRAY_DIMS`] dimensions) yields `None`.

use std::borrow::Cow;

/// PostgreSQL's limit on array dimensions (`MAXDIM`).
pub const MAX_ARRAY_DIMS: i32 = 6;

/// Which container layout a value has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// An array: one element type for every item.
    Array,
    /// A record or composite: each field names its type.
    Record,
}

/// Walks the items of the binary container value `v`: `f(type, item)` returns the item as it
/// is (`Cow::Borrowed`), replaced (`Cow::Owned`), or `None` to give up. Returns `v` borrowed
/// when no item changed, the value written again otherwise, and `None` when `v` does not have
/// the layout or `f` gave up.
pub fn map_items<'v, F>(container: Container, v: &'v [u8], mut f: F) -> Option<Cow<'v, [u8]>>
where
    F: for<'i> FnMut(u32, &'i [u8]) -> Option<Cow<'i, [u8]>>,
{
    let mut r = Reader(v);
    // (type, item) in order, after a header that is copied as it is.
    let mut items: Vec<(u32, Option<&[u8]>)> = Vec::new();
    let header_len;
    match container {
        Container::Array => {
            let ndim = r.i32()?;
            if !(0..=MAX_ARRAY_DIMS).contains(&ndim) {
                return None;
            }
            r.i32()?;
            let elem = r.u32()?;
            let mut n: usize = usize::from(ndim > 0);
            for _ in 0..ndim {
                let size = usize::try_from(r.i32()?).ok()?;
                r.i32()?;
                n = n.checked_mul(size)?;
            }
            header_len = v.len() - r.0.len();
            // Each element takes at least its 4-byte length.
            if n > r.0.len() / 4 {
                return None;
            }
            items.reserve(n);
            for _ in 0..n {
                items.push((elem, r.value()?));
            }
        }
        Container::Record => {
            let n = usize::try_from(r.i32()?).ok()?;
            header_len = 4;
            // Each field takes at least its type and length.
            if n > r.0.len() / 8 {
                return None;
            }
            items.reserve(n);
            for _ in 0..n {
                let field = r.u32()?;
                items.push((field, r.value()?));
            }
        }
    }
    if !r.0.is_empty() {
        return None;
    }
    let mut mapped: Vec<Option<Cow<'_, [u8]>>> = Vec::with_capacity(items.len());
    let mut changed = false;
    for (t, item) in &items {
        let m = match item {
            None => None,
            Some(b) => Some(f(*t, b)?),
        };
        changed |= matches!(m, Some(Cow::Owned(_)));
        mapped.push(m);
    }
    if !changed {
        return Some(Cow::Borrowed(v));
    }
    let mut out = Vec::with_capacity(v.len() + 16);
    out.extend_from_slice(&v[..header_len]);
    for ((t, _), m) in items.iter().zip(&mapped) {
        if container == Container::Record {
            out.extend_from_slice(&t.to_be_bytes());
        }
        match m {
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(b) => {
                out.extend_from_slice(&i32::try_from(b.len()).ok()?.to_be_bytes());
                out.extend_from_slice(b);
            }
        }
    }
    Some(Cow::Owned(out))
}

/// Big-endian reads over a binary value.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }

    fn u32(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn i32(&mut self) -> Option<i32> {
        let b = self.take(4)?;
        Some(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A length-prefixed value (`-1`: NULL).
    fn value(&mut self) -> Option<Option<&'a [u8]>> {
        match self.i32()? {
            -1 => Some(None),
            n => self.take(usize::try_from(n).ok()?).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A one-dimensional array (lower bound 1) of `elem` values.
    fn array(elem: u32, values: &[Option<&[u8]>]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&1i32.to_be_bytes());
        v.extend_from_slice(&i32::from(values.iter().any(Option::is_none)).to_be_bytes());
        v.extend_from_slice(&elem.to_be_bytes());
        v.extend_from_slice(&i32::try_from(values.len()).unwrap().to_be_bytes());
        v.extend_from_slice(&1i32.to_be_bytes());
        for x in values {
            push_value(&mut v, *x);
        }
        v
    }

    fn push_value(v: &mut Vec<u8>, x: Option<&[u8]>) {
        match x {
            None => v.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(b) => {
                v.extend_from_slice(&i32::try_from(b.len()).unwrap().to_be_bytes());
                v.extend_from_slice(b);
            }
        }
    }

    fn upper<'i>(_: u32, b: &'i [u8]) -> Option<Cow<'i, [u8]>> {
        Some(if b.iter().any(u8::is_ascii_lowercase) {
            Cow::Owned(b.to_ascii_uppercase())
        } else {
            Cow::Borrowed(b)
        })
    }

    #[test]
    fn arrays_and_records_are_written_again_with_new_lengths() {
        let a = array(25, &[Some(b"ab"), None, Some(b"XY")]);
        let got = map_items(Container::Array, &a, upper).unwrap();
        assert_eq!(got.as_ref(), array(25, &[Some(b"AB"), None, Some(b"XY")]));
        // Longer replacements move the rest along.
        let got = map_items(Container::Array, &a, |_, b| {
            Some(Cow::Owned([b, b"!!"].concat()))
        })
        .unwrap();
        assert_eq!(
            got.as_ref(),
            array(25, &[Some(b"ab!!"), None, Some(b"XY!!")])
        );
        let mut r = 2i32.to_be_bytes().to_vec();
        r.extend_from_slice(&23u32.to_be_bytes());
        push_value(&mut r, Some(&7i32.to_be_bytes()));
        r.extend_from_slice(&25u32.to_be_bytes());
        push_value(&mut r, Some(b"ok"));
        let mut seen = Vec::new();
        let got = map_items(Container::Record, &r, |t, b| {
            seen.push(t);
            upper(t, b)
        })
        .unwrap();
        assert_eq!(seen, [23, 25]);
        assert_eq!(&got[got.len() - 2..], b"OK");
        // Unchanged: borrowed; empty array; the callback giving up.
        let clean = array(25, &[Some(b"XY")]);
        assert!(matches!(
            map_items(Container::Array, &clean, upper),
            Some(Cow::Borrowed(_))
        ));
        let empty = [0u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 25];
        assert!(matches!(
            map_items(Container::Array, &empty, upper),
            Some(Cow::Borrowed(_))
        ));
        assert!(map_items(Container::Array, &a, |_, _| None).is_none());
    }

    #[test]
    fn values_without_the_layout_are_refused() {
        let good = array(25, &[Some(b"ab")]);
        for cut in 0..good.len() {
            assert!(
                map_items(Container::Array, &good[..cut], upper).is_none(),
                "{cut}"
            );
        }
        let mut long = good.clone();
        long.push(0);
        assert!(map_items(Container::Array, &long, upper).is_none());
        let mut huge = good.clone();
        huge[12..16].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(map_items(Container::Array, &huge, upper).is_none());
        let mut dims = good;
        dims[..4].copy_from_slice(&7i32.to_be_bytes());
        assert!(map_items(Container::Array, &dims, upper).is_none());
        assert!(map_items(Container::Record, &i32::MAX.to_be_bytes(), upper).is_none());
    }

    proptest! {
        /// Arbitrary bytes never panic, and what is written again has the layout.
        #[test]
        fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..128), record: bool) {
            let c = if record { Container::Record } else { Container::Array };
            if let Some(out) = map_items(c, &bytes, upper) {
                prop_assert!(map_items(c, &out, upper).is_some());
            }
        }

        /// An array of arbitrary items maps like its items one by one.
        #[test]
        fn arrays_map_like_their_items(
            items in proptest::collection::vec(proptest::option::of("[a-zA-Z]{0,12}"), 0..8),
        ) {
            let values: Vec<Option<&[u8]>> =
                items.iter().map(|i| i.as_deref().map(str::as_bytes)).collect();
            let mapped: Vec<Option<Vec<u8>>> =
                items.iter().map(|i| i.as_deref().map(|s| s.to_ascii_uppercase().into_bytes())).collect();
            let expected = array(25, &mapped.iter().map(|v| v.as_deref()).collect::<Vec<_>>());
            let input = array(25, &values);
            let got = map_items(Container::Array, &input, upper).unwrap();
            prop_assert_eq!(got.as_ref(), &expected[..]);
        }
    }
}
