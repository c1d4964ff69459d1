//! Recall and precision per detector on a generated, labelled corpus (testgen/corpus.rs).
//!
//! A finding counts as a true positive only when its span and detector equal a label's
//! exactly; anything else is a false positive for its detector, and every label without an
//! exact finding is a false negative for the label's detector.

#[path = "../testgen/corpus.rs"]
mod corpus;

use std::collections::BTreeMap;

use guard_mask::Masker;

#[derive(Default, Clone, Copy)]
struct Counts {
    tp: usize,
    fp: usize,
    fn_: usize,
}

impl Counts {
    fn recall(&self) -> f64 {
        self.tp as f64 / (self.tp + self.fn_).max(1) as f64
    }
    fn precision(&self) -> f64 {
        self.tp as f64 / (self.tp + self.fp).max(1) as f64
    }
}

#[test]
fn recall_and_precision() {
    let c = corpus::generate(0x6d61_736b, 1_500_000);
    let m = Masker::builder().build().unwrap();
    // Chunked like a proxy would see it; the result must equal the whole-input answer.
    let mut s = m.stream();
    let mut found = Vec::new();
    for chunk in c.data.chunks(16 * 1024 + 7) {
        s.push_findings(chunk, &mut found);
    }
    s.finish_findings(&mut found);
    assert_eq!(found, m.find(&c.data));

    let mut per: BTreeMap<String, Counts> = BTreeMap::new();
    let labels: std::collections::HashSet<(usize, usize, &str)> = c
        .labels
        .iter()
        .map(|l| (l.start, l.end, l.detector))
        .collect();
    let mut hit = std::collections::HashSet::new();
    let mut fps = Vec::new();
    for f in &found {
        let key = (f.start, f.end, &*f.detector);
        if labels.contains(&key) {
            per.entry(f.detector.to_string()).or_default().tp += 1;
            hit.insert((f.start, f.end));
        } else {
            per.entry(f.detector.to_string()).or_default().fp += 1;
            if fps.len() < 15 {
                let lo = f.start.saturating_sub(30);
                let hi = (f.end + 10).min(c.data.len());
                fps.push(format!(
                    "{}: {:?}",
                    f.detector,
                    String::from_utf8_lossy(&c.data[lo..hi])
                ));
            }
        }
    }
    let mut fns = Vec::new();
    for l in &c.labels {
        if !hit.contains(&(l.start, l.end)) {
            per.entry(l.detector.to_string()).or_default().fn_ += 1;
            if fns.len() < 15 {
                let lo = l.start.saturating_sub(30);
                let hi = (l.end + 10).min(c.data.len());
                fns.push(format!(
                    "{}: {:?}",
                    l.detector,
                    String::from_utf8_lossy(&c.data[lo..hi])
                ));
            }
        }
    }
    let mut total = Counts::default();
    println!(
        "{:<22} {:>6} {:>5} {:>5} {:>8} {:>9}",
        "detector", "tp", "fp", "fn", "recall", "precision"
    );
    for (d, k) in &per {
        println!(
            "{d:<22} {:>6} {:>5} {:>5} {:>8.4} {:>9.4}",
            k.tp,
            k.fp,
            k.fn_,
            k.recall(),
            k.precision()
        );
        total.tp += k.tp;
        total.fp += k.fp;
        total.fn_ += k.fn_;
    }
    println!(
        "{:<22} {:>6} {:>5} {:>5} {:>8.4} {:>9.4}",
        "TOTAL",
        total.tp,
        total.fp,
        total.fn_,
        total.recall(),
        total.precision()
    );
    println!("corpus: {} bytes, {} labels", c.data.len(), c.labels.len());
    for x in &fps {
        println!("FP {x}");
    }
    for x in &fns {
        println!("FN {x}");
    }
    assert!(
        total.recall() >= 0.99 && total.precision() >= 0.99,
        "overall below 0.99"
    );
    // Every detector is exercised and none is below 0.97 on either measure.
    for (d, k) in &per {
        assert!(k.tp > 0, "{d} never found");
        assert!(
            k.recall() >= 0.97 && k.precision() >= 0.97,
            "{d} below 0.97"
        );
    }
}

/// The low-density corpus (one sensitive value per ~50 records, as in most result sets):
/// the look-alikes around the values must not turn into findings either.
#[test]
fn recall_and_precision_low_density() {
    let c = corpus::generate_sparse(0x6d61_736b, 3_000_000, 50);
    let m = Masker::builder().build().unwrap();
    let mut s = m.stream();
    let mut found = Vec::new();
    for chunk in c.data.chunks(64 * 1024 - 3) {
        s.push_findings(chunk, &mut found);
    }
    s.finish_findings(&mut found);
    assert_eq!(found, m.find(&c.data));
    let labels: std::collections::HashSet<(usize, usize, &str)> = c
        .labels
        .iter()
        .map(|l| (l.start, l.end, l.detector))
        .collect();
    let tp = found
        .iter()
        .filter(|f| labels.contains(&(f.start, f.end, &*f.detector)))
        .count();
    let k = Counts {
        tp,
        fp: found.len() - tp,
        fn_: labels.len() - tp,
    };
    println!(
        "low density: {} bytes, {} labels, {} findings, recall {:.4}, precision {:.4}",
        c.data.len(),
        labels.len(),
        found.len(),
        k.recall(),
        k.precision()
    );
    assert!(labels.len() > 300, "the corpus has values");
    assert!(
        k.recall() >= 0.99 && k.precision() >= 0.99,
        "low density below 0.99"
    );
}
