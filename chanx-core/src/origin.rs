//! The origin check against cross-site WebSocket hijacking.
//!
//! A browser sends `Origin` with every WebSocket handshake, and sends the site's
//! cookies whatever page opened the socket. Without a check, any web page could open a
//! socket to the app with its visitor's session. chanx therefore accepts a browser
//! request (one that carries `Origin`) only from the app's own origin (the `Origin`
//! host equals the request's `Host`) or from an origin the app allows; requests
//! without `Origin` (command-line tools, services, mobile apps) are accepted.

use http::{HeaderMap, Uri, header};

/// Which browser origins may open WebSocket connections; set it with
/// [`Settings::origin`](crate::Settings::origin).
///
/// ```
/// use chanx::{OriginPolicy, Settings};
///
/// // The app's own origin, plus a front end on another host and every subdomain.
/// let policy = OriginPolicy::allow(["https://app.example.com", "https://*.example.com"]);
/// let settings = Settings::default().origin(policy);
/// # let _ = settings;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum OriginPolicy {
    /// Only the app's own origin: the `Origin` header's host and port equal the
    /// request's `Host` (the default).
    #[default]
    SameOrigin,
    /// The app's own origin and these patterns.
    Allow(Vec<OriginPattern>),
    /// Every origin: turns the check off (only for apps that use no cookies or other
    /// ambient credentials).
    Any,
}

impl OriginPolicy {
    /// The app's own origin plus `patterns`: `https://app.example.com` (exact),
    /// `https://*.example.com` (any subdomain), `app.example.com` or
    /// `localhost:3000` (any scheme; without a port, any port). A pattern that cannot
    /// be read matches nothing and is logged.
    pub fn allow<I, P>(patterns: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<str>,
    {
        OriginPolicy::Allow(patterns.into_iter().filter_map(|p| OriginPattern::parse(p.as_ref())).collect())
    }

    /// Checks a request's headers; `Err` carries the refused origin, for the log.
    pub(crate) fn check(&self, headers: &HeaderMap) -> Result<(), String> {
        let Some(origin) = headers.get(header::ORIGIN) else { return Ok(()) };
        if *self == OriginPolicy::Any {
            return Ok(());
        }
        let text = String::from_utf8_lossy(origin.as_bytes());
        let Some(origin) = Origin::parse(&text) else { return Err(text.into_owned()) };
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let same = host.is_some_and(|host| origin.same_authority(host));
        let allowed = match self {
            OriginPolicy::Allow(patterns) => patterns.iter().any(|p| p.matches(&origin)),
            _ => false,
        };
        if same || allowed { Ok(()) } else { Err(text.into_owned()) }
    }
}

/// One entry of an [`OriginPolicy::Allow`] list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPattern {
    scheme: Option<String>,
    /// Lower case; `*.example.com` is kept as the suffix `.example.com`.
    host: HostPattern,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Exact(String),
    Subdomains(String),
}

impl OriginPattern {
    /// Reads a pattern, or logs why it cannot.
    pub fn parse(pattern: &str) -> Option<Self> {
        let with_scheme =
            if pattern.contains("://") { pattern.to_owned() } else { format!("any://{pattern}") };
        let (scheme, host, port) = match with_scheme.replacen("*.", "wildcard.", 1).parse::<Uri>() {
            Ok(uri) => (
                uri.scheme_str().map(str::to_ascii_lowercase),
                uri.host().map(str::to_ascii_lowercase),
                uri.port_u16(),
            ),
            Err(_) => (None, None, None),
        };
        let Some(host) = host else {
            tracing::warn!(pattern, "origin pattern cannot be read; it allows nothing");
            return None;
        };
        let host = match host.strip_prefix("wildcard.") {
            Some(domain) if pattern.contains("*.") => HostPattern::Subdomains(format!(".{domain}")),
            _ => HostPattern::Exact(host),
        };
        Some(OriginPattern { scheme: scheme.filter(|s| s != "any"), host, port })
    }

    fn matches(&self, origin: &Origin) -> bool {
        let scheme = self.scheme.as_ref().is_none_or(|s| *s == origin.scheme);
        let host = match &self.host {
            HostPattern::Exact(host) => *host == origin.host,
            HostPattern::Subdomains(suffix) => origin.host.ends_with(suffix.as_str()),
        };
        let port = self.port.is_none_or(|p| p == origin.port);
        scheme && host && port
    }
}

/// A parsed `Origin` header: scheme, lower-case host and port (the scheme's default
/// when absent).
#[derive(Debug)]
struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    fn parse(text: &str) -> Option<Origin> {
        let uri: Uri = text.parse().ok()?;
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let port = uri.port_u16().or_else(|| default_port(&scheme))?;
        Some(Origin { host: uri.host()?.to_ascii_lowercase(), scheme, port })
    }

    /// Whether `host` (a `Host` header: `name[:port]`) names this origin's authority.
    fn same_authority(&self, host: &str) -> bool {
        let Ok(authority) = host.parse::<http::uri::Authority>() else { return false };
        let port = authority.port_u16().or_else(|| default_port(&self.scheme));
        authority.host().eq_ignore_ascii_case(&self.host) && port == Some(self.port)
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn request(origin: Option<&'static str>, host: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static(host));
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, HeaderValue::from_static(origin));
        }
        headers
    }

    #[test]
    fn same_origin_by_default_and_no_origin_is_accepted() {
        let policy = OriginPolicy::default();
        assert!(policy.check(&request(None, "chat.example.com")).is_ok());
        assert!(policy.check(&request(Some("https://chat.example.com"), "chat.example.com")).is_ok());
        assert!(policy.check(&request(Some("http://localhost:8000"), "localhost:8000")).is_ok());
        assert!(policy.check(&request(Some("http://LOCALHOST:8000"), "localhost:8000")).is_ok());
        assert!(policy.check(&request(Some("http://a.com"), "a.com:80")).is_ok());
        assert!(policy.check(&request(Some("https://evil.com"), "chat.example.com")).is_err());
        assert!(policy.check(&request(Some("http://localhost:9000"), "localhost:8000")).is_err());
        assert!(policy.check(&request(Some("null"), "localhost:8000")).is_err());
    }

    #[test]
    fn allow_list_patterns() {
        let policy =
            OriginPolicy::allow(["https://app.example.com", "https://*.example.org", "localhost:3000"]);
        let ok = |origin| policy.check(&request(Some(origin), "api.example.com")).is_ok();
        assert!(ok("https://app.example.com"));
        assert!(!ok("http://app.example.com"), "the scheme is part of the pattern");
        assert!(ok("https://a.example.org") && ok("https://a.b.example.org"));
        assert!(!ok("https://example.org"), "a subdomain pattern does not match the bare domain");
        assert!(!ok("https://evilexample.org"));
        assert!(ok("http://localhost:3000") && !ok("http://localhost:3001"));
        assert!(ok("https://api.example.com"), "the app's own origin stays allowed");
        assert!(OriginPolicy::Any.check(&request(Some("https://evil.com"), "a.com")).is_ok());
    }
}
