//! Getting a venue's listing: an HTTP GET bounded in time and size, retried with backoff,
//! decoded by the venue's decoder; the last accepted body kept on disk so that a restart
//! without the venue's REST API still knows the market.

use crate::exchange::profile::ListingFn;
use crate::model::listing::{Listing, ListingError};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Bodies above this are refused (Binance's whole exchangeInfo is a few MB).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Where and how one connector's listing is fetched.
#[derive(Debug, Clone)]
pub struct Source {
    /// The listing's URL.
    pub url: String,
    /// The venue's decoder.
    pub decode: ListingFn,
    /// Bound on one attempt (connect, request and the whole body).
    pub timeout: Duration,
    /// Attempts after the first one fails.
    pub retries: u32,
    /// Where the last accepted body is kept; `None`: nowhere.
    pub cache_file: Option<PathBuf>,
}

/// Why a listing could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The request failed or timed out.
    #[error("GET {url}: {detail}")]
    Http {
        /// The URL.
        url: String,
        /// What happened.
        detail: String,
    },
    /// The body is not a usable listing.
    #[error("{url}: {error}")]
    Decode {
        /// The URL (or the cache file).
        url: String,
        /// The decoder's reason.
        error: ListingError,
    },
    /// The disk copy could not be read or written.
    #[error("listing cache {path}: {detail}")]
    Cache {
        /// The file.
        path: String,
        /// What happened.
        detail: String,
    },
}

/// A decoded listing and the body it came from.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Decoded.
    pub listing: Listing,
    /// As received (kept on disk once accepted).
    pub body: Vec<u8>,
    /// When it was fetched (or saved, for a disk copy), UTC epoch µs.
    pub at_us: i64,
}

/// One GET of `url` with `timeout` over everything, the body capped at [`MAX_BODY_BYTES`].
async fn get(client: &reqwest::Client, url: &str, timeout: Duration) -> Result<Vec<u8>, String> {
    let attempt = async {
        let mut response = client.get(url).send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(format!("body above {MAX_BODY_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        // Error bodies are venue JSON: the decoder reads them (Upbit's `error.name`, Binance's
        // `code`/`msg`) into a typed reason; a non-JSON error says its status.
        if !status.is_success() && serde_json::from_slice::<serde_json::Value>(&body).is_err() {
            return Err(format!("HTTP {status}"));
        }
        Ok(body)
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(format!("no complete answer within {timeout:?}")),
    }
}

impl Source {
    /// Fetches and decodes, retrying failed attempts (0.5 s, 1 s, 2 s, ... up to 8 s apart).
    /// A body the decoder refuses is not retried (the venue answered; asking again at once
    /// will not change it).
    pub async fn fetch(&self, client: &reqwest::Client) -> Result<Fetched, SourceError> {
        let mut wait = Duration::from_millis(500);
        let mut attempt = 0;
        loop {
            match get(client, &self.url, self.timeout).await {
                Ok(body) => {
                    let at_us = crate::model::time::now_us();
                    return match (self.decode)(&body, at_us) {
                        Ok(listing) => Ok(Fetched {
                            listing,
                            body,
                            at_us,
                        }),
                        Err(error) => Err(SourceError::Decode {
                            url: self.url.clone(),
                            error,
                        }),
                    };
                }
                Err(detail) if attempt >= self.retries => {
                    return Err(SourceError::Http {
                        url: self.url.clone(),
                        detail: format!("{detail} (after {} attempts)", attempt + 1),
                    });
                }
                Err(detail) => {
                    tracing::debug!(url = %self.url, %detail, "listing fetch failed; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(8));
                    attempt += 1;
                }
            }
        }
    }

    /// The disk copy, decoded, dated by the file's modification time; `Ok(None)` when there is
    /// no cache file or none configured.
    pub fn read_cache(&self) -> Result<Option<Fetched>, SourceError> {
        let Some(path) = &self.cache_file else {
            return Ok(None);
        };
        let cache_err = |detail: String| SourceError::Cache {
            path: path.display().to_string(),
            detail,
        };
        let body = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(cache_err(e.to_string())),
        };
        let at_us = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
        let listing = (self.decode)(&body, at_us).map_err(|error| SourceError::Decode {
            url: path.display().to_string(),
            error,
        })?;
        Ok(Some(Fetched {
            listing,
            body,
            at_us,
        }))
    }

    /// Keeps `body` as the disk copy (written beside, then renamed: never half a file).
    pub fn write_cache(&self, body: &[u8]) -> Result<(), SourceError> {
        let Some(path) = &self.cache_file else {
            return Ok(());
        };
        write_atomically(path, body).map_err(|e| SourceError::Cache {
            path: path.display().to_string(),
            detail: e.to_string(),
        })
    }
}

fn write_atomically(path: &Path, body: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    // The writer's own temporary name: two processes sharing the directory never rename each
    // other's half-written file into place.
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    std::fs::write(&tmp, body)?;
    std::fs::rename(&tmp, path)
}
