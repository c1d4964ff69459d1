//! Benchmarks for the guard crates (unpublished).
//!
//! Each library has one criterion file under `benches/`, run with
//! `cargo bench -p guard-benches --bench NAME`. Inputs live in `data/` (see its README), and
//! the side-by-side scripts that compare guard with other tools in one run live in `scripts/`.
