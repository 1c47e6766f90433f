//! What every response says about itself to the browser: security headers
//! on all of them, `Cache-Control: no-store` on the API's (payment data has
//! no business in a shared cache), a strict Content Security Policy on the
//! dashboard's pages, and the CORS allow-list from configuration; and the
//! deadline within which every API request is answered.

use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Headers every response carries.
pub async fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// The API's answers are never stored by a browser or a proxy.
pub async fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The dashboard's policy: its own scripts (and the page's one inline
/// module script, by hash) and WebAssembly, its own styles (Sycamore sets
/// `style` attributes: allowed as attributes only), connections to any
/// server a user signs in to, nothing framed, no plugins.
pub fn dashboard_policy(index_html: &str) -> HeaderValue {
    let scripts: String = inline_scripts(index_html)
        .map(|script| format!(" 'sha256-{}'", STANDARD.encode(Sha256::digest(script.as_bytes()))))
        .collect();
    let policy = format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{scripts}; style-src 'self'; \
         style-src-attr 'unsafe-inline'; img-src 'self' data:; connect-src 'self' http: https: ws: wss:; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    HeaderValue::from_str(&policy).unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"))
}

/// The header for [`dashboard_policy`].
pub const POLICY_HEADER: HeaderName = CONTENT_SECURITY_POLICY;

/// The text of each inline `<script>` of a page (those without `src`).
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    html.split("<script").skip(1).filter_map(|rest| {
        let (attributes, rest) = rest.split_once('>')?;
        if attributes.contains("src=") {
            return None;
        }
        Some(rest.split_once("</script>")?.0)
    })
}

/// Pages of `origins` may call the API (the dashboard the server serves is
/// same-origin and needs no entry); any other origin's page gets no CORS
/// grant. Credentials are bearer keys, never cookies.
pub fn cors(origins: &[String], tenant_header: &'static str) -> anyhow::Result<CorsLayer> {
    let origins = origins
        .iter()
        .map(|origin| origin.trim())
        .filter(|origin| !origin.is_empty())
        .map(|origin| {
            HeaderValue::from_str(origin).map_err(|_| anyhow::anyhow!("CORS_ORIGINS: '{origin}' is not a valid origin"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers([
            axum::http::header::AUTHORIZATION,
            axum::http::header::CONTENT_TYPE,
            HeaderName::from_static(tenant_header),
        ]))
}

/// How long an API request may take before it is answered 503: a database
/// that accepts connections but answers nothing would otherwise hold every
/// request, its connection and its memory for as long as clients keep
/// sending (seen in the soak: +5 MiB and 50 sockets a second at 50
/// payments a second). The longest computations (a cold year of analytics
/// over a million payments) take a few seconds.
pub const REQUEST_DEADLINE: std::time::Duration = std::time::Duration::from_secs(15);

/// Answers 503 `unavailable` (with `Retry-After`) when the handler has not
/// produced its answer within the deadline. Only the answer's head is
/// timed: a CSV download streams its body as long as it takes, and a
/// socket's upgrade is answered at once. A write that was queued goes on
/// and may still be made: the client sends it again, and its `externalId`
/// makes that a replay, not a second payment.
pub async fn deadline(
    axum::extract::State(limit): axum::extract::State<std::time::Duration>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use axum::response::IntoResponse;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => crate::error::ApiError::Unavailable(format!(
            "no answer within {} s (the database may be slow or unreachable); retry shortly",
            limit.as_secs_f64()
        ))
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_each_inline_script_by_its_hash() {
        let page = r#"<script src="/a.js"></script><script type="module">init();</script>"#;
        let policy = dashboard_policy(page);
        let policy = policy.to_str().unwrap();
        let hash = STANDARD.encode(Sha256::digest(b"init();"));
        assert!(policy.contains(&format!("'sha256-{hash}'")), "{policy}");
        assert_eq!(policy.matches("sha256-").count(), 1, "scripts with src are not hashed");
        assert!(policy.contains("frame-ancestors 'none'"));
    }

    #[test]
    fn a_malformed_origin_is_refused_at_start() {
        assert!(cors(&["tauri://localhost".into()], "x-tenant-id").is_ok());
        assert!(cors(&["bad\norigin".into()], "x-tenant-id").is_err());
    }
}
