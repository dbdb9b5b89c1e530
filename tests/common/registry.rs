//! A small in-process Schema Registry for tests, following the Confluent Schema Registry API
//! reference for what tickflow and the stock clients call:
//!
//! - `POST /subjects/{s}/versions` (register; the same schema again returns its id; 409 when
//!   incompatible at the subject's level or of another schema type; 42201 when invalid),
//! - `POST /subjects/{s}` (look up: 40401 subject not found, 40403 schema not found),
//! - `GET /schemas/ids/{id}` (`?format=serialized` gives Protobuf as a base64
//!   FileDescriptorProto; 40403), `GET /subjects`, `GET /subjects/{s}/versions`,
//!   `GET /subjects/{s}/versions/{n|latest}` (40401, 40402),
//! - `POST /compatibility/subjects/{s}/versions/{n|latest}[?verbose=true]`,
//! - `GET|PUT /config[/{s}]` (global default BACKWARD; 40408 for a subject without its own),
//!
//! with the content type `application/vnd.schemaregistry.v1+json` and `{"error_code",
//! "message"}` bodies. Optional basic auth (401, error_code 40101) and a Karapace mode that
//! serializes Protobuf without the synthetic oneofs of proto3 `optional` fields, as Karapace
//! does. Compatibility is judged with tickflow's own checker (`tickflow::schemas`).
//!
//! One request per connection (`Connection: close`). Base64 is written here (a dozen lines)
//! rather than pulled in as a crate.
//!
//! `TICKFLOW_TEST_SCHEMA_REGISTRY_URL` points the tests at a real registry instead
//! ([`Registry::start`] then returns a handle on it); tests that need a stub-only feature skip
//! there with a SKIP line.

use prost::Message as _;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tickflow::schemas::{Level, avro as avro_rules, proto as proto_rules};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// Options of the stub.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Require basic auth with this `user:password`.
    pub user_info: Option<String>,
    /// Serialize Protobuf without the synthetic oneofs (Karapace).
    pub karapace: bool,
    /// Serve HTTPS with a fresh self-signed certificate for `localhost` (its PEM is
    /// [`Registry::ca_pem`]).
    pub tls: bool,
}

#[derive(Debug, Clone)]
struct Stored {
    kind: &'static str,
    text: String,
}

#[derive(Debug, Default)]
struct State {
    schemas: Vec<Stored>,
    subjects: BTreeMap<String, Vec<u32>>,
    global: String,
    levels: BTreeMap<String, String>,
    /// `METHOD path` of every request, for assertions.
    pub log: Vec<String>,
}

/// The stub (or a real registry, by environment).
pub struct Registry {
    /// Base URL.
    pub url: String,
    /// False when the tests run against a real registry.
    pub stub: bool,
    /// With [`Options::tls`]: the certificate clients must trust, as PEM.
    pub ca_pem: Option<String>,
    state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Registry {
    /// The real registry of `TICKFLOW_TEST_SCHEMA_REGISTRY_URL`, or a stub with `options`.
    pub fn start(options: Options) -> Self {
        if let Ok(url) = std::env::var("TICKFLOW_TEST_SCHEMA_REGISTRY_URL") {
            return Self {
                url: url.trim_end_matches('/').to_owned(),
                stub: false,
                ca_pem: None,
                state: Arc::default(),
                stop: None,
                thread: None,
            };
        }
        Self::stub(options)
    }

    /// Always the stub.
    pub fn stub(options: Options) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (url, acceptor, ca_pem) = if options.tls {
            let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
            let key =
                rustls::pki_types::PrivateKeyDer::try_from(cert.key_pair.serialize_der()).unwrap();
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let server = rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![cert.cert.der().clone()], key)
                .unwrap();
            (
                format!("https://localhost:{port}"),
                Some(tokio_rustls::TlsAcceptor::from(Arc::new(server))),
                Some(cert.cert.pem()),
            )
        } else {
            (format!("http://127.0.0.1:{port}"), None, None)
        };
        let state = Arc::new(Mutex::new(State {
            global: "BACKWARD".into(),
            ..State::default()
        }));
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let shared = Arc::clone(&state);
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(serve(listener, shared, options, acceptor, stopped));
        });
        Self {
            url,
            stub: true,
            ca_pem,
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Requests seen so far (`METHOD path`).
    pub fn log(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }

    /// Ids registered under `subject`, oldest first.
    pub fn versions(&self, subject: &str) -> Vec<u32> {
        self.state
            .lock()
            .unwrap()
            .subjects
            .get(subject)
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve(
    listener: std::net::TcpListener,
    state: Arc<Mutex<State>>,
    options: Options,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let state = Arc::clone(&state);
                let options = options.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let limit = std::time::Duration::from_secs(10);
                    match acceptor {
                        None => {
                            let _ = tokio::time::timeout(limit, connection(stream, state, options)).await;
                        }
                        Some(acceptor) => {
                            // A client that refuses the certificate ends the handshake here.
                            let Ok(Ok(tls)) = tokio::time::timeout(limit, acceptor.accept(stream)).await else {
                                return;
                            };
                            let _ = tokio::time::timeout(limit, connection(tls, state, options)).await;
                        }
                    }
                });
            }
        }
    }
}

