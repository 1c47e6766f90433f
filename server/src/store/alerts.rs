//! Alerts in MongoDB: each tenant's rules (in its `tenants` document), one
//! `alert_states` document per tenant and rule holding where the rule is in
//! its lifecycle, and one `alerts` document per episode (its history).
//!
//! A transition is a compare-and-set on the state document's `version`,
//! written in one transaction with the episode it changes: every instance
//! evaluates every rule, but of two that see the same transition only the
//! first to commit makes it; the other finds the version moved and writes
//! nothing. So an episode fires once and resolves once whatever the number
//! of instances, and survives the instance that began it.

use chrono::{DateTime, Utc};
use futures::{FutureExt, TryStreamExt};
use mongodb::ClientSession;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{self, DateTime as BsonDateTime, Document, doc};
use paypulse_shared::alerts::lifecycle::{Change, Phase};
use paypulse_shared::alerts::{Alert, AlertRule, AlertState, RuleKind};
use serde::{Deserialize, Serialize};

use super::Store;
use super::audit::AuditDoc;
use super::documents::{to_bson, to_chrono};
use super::events::DomainEvent;
use super::names;
use super::writes::Written;

/// One episode as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertDoc {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub tenant_id: String,
    pub rule_id: String,
    pub rule_name: String,
    pub kind: RuleKind,
    pub state: AlertState,
    pub started_at: BsonDateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fired_at: Option<BsonDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<BsonDateTime>,
    pub value: f64,
    pub threshold: f64,
    pub message: String,
    pub silenced: bool,
    pub window_from: BsonDateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_to: Option<BsonDateTime>,
}

impl AlertDoc {
    pub fn to_wire(&self) -> Alert {
        Alert {
            id: self.id.to_hex(),
            rule_id: self.rule_id.clone(),
            rule_name: self.rule_name.clone(),
            kind: self.kind,
            state: self.state,
            started_at: to_chrono(self.started_at),
            fired_at: self.fired_at.map(to_chrono),
            resolved_at: self.resolved_at.map(to_chrono),
            value: self.value,
            threshold: self.threshold,
            message: self.message.clone(),
            silenced: self.silenced,
            window_from: to_chrono(self.window_from),
            window_to: self.window_to.map(to_chrono),
        }
    }
}

/// Where one rule of one tenant is; `_id` is `<tenant>|<rule id>`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub tenant_id: String,
    pub rule_id: String,
    pub phase: Phase,
    /// The episode under way, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_id: Option<ObjectId>,
    /// Bumped by every transition: the compare-and-set between instances.
    pub version: i64,
}

/// One step of one rule's lifecycle, as the evaluator saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    pub tenant_id: String,
    pub rule_id: String,
    /// The rule's name and kind, for the episode a step opens (`Began`, or
    /// `Fired` without a pending period); `None` for a step that can only
    /// move or end one (a removed rule's).
    pub opens: Option<(String, RuleKind)>,
    /// The state document's version the step was computed from (0: none yet).
    pub version: i64,
    /// The episode under way before the step.
    pub alert_id: Option<ObjectId>,
    pub to: Phase,
    pub change: Change,
    pub at: DateTime<Utc>,
    pub value: f64,
    pub threshold: f64,
    pub message: String,
    pub silenced: bool,
    /// Where the rule's window began when the episode began.
    pub window_from: DateTime<Utc>,
}

/// What a transaction of a transition did.
enum Step {
    /// The rule's state moved since the evaluator read it: nothing written.
    Lost,
    /// Written; the episode as it is now, when it changed.
    Made(Option<AlertDoc>),
}

/// Filters of `GET /api/alerts`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AlertFilter {
    pub state: Option<AlertState>,
    pub rule_id: Option<String>,
}

impl Store {
    pub fn alerts(&self) -> mongodb::Collection<AlertDoc> {
        self.database().collection(names::ALERTS)
    }

    pub fn alert_states(&self) -> mongodb::Collection<StateDoc> {
        self.database().collection(names::ALERT_STATES)
    }

    /// A tenant's rules as stored (`None`: never changed, the defaults).
    pub async fn alert_rules(&self, tenant_id: &str) -> mongodb::error::Result<Option<Vec<AlertRule>>> {
        Ok(self.tenant(tenant_id).await?.and_then(|tenant| tenant.alert_rules))
    }

    /// Replaces a tenant's rules. Only the writer calls this.
    pub async fn replace_alert_rules(
        &self,
        tenant_id: &str,
        rules: &[AlertRule],
        audit: &AuditDoc,
    ) -> mongodb::error::Result<Written<()>> {
        let update = doc! { "$set": { "alertRules": bson::to_bson(rules)? } };
        self.audited_tenant_update(doc! { "_id": tenant_id }, update, audit)
            .await?;
        Ok(Written {
            outcome: (),
            events: vec![DomainEvent::AlertRulesChanged(tenant_id.to_owned())],
        })
    }

    /// Where each rule of a tenant is.
    pub async fn rule_states(&self, tenant_id: &str) -> mongodb::error::Result<Vec<StateDoc>> {
        self.alert_states()
            .find(doc! { "tenantId": tenant_id })
            .await?
            .try_collect()
            .await
    }

