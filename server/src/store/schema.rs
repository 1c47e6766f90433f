//! Collections, `$jsonSchema` validators and indexes, created idempotently at
//! start so that a fresh database is ready without manual steps.

use mongodb::bson::{Document, doc};
use mongodb::options::IndexOptions;
use mongodb::{Database, IndexModel};

use super::names;

/// Creates what is missing and brings validators up to date. Returns the
/// collections it created.
pub async fn ensure(database: &Database) -> mongodb::error::Result<Vec<&'static str>> {
    let existing = database.list_collection_names().await?;
    let mut created = Vec::new();
    for (name, validator) in [
        (names::PAYMENTS, payments_validator()),
        (names::TENANTS, tenants_validator()),
        (names::METHODS, methods_validator()),
        (names::ROLLUPS, rollups_validator()),
        (names::HOUR_ROLLUPS, rollups_validator()),
        (names::DAY_ROLLUPS, rollups_validator()),
        (names::ALERTS, alerts_validator()),
        (names::ALERT_STATES, alert_states_validator()),
    ] {
        if existing.iter().any(|known| known == name) {
            database
                .run_command(doc! { "collMod": name, "validator": validator })
                .await?;
        } else {
            match database.create_collection(name).validator(validator).await {
                Ok(()) => created.push(name),
                // Another instance created it between our listing and now.
                Err(error) if is_namespace_exists(&error) => {}
                Err(error) => return Err(error),
            }
        }
    }
    database
        .collection::<Document>(names::PAYMENTS)
        .create_indexes(payment_indexes())
        .await?;
    let tenants = database.collection::<Document>(names::TENANTS);
    // The first key index was not sparse: every tenant without keys indexed
    // a null hash, so a second one could not be created (`seed` without
    // `--demo-keys`). Replaced by the sparse one; gone already is fine.
    tenants.drop_index(LEGACY_KEY_INDEX).await.ok();
    tenants.create_indexes(tenant_indexes()).await?;
    database
        .collection::<Document>(names::ALERTS)
        .create_indexes(alert_indexes())
        .await?;
    database
        .collection::<Document>(names::ALERT_STATES)
        .create_indexes(vec![index("tenant", doc! { "tenantId": 1 }, false)])
        .await?;
    // A tenant's trail newest first, and each entry gone after the
    // retention (a TTL index: MongoDB removes them).
    let retention = IndexOptions::builder()
        .name("expiry".to_owned())
        .expire_after(std::time::Duration::from_secs(super::audit::RETENTION_DAYS * 86_400))
        .build();
    database
        .collection::<Document>(names::AUDIT)
        .create_indexes(vec![
            index("tenant_newest", doc! { "tenantId": 1, "_id": -1 }, false),
            IndexModel::builder().keys(doc! { "at": 1 }).options(retention).build(),
        ])
        .await?;
    for rollups in names::ALL_ROLLUPS {
        database
            .collection::<Document>(rollups)
            .create_indexes(rollup_indexes())
            .await?;
    }
    Ok(created)
}

fn is_namespace_exists(error: &mongodb::error::Error) -> bool {
    matches!(*error.kind, mongodb::error::ErrorKind::Command(ref command) if command.code == 48)
}

fn index(name: &str, keys: Document, unique: bool) -> IndexModel {
    let options = IndexOptions::builder()
        .name(name.to_owned())
        .unique(unique.then_some(true))
        .build();
    IndexModel::builder().keys(keys).options(options).build()
}

/// Every index leads with `tenantId`: each query the product makes is scoped
/// to one tenant.
pub fn payment_indexes() -> Vec<IndexModel> {
    vec![
        index("tenant_external_id", doc! { "tenantId": 1, "externalId": 1 }, true),
        index(
            "tenant_created",
            doc! { "tenantId": 1, "createdAt": -1, "_id": -1 },
            false,
        ),
        index(
            "tenant_status_created",
            doc! { "tenantId": 1, "status": 1, "createdAt": -1 },
            false,
        ),
        index(
            "tenant_method_created",
            doc! { "tenantId": 1, "method": 1, "createdAt": -1 },
            false,
        ),
        // The list and export sorted by amount.
        index(
            "tenant_amount",
            doc! { "tenantId": 1, "amountMinor": -1, "_id": -1 },
            false,
        ),
    ]
}

const LEGACY_KEY_INDEX: &str = "api_key_hash";

/// Key hashes are unique across tenants; a tenant without keys has none to
/// index (sparse), so any number of them can exist.
fn tenant_indexes() -> Vec<IndexModel> {
    let options = IndexOptions::builder()
        .name("api_key_hash_sparse".to_owned())
        .unique(true)
        .sparse(true)
        .build();
    vec![
        IndexModel::builder()
            .keys(doc! { "apiKeys.hash": 1 })
            .options(options)
            .build(),
    ]
}

/// The history newest first (`_id` is the episode's start), whole or by
/// state or rule.
fn alert_indexes() -> Vec<IndexModel> {
    vec![
        index("tenant_newest", doc! { "tenantId": 1, "_id": -1 }, false),
        index(
            "tenant_state_newest",
            doc! { "tenantId": 1, "state": 1, "_id": -1 },
            false,
        ),
        index(
            "tenant_rule_newest",
            doc! { "tenantId": 1, "ruleId": 1, "_id": -1 },
            false,
        ),
    ]
}

