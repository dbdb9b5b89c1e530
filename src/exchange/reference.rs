//! A venue's reference data — what it takes besides the instrument's own text to name its
//! markets (Binance's symbol table: `BTCUSDT` has no separator) — carried opaquely: generic
//! code (connector loading, subscribe planning, the connection loop, market following, the
//! simulator, the command line) holds and hands on a [`Reference`] and never looks inside;
//! only the venue's own functions (its adapter, request builders, symbol mapping and
//! simulator) read it, through [`Reference::get`]. A venue that keeps reference data says how
//! in its profile ([`ReferenceSpec`]); [`References`] holds one per venue.

use crate::model::Exchange;
use crate::model::listing::Listing;
use crate::model::per_exchange::PerExchange;
use std::any::Any;
use std::fmt;
use std::sync::Arc;

/// One venue's reference data, or none. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct Reference(Option<Arc<dyn Any + Send + Sync>>);

impl Reference {
    /// No reference data (venues whose symbols spell the instrument).
    pub fn none() -> Self {
        Self(None)
    }

    /// Wraps a venue's own data.
    pub fn new<T: Any + Send + Sync>(data: T) -> Self {
        Self(Some(Arc::new(data)))
    }

    /// The venue's data, if it is a `T`.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.0.as_deref().and_then(|d| d.downcast_ref::<T>())
    }

    /// The venue's data, shared, if it is a `T`.
    pub fn shared<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.0.clone()?.downcast::<T>().ok()
    }

    /// Whether both are the same data (not merely equal).
    pub fn same(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Reference(..)"
        } else {
            "Reference(none)"
        })
    }
}

/// How a venue keeps reference data: the venue's functions generic code calls with it.
#[derive(Debug)]
pub struct ReferenceSpec {
    /// What it is, for messages and help (`symbol table`).
    pub what: &'static str,
    /// The copy shipped in the repository and compiled in (`connectors/binance-symbols.csv`).
    pub bundled_file: &'static str,
    /// The shipped copy, read.
    pub bundled: fn() -> Result<Reference, String>,
    /// A file of it (`--reference EXCHANGE=FILE`), read; every bad line named.
    pub from_file: fn(&str) -> Result<Reference, String>,
    /// The data a decoded listing gives, and the rows it could not take.
    pub from_listing: fn(&Listing) -> (Reference, Vec<String>),
    /// The data of two listings at once (`newer`'s row where both have one): frames of the
    /// old set still in flight during a change.
    pub merged: fn(&Reference, &Reference) -> Reference,
    /// Written as its file (`tickflow symbols`).
    pub to_file: fn(&Reference) -> String,
    /// What `tickflow symbols --help` says: which document of the venue to read.
    pub source: &'static str,
}

/// Every venue's reference data: each venue's shipped copy unless replaced.
#[derive(Debug, Clone, Default)]
pub struct References(PerExchange<Reference>);

impl References {
    /// Every venue's shipped copy (none for venues that keep no reference data).
    pub fn bundled() -> Result<Self, String> {
        let mut all = Self::default();
        for exchange in Exchange::ALL {
            if let Some(spec) = spec_of(exchange) {
                let data =
                    (spec.bundled)().map_err(|e| format!("{exchange} {}: {e}", spec.what))?;
                all.set(exchange, data);
            }
        }
        Ok(all)
    }

    /// `exchange`'s data.
    pub fn get(&self, exchange: Exchange) -> &Reference {
        self.0.get(exchange)
    }

    /// Replaces `exchange`'s data.
    pub fn set(&mut self, exchange: Exchange, data: Reference) {
        *self.0.get_mut(exchange) = data;
    }

    /// The same, with `exchange`'s data replaced.
    #[must_use]
    pub fn with(mut self, exchange: Exchange, data: Reference) -> Self {
        self.set(exchange, data);
        self
    }

    /// Replaces `exchange`'s data with the file `text` (`path` names it in errors).
    pub fn load(&mut self, exchange: Exchange, path: &str, text: &str) -> Result<(), String> {
        let spec = spec_of(exchange).ok_or_else(|| {
            format!("{exchange} keeps no reference data: its symbols spell the instrument")
        })?;
        let data = (spec.from_file)(text).map_err(|e| format!("{path}: {e}"))?;
        self.set(exchange, data);
        Ok(())
    }
}

/// How `exchange` keeps reference data (its profiles agree; the first one that says).
pub fn spec_of(exchange: Exchange) -> Option<&'static ReferenceSpec> {
    super::PROFILES
        .iter()
        .filter(|p| p.exchange == exchange)
        .find_map(|p| p.reference)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_read_only_as_its_own_type() {
        let r = Reference::new(7_u32);
        assert_eq!(r.get::<u32>(), Some(&7));
        assert_eq!(r.get::<u64>(), None);
        assert!(r.same(&r.clone()));
        assert!(!r.same(&Reference::new(7_u32)));
        assert!(Reference::none().same(&Reference::default()));
        assert_eq!(Reference::none().get::<u32>(), None);
    }

    #[test]
    fn every_venue_with_reference_data_has_its_shipped_copy() {
        let all = References::bundled().unwrap();
        for exchange in Exchange::ALL {
            let has = all.get(exchange).same(&Reference::none());
            assert_eq!(has, spec_of(exchange).is_none(), "{exchange}");
        }
        let mut all = all;
        let without = Exchange::ALL
            .into_iter()
            .find(|e| spec_of(*e).is_none())
            .unwrap();
        let err = all.load(without, "x.csv", "").unwrap_err();
        assert!(err.contains("keeps no reference data"), "{err}");
    }
}
