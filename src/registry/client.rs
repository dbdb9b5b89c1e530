//! The Confluent Schema Registry client: schema_registry_converter's async client for the
//! calls it has (look a schema up under a subject, register it, fetch a schema by id), and one
//! plain reqwest call for the verbose compatibility check it lacks. Transport: reqwest over
//! rustls (ring) trusting Mozilla's roots plus `[schema_registry] ca_file`; certificates are
//! always verified. Credentials never appear in errors or logs.

use crate::config::RegistrySettings;
use crate::schemas::Kind;
use schema_registry_converter::async_impl::schema_registry::{
    SrSettings, get_schema_by_id, perform_sr_call, post_schema,
};
use schema_registry_converter::error::SRCError;
use schema_registry_converter::schema_registry_common::{
    RawError, SchemaType, SrCall, SuppliedSchema,
};
use std::sync::Arc;
use std::time::Duration;

/// Confluent error codes tickflow acts on.
pub mod code {
    /// Subject not found.
    pub const SUBJECT_NOT_FOUND: u32 = 40401;
    /// Version not found.
    pub const VERSION_NOT_FOUND: u32 = 40402;
    /// Schema not found.
    pub const SCHEMA_NOT_FOUND: u32 = 40403;
}

/// What went wrong talking to the registry.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RegistryError {
    /// No answer (connection refused, TLS failure, timeout) or a 5xx from every URL.
    #[error("schema registry {registry} unreachable: {detail}")]
    Unreachable {
        /// The URLs tried.
        registry: String,
        /// What failed.
        detail: String,
    },
    /// The registry answered with an error.
    #[error("schema registry {registry} refused: {message} (error_code {code})")]
    Refused {
        /// The URLs tried.
        registry: String,
        /// Confluent `error_code` (0 when the body was not a registry error).
        code: u32,
        /// The registry's message and the HTTP status.
        message: String,
    },
    /// Local setup (the CA file, the HTTP client).
    #[error("schema registry client: {0}")]
    Setup(String),
}

impl RegistryError {
    /// The Confluent error code, when the registry answered one.
    pub fn code(&self) -> Option<u32> {
        match self {
            Self::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Worth retrying: no answer, or a server-side error.
    pub fn transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } => true,
            Self::Refused { code, .. } => *code >= 50_000,
            Self::Setup(_) => false,
        }
    }
}

/// Appends the causes below `error` (refused connection, certificate not trusted, timeout):
/// reqwest's own message leaves them out.
fn append_causes(detail: &mut String, error: &(dyn std::error::Error + 'static)) {
    let mut source = error.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !detail.contains(&text) {
            detail.push_str(": ");
            detail.push_str(&text);
        }
        source = s.source();
    }
}

fn schema_type(kind: Kind) -> SchemaType {
    match kind {
        Kind::Avro => SchemaType::Avro,
        Kind::Protobuf => SchemaType::Protobuf,
    }
}

/// A connected (configured) registry client.
#[derive(Clone)]
pub struct Registry {
    settings: Arc<SrSettings>,
    http: reqwest::Client,
    config: RegistrySettings,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("urls", &self.config.urls)
            .finish_non_exhaustive()
    }
}

fn tls(config: &RegistrySettings) -> Result<rustls::ClientConfig, RegistryError> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let mut roots =
        rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &config.ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| RegistryError::Setup(format!("ca_file {}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(RegistryError::Setup(format!(
                "ca_file {}: no certificate in it",
                path.display()
            )));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| RegistryError::Setup(format!("ca_file {}: {e}", path.display())))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| RegistryError::Setup(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn client_builder(config: &RegistrySettings) -> Result<reqwest::ClientBuilder, RegistryError> {
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured(tls(config)?)
        .timeout(config.timeout)
        .connect_timeout(config.timeout))
}

impl Registry {
    /// A client for `config` (nothing is sent yet).
    pub fn new(config: &RegistrySettings) -> Result<Self, RegistryError> {
        let mut builder = SrSettings::new_builder(config.urls[0].clone());
        for url in &config.urls[1..] {
            builder.add_url(url.clone());
        }
        if let Some(info) = &config.user_info {
            let (user, password) = info.expose().split_once(':').unwrap_or((info.expose(), ""));
            builder.set_basic_authorization(user, Some(password));
        }
        builder.set_timeout(config.timeout);
        let settings = builder
            .build_with(client_builder(config)?)
            .map_err(|e| RegistryError::Setup(e.error))?;
        let http = client_builder(config)?
            .build()
            .map_err(|e| RegistryError::Setup(e.to_string()))?;
        Ok(Self {
            settings: Arc::new(settings),
            http,
            config: config.clone(),
        })
    }

    /// The URLs, for messages.
    pub fn name(&self) -> String {
        self.config.display_urls()
    }

    /// Attempts at start while the registry is unreachable.
    pub fn attempts(&self) -> u32 {
        self.config.attempts
    }

    fn error(&self, e: &SRCError) -> RegistryError {
        let raw = std::error::Error::source(e).and_then(|s| s.downcast_ref::<RawError>());
        match raw {
            Some(raw) if raw.error_code < 50_000 && !e.retriable => RegistryError::Refused {
                registry: self.name(),
                code: raw.error_code,
                message: format!("{} ({})", raw.message, e.error),
            },
            _ => {
                // The root cause (refused connection, certificate not trusted, timeout) is at
                // the end of the source chain; reqwest's own message does not include it.
                let mut detail = match &e.cause {
                    Some(cause) => format!("{}: {cause}", e.error),
                    None => e.error.clone(),
                };
                if let Some(source) = std::error::Error::source(e) {
                    append_causes(&mut detail, source);
                }
                RegistryError::Unreachable {
                    registry: self.name(),
                    detail,
                }
            }
        }
    }

