#![no_main]
//! Arbitrary text -> classification never panics; the same text classified twice through the
//! cache and once without it gives the same answer, in both dialects; a session resolving the
//! text does not panic either; `plain_set` agrees with the classification.
use guard_sql::Session;
use guard_sql::classify::{Classifier, Dialect};
use libfuzzer_sys::{Corpus, fuzz_target};
use std::sync::OnceLock;

fn classifiers() -> &'static [Classifier; 2] {
    static C: OnceLock<[Classifier; 2]> = OnceLock::new();
    C.get_or_init(|| {
        [
            Classifier::new(),
            Classifier::builder().dialect(Dialect::MySql).build(),
        ]
    })
}

fuzz_target!(|data: &[u8]| -> Corpus {
    if data.len() > 16 * 1024 {
        return Corpus::Reject;
    }
    let Ok(sql) = std::str::from_utf8(data) else {
        return Corpus::Reject;
    };
    for cl in classifiers() {
        let uncached = cl.classify_uncached(sql);
        let first = cl.classify(sql);
        let second = cl.classify(sql);
        assert_eq!(*first, uncached);
        assert_eq!(*second, uncached);
        let _ = uncached.facts();
        let mut session = Session::new();
        let _ = session.classify_query(cl, sql);
        let _ = session.classify_query(cl, sql);
    }
    // A plain SET is one that classifies as exactly one SET of that setting.
    if let Some(set) = guard_sql::classify::plain_set(sql) {
        let c = classifiers()[0].classify_uncached(sql);
        assert_eq!(c.statements.len(), 1);
        assert!(c.statements[0].settings.contains(&set.name), "{sql:?}");
    }
    Corpus::Keep
});
