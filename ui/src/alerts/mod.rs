//! Alerts on screen (SPEC §6): toasts of the transitions that notify
//! (`alert-toast`), the firing alerts always in view in the bar under the
//! header (`active-alerts`), and the alerts page (`?view=alerts`) with the
//! history (`alert-history`, each entry leading to the payments of its
//! episode) and the rules, which an admin's key may edit (`rule-editor`).
//! The state is the store's (`store::alerts`); these only render and
//! dispatch.

pub mod editor;

use std::rc::Rc;

use chrono::{DateTime, TimeDelta, Utc};
use paypulse_shared::Amount;
use paypulse_shared::alerts::{Alert, AlertRule, AlertRules, AlertState, RuleKind};
use paypulse_shared::filter::PaymentFilter;
use paypulse_shared::payment::PaymentStatus;
use paypulse_shared::range::{Relative, TimePoint, TimeRange};
use sycamore::prelude::*;

use crate::drilldown::route_link;
use crate::format::{self, TimeStyle};
use crate::navigation::Navigation;
use crate::queries::{Queries, metrics_query};
use crate::route::Route;
use crate::store::{Action, Dashboard};
use crate::time_range::{now, parse_input};
use editor::{RuleForm, kind_label, kind_of};

/// A state in words: colour never carries it alone.
pub fn state_word(state: AlertState) -> &'static str {
    match state {
        AlertState::Pending => "Pending",
        AlertState::Firing => "Firing",
        AlertState::Resolved => "Resolved",
    }
}

/// A toast's text: `Firing: Failure rate above 15% — 22.4% over 10 min`.
pub fn toast_text(alert: &Alert) -> String {
    format!("{}: {}", state_word(alert.state), alert.message)
}

/// The payments behind an episode: its window (to now while it lasts),
/// the failed ones for a failure-rate rule.
pub fn payments_of(route: &Route, alert: &Alert) -> Route {
    let to = alert
        .window_to
        .map_or(TimePoint::Relative(Relative::NOW), TimePoint::Instant);
    let mut filter = PaymentFilter::default();
    if alert.kind == RuleKind::FailureRate {
        filter.statuses.insert(PaymentStatus::Failed);
    }
    route.payments(
        Some(TimeRange::between(TimePoint::Instant(alert.window_from), to)),
        filter,
    )
}

/// A watched value as the rule reads it: a percentage, or money in the
/// tenant's currency (a bare number while it is not known).
pub fn value_text(kind: RuleKind, value: f64, currency: &str) -> String {
    if kind == RuleKind::FailureRate {
        return format!("{}%", format::trim_number(value));
    }
    match Amount::from_f64(value) {
        Ok(amount) if !currency.is_empty() => format::money(amount, currency),
        Ok(amount) => amount.to_string(),
        Err(_) => format::trim_number(value),
    }
}

/// The tenant's zone and currency, once known (empty until then).
fn tenant_of(queries: &Queries) -> (String, String) {
    queries.tenant.with(|tenant| {
        tenant.as_ref().map_or_else(
            || ("UTC".to_owned(), String::new()),
            |tenant| (tenant.timezone.clone(), tenant.currency.clone()),
        )
    })
}

/// The toasts, newest last; each closes itself after a while or by its
/// button.
#[component(inline_props)]
pub fn Toasts(dashboard: Signal<Dashboard>, dispatch: Rc<dyn Fn(Action)>) -> View {
    let toasts = create_selector(move || dashboard.with(|state| state.alerts.toasts().to_vec()));
    view! {
        div(class="toasts", role="status", aria-live="polite") {
            (move || {
                let views: Vec<View> = toasts
                    .get_clone()
                    .into_iter()
                    .map(|toast| {
                        let dispatch = dispatch.clone();
                        let alert = toast.alert;
                        let state = alert.state.as_str();
                        let text = toast_text(&alert);
                        view! {
                            div(class=format!("toast card {state}"), data-testid="alert-toast",
                                data-alert-id=alert.id, data-state=state) {
                                span { (text) }
                                button(class="link", aria-label="Close", data-testid="alert-toast-close",
                                       on:click=move |_| dispatch(Action::DismissToast(toast.id))) { "×" }
                            }
                        }
                    })
                    .collect();
                View::from(views)
            })
        }
    }
}

