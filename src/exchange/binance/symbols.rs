//! Native symbol → canonical instrument tables for exchanges whose symbols have no separator
//! (Binance `BTCUSDT`). Built from the exchange's own listing (`GET /api/v3/exchangeInfo`),
//! never by guessing where the quote asset starts.
//!
//! The table ships as `connectors/binance-symbols.csv` (compiled in as the default) and can be
//! refreshed with `tickflow symbols --exchange binance --from exchangeInfo.json >
//! connectors/binance-symbols.csv`. It is Binance's [`Reference`] data ([`REFERENCE`]):
//! generic code carries it without looking inside; this folder reads it.

use crate::exchange::reference::{Reference, ReferenceSpec};
use crate::model::Instrument;
use crate::model::listing::{Listing, RejectedRow};
use compact_str::CompactString;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, LazyLock};

/// The table compiled into the binary.
const BUNDLED_BINANCE: &str = include_str!("../../../connectors/binance-symbols.csv");

/// Binance's reference data: its symbol table.
pub static REFERENCE: ReferenceSpec = ReferenceSpec {
    what: "symbol table",
    bundled_file: "connectors/binance-symbols.csv",
    bundled: || {
        Ok(Reference::new(
            SymbolTable::bundled_binance().map_err(|e| e.to_string())?,
        ))
    },
    from_file: |text| {
        Ok(Reference::new(
            SymbolTable::from_csv(text).map_err(|e| e.to_string())?,
        ))
    },
    from_listing: |listing| {
        let (table, problems) = SymbolTable::from_listing(listing);
        (Reference::new(table), problems)
    },
    merged: |old, newer| Reference::new(of(old).merged(of(newer))),
    to_file: |data| of(data).to_csv(),
    source: "binance: the body of GET https://api.binance.com/api/v3/exchangeInfo (Binance \
symbols have no separator and are never split by guessing; a symbol the listing decoder cannot \
take, non-ASCII as Binance lists some since 2025-12 or an unknown status, is skipped and named \
on stderr with its reason)",
};

/// No symbols: what a Binance function reads when handed no table (every lookup fails, named).
static EMPTY: LazyLock<Arc<SymbolTable>> = LazyLock::new(Arc::default);

/// The symbol table in Binance's reference data (an empty one when it holds none).
pub fn of(data: &Reference) -> &SymbolTable {
    data.get::<SymbolTable>().unwrap_or(&EMPTY)
}

/// The symbol table in Binance's reference data, shared (an empty one when it holds none).
pub fn shared(data: &Reference) -> Arc<SymbolTable> {
    data.shared::<SymbolTable>()
        .unwrap_or_else(|| Arc::clone(&EMPTY))
}

/// A problem with a symbol table source; every bad line is reported at once.
#[derive(Debug, thiserror::Error)]
pub enum SymbolTableError {
    /// Lines that could not be read.
    #[error("invalid symbol table:\n  {}", .0.join("\n  "))]
    InvalidLines(Vec<String>),
    /// The exchangeInfo document is not what Binance sends.
    #[error("invalid exchangeInfo json: {0}")]
    ExchangeInfo(String),
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolEntry {
    /// Native symbol, upper case (`BTCUSDT`).
    pub symbol: CompactString,
    /// Canonical instrument (`BTC-USDT`).
    pub instrument: Instrument,
    /// Listing status as the exchange reports it (`TRADING`, `BREAK`, ...).
    pub status: CompactString,
}

/// FNV-1a: a few cycles for an 8-byte symbol, against ~25 ns for SipHash. Flooding resistance
/// buys nothing here: keys come from our own table and lookups never insert.
#[derive(Default, Clone, Copy)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// Native symbol lookup.
#[derive(Debug, Clone, Default)]
pub struct SymbolTable {
    by_symbol: HashMap<CompactString, SymbolEntry, BuildHasherDefault<Fnv>>,
}

impl SymbolTable {
    /// The Binance table compiled into the binary.
    pub fn bundled_binance() -> Result<Self, SymbolTableError> {
        Self::from_csv(BUNDLED_BINANCE)
    }

    /// Reads `symbol,base,quote,status` lines; `#` starts a comment line.
    pub fn from_csv(text: &str) -> Result<Self, SymbolTableError> {
        let mut table = Self::default();
        let mut problems = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let cols: Vec<&str> = line.split(',').map(str::trim).collect();
            match cols.as_slice() {
                [symbol, base, quote, status] => {
                    if let Err(e) = table.insert(symbol, base, quote, status) {
                        problems.push(format!("line {}: {e}", n + 1));
                    }
                }
                _ => problems.push(format!("line {}: expected symbol,base,quote,status", n + 1)),
            }
        }
        if problems.is_empty() {
            Ok(table)
        } else {
            Err(SymbolTableError::InvalidLines(problems))
        }
    }

