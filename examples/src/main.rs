//! `guard-gateway`: the reference guard gateway.
//!
//! Subcommands land with their issues; see `guard-gateway --help`.

use clap::Parser;

/// The reference guard gateway.
#[derive(Debug, Parser)]
#[command(name = "guard-gateway", version, about)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    Ok(())
}
