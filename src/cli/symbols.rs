//! `tickflow symbols`: turn Binance's exchangeInfo into the symbol table data file.

use crate::exchange::SymbolTable;
use anyhow::Context;
use clap::Args;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// One-line summary for `tickflow --help`.
pub(super) const ABOUT: &str = "Build the Binance symbol table from an exchangeInfo JSON document";

/// Full description for `tickflow symbols --help`.
pub(super) const LONG_ABOUT: &str = "Reads the body of Binance's GET /api/v3/exchangeInfo and \
prints the symbol table tickflow maps Binance symbols with (CSV: symbol,base,quote,status), \
since Binance symbols have no separator and are never split by guessing. It reads through the \
same listing decoder as the rest of tickflow: a symbol it cannot take (non-ASCII, as Binance \
lists some since 2025-12, or an unknown status) is skipped and named on stderr with its reason, \
the rest is written. The bundled table is \
connectors/binance-symbols.csv; `tickflow gather --binance-symbols FILE` and `tickflow \
normalize --binance-symbols FILE` use another one.";

/// Examples and exit codes for `tickflow symbols --help`.
pub(super) const AFTER_HELP: &str = concat!(
    "Example (on a machine with internet access):\n  \
    curl -s https://api.binance.com/api/v3/exchangeInfo > exchangeInfo.json\n  \
    tickflow symbols --from exchangeInfo.json > connectors/binance-symbols.csv",
    "\n\nExit codes: 0 written (skipped rows named on stderr), 2 unreadable input or no symbol taken."
);

/// Arguments of `tickflow symbols`.
#[derive(Debug, Args)]
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
    let (table, skipped) = SymbolTable::from_exchange_info(&json)?;
    std::io::stdout().write_all(table.to_csv().as_bytes())?;
    for row in &skipped {
        // Venue text, escaped: no control characters reach the terminal or a log.
        eprintln!(
            "tickflow symbols: skipped {}: {}: {}",
            row.native_symbol.escape_debug(),
            row.problem.as_str(),
            row.detail.escape_debug()
        );
    }
    eprintln!(
        "tickflow symbols: {} symbols, {} rows skipped",
        table.len(),
        skipped.len()
    );
    Ok(ExitCode::SUCCESS)
}