    /// Builds the table from a Binance `exchangeInfo` response body through the listing
    /// decoder ([`super::listing::decode`]), the one reader of that document. The rows it
    /// rejects (a non-ASCII symbol, an unknown status, ...) come back beside the table, each
    /// with its reason: skipped, not fatal, never silent.
    pub fn from_exchange_info(json: &str) -> Result<(Self, Vec<RejectedRow>), SymbolTableError> {
        let listing = super::listing::decode(json.as_bytes(), 0)
            .map_err(|e| SymbolTableError::ExchangeInfo(e.to_string()))?;
        let (table, problems) = Self::from_listing(&listing);
        if problems.is_empty() {
            Ok((table, listing.rejected))
        } else {
            Err(SymbolTableError::InvalidLines(problems))
        }
    }

    /// The table of a decoded listing's records (every status: delisted symbols still map,
    /// for frames in flight), and the records it could not take.
    pub fn from_listing(listing: &Listing) -> (Self, Vec<String>) {
        let mut table = Self::default();
        let mut problems = Vec::new();
        for r in &listing.records {
            let status = super::listing::status_name(r.status);
            let (base, quote) = (r.instrument.base(), r.instrument.quote());
            if let Err(e) = table.insert(&r.native_symbol, base, quote, status) {
                problems.push(e);
            }
        }
        (table, problems)
    }

    fn insert(
        &mut self,
        symbol: &str,
        base: &str,
        quote: &str,
        status: &str,
    ) -> Result<(), String> {
        let instrument = Instrument::new(base, quote)
            .ok_or_else(|| format!("`{base}`/`{quote}` is not a valid base/quote pair"))?;
        if symbol.is_empty() || !symbol.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(format!("`{symbol}` is not a valid symbol"));
        }
        let key = CompactString::new(symbol.to_ascii_uppercase());
        if self.by_symbol.contains_key(&key) {
            return Err(format!("`{symbol}` listed twice"));
        }
        let status = CompactString::new(status);
        self.by_symbol.insert(
            key.clone(),
            SymbolEntry {
                symbol: key,
                instrument,
                status,
            },
        );
        Ok(())
    }

    /// Looks up an upper-case native symbol.
    pub fn get(&self, symbol: &str) -> Option<&SymbolEntry> {
        self.by_symbol.get(symbol)
    }

    /// Finds the native symbol of a canonical instrument (for subscribing).
    pub fn symbol_of(&self, instrument: &Instrument) -> Option<&str> {
        self.by_symbol
            .values()
            .find(|e| &e.instrument == instrument)
            .map(|e| e.symbol.as_str())
    }

    /// Every symbol of `self` and of `newer` (`newer`'s row where both have one): the table
    /// for frames of two listings at once, during a change.
    pub fn merged(&self, newer: &Self) -> Self {
        let mut by_symbol = self.by_symbol.clone();
        by_symbol.extend(newer.by_symbol.iter().map(|(k, v)| (k.clone(), v.clone())));
        Self { by_symbol }
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.by_symbol.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.by_symbol.is_empty()
    }

    /// Renders the table as the CSV data file, sorted by symbol.
    pub fn to_csv(&self) -> String {
        let mut rows: Vec<&SymbolEntry> = self.by_symbol.values().collect();
        rows.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        let mut out = String::from(
            "# Binance spot symbols: symbol,base,quote,status\n\
             # Refresh: tickflow symbols --exchange binance --from exchangeInfo.json > connectors/binance-symbols.csv\n",
        );
        for e in rows {
            let _ = writeln!(
                out,
                "{},{},{},{}",
                e.symbol,
                e.instrument.base(),
                e.instrument.quote(),
                e.status
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_table_loads_and_maps_without_guessing() {
        let t = SymbolTable::bundled_binance().unwrap();
        assert!(t.len() >= 20);
        assert_eq!(t.get("BTCUSDT").unwrap().instrument.as_str(), "BTC-USDT");
        // Suffix guessing would split these wrongly; the table cannot.
        assert_eq!(t.get("BNBBTC").unwrap().instrument.as_str(), "BNB-BTC");
        assert_eq!(t.get("ETHBTC").unwrap().instrument.as_str(), "ETH-BTC");
        assert!(t.get("NOPEUSDT").is_none());
    }

    #[test]
    fn csv_errors_are_all_reported() {
        let err = SymbolTable::from_csv("BTCUSDT,BTC,USDT,TRADING\nbad line\nX,,Y,TRADING\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2") && err.contains("line 3"), "{err}");
    }

    #[test]
    fn exchange_info_round_trips_through_csv() {
        let json = r#"{"timezone":"UTC","symbols":[
            {"symbol":"ETHBTC","status":"TRADING","baseAsset":"ETH","quoteAsset":"BTC","filters":[]},
            {"symbol":"1INCHUSDT","status":"BREAK","baseAsset":"1INCH","quoteAsset":"USDT"}]}"#;
        let (t, rejected) = SymbolTable::from_exchange_info(json).unwrap();
        assert!(rejected.is_empty());
        let again = SymbolTable::from_csv(&t.to_csv()).unwrap();
        assert_eq!(
            again.get("1INCHUSDT").unwrap().instrument.as_str(),
            "1INCH-USDT"
        );
        assert_eq!(again.get("ETHBTC").unwrap().status, "TRADING");
        assert!(SymbolTable::from_exchange_info("{\"symbols\":5}").is_err());
    }
}
