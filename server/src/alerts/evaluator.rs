//! The alert evaluator: every instance evaluates every tenant's rules, on a
//! timer (for what time alone changes: a pending period running out, a
//! window emptying) and within a second of the writes that touch a tenant
//! (it is a subscriber of the post-commit pipeline). Each step of a rule's
//! lifecycle is written through the writer as a compare-and-set on the
//! rule's stored state (`store::alerts`), so however many instances see it,
//! one makes it, and an instance killed mid-episode leaves nothing behind
//! that the others do not carry on.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::future::BoxFuture;
use paypulse_shared::alerts::lifecycle::{Change, Periods, Phase};
use paypulse_shared::alerts::rules;
use tokio::sync::Notify;

use super::conditions;
use crate::clock::Clock;
use crate::store::Store;
use crate::store::alerts::{StateDoc, Transition};
use crate::store::documents::TenantDoc;
use crate::store::events::DomainEvent;
use crate::writer::Writer;
use crate::writer::pipeline::{Subscriber, tenants_of};

/// The evaluator's timings (docs/ARCHITECTURE.md, "Alerts").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlertLimits {
    /// Every tenant is evaluated at least this often.
    pub tick: Duration,
    /// A tenant is evaluated at most this often however busy it is.
    pub min_gap: Duration,
    /// Whether this instance evaluates at all (tests of other features turn
    /// it off; production never does).
    pub enabled: bool,
}

impl Default for AlertLimits {
    fn default() -> Self {
        Self {
            tick: Duration::from_secs(5),
            min_gap: Duration::from_secs(1),
            enabled: true,
        }
    }
}

/// Tenants evaluated at once.
const CONCURRENT_TENANTS: usize = 8;

/// The evaluator; clones share it. As a pipeline subscriber it only marks
/// tenants to evaluate, never waits for the writer (which is waiting for it).
#[derive(Clone, Default)]
pub struct Evaluator {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    dirty: Mutex<HashSet<String>>,
    wake: Notify,
    /// Tenant evaluations made, and the time they took in all.
    evaluations: AtomicU64,
    busy_micros: AtomicU64,
    /// Transitions this instance made, and those another instance made first.
    made: AtomicU64,
    lost: AtomicU64,
    /// Set by benchmarks that compare the same load with and without it.
    paused: std::sync::atomic::AtomicBool,
}

/// What the evaluator did since the process started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvaluatorStats {
    pub evaluations: u64,
    pub busy: Duration,
    pub transitions_made: u64,
    pub transitions_lost: u64,
}

impl Subscriber for Evaluator {
    fn committed<'a>(&'a self, events: &'a [DomainEvent]) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let touched = tenants_of(events, |event| {
                event.changes_analytics() || matches!(event, DomainEvent::AlertRulesChanged(_))
            });
            if touched.is_empty() {
                return;
            }
            let mut dirty = self.shared.dirty.lock().expect("dirty set poisoned");
            dirty.extend(touched.into_iter().map(str::to_owned));
            drop(dirty);
            self.shared.wake.notify_one();
        })
    }
}

impl Evaluator {
    /// What it did so far.
    pub fn stats(&self) -> EvaluatorStats {
        EvaluatorStats {
            evaluations: self.shared.evaluations.load(Ordering::Relaxed),
            busy: Duration::from_micros(self.shared.busy_micros.load(Ordering::Relaxed)),
            transitions_made: self.shared.made.load(Ordering::Relaxed),
            transitions_lost: self.shared.lost.load(Ordering::Relaxed),
        }
    }

    /// Stops (or resumes) evaluating: what a benchmark toggles to measure the
    /// same load with and without alerting.
    pub fn set_paused(&self, paused: bool) {
        self.shared.paused.store(paused, Ordering::Relaxed);
    }

    /// Runs the evaluation loop on the current runtime until the writer
    /// stops.
    pub fn start(&self, store: Store, writer: Writer, clock: Clock, limits: AlertLimits) {
        if !limits.enabled {
            return;
        }
        let evaluator = self.clone();
        tokio::spawn(async move { evaluator.run(store, writer, clock, limits).await });
    }