/// The firing alerts, on every page, and the way to the alerts page.
#[component(inline_props)]
pub fn ActiveAlerts(dashboard: Signal<Dashboard>) -> View {
    let navigation = use_context::<Navigation>();
    let active = create_selector(move || dashboard.with(|state| state.alerts.active().to_vec()));
    view! {
        div(class="active-alerts", data-testid="active-alerts",
            data-count=move || active.with(Vec::len).to_string()) {
            (move || {
                let alerts = active.get_clone();
                if alerts.is_empty() {
                    return view! { span(class="muted") { "No active alerts" } };
                }
                let views: Vec<View> = alerts
                    .into_iter()
                    .map(|alert| {
                        let class = if alert.silenced { "active-alert silenced" } else { "active-alert" };
                        let mark = if alert.silenced { " (silenced)" } else { "" };
                        view! {
                            span(class=class, data-testid="active-alert", data-alert-id=alert.id,
                                 data-rule-id=alert.rule_id, title=alert.message) {
                                "▲ " (alert.rule_name) (mark)
                            }
                        }
                    })
                    .collect();
                View::from(views)
            })
            (move || route_link(navigation.route.with(Route::alerts), "Alerts".into(), "alerts-link"))
        }
    }
}

/// The alerts page: history, then rules.
#[component(inline_props)]
pub fn AlertsPage(dashboard: Signal<Dashboard>) -> View {
    let queries = use_context::<Queries>();
    let navigation = use_context::<Navigation>();
    // The metrics answer names the tenant's zone and currency, which the
    // history's times and amounts are shown in.
    {
        let queries = queries.clone();
        create_effect(move || queries.subscribe_metrics(&metrics_query(navigation.route.with(|route| route.range))));
    }
    view! {
        AlertHistory(dashboard=dashboard)
        AlertRulesPanel()
    }
}

#[component(inline_props)]
fn AlertHistory(dashboard: Signal<Dashboard>) -> View {
    let queries = use_context::<Queries>();
    let navigation = use_context::<Navigation>();
    let history = create_selector(move || dashboard.with(|state| state.alerts.history.clone()));
    let rows = move || {
        let (zone, currency) = tenant_of(&queries);
        let route = navigation.route.get_clone();
        let when = |at: Option<DateTime<Utc>>| {
            at.map_or_else(
                || "—".to_owned(),
                |at| format::local_time(&at, &zone, TimeStyle::DayHour),
            )
        };
        let views: Vec<View> = history
            .get_clone()
            .items
            .into_iter()
            .map(|alert| {
                let state = alert.state.as_str();
                let (started, fired, resolved) = (
                    when(Some(alert.started_at)),
                    when(alert.fired_at),
                    when(alert.resolved_at),
                );
                let value = format!(
                    "{} (threshold {})",
                    value_text(alert.kind, alert.value, &currency),
                    value_text(alert.kind, alert.threshold, &currency)
                );
                let link = route_link(payments_of(&route, &alert), "Payments".into(), "alert-payments");
                let silenced = if alert.silenced { " · silenced" } else { "" };
                view! {
                    tr(class=format!("alert-entry {state}"), data-testid="alert-entry", data-alert-id=alert.id,
                       data-rule-id=alert.rule_id, data-state=state, data-silenced=alert.silenced.to_string()) {
                        td { strong { (alert.rule_name) } br() span(class="muted") { (alert.message) } }
                        td { span(class=format!("badge {state}")) { (state_word(alert.state)) } (silenced) }
                        td { (started) }
                        td { (fired) }
                        td { (resolved) }
                        td(class="number") { (value) }
                        td { (link) }
                    }
                }
            })
            .collect();
        View::from(views)
    };
    view! {
        section(class="card alert-history", aria-label="Alert history", data-testid="alert-history",
                data-loaded=move || history.with(|history| history.loaded).to_string()) {
            h2 { "Alert history" }
            (move || history.with(|history| history.error.clone()).map(|message| view! { p(class="error", role="alert") { (message) } }))
            table(class="payment-table") {
                thead { tr { th { "Rule" } th { "State" } th { "Started" } th { "Fired" } th { "Resolved" } th(class="number") { "Value" } th { "Payments" } } }
                tbody { (rows) }
            }
            (move || if history.with(|history| history.loaded && history.items.is_empty()) {
                view! { p(class="muted", data-testid="alert-history-empty") { "No alerts yet." } }
            } else {
                view! {}
            })
        }
    }
}

