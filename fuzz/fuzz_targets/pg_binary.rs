#![no_main]
//! Binary array and record values (`guard_sql::pg::binary::map_items`) on arbitrary bytes: it
//! never panics; a value it walks, written again with every item changed, walks again with
//! the same number of items.
use std::borrow::Cow;

use guard_sql::pg::binary::{Container, map_items};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let container = if selector & 1 == 0 {
        Container::Array
    } else {
        Container::Record
    };
    let mut seen = 0usize;
    let Some(out) = map_items(container, bytes, |_, item| {
        seen += 1;
        Some(Cow::Owned([item, b"+"].concat()))
    }) else {
        return;
    };
    let mut again = 0usize;
    let back = map_items(container, &out, |_, item| {
        again += 1;
        Some(Cow::Borrowed(item))
    });
    assert!(back.is_some(), "a value written again must walk");
    assert_eq!(seen, again);
});