    fn body(kind: Kind, text: &str) -> String {
        serde_json::json!({ "schema": text, "schemaType": kind.schema_type() }).to_string()
    }

    /// The id of `text` under `subject` (`POST /subjects/{subject}`), `None` when the subject
    /// or the schema is not registered.
    pub async fn lookup(
        &self,
        subject: &str,
        kind: Kind,
        text: &str,
    ) -> Result<Option<u32>, RegistryError> {
        let body = Self::body(kind, text);
        match perform_sr_call(&self.settings, SrCall::PostForVersion(subject, &body)).await {
            Ok(raw) => Ok(raw.id),
            Err(e) => match self.error(&e) {
                e if matches!(
                    e.code(),
                    Some(code::SUBJECT_NOT_FOUND | code::SCHEMA_NOT_FOUND)
                ) =>
                {
                    Ok(None)
                }
                e => Err(e),
            },
        }
    }

    /// Registers `text` under `subject` (`POST /subjects/{subject}/versions`); the same schema
    /// again returns the same id.
    pub async fn register(
        &self,
        subject: &str,
        kind: Kind,
        text: &str,
    ) -> Result<u32, RegistryError> {
        let schema = SuppliedSchema::new(None, schema_type(kind), text.to_owned());
        post_schema(&self.settings, subject.to_owned(), schema)
            .await
            .map(|r| r.id)
            .map_err(|e| self.error(&e))
    }

    /// The schema with `id` (`GET /schemas/ids/{id}`): its kind and text; `None` when the
    /// registry does not know the id. A schema type tickflow does not read is refused.
    pub async fn schema_by_id(&self, id: u32) -> Result<Option<(Kind, String)>, RegistryError> {
        match get_schema_by_id(id, &self.settings).await {
            Ok(s) => match s.schema_type {
                SchemaType::Avro => Ok(Some((Kind::Avro, s.schema))),
                SchemaType::Protobuf => Ok(Some((Kind::Protobuf, s.schema))),
                other => Err(RegistryError::Refused {
                    registry: self.name(),
                    code: 0,
                    message: format!("schema {id} is of type {other:?}, not AVRO or PROTOBUF"),
                }),
            },
            Err(e) => match self.error(&e) {
                e if e.code() == Some(code::SCHEMA_NOT_FOUND) => Ok(None),
                e => Err(e),
            },
        }
    }

    /// The registry's own verdict on `text` against the latest version under `subject`
    /// (`POST /compatibility/subjects/{subject}/versions/latest?verbose=true`). The crate's
    /// `is_compatible_schema` returns only a boolean, so this one call is plain reqwest.
    pub async fn compatibility(
        &self,
        subject: &str,
        kind: Kind,
        text: &str,
    ) -> Result<Verdict, RegistryError> {
        let mut last = None;
        for url in &self.config.urls {
            let target = format!(
                "{url}/compatibility/subjects/{}/versions/latest?verbose=true",
                subject.replace('/', "%2F")
            );
            let mut request = self
                .http
                .post(&target)
                .header("Content-Type", "application/vnd.schemaregistry.v1+json")
                .header("Accept", "application/vnd.schemaregistry.v1+json")
                .body(Self::body(kind, text));
            if let Some(info) = &self.config.user_info {
                let (user, password) = info.expose().split_once(':').unwrap_or((info.expose(), ""));
                request = request.basic_auth(user, Some(password));
            }
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) => {
                    let mut detail = format!("{url}: {e}");
                    append_causes(&mut detail, &e);
                    last = Some(RegistryError::Unreachable {
                        registry: self.name(),
                        detail,
                    });
                    continue;
                }
            };
            let status = response.status();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            if status.is_server_error() {
                last = Some(RegistryError::Unreachable {
                    registry: self.name(),
                    detail: format!("{url}: HTTP {status}"),
                });
                continue;
            }
            let code = body["error_code"].as_u64().unwrap_or(0) as u32;
            if !status.is_success() {
                if code == code::SUBJECT_NOT_FOUND || code == code::VERSION_NOT_FOUND {
                    return Ok(Verdict {
                        compatible: true,
                        messages: vec![format!("no version registered under `{subject}`")],
                    });
                }
                return Err(RegistryError::Refused {
                    registry: self.name(),
                    code,
                    message: format!(
                        "{} (HTTP {status})",
                        body["message"].as_str().unwrap_or("no message")
                    ),
                });
            }
            let messages = body["messages"]
                .as_array()
                .map(|m| {
                    m.iter()
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            return Ok(Verdict {
                compatible: body["is_compatible"].as_bool().unwrap_or(false),
                messages,
            });
        }
        Err(last.unwrap_or_else(|| RegistryError::Setup("no URL".into())))
    }

    /// Runs `op` until it succeeds, fails for good, or `attempts` transient failures passed
    /// (backoff 0.2 s doubling to 5 s); each retry is logged.
    pub async fn retrying<T, F, Fut>(&self, what: &str, mut op: F) -> Result<T, RegistryError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, RegistryError>>,
    {
        let mut delay = Duration::from_millis(200);
        let mut attempt = 1;
        loop {
            match op().await {
                Err(e) if e.transient() && attempt < self.config.attempts => {
                    tracing::warn!(
                        attempt,
                        of = self.config.attempts,
                        "{what}: {e}; retrying in {delay:?}"
                    );
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

/// A registry's compatibility verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// `is_compatible`.
    pub compatible: bool,
    /// The registry's explanation (verbose mode).
    pub messages: Vec<String>,
}