/// One rule's fields as the inputs edit them.
#[derive(Clone, Copy)]
struct RuleRow {
    id: Signal<String>,
    name: Signal<String>,
    kind: Signal<String>,
    window: Signal<String>,
    threshold: Signal<String>,
    min_attempts: Signal<String>,
    pending: Signal<String>,
    keep_firing: Signal<String>,
    enabled: Signal<bool>,
    silenced_until: Signal<Option<DateTime<Utc>>>,
    /// The "silence until" input, local time in the tenant's zone.
    until: Signal<String>,
}

impl RuleRow {
    fn new(form: RuleForm) -> Self {
        Self {
            id: create_signal(form.id),
            name: create_signal(form.name),
            kind: create_signal(form.kind),
            window: create_signal(form.window_minutes),
            threshold: create_signal(form.threshold),
            min_attempts: create_signal(form.min_attempts),
            pending: create_signal(form.pending_minutes),
            keep_firing: create_signal(form.keep_firing_minutes),
            enabled: create_signal(form.enabled),
            silenced_until: create_signal(form.silenced_until),
            until: create_signal(String::new()),
        }
    }

    fn form(self) -> RuleForm {
        RuleForm {
            id: self.id.get_clone_untracked(),
            name: self.name.get_clone_untracked(),
            kind: self.kind.get_clone_untracked(),
            window_minutes: self.window.get_clone_untracked(),
            threshold: self.threshold.get_clone_untracked(),
            min_attempts: self.min_attempts.get_clone_untracked(),
            pending_minutes: self.pending.get_clone_untracked(),
            keep_firing_minutes: self.keep_firing.get_clone_untracked(),
            enabled: self.enabled.get_untracked(),
            silenced_until: self.silenced_until.get_untracked(),
        }
    }
}

/// What a rule watches, in one line: `Failure rate above 15% over 10 min
/// (at least 20 payments); fires after 2 min, keeps firing 5 min`.
pub fn describe_rule(rule: &AlertRule, currency: &str) -> String {
    let threshold = rule
        .threshold
        .map(|threshold| format!(" {}", value_text(rule.kind, threshold, currency)))
        .unwrap_or_default();
    let attempts = rule
        .min_attempts
        .map(|attempts| format!(" (at least {attempts} payments)"))
        .unwrap_or_default();
    format!(
        "{}{threshold} over {} min{attempts}; fires after {} min, keeps firing {} min{}",
        kind_label(rule.kind),
        rule.window_minutes,
        rule.pending_minutes,
        rule.keep_firing_minutes,
        if rule.enabled { "" } else { "; disabled" }
    )
}

