//! JSON for exchange frames: a strict, zero-copy scanner plus exact-number helpers.
//!
//! Why not serde_json here: frames are small, mostly flat objects, and the adapters need the
//! raw text of every number (never `f64`). A visitor-based parser with `RawValue` spent about
//! half of the per-frame budget on machinery (see BENCHMARKS.md). The scanner hands each
//! field's token to the adapter in one pass and borrows everything from the frame.
//!
//! - [`scanner`]: the grammar, [`Parser`], [`Token`], the [`Fields`] trait, [`parse_object`].
//! - [`layout`]: the fast path for frames in a venue's exact byte layout.
//! - [`fields`]: moving tokens into typed slots ([`store`]), duplicate keys, frame pre-checks.
//! - [`values`]: decimals, integers, times and percentages from tokens.

mod fields;
mod layout;
mod scanner;
mod values;

pub(crate) use fields::{frame_text, no_duplicate, store};
pub(crate) use layout::Layout;
pub(crate) use scanner::{Fields, Parser, Raw, parse_object, parse_object_into};
pub(crate) use values::{
    boolean, decimal, integer, micros, millis_to_micros, percent_to_fraction, required_decimal,
};
