//! `tickflow symbols`: turn a venue's listing document into its reference data file (Binance's
//! exchangeInfo into its symbol table), through the venue's own listing decoder.

use crate::exchange::reference::{ReferenceSpec, spec_of};
use crate::model::Exchange;
use anyhow::Context;
use clap::Args;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// One-line summary for `tickflow --help`.
pub(super) const ABOUT: &str =
    "Build a venue's reference data file (its symbol table) from its listing document";

/// The venues that keep reference data, with their specs.
fn keeping() -> Vec<(Exchange, &'static ReferenceSpec)> {
    Exchange::ALL
        .into_iter()
        .filter_map(|e| spec_of(e).map(|s| (e, s)))
        .collect()
}

/// Full description for `tickflow symbols --help`.
pub(super) fn long_about() -> String {
    let sources: Vec<&str> = keeping().iter().map(|(_, s)| s.source).collect();
    format!(
        "Reads the body of a venue's listing document and prints the reference data tickflow \
names its markets with, for venues whose symbols do not spell the instrument. It reads through \
the same listing decoder as the rest of tickflow: a row it cannot take is skipped and named on \
stderr with its reason, the rest is written. The shipped copy is compiled in; `tickflow gather \
--reference EXCHANGE=FILE`, `normalize` and `simulate` take another one. What each venue \
reads: {}.",
        sources.join("; ")
    )
}

/// Examples and exit codes for `tickflow symbols --help`.
pub(super) fn after_help() -> String {
    let example = keeping().first().map_or_else(String::new, |(e, s)| {
        let name = e.lowercase();
        let url = crate::exchange::profile_for(*e, None)
            .and_then(|p| p.listing)
            .map_or("", |l| l.url);
        format!(
            "Example (on a machine with internet access):\n  \
             curl -s {url} > listing.json\n  \
             tickflow symbols --exchange {name} --from listing.json > {}\n\n",
            s.bundled_file
        )
    });
    format!(
        "{example}Exit codes: 0 written (skipped rows named on stderr), 2 unreadable input or \
         no row taken."
    )
}

/// Arguments of `tickflow symbols`.
#[derive(Debug, Args)]
pub struct SymbolsArgs {
    /// The venue (default: the only one that keeps reference data, while there is one).
    #[arg(long, value_parser = parse_keeping)]
    exchange: Option<Exchange>,
    /// The body of the venue's listing document (`-` for stdin).
    #[arg(long, value_name = "FILE")]
    from: PathBuf,
}

fn parse_keeping(name: &str) -> Result<Exchange, String> {
    let names: Vec<String> = keeping().iter().map(|(e, _)| e.lowercase()).collect();
    Exchange::parse(name)
        .filter(|e| spec_of(*e).is_some())
        .ok_or_else(|| {
            format!(
                "`{name}` keeps no reference data (venues that do: {})",
                names.join(", ")
            )
        })
}

/// Prints the venue's reference data file on stdout.
pub fn run(args: &SymbolsArgs) -> anyhow::Result<ExitCode> {
    let all = keeping();
    let (exchange, spec) = match args.exchange {
        Some(e) => all
            .iter()
            .copied()
            .find(|(x, _)| *x == e)
            .context("no reference data")?,
        None => match all.as_slice() {
            [only] => *only,
            _ => anyhow::bail!("name the venue with --exchange"),
        },
    };
    let decode = crate::exchange::profile_for(exchange, None)
        .and_then(|p| p.listing)
        .with_context(|| format!("{exchange} has no listing"))?
        .decode;
    let mut body = Vec::new();
    if args.from.as_os_str() == "-" {
        std::io::stdin()
            .read_to_end(&mut body)
            .context("reading stdin")?;
    } else {
        body = std::fs::read(&args.from)
            .with_context(|| format!("reading {}", args.from.display()))?;
    }
    let listing = decode(&body, 0).map_err(|e| anyhow::anyhow!("not {exchange}'s listing: {e}"))?;
    let (data, problems) = (spec.from_listing)(&listing);
    if !problems.is_empty() {
        anyhow::bail!("invalid {}:\n  {}", spec.what, problems.join("\n  "));
    }
    if listing.records.is_empty() {
        anyhow::bail!(
            "no row of the listing taken ({} skipped)",
            listing.rejected.len()
        );
    }
    std::io::stdout().write_all((spec.to_file)(&data).as_bytes())?;
    for row in &listing.rejected {
        // Venue text, escaped: no control characters reach the terminal or a log.
        eprintln!(
            "tickflow symbols: skipped {}: {}: {}",
            row.native_symbol.escape_debug(),
            row.problem.as_str(),
            row.detail.escape_debug()
        );
    }
    eprintln!(
        "tickflow symbols: {} rows, {} rows skipped",
        listing.records.len(),
        listing.rejected.len()
    );
    Ok(ExitCode::SUCCESS)
}