    async fn run(self, store: Store, writer: Writer, clock: Clock, limits: AlertLimits) {
        let mut ticker = tokio::time::interval(limits.tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last: HashMap<String, Instant> = HashMap::new();
        loop {
            let everyone = tokio::select! {
                _ = ticker.tick() => true,
                () = self.shared.wake.notified() => false,
            };
            if self.shared.paused.load(Ordering::Relaxed) {
                self.shared.dirty.lock().expect("dirty set poisoned").clear();
                continue;
            }
            let tenants = if everyone {
                self.shared.dirty.lock().expect("dirty set poisoned").clear();
                match store.all_tenants().await {
                    Ok(tenants) => tenants,
                    Err(error) => {
                        tracing::warn!(%error, "alerts: listing tenants");
                        continue;
                    }
                }
            } else {
                // A busy tenant waits out its gap; the rest go now.
                let due: Vec<String> = {
                    let mut dirty = self.shared.dirty.lock().expect("dirty set poisoned");
                    let due: Vec<String> = dirty
                        .iter()
                        .filter(|tenant| last.get(*tenant).is_none_or(|at| at.elapsed() >= limits.min_gap))
                        .cloned()
                        .collect();
                    for tenant in &due {
                        dirty.remove(tenant);
                    }
                    if !dirty.is_empty() {
                        let evaluator = self.clone();
                        let gap = limits.min_gap;
                        tokio::spawn(async move {
                            tokio::time::sleep(gap).await;
                            evaluator.shared.wake.notify_one();
                        });
                    }
                    due
                };
                let due: Vec<&str> = due.iter().map(String::as_str).collect();
                match store.tenants_by_ids(&due).await {
                    Ok(tenants) => tenants,
                    Err(error) => {
                        tracing::warn!(%error, "alerts: reading tenants");
                        continue;
                    }
                }
            };
            for tenant in &tenants {
                last.insert(tenant.id.clone(), Instant::now());
            }
            // A few tenants at a time: one slow tenant (or a database
            // busy with ingest) does not hold up the others' alerts.
            futures::stream::iter(tenants)
                .for_each_concurrent(CONCURRENT_TENANTS, |tenant| {
                    let (this, store, writer) = (&self, &store, &writer);
                    async move {
                        let started = Instant::now();
                        if let Err(error) = this.evaluate(store, writer, &tenant, clock.now()).await {
                            tracing::warn!(%error, tenant = %tenant.id, "alerts: evaluating");
                        }
                        this.shared.evaluations.fetch_add(1, Ordering::Relaxed);
                        this.shared
                            .busy_micros
                            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                    }
                })
                .await;
            last.retain(|_, at| at.elapsed() < limits.tick * 4);
        }
    }

    /// Evaluates every rule of `tenant` at `now` and makes the steps due.
    pub async fn evaluate(
        &self,
        store: &Store,
        writer: &Writer,
        tenant: &TenantDoc,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let rules = tenant.alert_rules.clone().unwrap_or_else(rules::defaults);
        let mut states: HashMap<String, StateDoc> = store
            .rule_states(&tenant.id)
            .await?
            .into_iter()
            .map(|state| (state.rule_id.clone(), state))
            .collect();
        let history_from = store.history_start(&tenant.id).await?;
        let longest = rules
            .iter()
            .filter(|rule| rule.enabled)
            .map(|rule| rule.window_minutes)
            .max()
            .unwrap_or(1);
        let recent = conditions::Recent::read(store, &tenant.id, now, longest).await?;
        for rule in &rules {
            let state = states.remove(&rule.id);
            let (phase, version, alert_id) = state.as_ref().map_or((Phase::Normal, 0, None), |state| {
                (state.phase, state.version, state.alert_id)
            });
            if !rule.enabled {
                if let Some(state) = state.as_ref().filter(|state| state.phase != Phase::Normal) {
                    let silenced = rule.silenced_at(now);
                    self.close(writer, state, silenced, now, "The rule was disabled")
                        .await?;
                }
                continue;
            }
            let reading = conditions::read(store, tenant, rule, &recent, now, history_from).await?;
            let periods = Periods::minutes(rule.pending_minutes, rule.keep_firing_minutes);
            let Some((to, change)) = phase.step(reading.holds, now, periods) else {
                continue;
            };
            let transition = Transition {
                tenant_id: tenant.id.clone(),
                rule_id: rule.id.clone(),
                opens: Some((rule.name.clone(), rule.kind)),
                version,
                alert_id,
                to,
                change,
                at: now,
                value: reading.value,
                threshold: reading.threshold,
                // The rule's name first: a toast or notification stands alone.
                message: format!("{} — {}", rule.name, reading.message),
                silenced: rule.silenced_at(now),
                window_from: recent.window_start(rule.window_minutes),
            };
            self.count(writer.transition(transition).await?);
        }
        // Rules removed while an episode was under way: it ends with them.
        for (_, state) in states {
            if state.phase != Phase::Normal {
                self.close(writer, &state, false, now, "The rule was removed").await?;
            }
        }
        Ok(())
    }

    /// Ends the episode under way (`state`) of a rule that stopped being
    /// evaluated.
    async fn close(
        &self,
        writer: &Writer,
        state: &StateDoc,
        silenced: bool,
        now: DateTime<Utc>,
        message: &str,
    ) -> anyhow::Result<()> {
        let change = if state.phase.fired_at().is_some() {
            Change::Resolved
        } else {
            Change::Abandoned
        };
        let transition = Transition {
            tenant_id: state.tenant_id.clone(),
            rule_id: state.rule_id.clone(),
            opens: None,
            version: state.version,
            alert_id: state.alert_id,
            to: Phase::Normal,
            change,
            at: now,
            value: 0.0,
            threshold: 0.0,
            message: message.to_owned(),
            silenced,
            window_from: now,
        };
        self.count(writer.transition(transition).await?);
        Ok(())
    }

    fn count(&self, made: bool) {
        let counter = if made { &self.shared.made } else { &self.shared.lost };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}
