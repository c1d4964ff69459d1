//! The scan's block test: for 64 bytes at a time, which bytes may trigger anything in the
//! built-in catalog and which are ASCII digits, as bit masks (bit `k` is byte `k`).
//!
//! The trigger set is the one `engine::swar_candidates` marks (`0x24..=0x4b`, `_` and `~`; no
//! non-ASCII byte). On x86-64 the test runs on SSE2 (part of the baseline, through the safe
//! wrappers of `safe_arch`: this workspace forbids `unsafe`), sixteen bytes per instruction;
//! elsewhere it runs the word-at-a-time test on eight bytes at a time. Both give the same
//! masks (a unit test and a proptest compare them byte by byte). Custom detectors' first bytes
//! outside that set (up to [`MAX_EXTRA`]) are marked by `classify_extra`, one equality test
//! each.

/// Bytes per block.
pub(crate) const BLOCK: usize = 64;

/// `(candidates, digits)` of the 64 bytes of `b`.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
pub(crate) fn classify(b: &[u8; BLOCK]) -> (u64, u64) {
    use safe_arch::{
        bitor_m128i, cmp_eq_mask_i8_m128i, load_unaligned_m128i, min_u8_m128i, move_mask_i8_m128i,
        set_splat_i8_m128i, sub_i8_m128i,
    };
    // `(x - lo) min span == x - lo` (bytewise, wrapping) holds exactly for lo <= x <= lo + span.
    let lo = set_splat_i8_m128i(0x24);
    let span = set_splat_i8_m128i(0x4b - 0x24);
    let underscore = set_splat_i8_m128i(b'_' as i8);
    let tilde = set_splat_i8_m128i(b'~' as i8);
    let zero = set_splat_i8_m128i(b'0' as i8);
    let nine = set_splat_i8_m128i(9);
    let mut cand = 0u64;
    let mut digits = 0u64;
    for (k, chunk) in b.as_chunks::<16>().0.iter().enumerate() {
        let v = load_unaligned_m128i(chunk);
        let t = sub_i8_m128i(v, lo);
        let range = cmp_eq_mask_i8_m128i(min_u8_m128i(t, span), t);
        let us = cmp_eq_mask_i8_m128i(v, underscore);
        let tl = cmp_eq_mask_i8_m128i(v, tilde);
        let c = move_mask_i8_m128i(bitor_m128i(range, bitor_m128i(us, tl)));
        let d = sub_i8_m128i(v, zero);
        let dm = move_mask_i8_m128i(cmp_eq_mask_i8_m128i(min_u8_m128i(d, nine), d));
        // move_mask sets only the low 16 bits.
        cand |= u64::from(c as u16) << (16 * k);
        digits |= u64::from(dm as u16) << (16 * k);
    }
    (cand, digits)
}

/// The most byte values outside the built-in trigger set (custom detectors' first bytes) that
/// the block test also marks; with more, the scan goes byte by byte.
pub(crate) const MAX_EXTRA: usize = 8;

/// Marks the bytes of `b` equal to one of `extra` (at most [`MAX_EXTRA`]).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
pub(crate) fn classify_extra(b: &[u8; BLOCK], extra: &[u8]) -> u64 {
    use safe_arch::{
        bitor_m128i, cmp_eq_mask_i8_m128i, load_unaligned_m128i, move_mask_i8_m128i,
        set_splat_i8_m128i, zeroed_m128i,
    };
    let mut m = 0u64;
    for (k, chunk) in b.as_chunks::<16>().0.iter().enumerate() {
        let v = load_unaligned_m128i(chunk);
        let mut acc = zeroed_m128i();
        for &e in extra {
            acc = bitor_m128i(acc, cmp_eq_mask_i8_m128i(v, set_splat_i8_m128i(e as i8)));
        }
        m |= u64::from(move_mask_i8_m128i(acc) as u16) << (16 * k);
    }
    m
}

/// Marks the bytes of `b` equal to one of `extra` (portable: eight bytes at a time).
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline(always)]
pub(crate) fn classify_extra(b: &[u8; BLOCK], extra: &[u8]) -> u64 {
    classify_extra_words(b, extra)
}

