#![no_main]
//! Arbitrary `options` / `replication` startup values never panic; what parses re-encodes to
//! an `options` value that parses back to the same settings (what the gateway decides is what
//! the server gets), and its facts always carry `sql.statement = startup`.
use guard_core::FactValue;
use guard_sql::startup::{StartupRequest, parse_options};
use libfuzzer_sys::{Corpus, fuzz_target};

fuzz_target!(|data: &[u8]| -> Corpus {
    if data.len() > 10_000 {
        return Corpus::Reject;
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return Corpus::Reject;
    };
    // The first line is the replication value, the rest the options.
    let (replication, options) = text.split_once('\n').unwrap_or(("off", text));
    let Ok(req) =
        StartupRequest::from_params([("replication", replication), ("options", options)])
    else {
        return Corpus::Keep;
    };
    let again = parse_options(&req.encode_options()).expect("encoded options parse");
    assert_eq!(again, req.settings);
    if !req.is_plain() {
        let facts = req.facts();
        assert_eq!(facts.get("sql.statement"), Some(&FactValue::from("startup")));
        assert_eq!(
            facts.get("sql.replication").is_some(),
            req.replication.is_some()
        );
    }
    let _ = req.summary();
    Corpus::Keep
});