async fn connection(
    mut stream: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    state: Arc<Mutex<State>>,
    options: Options,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let target = request_line.next().unwrap_or_default().to_owned();
    let mut length = 0;
    let mut authorization = None;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "authorization" => authorization = Some(value.trim().to_owned()),
                _ => {}
            }
        }
    }
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = &buf[head_end..(head_end + length).min(buf.len())];
    let (status, answer) = if options.user_info.as_ref().is_some_and(|info| {
        authorization.as_deref() != Some(&format!("Basic {}", base64(info.as_bytes())))
    }) {
        error(401, 40101, "Unauthorized")
    } else {
        let mut state = state.lock().unwrap();
        state.log.push(format!("{method} {target}"));
        route(&mut state, &options, &method, &target, body)
    };
    let text = answer.to_string();
    let reason = match status {
        200 => "OK",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        _ => "Error",
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {CONTENT_TYPE}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

fn error(status: u16, code: u32, message: &str) -> (u16, Value) {
    (status, json!({ "error_code": code, "message": message }))
}

fn decode_path(segment: &str) -> String {
    segment.replace("%2F", "/").replace("%2f", "/")
}

fn route(
    state: &mut State,
    options: &Options,
    method: &str,
    target: &str,
    body: &[u8],
) -> (u16, Value) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query: BTreeMap<&str, &str> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let parts: Vec<String> = path.trim_matches('/').split('/').map(decode_path).collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let json_body = || serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
    match (method, parts.as_slice()) {
        ("GET", ["subjects"]) => (200, json!(state.subjects.keys().collect::<Vec<_>>())),
        ("POST", ["subjects", subject, "versions"]) => register(state, subject, &json_body()),
        ("POST", ["subjects", subject]) => lookup(state, subject, &json_body()),
        ("GET", ["subjects", subject, "versions"]) => match state.subjects.get(*subject) {
            Some(ids) => (200, json!((1..=ids.len()).collect::<Vec<_>>())),
            None => error(404, 40401, &format!("Subject '{subject}' not found.")),
        },
        ("GET", ["subjects", subject, "versions", version]) => {
            match version_of(state, subject, version) {
                Ok((n, id)) => (200, subject_version(state, subject, n, id)),
                Err(e) => e,
            }
        }
        ("GET", ["schemas", "ids", id]) => match id
            .parse::<u32>()
            .ok()
            .and_then(|i| state.schemas.get((i as usize).wrapping_sub(1)).cloned())
        {
            Some(s) => {
                let serialized = query.get("format") == Some(&"serialized");
                schema_body(&s, serialized, options.karapace)
            }
            None => error(404, 40403, "Schema not found"),
        },
        ("POST", ["compatibility", "subjects", subject, "versions", version]) => compatibility(
            state,
            subject,
            version,
            &json_body(),
            query.get("verbose") == Some(&"true"),
        ),
        ("GET", ["config"]) => (200, json!({ "compatibilityLevel": state.global })),
        ("PUT", ["config"]) => match set_level(&json_body()) {
            Ok(level) => {
                state.global = level.clone();
                (200, json!({ "compatibility": level }))
            }
            Err(e) => e,
        },
        ("GET", ["config", subject]) => match state.levels.get(*subject) {
            Some(l) => (200, json!({ "compatibilityLevel": l })),
            None => error(
                404,
                40408,
                &format!(
                    "Subject '{subject}' does not have subject-level compatibility configured"
                ),
            ),
        },
        ("PUT", ["config", subject]) => match set_level(&json_body()) {
            Ok(level) => {
                state.levels.insert((*subject).to_owned(), level.clone());
                (200, json!({ "compatibility": level }))
            }
            Err(e) => e,
        },
        (_, ["subjects" | "schemas" | "config" | "compatibility", ..]) => {
            error(405, 405, "HTTP 405 Method Not Allowed")
        }
        _ => error(404, 404, "HTTP 404 Not Found"),
    }
}

