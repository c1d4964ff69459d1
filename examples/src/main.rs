//! `guard-gateway`: the reference guard gateway.
//!
//! A thin clap dispatcher; the gateway itself is the `guard_gateway` library (see DESIGN.md).
//!
//! ```sh
//! guard-gateway demo                          # throwaway PostgreSQL + gateway, prints URLs
//! psql "$AGENT_URL" -c 'SELECT * FROM customers'   # masked; DELETE without WHERE is refused
//! guard-gateway run --config examples/gateway.toml
//! psql "postgresql://alice:PASSWORD@127.0.0.1:6432/app"            # a static user (SCRAM)
//! psql "postgresql://me:$(get-my-oidc-token)@127.0.0.1:6432/app?sslmode=require"  # OIDC
//! guard-gateway approvals approve 7 --api http://127.0.0.1:8081 --token "$MY_TOKEN"
//! ```

use clap::Parser;

mod cmd_check;
mod cmd_mask;
mod cmd_record;

/// The reference guard gateway.
#[derive(Debug, Parser)]
#[command(name = "guard-gateway", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Subcommands.
#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Validate a policy document or a whole gateway configuration (and print a summary).
    Check(cmd_check::CheckArgs),
    /// `verify` and `replay` (session recordings).
    #[command(flatten)]
    Record(cmd_record::RecordCommand),
    /// Mask standard input to standard output (or report findings with --findings).
    Mask(cmd_mask::MaskArgs),
    /// Run the gateway from a configuration file (SIGHUP reloads it).
    Run(guard_gateway::cli::RunArgs),
    /// Start a throwaway PostgreSQL with PII and a gateway in front of it.
    Demo(guard_gateway::cli::DemoArgs),
    /// List, approve or deny held statements and grant requests (admin API).
    Approvals(guard_gateway::cli::ApprovalsArgs),
    /// List, request or revoke just-in-time grants (admin API).
    Grants(guard_gateway::cli::GrantsArgs),
    /// Print a SCRAM-SHA-256 secret for a static user's password read from stdin.
    HashPassword(guard_gateway::cli::HashPasswordArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => cmd_check::run(&args),
        Command::Record(cmd) => cmd_record::run(cmd),
        Command::Mask(args) => cmd_mask::run(args),
        Command::Run(args) => guard_gateway::cli::run(args),
        Command::Demo(args) => guard_gateway::cli::demo(args),
        Command::Approvals(args) => guard_gateway::cli::approvals(args),
        Command::Grants(args) => guard_gateway::cli::grants(args),
        Command::HashPassword(args) => guard_gateway::cli::hash_password(args),
    }
}
