//! The WebSocket side of the gatherer: what to send to subscribe ([`subscribe`]), how long to
//! wait before reconnecting ([`backoff`]), and the connection loop that keeps one planned
//! connection alive and feeds its frames to a bounded channel ([`connection`]).

pub mod backoff;
pub mod connection;
pub mod frames;
pub mod handover;
pub mod outbox;
pub mod pace;
pub mod refusals;
pub mod subscribe;
pub mod tls;

pub use backoff::Backoff;
pub use connection::{ConnectionStats, Link, Received, run};
pub use subscribe::{ConnectionPlan, Wanted, plan};