    /// Makes `transition` unless another instance moved the rule first
    /// (then `false`, nothing written). Only the writer calls this.
    pub async fn apply_transition(&self, transition: &Transition) -> mongodb::error::Result<Written<bool>> {
        // A lost step wrote nothing: the first instance's insert refused
        // (the transaction aborted), or no state at the expected version (an
        // empty commit).
        let step = match self
            .in_transaction((self, transition), |session, (store, transition)| {
                store.transition_in(session, transition).boxed()
            })
            .await
        {
            Err(error) if super::writes::is_duplicate_key(&error) => Step::Lost,
            step => step?,
        };
        let Step::Made(alert) = step else {
            return Ok(Written {
                outcome: false,
                events: Vec::new(),
            });
        };
        let events = alert
            .map(|alert| DomainEvent::AlertChanged {
                tenant: transition.tenant_id.clone(),
                alert: Box::new(alert.to_wire()),
                change: transition.change,
            })
            .into_iter()
            .collect();
        Ok(Written { outcome: true, events })
    }

    async fn transition_in(
        &self,
        session: &mut ClientSession,
        transition: &Transition,
    ) -> mongodb::error::Result<Step> {
        let at = to_bson(transition.at);
        let state_id = format!("{}|{}", transition.tenant_id, transition.rule_id);
        let begins = transition.alert_id.is_none() && matches!(transition.change, Change::Began | Change::Fired);
        let alert_id = if begins {
            Some(ObjectId::new())
        } else {
            transition.alert_id
        };
        let ends = matches!(transition.change, Change::Resolved | Change::Abandoned);
        let next_alert = if ends { None } else { alert_id };

        let phase = bson::to_bson(&transition.to)?;
        if transition.version == 0 {
            let state = StateDoc {
                id: state_id,
                tenant_id: transition.tenant_id.clone(),
                rule_id: transition.rule_id.clone(),
                phase: transition.to,
                alert_id: next_alert,
                version: 1,
            };
            // Another instance inserted it first: a duplicate key, which
            // aborts the transaction and is returned as it is (the caller
            // reads it as a lost step).
            self.alert_states().insert_one(&state).session(&mut *session).await?;
        } else {
            let mut set = doc! { "phase": phase };
            let mut update = Document::new();
            match next_alert {
                Some(id) => {
                    set.insert("alertId", id);
                }
                None => {
                    update.insert("$unset", doc! { "alertId": "" });
                }
            }
            update.insert("$set", set);
            update.insert("$inc", doc! { "version": 1_i64 });
            let moved = self
                .alert_states()
                .update_one(doc! { "_id": &state_id, "version": transition.version }, update)
                .session(&mut *session)
                .await?;
            if moved.matched_count == 0 {
                return Ok(Step::Lost);
            }
        }

        let Some(alert_id) = alert_id else {
            return Ok(Step::Made(None));
        };
        let opening = if begins { transition.opens.as_ref() } else { None };
        let alert = if let Some((rule_name, kind)) = opening {
            let fired = transition.change == Change::Fired;
            let document = AlertDoc {
                id: alert_id,
                tenant_id: transition.tenant_id.clone(),
                rule_id: transition.rule_id.clone(),
                rule_name: rule_name.clone(),
                kind: *kind,
                state: if fired { AlertState::Firing } else { AlertState::Pending },
                started_at: at,
                fired_at: fired.then_some(at),
                resolved_at: None,
                value: transition.value,
                threshold: transition.threshold,
                message: transition.message.clone(),
                silenced: transition.silenced,
                window_from: to_bson(transition.window_from),
                window_to: None,
            };
            self.alerts().insert_one(&document).session(&mut *session).await?;
            document
        } else {
            let mut set = doc! {
                "value": transition.value,
                "threshold": transition.threshold,
                "message": &transition.message,
                "silenced": transition.silenced,
            };
            match transition.change {
                Change::Fired => {
                    set.insert("state", AlertState::Firing.as_str());
                    set.insert("firedAt", at);
                }
                Change::Resolved | Change::Abandoned => {
                    set.insert("state", AlertState::Resolved.as_str());
                    set.insert("resolvedAt", at);
                    set.insert("windowTo", at);
                }
                // Still firing: only the rule's phase moved.
                Change::Recovering | Change::Relapsed | Change::Began => return Ok(Step::Made(None)),
            }
            let filter = doc! { "_id": alert_id, "tenantId": &transition.tenant_id };
            self.alerts()
                .update_one(filter.clone(), doc! { "$set": set })
                .session(&mut *session)
                .await?;
            let Some(document) = self.alerts().find_one(filter).session(&mut *session).await? else {
                return Ok(Step::Made(None));
            };
            document
        };
        Ok(Step::Made(Some(alert)))
    }

    /// A page of a tenant's alerts, newest first, after `after`.
    pub async fn list_alerts(
        &self,
        tenant_id: &str,
        filter: &AlertFilter,
        after: Option<ObjectId>,
        limit: u32,
    ) -> mongodb::error::Result<(Vec<AlertDoc>, Option<ObjectId>)> {
        let mut query = doc! { "tenantId": tenant_id };
        if let Some(state) = filter.state {
            query.insert("state", state.as_str());
        }
        if let Some(rule_id) = &filter.rule_id {
            query.insert("ruleId", rule_id);
        }
        if let Some(after) = after {
            query.insert("_id", doc! { "$lt": after });
        }
        let mut page: Vec<AlertDoc> = self
            .alerts()
            .find(query)
            .sort(doc! { "_id": -1 })
            .limit(i64::from(limit) + 1)
            .await?
            .try_collect()
            .await?;
        let more = super::split_page(&mut page, limit);
        let next = if more { page.last().map(|last| last.id) } else { None };
        Ok((page, next))
    }
}
