//! The WebSocket side of the gatherer. This part holds the pure building blocks: what to send
//! to subscribe ([`subscribe`]) and how long to wait before reconnecting ([`backoff`]). The
//! connection loop (connect with timeout, keepalive, idle watchdog, proactive reconnect) builds
//! on them.

pub mod backoff;
pub mod subscribe;

pub use backoff::Backoff;
pub use subscribe::{ConnectionPlan, plan};
