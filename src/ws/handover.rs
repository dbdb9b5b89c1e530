//! Make-before-break: a connection renewed on plan (its age limit, a change only a new
//! connection can apply, a close the venue announced) keeps reading its old socket while the
//! new session connects and subscribes. Once the new session delivers data, both run for
//! [`OVERLAP`] more, then the old one closes; so no instrument waits for a connect.
//!
//! The overlap's frames reach Kafka twice (once per socket). That is harmless downstream by
//! the contracts: the ticks topic is at-least-once (a tick is identified by its key, event
//! time and sequence), and the cache's compare-and-set never moves a price back or rewrites
//! the same one (a duplicate is counted `stale` there). Frames the old socket delivers after
//! the new one's first are counted ([`ConnectionStats::overlap_frames`]).

use super::connection::ConnectionStats;
use super::connection::SEND_TIMEOUT;
use super::frames::{Received, Socket, data, hand};
use futures_util::StreamExt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

/// How long both sockets run once the new one delivers.
pub const OVERLAP: Duration = Duration::from_secs(2);
/// The longest an old socket is kept when the new session does not deliver (it fails to
/// connect, or its instruments are quiet): a venue's announced close comes sooner.
pub const MAX_HANDOVER: Duration = Duration::from_secs(30);

/// The old socket of a renewal and where its frames go.
pub struct Old {
    /// The socket, still subscribed.
    pub ws: Socket,
    /// The connector's name (for [`Received::connector`]).
    pub connector: Arc<str>,
    /// The old socket's session number ([`Received::session`]).
    pub session: u64,
    /// Frame cut size.
    pub max_frame_bytes: usize,
    /// The pipeline's queue.
    pub out: mpsc::Sender<Received>,
    /// The connection's counters.
    pub stats: Arc<ConnectionStats>,
    /// The venue's session reader (its keepalive answers are not data).
    pub says: crate::exchange::session::SaysFn,
    /// Its open-connection slot under the venue's cap, freed when it closes.
    pub slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// Reads `old` until the new session has delivered for [`OVERLAP`] (`delivering` fires), the
/// venue closes it, [`MAX_HANDOVER`] passes, or shutdown; then closes it.
pub async fn drain(
    mut old: Old,
    mut delivering: oneshot::Receiver<()>,
    mut shutdown: watch::Receiver<bool>,
) {
    let give_up = tokio::time::Instant::now() + MAX_HANDOVER;
    let mut close_at = give_up;
    let mut overlapping = false;
    let mut waiting = true;
    loop {
        tokio::select! {
            biased;
            _ = shutdown.changed() => break,
            got = &mut delivering, if waiting => {
                waiting = false;
                if got.is_ok() {
                    overlapping = true;
                    close_at = close_at.min(tokio::time::Instant::now() + OVERLAP);
                }
            }
            () = tokio::time::sleep_until(close_at) => break,
            next = old.ws.next() => {
                let Some(Ok(msg)) = next else {
                    // The venue closed it (as announced) or it failed: its end is expected.
                    tracing::debug!("the renewed connection's old socket ended");
                    return;
                };
                if matches!(msg, tokio_tungstenite::tungstenite::Message::Close(_)) {
                    tracing::debug!("the venue closed the renewed connection's old socket");
                    continue;
                }
                let Some(received) = data((&old.connector, old.session), msg, old.max_frame_bytes, &old.stats) else {
                    continue;
                };
                if super::frames::note_data(&received, old.says, &old.stats) && overlapping {
                    old.stats.overlap_frames.fetch_add(1, Ordering::Relaxed);
                }
                if !hand(&old.out, received, &mut shutdown, &old.stats).await {
                    break;
                }
            }
        }
    }
    let _ = tokio::time::timeout(SEND_TIMEOUT, old.ws.close(None)).await;
}
