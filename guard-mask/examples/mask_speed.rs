//! Throughput of one `MaskStream` over the generated corpus, single-threaded.
//!
//! ```text
//! cargo run --release -p guard-mask --example mask_speed -- [dense|sparse] [MIB] [CHUNK_KIB] [ROUNDS]
//! ```
//!
//! `dense` is `testgen::generate` (a sensitive value or a look-alike every ~40 bytes: the
//! worst case); `sparse` is `testgen::generate_sparse` with one sensitive value per ~50
//! records (~4 KiB), `sparse:N` with one per N records. Prints MiB/s of the best round and checks the findings against the
//! labels first (`MASK_SPEED_DUMP=FILE` also writes the corpus there; `MASK_SPEED_INPUT=FILE`
//! masks that file instead, `MIB` ignored, nothing checked). Also handy under `valgrind --tool=callgrind --toggle-collect=*mask_rounds*`.

#[path = "../testgen/corpus.rs"]
mod corpus;

use guard_mask::Masker;

#[inline(never)]
fn mask_rounds(m: &Masker, data: &[u8], chunk: usize, rounds: usize) -> (usize, f64) {
    let mut s = m.stream();
    let mut out = Vec::with_capacity(chunk * 2 + 4096);
    let mut n = 0;
    let mut best = f64::MAX;
    for _ in 0..rounds {
        let t = std::time::Instant::now();
        for ch in data.chunks(chunk) {
            s.push(ch, &mut out);
            n += out.len();
            out.clear();
        }
        s.finish(&mut out);
        n += out.len();
        out.clear();
        best = best.min(t.elapsed().as_secs_f64());
    }
    (n, best)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let kind = args.next().unwrap_or_else(|| "dense".into());
    let mib: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(16);
    let kib: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    if let Ok(path) = std::env::var("MASK_SPEED_INPUT") {
        // Any input instead of the generated corpus (no labels to check): two builds of the
        // masker compared on the same bytes.
        let data = std::fs::read(&path).expect("read MASK_SPEED_INPUT");
        let m = Masker::builder().build().expect("default catalog compiles");
        let (n, secs) = mask_rounds(&m, &data, kib * 1024, rounds);
        println!(
            "{path} {kib}KiB: {:.1} MiB/s (best of {rounds}, {n} bytes out)",
            data.len() as f64 / secs / (1 << 20) as f64
        );
        return;
    }
    let c = match kind.split_once(':') {
        Some(("sparse", every)) => {
            let every = every
                .parse()
                .expect("sparse:N, N records per sensitive value");
            corpus::generate_sparse(0x6d61_736b, mib << 20, every)
        }
        _ if kind == "sparse" => corpus::generate_sparse(0x6d61_736b, mib << 20, 50),
        _ => corpus::generate(0x6d61_736b, mib << 20),
    };
    if let Ok(path) = std::env::var("MASK_SPEED_DUMP") {
        std::fs::write(path, &c.data).expect("write the corpus");
    }
    let m = Masker::builder().build().expect("default catalog compiles");
    let found = m.find(&c.data);
    let got: Vec<(usize, usize, &str)> = found
        .iter()
        .map(|f| (f.start, f.end, &*f.detector))
        .collect();
    let want: std::collections::HashSet<(usize, usize, &str)> = c
        .labels
        .iter()
        .map(|l| (l.start, l.end, l.detector))
        .collect();
    let exact = got.iter().filter(|g| want.contains(g)).count();
    if std::env::var_os("MASK_SPEED_MISSES").is_some() {
        let text = |s: usize, e: usize| {
            String::from_utf8_lossy(&c.data[s.saturating_sub(20)..(e + 20).min(c.data.len())])
                .into_owned()
        };
        for g in got.iter().filter(|g| !want.contains(g)).take(10) {
            eprintln!("unlabelled finding {g:?}: {:?}", text(g.0, g.1));
        }
        let got: std::collections::HashSet<_> = got.iter().collect();
        for w in want.iter().filter(|w| !got.contains(w)).take(10) {
            eprintln!("missed label {w:?}: {:?}", text(w.0, w.1));
        }
    }
    eprintln!(
        "{kind}: {} bytes, {} labels, {} findings, {} exact",
        c.data.len(),
        want.len(),
        got.len(),
        exact
    );
    let (n, secs) = mask_rounds(&m, &c.data, kib * 1024, rounds);
    println!(
        "{kind} {kib}KiB: {:.1} MiB/s (best of {rounds}, {n} bytes out)",
        c.data.len() as f64 / secs / (1 << 20) as f64
    );
}
