//! A guard against parse trees so deep that pg_query's C code would overflow the stack.
//!
//! PostgreSQL's grammar builds left-deep trees for chains of binary operators (`a || a || ...`,
//! `1 + 1 + ...`), prefix operators (`- - - 1`) and joins, without any stack check. pg_query
//! then turns the tree into protobuf recursively in C: with 2 MiB of stack (a Rust or tokio
//! thread) a chain of a few hundred to a thousand operators crashes the process. Parentheses
//! alone are harmless (the grammar's own stack limit stops them with "memory exhausted").
//!
//! Before parsing, [`too_deep`] bounds the tree depth from the tokens and refuses statements
//! whose bound exceeds [`MAX_NESTING`]. The bound is conservative: every token counts as one
//! level, except that `,`, `AND`, `OR`, `WHEN`, `THEN`, `ELSE` start a sibling (they build flat
//! lists), and `(`/`[`/`CASE` open a group whose depth adds to the enclosing segment's. Real
//! trees deeper than about 50 levels are refused by pg_query's protobuf decoder anyway
//! (prost's recursion limit), so the bound only ever rejects text that could not have been
//! classified.

use pg_query::protobuf::Token;

/// The largest nesting bound accepted; see the module documentation.
pub(crate) const MAX_NESTING: usize = 256;

/// Text this short cannot nest deeper than [`MAX_NESTING`] (every level needs at least two
/// bytes: an operator and a space or operand), so it skips the token scan.
pub(crate) const SHORT_BYTES: usize = 2 * MAX_NESTING;

/// `Some(reason)` when `sql` may nest too deeply to hand to the parser.
pub(crate) fn too_deep(sql: &str) -> Option<String> {
    if sql.len() <= SHORT_BYTES {
        return None;
    }
    let scan = match pg_query::scan(sql) {
        Ok(s) => s,
        // The parser would fail on it too; let it say why.
        Err(_) => return None,
    };
    let bound = nesting_bound(scan.tokens.iter().map(|t| t.token));
    (bound > MAX_NESTING).then(|| {
        format!("statement nests too deeply to classify safely (bound {bound} > {MAX_NESTING})")
    })
}

#[derive(Default)]
struct Frame {
    /// Tokens in the current segment.
    cur: usize,
    /// Deepest child group in the current segment.
    child: usize,
    /// Deepest finished segment.
    best: usize,
}

impl Frame {
    fn close_segment(&mut self) {
        self.best = self.best.max(self.cur + self.child);
        self.cur = 0;
        self.child = 0;
    }

    fn depth(&mut self) -> usize {
        self.close_segment();
        // A group adds its own level plus up to two boolean levels (OR over AND).
        self.best + 3
    }
}

fn nesting_bound(tokens: impl Iterator<Item = i32>) -> usize {
    let mut stack = vec![Frame::default()];
    let mut overall = 0;
    for tok in tokens {
        let Ok(tok) = Token::try_from(tok) else {
            if let Some(top) = stack.last_mut() {
                top.cur += 1;
            }
            continue;
        };
        match tok {
            Token::Ascii40 | Token::Ascii91 | Token::Case => stack.push(Frame::default()),
            Token::Ascii41 | Token::Ascii93 | Token::EndP if stack.len() > 1 => {
                if let Some(mut f) = stack.pop() {
                    let d = f.depth();
                    if let Some(top) = stack.last_mut() {
                        top.child = top.child.max(d);
                        top.cur += 1;
                    }
                }
            }
            Token::Ascii44 | Token::And | Token::Or | Token::When | Token::Then | Token::Else => {
                if let Some(top) = stack.last_mut() {
                    top.close_segment();
                }
            }
            Token::Ascii59 => {
                // A new statement: unwind everything.
                while stack.len() > 1 {
                    if let Some(mut f) = stack.pop() {
                        let d = f.depth();
                        if let Some(top) = stack.last_mut() {
                            top.child = top.child.max(d);
                        }
                    }
                }
                if let Some(top) = stack.last_mut() {
                    overall = overall.max(top.depth());
                    *top = Frame::default();
                }
            }
            // Field selection builds flat lists; comments are not syntax.
            Token::Ascii46 | Token::SqlComment | Token::CComment => {}
            _ => {
                if let Some(top) = stack.last_mut() {
                    top.cur += 1;
                }
            }
        }
    }
    while let Some(mut f) = stack.pop() {
        let d = f.depth();
        match stack.last_mut() {
            Some(top) => top.child = top.child.max(d),
            None => overall = overall.max(d),
        }
    }
    overall
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound(sql: &str) -> usize {
        let scan = pg_query::scan(sql).unwrap();
        nesting_bound(scan.tokens.iter().map(|t| t.token))
    }

    #[test]
    fn flat_lists_stay_small() {
        let values: Vec<String> = (0..2000)
            .map(|i| format!("({i}, 'x', -{i}::int)"))
            .collect();
        let sql = format!("INSERT INTO t VALUES {}", values.join(", "));
        assert!(bound(&sql) < 40, "{}", bound(&sql));
        let ands: Vec<String> = (0..2000).map(|i| format!("c{i} = {i}")).collect();
        assert!(bound(&format!("SELECT 1 FROM t WHERE {}", ands.join(" AND "))) < 20);
        let whens: Vec<String> = (0..2000).map(|i| format!("WHEN {i} THEN 'x'")).collect();
        assert!(bound(&format!("SELECT CASE a {} END", whens.join(" "))) < 20);
    }

    #[test]
    fn chains_and_groups_are_counted() {
        let chain = vec!["a"; 300].join(" || ");
        assert!(bound(&format!("SELECT {chain}")) > 256);
        assert!(too_deep(&format!("SELECT {chain}")).is_some());
        let nested = format!("SELECT {}1{}", "(1 + ".repeat(100), ")".repeat(100));
        assert!(bound(&nested) > 256);
        assert!(too_deep("SELECT 1 + 1").is_none());
    }
}
