//! Secrets: one place that knows what a credential is, and how it is shown (`***`). Used for
//! the Schema Registry's basic auth, the Redis URL (its password), and the Kafka properties
//! that carry credentials (`sasl.password`, `ssl.key.password`, ...): none of them appears in
//! a log line, an error, `Debug` output or an endpoint.

use std::collections::BTreeMap;
use std::fmt;

/// A credential: never printed (`Debug` and `Display` show `***`).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The credential itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A URL that may carry credentials (`redis://user:password@host:6379`): shown with the
/// user information replaced by `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(String);

impl SecretUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The URL itself, for the one place that connects.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The password (or the whole user information) it carries, if any.
    pub fn credentials(&self) -> Option<&str> {
        let (_, rest) = self.0.split_once("://")?;
        let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
        let at = authority.rfind('@')?;
        let info = &authority[..at];
        Some(info.split_once(':').map_or(info, |(_, password)| password)).filter(|c| !c.is_empty())
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretUrl({})", redact_url(&self.0))
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

/// `url` with its user information replaced by `***` (`redis://***@host:6379`).
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

/// librdkafka properties whose values are credentials.
pub fn is_secret_property(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.contains("password")
        || key.contains("secret")
        || key == "sasl.oauthbearer.config"
        || key == "ssl.key.pem"
        || key == "ssl_key"
}

/// The properties for display: every credential shown as `***`.
pub fn redacted_properties(properties: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    properties
        .iter()
        .map(|(k, v)| {
            let shown = if is_secret_property(k) {
                "***".to_owned()
            } else {
                v.clone()
            };
            (k.clone(), shown)
        })
        .collect()
}

/// `text` with every occurrence of each of `secrets` replaced by `***` (for messages that
/// may quote a value, such as a parser's error).
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for s in secrets.iter().filter(|s| s.len() >= 3) {
        out = out.replace(s.as_str(), "***");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_properties_show_no_credentials() {
        let u = SecretUrl::new("redis://default:S3CRET@127.0.0.1:6379/0");
        assert_eq!(u.to_string(), "redis://***@127.0.0.1:6379/0");
        assert_eq!(format!("{u:?}"), "SecretUrl(redis://***@127.0.0.1:6379/0)");
        assert_eq!(u.credentials(), Some("S3CRET"));
        assert_eq!(SecretUrl::new("redis://h:1").credentials(), None);
        let mut p = BTreeMap::new();
        p.insert("sasl.password".to_owned(), "pw".to_owned());
        p.insert("ssl.key.password".to_owned(), "pw".to_owned());
        p.insert("sasl.username".to_owned(), "user".to_owned());
        let shown = redacted_properties(&p);
        assert_eq!(shown["sasl.password"], "***");
        assert_eq!(shown["ssl.key.password"], "***");
        assert_eq!(shown["sasl.username"], "user");
        assert_eq!(
            scrub("invalid `S3CRET` here", &["S3CRET".into()]),
            "invalid `***` here"
        );
    }
}