/// The word-at-a-time form of `classify_extra`.
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
#[inline(always)]
pub(crate) fn classify_extra_words(b: &[u8; BLOCK], extra: &[u8]) -> u64 {
    const LO: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let mut m = 0u64;
    for (k, w) in b.as_chunks::<8>().0.iter().enumerate() {
        let x = u64::from_le_bytes(*w);
        let mut hit = 0u64;
        for &e in extra {
            // A byte of `y` is zero exactly where `x` holds `e`; `(y & 0x7f) + 0x7f` sets the
            // high bit of every byte with any of its low seven bits set, without carries
            // between bytes, and `| y` adds those whose high bit is set.
            let y = x ^ (LO * u64::from(e));
            hit |= !(((y & LOW7) + LOW7) | y) & !LOW7;
        }
        m |= high_bits(hit) << (8 * k);
    }
    m
}

/// `(candidates, digits)` of the 64 bytes of `b` (portable: eight bytes at a time).
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline(always)]
pub(crate) fn classify(b: &[u8; BLOCK]) -> (u64, u64) {
    classify_words(b)
}

/// The word-at-a-time form of `classify` (the portable path, and the reference the SSE2
/// path is tested against).
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
#[inline(always)]
pub(crate) fn classify_words(b: &[u8; BLOCK]) -> (u64, u64) {
    use crate::engine::{swar_candidates, swar_digits};
    let mut cand = 0u64;
    let mut digits = 0u64;
    for (k, w) in b.as_chunks::<8>().0.iter().enumerate() {
        let x = u64::from_le_bytes(*w);
        cand |= high_bits(swar_candidates(x)) << (8 * k);
        digits |= high_bits(swar_digits(x)) << (8 * k);
    }
    (cand, digits)
}

/// Gathers the high bit of each byte of `m` (the only bits set) into the low eight bits: the
/// multiplier moves byte `j`'s bit to bit `56 + j`, and no two partial products overlap.
#[inline(always)]
fn high_bits(m: u64) -> u64 {
    ((m >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
}

#[cfg(test)]
mod tests {
    use super::{BLOCK, classify, classify_extra, classify_extra_words, classify_words, high_bits};
    use crate::engine::{swar_candidates, swar_digits};
    use proptest::prelude::*;

    fn naive(b: &[u8; BLOCK]) -> (u64, u64) {
        let mut c = 0;
        let mut d = 0;
        for (k, &x) in b.iter().enumerate() {
            if swar_candidates(u64::from(x)) & 0x80 != 0 {
                c |= 1 << k;
            }
            if swar_digits(u64::from(x)) & 0x80 != 0 {
                d |= 1 << k;
            }
        }
        (c, d)
    }

    #[test]
    fn high_bits_gathers_each_byte() {
        for m in 0u64..256 {
            let mut x = 0u64;
            for j in 0..8 {
                if m >> j & 1 != 0 {
                    x |= 0x80 << (8 * j);
                }
            }
            assert_eq!(high_bits(x), m);
        }
    }

    #[test]
    fn every_byte_value_in_every_lane() {
        for v in 0..=255u8 {
            for lane in 0..BLOCK {
                let mut b = [b'x'; BLOCK];
                b[lane] = v;
                assert_eq!(classify(&b), naive(&b), "byte {v:#x} at {lane}");
                assert_eq!(classify_words(&b), naive(&b), "byte {v:#x} at {lane}");
            }
        }
    }

    #[test]
    fn extra_bytes_in_every_lane() {
        let extra = [b'#', b'~', 0x00, 0xff, b'a'];
        for v in 0..=255u8 {
            for lane in [0, 7, 8, 15, 16, 31, 63] {
                let mut b = [b'x'; BLOCK];
                b[lane] = v;
                let want = if extra.contains(&v) { 1u64 << lane } else { 0 };
                assert_eq!(classify_extra(&b, &extra), want, "byte {v:#x} at {lane}");
                assert_eq!(
                    classify_extra_words(&b, &extra),
                    want,
                    "byte {v:#x} at {lane}"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn extra_paths_agree(
            v in proptest::collection::vec(any::<u8>(), BLOCK),
            extra in proptest::collection::vec(any::<u8>(), 0..=super::MAX_EXTRA),
        ) {
            let b: [u8; BLOCK] = v.try_into().unwrap();
            let mut want = 0u64;
            for (k, x) in b.iter().enumerate() {
                if extra.contains(x) {
                    want |= 1 << k;
                }
            }
            prop_assert_eq!(classify_extra(&b, &extra), want);
            prop_assert_eq!(classify_extra_words(&b, &extra), want);
        }
    }

    proptest! {
        #[test]
        fn both_paths_agree_with_the_byte_test(v in proptest::collection::vec(any::<u8>(), BLOCK)) {
            let b: [u8; BLOCK] = v.try_into().unwrap();
            prop_assert_eq!(classify(&b), naive(&b));
            prop_assert_eq!(classify_words(&b), naive(&b));
        }
    }
}
