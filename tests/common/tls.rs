//! Kafka over TLS for tests: tansu speaks plain TCP, so a TLS-terminating proxy on loopback
//! sits in front of it (rustls, a certificate for 127.0.0.1 signed by a test CA), and tansu
//! advertises the proxy's port so that every connection goes through TLS.

use super::stack::{Broker, free_port};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A test certificate authority and a server certificate it signed for `127.0.0.1`, as PEM
/// files in `dir`.
pub struct TestCa {
    /// The CA certificate clients trust (`ssl.ca.location`).
    pub ca_pem: PathBuf,
    cert_der: rustls::pki_types::CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl TestCa {
    /// Generates a CA and a server certificate; writes the CA's PEM to `dir/name.pem`.
    pub fn new(dir: &Path, name: &str) -> Self {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(
            rcgen::DnType::CommonName,
            format!("tickflow test CA {name}"),
        );
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
        let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
        std::fs::create_dir_all(dir).unwrap();
        let ca_pem = dir.join(format!("{name}.pem"));
        std::fs::write(&ca_pem, ca.pem()).unwrap();
        Self {
            ca_pem,
            cert_der: cert.der().clone(),
            key_der: key.serialize_der(),
        }
    }

    fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = rustls::pki_types::PrivateKeyDer::try_from(self.key_der.clone()).unwrap();
        Arc::new(
            rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![self.cert_der.clone()], key)
                .unwrap(),
        )
    }
}

/// tansu behind a TLS proxy: `bootstrap` is the proxy's address.
pub struct TlsBroker {
    /// The broker (its `bootstrap` is the proxy's `127.0.0.1:PORT`).
    pub broker: Broker,
    /// TLS sessions the proxy completed.
    pub handshakes: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl TlsBroker {
    /// Starts tansu (advertising the proxy) and the proxy; `None` (SKIP) without tansu.
    pub async fn start(test: &str, ca: &TestCa) -> Option<Self> {
        let (plain, tls) = (free_port(), free_port());
        let broker = Broker::start_advertising(test, plain, tls)?;
        let acceptor = tokio_rustls::TlsAcceptor::from(ca.server_config());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", tls))
            .await
            .unwrap();
        let handshakes = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&handshakes);
        let task = tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, counted) = (acceptor.clone(), Arc::clone(&counted));
                tokio::spawn(async move {
                    // A client that does not trust the certificate ends here.
                    let Ok(mut tls) = acceptor.accept(inbound).await else {
                        return;
                    };
                    counted.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut outbound) =
                        tokio::net::TcpStream::connect(("127.0.0.1", plain)).await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut outbound).await;
                    }
                });
            }
        });
        Some(Self {
            broker,
            handshakes,
            task,
        })
    }
}

impl Drop for TlsBroker {
    fn drop(&mut self) {
        self.task.abort();
    }
}
