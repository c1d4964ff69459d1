//! Arbitrary policy document text never panics the compiler, in any format; a policy that
//! compiles decides a fixed request without panicking, and its explanation names only rules
//! that matched.
//!
//! Input: the first byte picks the format (0 TOML, 1 YAML, 2 JSON, modulo 3); the rest is the
//! document (lossy UTF-8).
#![no_main]

use guard_core::{
    AuthMethod, FactDef, FactType, Facts, Format, Identity, Policy, Request, Resource, Timestamp,
};
use libfuzzer_sys::{Corpus, fuzz_target};

static SCHEMA: &[FactDef] = &[
    FactDef::new("sql.statement", FactType::Str, "statement kind"),
    FactDef::new("sql.effect", FactType::Str, "effect"),
    FactDef::names("sql.tables.write", FactType::List, "tables written"),
    FactDef::new("sql.unbounded", FactType::Bool, "no WHERE"),
    FactDef::new("sql.rows", FactType::Int, "rows"),
];

fuzz_target!(|data: &[u8]| -> Corpus {
    let Some((&first, rest)) = data.split_first() else {
        return Corpus::Reject;
    };
    if rest.len() > 64 * 1024 {
        return Corpus::Reject;
    }
    let format = match first % 3 {
        0 => Format::Toml,
        1 => Format::Yaml,
        _ => Format::Json,
    };
    let text = String::from_utf8_lossy(rest);
    let Ok(policy) = Policy::builder()
        .fact_schema(SCHEMA)
        .format(format)
        .build(&text)
    else {
        return Corpus::Keep;
    };
    let id = Identity::new("alice", AuthMethod::Trust).with_groups(["dev"]);
    let db = Resource::new("db", "postgres").with_label("env", "prod");
    let mut facts = Facts::new();
    facts.insert("sql.statement", "delete");
    facts.insert("sql.effect", "write");
    facts.insert("sql.tables.write", vec!["public.users".to_owned()]);
    facts.insert("sql.unbounded", true);
    facts.insert("sql.rows", 7i64);
    let d = policy.evaluate(&Request::new(
        &id,
        &db,
        &facts,
        Timestamp::from_unix_secs(1 << 30),
    ));
    assert!(d.rules.iter().all(|r| d.matched.contains(r)), "{d:?}");
    assert_eq!(d.defaulted, d.rules.is_empty(), "{d:?}");
    Corpus::Keep
});
