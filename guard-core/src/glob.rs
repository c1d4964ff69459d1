//! A small wildcard matcher for data that is matched without compiling (grant selectors).

/// Whether `text` matches `pattern`, where `*` matches any run of characters and `?` one
/// character. Linear time in practice (greedy with one backtrack point), no allocation.
pub(crate) fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: &[u8] = pattern.as_bytes();
    let (mut pi, mut ti) = (0usize, 0usize);
    let text_b = text.as_bytes();
    let mut star: Option<(usize, usize)> = None;
    while ti < text_b.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && (p[pi] == text_b[ti] || p[pi] == b'?') {
            if p[pi] == b'?' {
                // `?` is one character, not one byte.
                ti += utf8_len(text_b[ti]);
            } else {
                ti += 1;
            }
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            let next = st + utf8_len(text_b[st]);
            star = Some((sp, next));
            ti = next;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len() && ti == text_b.len()
}

fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::wildcard_match as m;

    #[test]
    fn wildcards() {
        assert!(m("*", ""));
        assert!(m("*", "abc"));
        assert!(m("a*c", "abbbc"));
        assert!(m("a?c", "abc"));
        assert!(m("a?c", "aéc"));
        assert!(!m("a?c", "ac"));
        assert!(m("*-prod", "payments-prod"));
        assert!(!m("*-prod", "payments-dev"));
        assert!(m("a*b*c", "axxbyyc"));
        assert!(!m("a*b*c", "axxbyy"));
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(!m("abc", "ab"));
    }
}
