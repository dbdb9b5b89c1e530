//! TLS for `wss://` endpoints: rustls with the `ring` provider and Mozilla's root certificates
//! compiled in (no system certificate store needed in a slim container). Certificates are
//! always verified.

use std::sync::Arc;

/// The client configuration for exchange endpoints.
pub fn client_config() -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    with_roots(roots)
}

/// A client configuration trusting exactly `roots` (tests use their own certificate).
pub fn with_roots(
    roots: rustls::RootCertStore,
) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    #[test]
    fn bundled_roots_build_a_config() {
        let config = super::client_config().unwrap();
        assert!(config.alpn_protocols.is_empty());
        assert!(webpki_roots::TLS_SERVER_ROOTS.len() > 100);
    }
}
