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
use crate::zone;
use editor::{RuleForm, kind_label, kind_of};
use wasm_bindgen::JsCast;

/// The alert the user asked to see from outside the page (a clicked OS
/// notification): each ask counts, so the dashboard can go to the alerts
/// again, and the history marks that alert (`data-opened`).
#[derive(Clone, Copy)]
pub struct Opened {
    pub asks: Signal<u64>,
    pub alert: Signal<Option<String>>,
}

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
                        let (class, id) = (format!("toast card {state}"), alert.id);
                        view! {
                            div(class=class, data-testid="alert-toast", data-alert-id=id, data-state=state) {
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
                        let (id, rule_id, message, name) = (alert.id, alert.rule_id, alert.message, alert.rule_name);
                        view! {
                            span(class=class, data-testid="active-alert", data-alert-id=id,
                                 data-rule-id=rule_id, title=message) {
                                "▲ " (name) (mark)
                            }
                        }
                    })
                    .collect();
                View::from(views)
            })
            (move || dashboard.with(|state| state.alerts.notifications_problem.clone()).map(|problem| {
                let title = format!("Alerts show here only: {problem}");
                view! {
                    span(class="warning", data-testid="notifications-unavailable", title=title) {
                        "OS notifications unavailable"
                    }
                }
            }))
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
    let opened = use_context::<Opened>().alert;
    let rows = move || {
        let opened = opened.get_clone();
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
                let silenced_attribute = if alert.silenced { "true" } else { "false" };
                let is_opened = opened.as_deref() == Some(alert.id.as_str());
                let (class, badge, word) = (
                    format!("alert-entry {state}{}", if is_opened { " opened" } else { "" }),
                    format!("badge {state}"),
                    state_word(alert.state),
                );
                let (id, rule_id, rule_name, message) = (alert.id, alert.rule_id, alert.rule_name, alert.message);
                view! {
                    tr(class=class, data-testid="alert-entry", data-alert-id=id, data-opened=is_opened.to_string(),
                       data-rule-id=rule_id, data-state=state, data-silenced=silenced_attribute) {
                        td { strong { (rule_name) } br() span(class="muted") { (message) } }
                        td { span(class=badge) { (word) } (silenced) }
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
    let forms = create_signal(Vec::<RuleForm>::new());
    let saved = create_signal(false);
    let show = move |answer: AlertRules| {
        forms.set(answer.rules.iter().map(RuleForm::of).collect());
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
    // Checked here first, in the server's words; sent only if it passes.
    let save = move || {
        saved.set(false);
        // Unknown currency: any scale here, the server checks the rest.
        let scale = paypulse_shared::currency::exponent(&currency()).unwrap_or(u8::MAX);
        let checked = forms.with_untracked(|forms| editor::rules_of(forms, scale));
        let rules_to_save = match checked {
            Ok(rules) => rules,
            Err(error) => return failure.set(Some(error.to_string())),
        };
        failure.set(None);
        let client = client.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let answer = client
                .save_alert_rules(&AlertRules {
                    rules: rules_to_save,
                    editable: None,
                })
                .await;
            match answer {
                Ok(answer) => {
                    show(answer);
                    saved.set(true);
                }
                Err(error) => failure.set(Some(error.message)),
            }
        });
    };
    let body = move || {
        let (zone, currency) = tenant_of(&queries);
        let Some(answer) = rules.get_clone() else {
            return view! { p(class="muted") { "Loading rules…" } };
        };
        if answer.editable == Some(true) {
            return rule_editor(forms, Rc::new(save.clone()), zone, currency);
        }
        let lines: Vec<View> = answer
            .rules
            .iter()
            .map(|rule| {
                let text = describe_rule(rule, &currency) + &silenced_text(rule.silenced_until, &zone);
                let (id, name) = (rule.id.clone(), rule.name.clone());
                view! { li(data-testid="alert-rule", data-rule-id=id) { strong { (name) } ": " (text) } }
            })
            .collect();
        view! {
            ul(class="rule-list") { (lines) }
            p(class="muted") { "Only an admin's key can change the rules." }
        }
    };
    view! {
        section(class="card alert-rules", aria-label="Alert rules", data-testid="alert-rules",
                data-editable=move || rules.with(|rules| rules.as_ref().is_some_and(|rules| rules.editable == Some(true))).to_string()) {
            h2 { "Rules" }
            (body)
            (move || failure.get_clone().map(|message| view! { p(class="error", role="alert", data-testid="rules-error") { (message) } }))
            (move || saved.get().then(|| view! { p(class="muted", role="status", data-testid="rules-saved") { "Saved." } }))
        }
    }
}

/// `; silenced until 24 Nov, 14:00` while a silence lasts.
fn silenced_text(until: Option<DateTime<Utc>>, zone: &str) -> String {
    until
        .filter(|until| *until > now())
        .map(|until| {
            format!(
                "; silenced until {}",
                format::local_time(&until, zone, TimeStyle::DayHour)
            )
        })
        .unwrap_or_default()
}

/// An element's attribute as a number (the rule a control belongs to).
fn row_of(element: &web_sys::Element) -> Option<usize> {
    element.get_attribute("data-row")?.parse().ok()
}

/// The editor. Inputs are not bound one by one: one handler on the form
/// reads every input by its `name` and `data-row`, and one reads every
/// button by its `data-action` (each bound input or handler is code of its
/// own in the page, which the size budget counts). Typing changes the forms
/// without re-rendering; a change of kind, an added or removed rule and a
/// silence re-render the rows from them.
fn rule_editor(forms: Signal<Vec<RuleForm>>, save: Rc<dyn Fn()>, zone: String, currency: String) -> View {
    let new_kind = create_signal(RuleKind::FailureRate);
    let on_input = move |event: web_sys::Event| {
        let Some(target) = event
            .target()
            .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
        else {
            return;
        };
        let (Some(name), Some(row)) = (target.get_attribute("name"), row_of(&target)) else {
            return;
        };
        let property = if name == "enabled" { "checked" } else { "value" };
        let value = js_sys::Reflect::get(&target, &property.into()).unwrap_or_default();
        let value = value
            .as_string()
            .or_else(|| value.as_bool().map(|checked| checked.to_string()))
            .unwrap_or_default();
        if name == "newKind" {
            new_kind.set(kind_of(&value).unwrap_or(RuleKind::FailureRate));
            return;
        }
        let edit = |forms: &mut Vec<RuleForm>| {
            if let Some(form) = forms.get_mut(row) {
                form.set(&name, value);
            }
        };
        // A new kind shows other fields; text is kept as typed, unrendered.
        if name == "kind" {
            forms.update(edit);
        } else {
            forms.update_silent(edit);
        }
    };
    let on_click = {
        let save = save.clone();
        let zone = zone.clone();
        move |event: web_sys::MouseEvent| {
            let Some(button) = event
                .target()
                .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
                .and_then(|target| target.closest("[data-action]").ok().flatten())
            else {
                return;
            };
            let row = row_of(&button).unwrap_or(usize::MAX);
            let mut changed = true;
            forms.update(|forms| match button.get_attribute("data-action").as_deref() {
                Some("add") => {
                    let taken: Vec<String> = forms.iter().map(|form| form.id.clone()).collect();
                    forms.push(RuleForm::new_rule(new_kind.get_untracked(), &taken));
                    changed = false;
                }
                Some("remove") if row < forms.len() => {
                    forms.remove(row);
                    changed = false;
                }
                Some("silence-hour") if row < forms.len() => {
                    forms[row].silenced_until = Some(now() + TimeDelta::hours(1));
                }
                Some("silence-until") if row < forms.len() => {
                    forms[row].silenced_until =
                        parse_input(&forms[row].until).map(|local| zone::instant_in(local, &zone));
                }
                Some("unsilence") if row < forms.len() => forms[row].silenced_until = None,
                _ => changed = false,
            });
            // A silence takes effect at once; other changes wait for Save.
            if changed {
                save();
            }
        }
    };
    let rows = move || {
        let views: Vec<View> = forms
            .get_clone()
            .iter()
            .enumerate()
            .map(|(index, form)| rule_row(index, form, &zone, &currency))
            .collect();
        View::from(views)
    };
    let kinds = kind_options(RuleKind::FailureRate.as_str());
    view! {
        form(class="rule-editor", data-testid="rule-editor", on:input=on_input, on:click=on_click,
             on:submit=move |event: web_sys::SubmitEvent| {
                 event.prevent_default();
                 save();
             }) {
            (rows)
            div(class="filters") {
                label(class="label") { "New rule " select(name="newKind", data-row="0", data-testid="rule-new-kind") { (kinds) } }
                button(class="secondary", r#type="button", data-action="add", data-testid="rule-add") { "Add rule" }
                button(class="primary", r#type="submit", data-testid="rules-save") { "Save rules" }
            }
        }
    }
}

/// The kinds as options, `selected` the one chosen.
fn kind_options(selected: &str) -> Vec<View> {
    RuleKind::ALL
        .into_iter()
        .map(|kind| {
            let chosen = kind.as_str() == selected;
            view! { option(value=kind.as_str(), selected=chosen) { (kind_label(kind)) } }
        })
        .collect()
}

/// One rule's inputs and buttons, each naming its rule with `data-row`.
fn rule_row(index: usize, form: &RuleForm, zone: &str, currency: &str) -> View {
    let row = index.to_string();
    let inputs: Vec<View> = editor::FIELDS
        .iter()
        .filter(|field| form.has(field.name))
        .map(|field| {
            let label = match field.name {
                "threshold" if form.kind == RuleKind::FailureRate.as_str() => "Threshold (%)".to_owned(),
                "threshold" if !currency.is_empty() => format!("Threshold ({currency})"),
                _ => field.label.to_owned(),
            };
            let value = form.get(field.name).to_owned();
            let row = row.clone();
            view! {
                label(class="label") { (label) " " input(name=field.name, data-row=row, data-testid=field.testid, size=field.size, value=value) }
            }
        })
        .collect();
    let kinds = kind_options(&form.kind);
    let silenced = silenced_text(form.silenced_until, zone);
    // Attribute values are plain variables: an expression there would be
    // made a reactive closure of its own.
    let [row_kind, row_enabled, row_silence, row_until, row_apply] = [(); 5].map(|()| row.clone());
    let silence = if silenced.is_empty() {
        view! { button(class="secondary", r#type="button", data-action="silence-hour", data-row=row_silence, data-testid="rule-silence-hour") { "Silence 1 h" } }
    } else {
        let text = format!("Silenced{}", &silenced[10..]);
        view! {
            span(data-testid="rule-silenced") { (text) }
            button(class="secondary", r#type="button", data-action="unsilence", data-row=row_silence, data-testid="rule-unsilence") { "Unsilence" }
        }
    };
    let (id, until, enabled) = (form.id.clone(), form.until.clone(), form.enabled);
    view! {
        fieldset(class="rule", data-testid="rule-row", data-rule-id=id) {
            label(class="label") { "Kind " select(name="kind", data-row=row_kind, data-testid="rule-kind") { (kinds) } }
            (inputs)
            label(class="label") { input(r#type="checkbox", name="enabled", data-row=row_enabled, data-testid="rule-enabled", checked=enabled) " Enabled" }
            div(class="rule-silence") {
                (silence)
                label(class="label") { "or until " input(r#type="datetime-local", name="until", data-row=row_until, data-testid="rule-silence-until", value=until) }
                button(class="secondary", r#type="button", data-action="silence-until", data-row=row_apply, data-testid="rule-silence-until-apply") { "Silence" }
                button(class="link", r#type="button", data-action="remove", data-row=row, data-testid="rule-remove") { "Remove rule" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::alerts::testing::alert;
    use crate::testing::at;

    #[test]
    fn toasts_say_the_state_and_the_message() {
        assert_eq!(
            toast_text(&alert("a1", 0, AlertState::Firing)),
            "Firing: Failure rate above 15% — 22.4% over 10 min"
        );
        assert!(toast_text(&alert("a1", 0, AlertState::Resolved)).starts_with("Resolved: "));
    }

    #[test]
    fn an_episode_leads_to_its_payments() {
        let firing = alert("a1", 0, AlertState::Firing);
        let list = payments_of(&Route::default(), &firing);
        assert_eq!(
            list.to_search(),
            "?view=payments&bucket=1h&from=2026-11-24T09%3A50%3A00Z&to=now&status=failed",
            "to now while it lasts; the failed payments of a failure-rate rule"
        );
        let mut resolved = alert("a2", 0, AlertState::Resolved);
        resolved.kind = RuleKind::VolumeBelow;
        let list = payments_of(&Route::default(), &resolved);
        assert_eq!(
            list.range,
            TimeRange::between(
                TimePoint::Instant(at("2026-11-24T09:50:00Z")),
                TimePoint::Instant(at("2026-11-24T10:20:00Z"))
            )
        );
        assert!(list.filter.is_empty(), "every payment of a volume rule's window");
    }

    #[test]
    fn values_read_as_their_rule_reads_them() {
        assert_eq!(value_text(RuleKind::FailureRate, 22.4, "USD"), "22.4%");
        assert_eq!(value_text(RuleKind::VolumeBelow, 1500.5, "USD"), "$1,500.50");
        assert_eq!(value_text(RuleKind::VolumeAbove, 1500.5, ""), "1500.5");
        let rules = paypulse_shared::alerts::rules::defaults();
        assert_eq!(
            describe_rule(&rules[0], "USD"),
            "Failure rate above 15% over 10 min (at least 10 payments); fires after 2 min, keeps firing 3 min"
        );
        assert_eq!(
            describe_rule(&rules[1], "USD"),
            "Volume far from usual over 30 min; fires after 5 min, keeps firing 10 min"
        );
    }
}
