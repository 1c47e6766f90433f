//! Alerting (SPEC §3 "Alerts"): each tenant's rules (`GET`/`PUT
//! /api/alerts/rules`), the history of their episodes (`GET /api/alerts`),
//! and the evaluator that runs them (`evaluator`, over `conditions`).
//! Transitions to firing and resolved reach dashboards through the live
//! feed: the evaluator writes them through the writer, whose pipeline
//! publishes them like payment events.

pub mod conditions;
pub mod evaluator;

use axum::Json;
use axum::extract::State;
use paypulse_shared::alerts::{AlertRules, AlertsPage, rules};
use paypulse_shared::error::ErrorCode;
use paypulse_shared::query::{AlertsQuery, DEFAULT_LIMIT};

use crate::access::{Admin, Viewer};
use crate::clock::Clock;
use crate::error::{ApiError, ApiResult};
use crate::params::{JsonBody, Params};
use crate::routes::{Needs, Route};
use crate::store::Store;
use crate::store::alerts::AlertFilter;
use crate::store::audit::{AuditAction, AuditDoc};
use crate::store::documents::Role;
use crate::writer::Writer;

pub use evaluator::{AlertLimits, Evaluator};

pub fn routes() -> Vec<Route> {
    vec![
        Route::get("/alerts/rules", Needs::Key(Role::Viewer), get_rules),
        Route::put("/alerts/rules", Needs::Key(Role::Admin), put_rules),
        Route::get("/alerts", Needs::Key(Role::Viewer), history),
    ]
}

/// `GET /api/alerts/rules`: the tenant's rules (its defaults until an admin
/// changes them), and whether the caller may change them.
async fn get_rules(State(store): State<Store>, Viewer(caller): Viewer) -> ApiResult<Json<AlertRules>> {
    let editable = caller.role.grants(Role::Admin);
    let tenant = caller.tenant;
    let rules = store.alert_rules(&tenant.id).await?.unwrap_or_else(rules::defaults);
    Ok(Json(AlertRules {
        rules,
        editable: Some(editable),
    }))
}

/// `PUT /api/alerts/rules` (admin): replaces every rule after validation;
/// a wrong field is a 400 `invalid_rule` that names it.
async fn put_rules(
    State(writer): State<Writer>,
    State(clock): State<Clock>,
    Admin(caller): Admin,
    body: Result<JsonBody<AlertRules>, ApiError>,
) -> ApiResult<Json<AlertRules>> {
    let actor = caller.actor().to_owned();
    let tenant = caller.tenant;
    let JsonBody(body) = body.map_err(|error| match error {
        // The body's shape (a wrong type, an unknown kind) names the field too.
        ApiError::Client {
            code: ErrorCode::InvalidBody,
            message,
        } => ApiError::new(ErrorCode::InvalidRule, message),
        other => other,
    })?;
    let rules = rules::validate(body.rules, tenant.scale())
        .map_err(|error| ApiError::new(ErrorCode::InvalidRule, error.to_string()))?;
    let ids: Vec<&str> = rules.iter().map(|rule| rule.id.as_str()).collect();
    let audit = AuditDoc::new(
        &tenant.id,
        &actor,
        AuditAction::AlertRulesReplaced,
        format!("{} rules: {}", rules.len(), ids.join(", ")),
        clock.now(),
    );
    writer.replace_alert_rules(&tenant.id, rules.clone(), audit).await?;
    Ok(Json(AlertRules {
        rules,
        editable: Some(true),
    }))
}

/// `GET /api/alerts`: the tenant's episodes, newest first.
async fn history(
    State(store): State<Store>,
    Viewer(caller): Viewer,
    Params(query): Params<AlertsQuery>,
) -> ApiResult<Json<AlertsPage>> {
    let tenant = caller.tenant;
    let after = crate::params::id_cursor(query.cursor.as_deref())?;
    let filter = AlertFilter {
        state: query.state,
        rule_id: query.rule_id,
    };
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    let (alerts, next) = store.list_alerts(&tenant.id, &filter, after, limit).await?;
    Ok(Json(AlertsPage {
        items: alerts.iter().map(|alert| alert.to_wire()).collect(),
        next_cursor: next.map(|id| id.to_hex()),
    }))
}