/// The rules: a summary for viewers, the editor for an admin's key.
#[component]
fn AlertRulesPanel() -> View {
    let queries = use_context::<Queries>();
    let client = queries.client.clone();
    let rules = create_signal(None::<AlertRules>);
    let failure = create_signal(None::<String>);
    let rows = create_signal(Vec::<RuleRow>::new());
    let saved = create_signal(false);
    let busy = create_signal(false);
    let show = move |answer: AlertRules| {
        rows.set(
            answer
                .rules
                .iter()
                .map(|rule| RuleRow::new(RuleForm::of(rule)))
                .collect(),
        );
        rules.set(Some(answer));
    };
    {
        let client = client.clone();
        wasm_bindgen_futures::spawn_local(async move {
            match client.alert_rules().await {
                Ok(answer) => show(answer),
                Err(error) => failure.set(Some(error.message)),
            }
        });
    }
    let tenant = queries.tenant;
    let currency = move || {
        tenant.with(|tenant| {
            tenant
                .as_ref()
                .map(|tenant| tenant.currency.clone())
                .unwrap_or_default()
        })
    };
    let save = move || {
        saved.set(false);
        let forms: Vec<RuleForm> = rows.get_clone_untracked().into_iter().map(RuleRow::form).collect();
        // Unknown currency: any scale here, the server checks the rest.
        let scale = paypulse_shared::currency::exponent(&currency()).unwrap_or(u8::MAX);
        let rules_to_save = match editor::rules_of(&forms, scale) {
            Ok(rules) => rules,
            Err(error) => return failure.set(Some(error.to_string())),
        };
        failure.set(None);
        busy.set(true);
        let client = client.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let answer = client
                .save_alert_rules(&AlertRules {
                    rules: rules_to_save,
                    editable: None,
                })
                .await;
            busy.set(false);
            match answer {
                Ok(answer) => {
                    show(answer);
                    saved.set(true);
                }
                Err(error) => failure.set(Some(error.message)),
            }
        });
    };
    let editor = move || {
        let Some(answer) = rules.get_clone() else {
            return view! { p(class="muted") { "Loading rules…" } };
        };
        if answer.editable != Some(true) {
            let currency = currency();
            let lines: Vec<View> = answer
                .rules
                .iter()
                .map(|rule| {
                    let text = describe_rule(rule, &currency);
                    let silenced = rule
                        .silenced_until
                        .filter(|until| *until > now())
                        .map(|until| {
                            format!(
                                " · silenced until {}",
                                format::local_time(&until, &tenant_of(&queries).0, TimeStyle::DayHour)
                            )
                        })
                        .unwrap_or_default();
                    let (id, name) = (rule.id.clone(), rule.name.clone());
                    view! { li(data-testid="alert-rule", data-rule-id=id) { strong { (name) } ": " (text) (silenced) } }
                })
                .collect();
            return view! {
                ul(class="rule-list") { (lines) }
                p(class="muted") { "Only an admin's key can change the rules." }
            };
        }
        let queries = queries.clone();
        let save = save.clone();
        view! { RuleEditor(rows=rows, save=Rc::new(save), queries=queries, busy=busy) }
    };
    view! {
        section(class="card alert-rules", aria-label="Alert rules", data-testid="alert-rules",
                data-editable=move || rules.with(|rules| rules.as_ref().is_some_and(|rules| rules.editable == Some(true))).to_string()) {
            h2 { "Rules" }
            (editor)
            (move || failure.get_clone().map(|message| view! { p(class="error", role="alert", data-testid="rules-error") { (message) } }))
            (move || saved.get().then(|| view! { p(class="muted", role="status", data-testid="rules-saved") { "Saved." } }))
        }
    }
}

/// A select of the rule kinds bound to `kind` (set by the options'
/// `selected`, as a select's value cannot be set before its options exist).
fn kind_select(kind: Signal<String>, testid: &'static str) -> View {
    let options: Vec<View> = RuleKind::ALL
        .into_iter()
        .map(|choice| {
            view! {
                option(value=choice.as_str(), selected=move || kind.with(|kind| kind == choice.as_str())) {
                    (kind_label(choice))
                }
            }
        })
        .collect();
    let change = move |event: web_sys::Event| {
        use wasm_bindgen::JsCast;
        if let Some(select) = event
            .target()
            .and_then(|target| target.dyn_into::<web_sys::HtmlSelectElement>().ok())
        {
            kind.set(select.value());
        }
    };
    view! { select(data-testid=testid, on:change=change) { (options) } }
}

