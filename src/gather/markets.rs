//! Starting a connector that follows whole markets: its first listing, before any
//! connection (see [`crate::markets::follow`]).

use super::GatherSetup;
use crate::config::ConnectorConfig;
use crate::exchange::reference::Reference;
use crate::markets::follow::{
    Follow, ListingStats, Publish, accepted, first as first_listing, reference_of,
};
use crate::markets::reference::{ReferenceUpdate, Seen};
use crate::model::Instrument;
use std::sync::Arc;

/// A followed market, ready to connect.
pub(super) struct First {
    /// How it is followed from now on.
    pub follow: Follow,
    /// The instruments of the first listing.
    pub instruments: Vec<Instrument>,
    /// The venue's reference data from that listing.
    pub venue_data: Reference,
    /// Its listing health.
    pub stats: Arc<ListingStats>,
    /// Where its listings go besides the feed.
    pub publish: Publish,
}

/// The HTTP client listings are fetched with (the WebSocket TLS settings: ring, Mozilla roots).
pub(super) fn client(tls: &Arc<rustls::ClientConfig>) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .tls_backend_preconfigured((**tls).clone())
        .user_agent(concat!("tickflow/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| anyhow::anyhow!("building the listings' HTTP client: {e}"))
}

/// The first listing of `connector` when it follows whole markets (`None` when it lists its
/// instruments); an error when neither the venue nor the disk copy gives a usable one.
pub(super) async fn first(
    connector: &ConnectorConfig,
    setup: &GatherSetup,
    client: &reqwest::Client,
    reference: Option<&tokio::sync::mpsc::Sender<ReferenceUpdate>>,
) -> anyhow::Result<Option<First>> {
    let (Some(markets), Some(spec)) = (&connector.markets, connector.profile.listing) else {
        return Ok(None);
    };
    let follow = Follow {
        selector: markets.selector.clone(),
        shard: setup.shard,
        source: markets.source(spec.decode),
        refresh: markets.refresh,
        max_drop: markets.max_drop,
    };
    let first = first_listing(&follow, client)
        .await
        .map_err(|why| anyhow::anyhow!("connector `{}`: no listing: {why}", connector.name))?;
    let (fetched, mut instruments) = (first.fetched, first.chosen);
    let venue_data = reference_of(
        &fetched.listing,
        connector.profile,
        setup.references.get(connector.exchange),
        &mut instruments,
    );
    let stats = Arc::new(ListingStats::new(&connector.name, follow.stale_after()));
    let from_disk = first.from_disk.is_some();
    accepted(&stats, &fetched, &instruments, from_disk);
    if let Some(problem) = first.from_disk {
        stats.note(&problem);
    }
    if instruments.is_empty() {
        tracing::warn!(
            connector = %connector.name,
            shard = %format!("{}/{}", setup.shard.index, setup.shard.count),
            "this shard owns none of the selected instruments (for now): no connection"
        );
    }
    tracing::info!(
        connector = %connector.name,
        following = instruments.len(),
        listed = fetched.listing.records.len(),
        rows_rejected = fetched.listing.rejected.len(),
        shard = %format!("{}/{}", setup.shard.index, setup.shard.count),
        from_disk,
        "following whole markets"
    );
    let mut publish = Publish {
        seen: Seen::default(),
        to: reference.cloned(),
        scope: (follow.selector.clone(), follow.shard),
    };
    publish
        .send(connector, &fetched.listing, &instruments, true)
        .await;
    Ok(Some(First {
        follow,
        instruments,
        venue_data,
        stats,
        publish,
    }))
}
