//! tickflow turns exchange WebSocket ticker feeds into one canonical, exact, schema-governed
//! stream.
//!
//! # Layout
//! - [`model`] — the canonical [`model::Tick`], exact decimals, validation, typed rejections.
//! - [`exchange`] — one adapter per exchange (the anti-corruption layer): bytes in, ticks out.
//! - [`codec`] — Avro and Protobuf encoders/decoders and the Confluent wire framing.
//! - [`schemas`] — the compatibility gate over every released schema version.
//! - [`registry`] — the Schema Registry client, gather's schema id, the cache's id resolver.
//! - [`config`] — connector files (`connectors/*.toml`), validated with every problem reported.
//! - [`ws`] — WebSocket side: subscribe plans, reconnect backoff, the connection loop, TLS.
//! - [`kafka`] — the producer (idempotent, delivery reports counted), DLQ record, topic creation.
//! - [`gather`] — `tickflow gather`: connections → pipeline thread → producer; metrics, health.
//! - [`http`], [`metrics`] — the `/metrics` `/healthz` `/readyz` endpoint and its primitives.
//! - [`cache`] — the Redis contract, the Lua compare-and-set writer, per-batch coalescing.
//! - [`sim`] — `tickflow simulate`: a loopback server speaking each exchange's protocol.
//! - [`cli`] — the `tickflow` subcommands (the binary in `src/main.rs` only calls [`cli::run`]).

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod cache;
pub mod cli;
pub mod codec;
pub mod config;
pub mod exchange;
pub mod gather;
pub mod http;
pub mod kafka;
pub mod logging;
pub mod markets;
pub mod metrics;
pub mod model;
pub mod registry;
pub mod schemas;
pub mod sim;
pub mod stall;
pub mod ws;