#[component(inline_props)]
fn RuleEditor(rows: Signal<Vec<RuleRow>>, save: Rc<dyn Fn()>, queries: Queries, busy: Signal<bool>) -> View {
    let new_kind = create_signal(RuleKind::FailureRate.as_str().to_owned());
    let add = move |_| {
        let taken: Vec<String> =
            rows.with_untracked(|rows| rows.iter().map(|row| row.id.get_clone_untracked()).collect());
        let kind = kind_of(&new_kind.get_clone_untracked()).unwrap_or(RuleKind::FailureRate);
        rows.update(|rows| rows.push(RuleRow::new(RuleForm::new_rule(kind, &taken))));
    };
    let save_all = save.clone();
    let list = move || {
        let (zone, currency) = tenant_of(&queries);
        let views: Vec<View> = rows
            .get_clone()
            .into_iter()
            .enumerate()
            .map(|(index, row)| {
                let save = save.clone();
                let remove = move |_| {
                    rows.update(|rows| {
                        rows.remove(index);
                    })
                };
                let silence = {
                    let save = save.clone();
                    move |_| {
                        row.silenced_until.set(Some(now() + TimeDelta::hours(1)));
                        save();
                    }
                };
                let zone_until = zone.clone();
                let silence_until = {
                    let save = save.clone();
                    move |_| {
                        if let Some(local) = parse_input(&row.until.get_clone_untracked()) {
                            row.silenced_until.set(Some(crate::zone::instant_in(local, &zone_until)));
                            save();
                        }
                    }
                };
                let unsilence = move |_| {
                    row.silenced_until.set(None);
                    save();
                };
                let zone = zone.clone();
                let silenced = move || {
                    row.silenced_until
                        .get()
                        .filter(|until| *until > now())
                        .map(|until| format!("Silenced until {}", format::local_time(&until, &zone, TimeStyle::DayHour)))
                };
                let unit = if currency.is_empty() { "amount".to_owned() } else { currency.clone() };
                let threshold_label = move || {
                    if row.kind.with(|kind| kind == RuleKind::FailureRate.as_str()) { "Threshold (%)".to_owned() } else { format!("Threshold ({unit})") }
                };
                let has_threshold = move || row.kind.with(|kind| kind_of(kind).is_some_and(RuleKind::has_threshold));
                let failure_rate = move || row.kind.with(|kind| kind == RuleKind::FailureRate.as_str());
                view! {
                    fieldset(class="rule", data-testid="rule-row", data-rule-id=move || row.id.get_clone()) {
                        label(class="label") { "Name " input(data-testid="rule-name", size="24", bind:value=row.name) }
                        label(class="label") { "Kind " (kind_select(row.kind, "rule-kind")) }
                        label(class="label") { "Window (min) " input(data-testid="rule-window", size="5", inputmode="numeric", bind:value=row.window) }
                        (move || has_threshold().then(|| {
                            let label = threshold_label();
                            view! {
                                label(class="label") { (label) " " input(data-testid="rule-threshold", size="8", inputmode="decimal", bind:value=row.threshold) }
                            }
                        }))
                        (move || failure_rate().then(|| view! {
                            label(class="label") { "Min. payments " input(data-testid="rule-min-attempts", size="6", inputmode="numeric", bind:value=row.min_attempts) }
                        }))
                        label(class="label") { "Pending (min) " input(data-testid="rule-pending", size="4", inputmode="numeric", bind:value=row.pending) }
                        label(class="label") { "Keep firing (min) " input(data-testid="rule-keep-firing", size="4", inputmode="numeric", bind:value=row.keep_firing) }
                        label(class="label") { input(r#type="checkbox", data-testid="rule-enabled", bind:checked=row.enabled) " Enabled" }
                        div(class="rule-silence") {
                            (move || match silenced() {
                                Some(text) => {
                                    let unsilence = unsilence.clone();
                                    view! { span(data-testid="rule-silenced") { (text) } " " button(class="secondary", r#type="button", data-testid="rule-unsilence", on:click=unsilence) { "Unsilence" } }
                                }
                                None => view! {},
                            })
                            button(class="secondary", r#type="button", data-testid="rule-silence-hour", on:click=silence) { "Silence 1 h" }
                            label(class="label") { "or until " input(r#type="datetime-local", data-testid="rule-silence-until", bind:value=row.until) }
                            button(class="secondary", r#type="button", data-testid="rule-silence-until-apply", on:click=silence_until) { "Silence" }
                            button(class="link", r#type="button", data-testid="rule-remove", on:click=remove) { "Remove rule" }
                        }
                    }
                }
            })
            .collect();
        View::from(views)
    };
    view! {
        form(class="rule-editor", data-testid="rule-editor", on:submit=move |event: web_sys::SubmitEvent| {
            event.prevent_default();
            save_all();
        }) {
            (list)
            div(class="filters") {
                label(class="label") { "New rule " (kind_select(new_kind, "rule-new-kind")) }
                button(class="secondary", r#type="button", data-testid="rule-add", on:click=add) { "Add rule" }
                button(class="primary", r#type="submit", data-testid="rules-save", disabled=move || busy.get()) { "Save rules" }
            }
        }
    }
}
