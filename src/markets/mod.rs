//! Whole markets, live (issue 19): a connector may follow every instrument of its venue that a
//! [`select::Selector`] takes from the venue's REST listing, split across processes by
//! [`select::Shard`], re-read while gather runs ([`follow`]); the listing comes from
//! [`source`] (HTTP with bounds and retries, a disk copy for restarts without the venue).
//! The venue decoders are in each venue's folder (`exchange::<venue>::listing`).

pub mod follow;
pub mod reference;
pub mod select;
pub mod source;

pub use follow::{Follow, ListingStats};
pub use select::{Pattern, Selector, Shard};
pub use source::Source;
