//! Who the dashboard signs in as: tenant, API key and (for the desktop app or
//! a dashboard served elsewhere) the server's address. Kept by the platform
//! ([`crate::platform`]); also taken from a `#tenant=..&key=..` link, whose
//! fragment is then removed from the address bar so the key is not left on
//! screen or in history.

use serde::{Deserialize, Serialize};

/// What the dashboard needs to call the API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub tenant: String,
    pub key: String,
    /// Base URL of the server; empty means the page's own origin.
    #[serde(default)]
    pub server: String,
}

impl Credentials {
    /// Trims the fields and checks none of the required ones is empty.
    pub fn new(tenant: &str, key: &str, server: &str) -> Result<Self, &'static str> {
        let (tenant, key, server) = (tenant.trim(), key.trim(), server.trim().trim_end_matches('/'));
        if tenant.is_empty() {
            return Err("Enter the tenant id, for example acme.");
        }
        if key.is_empty() {
            return Err("Enter an API key with the viewer role.");
        }
        let is_http = server.starts_with("http://") || server.starts_with("https://");
        if !server.is_empty() && !is_http {
            return Err("The server address must start with http:// or https://.");
        }
        Ok(Self {
            tenant: tenant.to_owned(),
            key: key.to_owned(),
            server: server.to_owned(),
        })
    }
}

/// Reads `tenant` and `key` (and optionally `server`) from a URL fragment
/// such as `#tenant=acme&key=pk_demo_acme_viewer`.
pub fn from_fragment(fragment: &str) -> Option<Credentials> {
    let fragment = fragment.strip_prefix('#').unwrap_or(fragment);
    let mut tenant = None;
    let mut key = None;
    let mut server = String::new();
    for pair in fragment.split('&') {
        let (name, value) = pair.split_once('=')?;
        let value = js_decode(value)?;
        match name {
            "tenant" => tenant = Some(value),
            "key" => key = Some(value),
            "server" => server = value,
            _ => {}
        }
    }
    Credentials::new(&tenant?, &key?, &server).ok()
}

/// Percent-decoding of a fragment value (`+` is not a space in fragments).
fn js_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = value.get(index + 1..index + 3)?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

/// Credentials from the address bar's fragment, which is then removed.
pub fn take_from_location() -> Option<Credentials> {
    let window = web_sys::window()?;
    let location = window.location();
    let credentials = from_fragment(&location.hash().ok()?)?;
    let clean = format!("{}{}", location.pathname().ok()?, location.search().ok()?);
    window
        .history()
        .ok()?
        .replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&clean))
        .ok();
    Some(credentials)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_sign_in_link() {
        let credentials = from_fragment("#tenant=acme&key=pk_demo_acme_viewer").unwrap();
        assert_eq!(
            credentials,
            Credentials::new("acme", "pk_demo_acme_viewer", "").unwrap()
        );
        let with_server = from_fragment("#key=k%2Bx&tenant=globex&server=http%3A%2F%2F127.0.0.1%3A8080%2F").unwrap();
        assert_eq!(with_server.key, "k+x");
        assert_eq!(with_server.server, "http://127.0.0.1:8080");
    }

    #[test]
    fn ignores_fragments_that_are_not_sign_in_links() {
        assert_eq!(from_fragment(""), None);
        assert_eq!(from_fragment("#section-2"), None);
        assert_eq!(from_fragment("#tenant=acme"), None);
        assert_eq!(from_fragment("#tenant=&key=x"), None);
        assert_eq!(from_fragment("#tenant=acme&key=%zz"), None);
    }

    #[test]
    fn validates_settings() {
        assert!(Credentials::new(" acme ", " key ", "").is_ok());
        assert!(Credentials::new("", "key", "").is_err());
        assert!(Credentials::new("acme", "", "").is_err());
        assert!(Credentials::new("acme", "key", "ftp://x").is_err());
    }
}
