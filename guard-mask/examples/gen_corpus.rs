//! Writes the labelled synthetic corpus (testgen/corpus.rs) to files.
//!
//! ```text
//! cargo run --release -p guard-mask --example gen_corpus -- OUT_DIR [MEGABYTES] [SEED] [dense|sparse]
//! ```
//!
//! `dense` (the default) is the worst case, a sensitive value or look-alike every ~40 bytes;
//! `sparse` has one sensitive value per ~50 records (`generate_sparse`).
//!
//! Produces `OUT_DIR/corpus.txt`, `OUT_DIR/labels.tsv` (`start<TAB>end<TAB>detector`, byte
//! offsets, end exclusive) and `OUT_DIR/patterns.tsv` (`id<TAB>detector<TAB>regex`: the
//! built-in detectors' regexes without validators, for engines such as Hyperscan).

#[path = "../testgen/corpus.rs"]
mod corpus;

use std::io::Write;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().unwrap_or_else(|| ".".into()));
    let mb: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let seed: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(0x6d61_736b);
    let sparse = args.next().is_some_and(|k| k == "sparse");
    std::fs::create_dir_all(&dir)?;
    let c = if sparse {
        corpus::generate_sparse(seed, mb * 1024 * 1024, 50)
    } else {
        corpus::generate(seed, mb * 1024 * 1024)
    };
    std::fs::write(dir.join("corpus.txt"), &c.data)?;
    let mut l = std::io::BufWriter::new(std::fs::File::create(dir.join("labels.tsv"))?);
    for x in &c.labels {
        writeln!(l, "{}\t{}\t{}", x.start, x.end, x.detector)?;
    }
    l.flush()?;
    let mut p = std::io::BufWriter::new(std::fs::File::create(dir.join("patterns.tsv"))?);
    for (i, name) in guard_mask::builtin_names().enumerate() {
        let re = guard_mask::builtin_regex(name)
            .unwrap_or_default()
            .replace("(?P<v>", "(");
        writeln!(p, "{i}\t{name}\t{re}")?;
    }
    p.flush()?;
    eprintln!(
        "{} bytes, {} labels -> {}",
        c.data.len(),
        c.labels.len(),
        dir.display()
    );
    Ok(())
}
