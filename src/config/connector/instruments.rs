//! `instruments` of a connector file: canonical instruments (`BTC-KRW`), each known to the
//! venue's symbol table where the profile needs one.

use super::Problems;
use crate::exchange::profile::Profile;
use crate::exchange::reference::Reference;
use crate::model::Instrument;

/// The instruments of `raw`, in file order, without duplicates.
pub(super) fn instruments(
    profile: &Profile,
    raw: &[String],
    reference: &Reference,
    p: &mut Problems<'_>,
) -> Vec<Instrument> {
    if raw.is_empty() {
        p.add("instruments", "must list at least one instrument");
    }
    let mut out: Vec<Instrument> = Vec::with_capacity(raw.len());
    for (i, text) in raw.iter().enumerate() {
        let field = format!("instruments[{i}]");
        let Some(instrument) = Instrument::parse(text) else {
            p.add(
                &field,
                format!("`{text}` is not BASE-QUOTE in upper case (e.g. BTC-KRW)"),
            );
            continue;
        };
        if out.contains(&instrument) {
            p.add(&field, format!("`{text}` is listed twice"));
            continue;
        }
        if let Some(spec) = profile.reference
            && (profile.symbol)(&instrument, reference).is_none()
        {
            p.add(
                &field,
                format!("`{text}` is not in the {} {}", profile.exchange, spec.what),
            );
        }
        out.push(instrument);
    }
    out
}