fn set_level(body: &Value) -> Result<String, (u16, Value)> {
    let level = body["compatibility"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_uppercase();
    match Level::parse(&level) {
        Some(_) => Ok(level),
        None => Err(error(422, 42203, "Invalid compatibility level")),
    }
}

fn supplied(body: &Value) -> Result<Stored, (u16, Value)> {
    let Some(text) = body["schema"].as_str() else {
        return Err(error(422, 42201, "Empty schema"));
    };
    let kind = match body["schemaType"].as_str().unwrap_or("AVRO") {
        "AVRO" => "AVRO",
        "PROTOBUF" => "PROTOBUF",
        other => return Err(error(422, 42201, &format!("Invalid schema type {other}"))),
    };
    let valid = match kind {
        "AVRO" => avro_rules::parse(std::path::Path::new("schema"), text).err(),
        _ => proto_rules::compile_source(text).err(),
    };
    if let Some(e) = valid {
        return Err(error(422, 42201, &format!("Invalid schema: {e}")));
    }
    Ok(Stored {
        kind,
        text: text.to_owned(),
    })
}

/// Same schema: same type and, for Avro, the same JSON; for Protobuf the same text.
fn same(a: &Stored, b: &Stored) -> bool {
    a.kind == b.kind
        && match a.kind {
            "AVRO" => {
                serde_json::from_str::<Value>(&a.text).ok()
                    == serde_json::from_str::<Value>(&b.text).ok()
            }
            _ => a.text.trim() == b.text.trim(),
        }
}

fn id_of(state: &State, s: &Stored) -> Option<u32> {
    state
        .schemas
        .iter()
        .position(|t| same(t, s))
        .map(|i| i as u32 + 1)
}

fn level_of(state: &State, subject: &str) -> Level {
    let name = state.levels.get(subject).unwrap_or(&state.global);
    Level::parse(name).unwrap_or(Level::FULL_TRANSITIVE)
}

/// Why `new` breaks against the subject's versions at its level (empty: compatible).
fn breaks(state: &State, subject: &str, new: &Stored, only_latest: bool) -> Vec<String> {
    let level = level_of(state, subject);
    let ids = state.subjects.get(subject).cloned().unwrap_or_default();
    let against: Vec<&Stored> = if level.transitive && !only_latest {
        ids.iter()
            .map(|i| &state.schemas[*i as usize - 1])
            .collect()
    } else {
        ids.last()
            .map(|i| &state.schemas[*i as usize - 1])
            .into_iter()
            .collect()
    };
    let mut out = Vec::new();
    for old in against {
        if old.kind != new.kind {
            out.push(format!(
                "schema type {} differs from {}",
                new.kind, old.kind
            ));
            continue;
        }
        if new.kind == "AVRO" {
            let parse =
                |s: &Stored| avro_rules::parse(std::path::Path::new("schema"), &s.text).unwrap();
            let (o, n) = (parse(old), parse(new));
            if level.backward
                && let Err((f, r)) = avro_rules::can_read(&o, &n)
            {
                out.push(format!("BACKWARD: field `{f}`: {r}"));
            }
            if level.forward
                && let Err((f, r)) = avro_rules::can_read(&n, &o)
            {
                out.push(format!("FORWARD: field `{f}`: {r}"));
            }
        } else if level.backward || level.forward {
            let model =
                |s: &Stored| proto_rules::Model::of(&proto_rules::compile_source(&s.text).unwrap());
            for (f, r) in proto_rules::differences(&model(old), &model(new)) {
                out.push(format!("field `{f}`: {r}"));
            }
        }
    }
    out
}

fn register(state: &mut State, subject: &str, body: &Value) -> (u16, Value) {
    let new = match supplied(body) {
        Ok(s) => s,
        Err(e) => return e,
    };
    if let Some(ids) = state.subjects.get(subject)
        && let Some(id) = ids
            .iter()
            .find(|i| same(&state.schemas[**i as usize - 1], &new))
    {
        return (200, json!({ "id": id }));
    }
    let problems = breaks(state, subject, &new, false);
    if !problems.is_empty() {
        return error(
            409,
            409,
            &format!(
                "Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: {problems:?}"
            ),
        );
    }
    let id = match id_of(state, &new) {
        Some(id) => id,
        None => {
            state.schemas.push(new);
            state.schemas.len() as u32
        }
    };
    state
        .subjects
        .entry(subject.to_owned())
        .or_default()
        .push(id);
    (200, json!({ "id": id }))
}

fn lookup(state: &State, subject: &str, body: &Value) -> (u16, Value) {
    let new = match supplied(body) {
        Ok(s) => s,
        Err(e) => return e,
    };
    let Some(ids) = state.subjects.get(subject) else {
        return error(404, 40401, &format!("Subject '{subject}' not found."));
    };
    match ids
        .iter()
        .position(|i| same(&state.schemas[*i as usize - 1], &new))
    {
        Some(n) => (200, subject_version(state, subject, n + 1, ids[n])),
        None => error(404, 40403, "Schema not found"),
    }
}

fn version_of(state: &State, subject: &str, version: &str) -> Result<(usize, u32), (u16, Value)> {
    let Some(ids) = state.subjects.get(subject) else {
        return Err(error(
            404,
            40401,
            &format!("Subject '{subject}' not found."),
        ));
    };
    let n = match version {
        "latest" | "-1" => ids.len(),
        v => v.parse().unwrap_or(0),
    };
    match ids.get(n.wrapping_sub(1)) {
        Some(id) => Ok((n, *id)),
        None => Err(error(404, 40402, &format!("Version {version} not found."))),
    }
}

fn subject_version(state: &State, subject: &str, version: usize, id: u32) -> Value {
    let s = &state.schemas[id as usize - 1];
    let mut v = json!({ "subject": subject, "version": version, "id": id, "schema": s.text });
    // Confluent leaves schemaType out for AVRO.
    if s.kind != "AVRO" {
        v["schemaType"] = json!(s.kind);
    }
    v
}

fn schema_body(s: &Stored, serialized: bool, karapace: bool) -> (u16, Value) {
    let mut text = s.text.clone();
    if serialized && s.kind == "PROTOBUF" {
        let mut file = proto_rules::compile_source(&s.text).unwrap();
        if karapace {
            strip_synthetic_oneofs(&mut file);
        }
        text = base64(&file.encode_to_vec());
    }
    let mut v = json!({ "schema": text });
    if s.kind != "AVRO" {
        v["schemaType"] = json!(s.kind);
    }
    (200, v)
}

/// What Karapace does when it serializes: the synthetic oneofs of proto3 `optional` fields
/// are dropped (the fields keep `proto3_optional`).
fn strip_synthetic_oneofs(file: &mut prost_types::FileDescriptorProto) {
    for m in &mut file.message_type {
        let synthetic: Vec<i32> = (0..m.oneof_decl.len() as i32)
            .filter(|i| {
                m.field
                    .iter()
                    .filter(|f| f.oneof_index == Some(*i))
                    .all(|f| f.proto3_optional())
            })
            .collect();
        for f in &mut m.field {
            if let Some(i) = f.oneof_index {
                if synthetic.contains(&i) {
                    f.oneof_index = None;
                } else {
                    f.oneof_index = Some(i - synthetic.iter().filter(|s| **s < i).count() as i32);
                }
            }
        }
        let mut i = 0;
        m.oneof_decl.retain(|_| {
            let keep = !synthetic.contains(&i);
            i += 1;
            keep
        });
    }
}

fn compatibility(
    state: &State,
    subject: &str,
    version: &str,
    body: &Value,
    verbose: bool,
) -> (u16, Value) {
    let new = match supplied(body) {
        Ok(s) => s,
        Err(e) => return e,
    };
    if let Err(e) = version_of(state, subject, version) {
        return e;
    }
    // Against that one version (or the latest), in the directions of the subject's level.
    let problems = breaks(state, subject, &new, true);
    let mut v = json!({ "is_compatible": problems.is_empty() });
    if verbose {
        v["messages"] = json!(problems);
    }
    (200, v)
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = u32::from(chunk[0]) << 16
            | u32::from(*chunk.get(1).unwrap_or(&0)) << 8
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