fn alerts_validator() -> Document {
    doc! { "$jsonSchema": {
        "bsonType": "object",
        "required": ["_id", "tenantId", "ruleId", "ruleName", "kind", "state", "startedAt", "value",
            "threshold", "message", "silenced", "windowFrom"],
        "properties": {
            "_id": { "bsonType": "objectId" },
            "tenantId": { "bsonType": "string", "minLength": 1 },
            "ruleId": { "bsonType": "string", "minLength": 1 },
            "ruleName": { "bsonType": "string" },
            "kind": { "enum": ["failure_rate", "volume_above", "volume_below", "volume_anomaly"] },
            "state": { "enum": ["pending", "firing", "resolved"] },
            "startedAt": { "bsonType": "date" },
            "firedAt": { "bsonType": "date" },
            "resolvedAt": { "bsonType": "date" },
            "value": { "bsonType": "double" },
            "threshold": { "bsonType": "double" },
            "message": { "bsonType": "string" },
            "silenced": { "bsonType": "bool" },
            "windowFrom": { "bsonType": "date" },
            "windowTo": { "bsonType": "date" },
        },
    } }
}

fn alert_states_validator() -> Document {
    doc! { "$jsonSchema": {
        "bsonType": "object",
        "required": ["_id", "tenantId", "ruleId", "phase", "version"],
        "properties": {
            "_id": { "bsonType": "string" },
            "tenantId": { "bsonType": "string", "minLength": 1 },
            "ruleId": { "bsonType": "string", "minLength": 1 },
            "phase": { "bsonType": "object" },
            "alertId": { "bsonType": "objectId" },
            "version": { "bsonType": ["int", "long"], "minimum": 1 },
        },
    } }
}

fn rollup_indexes() -> Vec<IndexModel> {
    vec![index("tenant_cell", doc! { "tenantId": 1, "cell": 1 }, false)]
}

fn rollups_validator() -> Document {
    let count = doc! { "bsonType": ["int", "long"], "minimum": 0 };
    let counters = doc! {
        "bsonType": "object",
        "required": ["succeeded", "failed", "refunded", "volumeMinor", "refundedMinor"],
        "properties": {
            "succeeded": count.clone(),
            "failed": count.clone(),
            "refunded": count.clone(),
            "volumeMinor": count.clone(),
            "refundedMinor": count,
        },
    };
    doc! { "$jsonSchema": {
        "bsonType": "object",
        "required": ["_id", "tenantId", "cell", "methods"],
        "properties": {
            "_id": { "bsonType": "string" },
            "tenantId": { "bsonType": "string", "minLength": 1 },
            "cell": { "bsonType": "date" },
            "methods": { "bsonType": "object", "additionalProperties": counters },
            // Incremented by every write: what kept copies are checked by.
            "v": { "bsonType": ["int", "long"], "minimum": 0 },
            // Quarters: the writes of each server process (`store::edges`).
            "w": { "bsonType": "object", "additionalProperties": { "bsonType": ["int", "long"], "minimum": 0 } },
        },
    } }
}

/// The `$jsonSchema` of `payments` (SPEC §2): public so that a benchmark's
/// baseline collection is set up exactly as ours.
pub fn payments_validator() -> Document {
    doc! { "$jsonSchema": {
        "bsonType": "object",
        "required": ["tenantId", "externalId", "amountMinor", "currency", "method", "status", "createdAt", "updatedAt"],
        "properties": {
            "tenantId": { "bsonType": "string", "minLength": 1 },
            "externalId": { "bsonType": "string", "minLength": 1, "maxLength": 255 },
            "amountMinor": { "bsonType": "long", "minimum": 1 },
            "currency": { "bsonType": "string", "pattern": "^[A-Z]{3}$" },
            "method": { "bsonType": "string", "minLength": 1 },
            "status": { "enum": ["succeeded", "failed", "refunded"] },
            "failureReason": { "bsonType": "string" },
            "refundedAt": { "bsonType": "date" },
            "createdAt": { "bsonType": "date" },
            "updatedAt": { "bsonType": "date" },
        },
    } }
}

fn tenants_validator() -> Document {
    doc! { "$jsonSchema": {
        "bsonType": "object",
        "required": ["_id", "name", "timezone", "currency", "methods", "apiKeys", "createdAt"],
        "properties": {
            "_id": { "bsonType": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$" },
            "name": { "bsonType": "string", "minLength": 1 },
            "timezone": { "bsonType": "string", "minLength": 1 },
            "currency": { "bsonType": "string", "pattern": "^[A-Z]{3}$" },
            "methods": { "bsonType": "array", "items": { "bsonType": "string" } },
            "alertRules": { "bsonType": "array", "items": { "bsonType": "object" } },
            "apiKeys": { "bsonType": "array", "items": {
                "bsonType": "object",
                "required": ["id", "hash", "role", "label", "createdAt"],
                "properties": {
                    "id": { "bsonType": "string" },
                    "hash": { "bsonType": "string", "pattern": "^[0-9a-f]{64}$" },
                    "role": { "enum": ["viewer", "ingest", "admin"] },
                    "label": { "bsonType": "string" },
                    "createdAt": { "bsonType": "date" },
                },
            } },
            "createdAt": { "bsonType": "date" },
        },
    } }
}

fn methods_validator() -> Document {
    doc! { "$jsonSchema": {
        "bsonType": "object",
        "required": ["_id", "displayName", "colour"],
        "properties": {
            "_id": { "bsonType": "string" },
            "displayName": { "bsonType": "string" },
            "colour": { "bsonType": "string", "pattern": "^#[0-9a-f]{6}$" },
        },
    } }
}
