//! The text of server messages.

/// An error or notice message (`M`) with the values PostgreSQL's message style sets in it
/// redacted, for a caller that must not pass on values the statement read: everything from
/// the first double quote to the last (a value can hold quotes itself), unless the message
/// quotes exactly one thing and `named` says the statement wrote it (`relation "nosuch" does
/// not exist`); and every run of digits (numbers are not quoted: `requested character too
/// large for encoding: 123`).
pub fn scrub_message_values(message: &[u8], named: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let quotes = message.iter().filter(|b| **b == b'"').count();
    let quoted = match (
        message.iter().position(|b| *b == b'"'),
        message.iter().rposition(|b| *b == b'"'),
    ) {
        (Some(a), Some(b)) if a < b && !(quotes == 2 && named(&message[a + 1..b])) => Some((a, b)),
        _ => None,
    };
    let mut out = Vec::with_capacity(message.len());
    let mut i = 0;
    while i < message.len() {
        if let Some((a, b)) = quoted
            && i == a
        {
            out.extend_from_slice(b"\"[REDACTED]\"");
            i = b + 1;
        } else if quoted.is_none() && quotes == 2 && message[i] == b'"' {
            // The one name the statement wrote: as it is.
            let end = i
                + 1
                + message[i + 1..]
                    .iter()
                    .position(|b| *b == b'"')
                    .unwrap_or(0);
            out.extend_from_slice(&message[i..=end]);
            i = end + 1;
        } else if message[i].is_ascii_digit() {
            out.push(b'#');
            while i < message.len() && message[i].is_ascii_digit() {
                i += 1;
            }
        } else {
            out.push(message[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubbed_messages_keep_their_words_but_no_values() {
        let s = |m: &str| {
            String::from_utf8(scrub_message_values(m.as_bytes(), |n| n == b"t1")).unwrap()
        };
        assert_eq!(
            s(r#"invalid input syntax for type integer: "123-45-6789""#),
            r#"invalid input syntax for type integer: "[REDACTED]""#
        );
        // A value holding quotes itself: everything from the first quote to the last.
        assert_eq!(
            s(r#"value "a" is "b" out of range for type "integer""#),
            r#"value "[REDACTED]""#
        );
        assert_eq!(
            s("requested character too large for encoding: 234567890"),
            "requested character too large for encoding: #"
        );
        assert_eq!(
            s("date field value out of range: 1-12-01"),
            "date field value out of range: #-#-#"
        );
        assert_eq!(s("division by zero"), "division by zero");
        assert_eq!(s(r#"one " quote 42"#), r#"one " quote #"#);
        // The one name the statement wrote stays, digits and all; not among other quotes.
        assert_eq!(
            s(r#"relation "t1" does not exist"#),
            r#"relation "t1" does not exist"#
        );
        assert_eq!(
            s(r#"relation "t2" does not exist"#),
            r#"relation "[REDACTED]" does not exist"#
        );
        assert_eq!(s(r#"x "t1" y "t1""#), r#"x "[REDACTED]""#);
        assert_eq!(s(""), "");
    }

    proptest::proptest! {
        /// Whatever a quoted value holds (quotes, digits), a message keeps its words and
        /// loses the value; no digit survives scrubbing.
        #[test]
        fn scrubbed_messages_keep_no_value(
            prefix in "[a-z :]{0,20}",
            value in "\\PC{0,20}",
            suffix in "[a-z :]{0,20}",
            junk in proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..64),
        ) {
            let msg = format!("{prefix}\"{value}\"{suffix}");
            let out = scrub_message_values(msg.as_bytes(), |_| false);
            proptest::prop_assert_eq!(out, format!("{prefix}\"[REDACTED]\"{suffix}").into_bytes());
            let out = scrub_message_values(&junk, |_| false);
            proptest::prop_assert!(!out.iter().any(u8::is_ascii_digit));
        }
    }
}
