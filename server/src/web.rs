//! Serves the built dashboard at `/` beside `/api` and `/ws`. Unknown paths
//! outside the API get `index.html`, so the dashboard's own routes survive a
//! reload.

use std::path::Path;

use axum::Router;
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::get;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::headers;
use crate::state::AppState;

/// The dashboard's routes, or a page that says how to build it.
pub fn router(dist: &Path) -> Router<AppState> {
    let index = dist.join("index.html");
    if index.is_file() {
        // `cargo xtask ui` writes a gzipped copy of each file beside it.
        let policy = headers::dashboard_policy(&std::fs::read_to_string(&index).unwrap_or_default());
        let files = ServeDir::new(dist)
            .precompressed_gzip()
            .fallback(ServeFile::new(index).precompressed_gzip());
        Router::new()
            .fallback_service(files)
            .layer(SetResponseHeaderLayer::overriding(headers::POLICY_HEADER, policy))
    } else {
        tracing::warn!(path = %dist.display(), "dashboard not built; `/` will say how to build it");
        Router::new().fallback(get(|| async {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Html(
                    "<h1>Paypulse</h1><p>The dashboard is not built. Run <code>cargo xtask ui</code> \
                      (or <code>cargo xtask run</code>) and reload.</p>",
                ),
            )
        }))
    }
}
