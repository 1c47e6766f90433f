//! Every endpoint the server answers, once, with what it takes to call it.
//! The router is built from this table (`crate::router`), and the isolation
//! test walks it with every wrong credential, so an endpoint cannot be added
//! without being tried that way. Each feature lists its own routes
//! (`routes()`); the access an endpoint needs is declared here, beside its
//! path, and enforced by its handler's extractor.

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{self, MethodRouter};
use axum::{Extension, Router};

use crate::access::UrlCredentials;
use crate::state::AppState;
use crate::store::documents::Role;

/// What a caller needs to be answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// Nothing: the health probes.
    Nothing,
    /// A key of the tenant with this role's rights, in the header.
    Key(Role),
    /// The same, or in the URL (a ticket, or `key` with `tenant`): the
    /// live socket and the downloads, which a browser cannot give a header.
    KeyOrUrl(Role),
    /// Any key of the tenant (a ticket is bound to the key's role).
    AnyKey,
}

/// One endpoint: a method on a path (`{id}` for a path parameter).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub method: Method,
    pub path: String,
    pub needs: Needs,
}

/// An endpoint and its handler.
pub struct Route {
    endpoint: Endpoint,
    handler: MethodRouter<AppState>,
}

impl Route {
    fn new(method: Method, path: &str, needs: Needs, handler: MethodRouter<AppState>) -> Self {
        let handler = if matches!(needs, Needs::KeyOrUrl(_)) {
            handler.route_layer(Extension(UrlCredentials))
        } else {
            handler
        };
        Self {
            endpoint: Endpoint {
                method,
                path: path.to_owned(),
                needs,
            },
            handler,
        }
    }

    pub fn get<H, T>(path: &str, needs: Needs, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        Self::new(Method::GET, path, needs, routing::get(handler))
    }

    pub fn post<H, T>(path: &str, needs: Needs, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        Self::new(Method::POST, path, needs, routing::post(handler))
    }

    pub fn put<H, T>(path: &str, needs: Needs, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        Self::new(Method::PUT, path, needs, routing::put(handler))
    }

    pub fn delete<H, T>(path: &str, needs: Needs, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        Self::new(Method::DELETE, path, needs, routing::delete(handler))
    }
}

/// The API's routes, under `/api`.
fn api() -> Vec<Route> {
    [
        crate::analytics::routes(),
        crate::payments::routes(),
        crate::ingest::routes(),
        crate::export::routes(),
        crate::alerts::routes(),
        crate::access::routes(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The routes outside `/api`.
fn root() -> Vec<Route> {
    [crate::health::routes(), crate::live::routes()]
        .into_iter()
        .flatten()
        .collect()
}

/// Every endpoint, with its full path.
pub fn catalogue() -> Vec<Endpoint> {
    let api = api().into_iter().map(|route| Endpoint {
        path: format!("/api{}", route.endpoint.path),
        ..route.endpoint
    });
    api.chain(root().into_iter().map(|route| route.endpoint)).collect()
}

/// A router of `routes` (several methods on one path share it).
fn router_of(routes: Vec<Route>) -> Router<AppState> {
    routes.into_iter().fold(Router::new(), |router, route| {
        router.route(&route.endpoint.path, route.handler)
    })
}

/// The API's router, to be nested under `/api`.
pub fn api_router() -> Router<AppState> {
    router_of(api())
}

/// The router of what is outside `/api` (the dashboard aside).
pub fn root_router() -> Router<AppState> {
    router_of(root())
}
