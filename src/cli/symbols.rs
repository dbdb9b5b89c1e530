//! `tickflow symbols`: turn Binance's exchangeInfo into the symbol table data file.

use crate::exchange::SymbolTable;
use anyhow::Context;
use clap::Args;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `tickflow symbols`.
#[derive(Debug, Args)]
#[command(after_help = "Example (on a machine with internet access):\n  \
    curl -s https://api.binance.com/api/v3/exchangeInfo > exchangeInfo.json\n  \
    tickflow symbols --from exchangeInfo.json > connectors/binance-symbols.csv")]
pub struct SymbolsArgs {
    /// The body of `GET /api/v3/exchangeInfo` (`-` for stdin).
    #[arg(long, value_name = "FILE")]
    from: PathBuf,
}

/// Prints the CSV table on stdout.
pub fn run(args: &SymbolsArgs) -> anyhow::Result<ExitCode> {
    let mut json = String::new();
    if args.from.as_os_str() == "-" {
        std::io::stdin()
            .read_to_string(&mut json)
            .context("reading stdin")?;
    } else {
        json = std::fs::read_to_string(&args.from)
            .with_context(|| format!("reading {}", args.from.display()))?;
    }
    let table = SymbolTable::from_exchange_info(&json)?;
    std::io::stdout().write_all(table.to_csv().as_bytes())?;
    eprintln!("tickflow symbols: {} symbols", table.len());
    Ok(ExitCode::SUCCESS)
}
