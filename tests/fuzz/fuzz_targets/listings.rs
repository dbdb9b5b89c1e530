//! Fuzzes every venue's listing decoder (each profile's, from the registry): never a panic, and every record they return holds its invariants: a
//! canonical instrument made of its base and quote, positive sizes, sorted notices, each
//! instrument once, never an empty listing, and no message carrying a whole payload.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tickflow::exchange::PROFILES;
use tickflow::model::listing::Listing;

fn check(listing: &Listing) {
    assert!(!listing.records.is_empty(), "an Ok listing is never empty");
    for r in &listing.rejected {
        assert!(
            r.native_symbol.len() <= 200 && r.detail.len() <= 1_000,
            "{r:?}"
        );
    }
    for (i, r) in listing.records.iter().enumerate() {
        let (base, quote) = (r.instrument.base(), r.instrument.quote());
        assert_eq!(r.instrument.as_str(), format!("{base}-{quote}"));
        assert!(
            r.tick_size
                .is_none_or(|d| d.is_sign_positive() && !d.is_zero())
        );
        assert!(
            r.lot_size
                .is_none_or(|d| d.is_sign_positive() && !d.is_zero())
        );
        assert!(
            r.notices.windows(2).all(|w| w[0] < w[1]),
            "sorted, each once"
        );
        assert!(
            listing.records[..i]
                .iter()
                .all(|o| o.instrument != r.instrument),
            "each instrument once"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let mut seen: Vec<tickflow::exchange::profile::ListingFn> = Vec::new();
    for spec in PROFILES.iter().filter_map(|p| p.listing) {
        // Two APIs of a venue share a listing: decoded once.
        if seen.iter().any(|d| std::ptr::fn_addr_eq(*d, spec.decode)) {
            continue;
        }
        seen.push(spec.decode);
        match (spec.decode)(data, 1_763_615_720_180_000) {
            Ok(listing) => check(&listing),
            Err(e) => assert!(e.to_string().len() <= 1_000, "a long message"),
        }
    }
});
