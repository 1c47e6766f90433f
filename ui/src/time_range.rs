//! The time-range picker (`time-range`): presets, a custom range with the
//! time of day read in the tenant's zone, zoom out and shifts by half a
//! span. It changes only the route; the metrics, the chart and the lists
//! follow the address bar.

use chrono::{DateTime, Datelike, NaiveDateTime, Timelike, Utc};
use sycamore::prelude::*;
use wasm_bindgen::JsCast;

use crate::format::{self, TimeStyle};
use crate::navigation::Navigation;
use crate::queries::Queries;
use crate::route::{Direction, PRESETS, absolute, can_shift_forward, ends_now, preset_of, shift, zoom_out};
use crate::zone;

/// The value of a `datetime-local` input for `instant` in `zone`.
fn input_value(instant: DateTime<Utc>, zone: &str) -> String {
    let local = zone::local_of(instant, zone);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        local.year(),
        local.month(),
        local.day(),
        local.hour(),
        local.minute()
    )
}

/// A `datetime-local` input's value, `2026-11-24T14:05` (seconds allowed).
/// Read by hand: chrono's format parser would add to the page's size.
pub fn parse_input(value: &str) -> Option<NaiveDateTime> {
    let (date, time) = value.split_once('T')?;
    let mut date = date.splitn(3, '-').map(str::parse::<u32>);
    let (year, month, day) = (date.next()?.ok()?, date.next()?.ok()?, date.next()?.ok()?);
    let mut time = time
        .splitn(3, ':')
        .map(|part| part.split('.').next().unwrap_or(part).parse::<u32>());
    let (hour, minute) = (time.next()?.ok()?, time.next()?.ok()?);
    let second = time.next().transpose().ok()?.unwrap_or(0);
    chrono::NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?.and_hms_opt(hour, minute, second)
}

pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(js_sys::Date::now() as i64).unwrap_or_default()
}

fn input_of(node: NodeRef) -> Option<web_sys::HtmlInputElement> {
    node.try_get()?.dyn_into().ok()
}

#[component]
pub fn TimeRangePicker() -> View {
    let navigation = use_context::<Navigation>();
    let queries = use_context::<Queries>();
    let range = create_selector(move || navigation.route.with(|route| route.range));
    let resolved = {
        let queries = queries.clone();
        create_selector(move || queries.resolved(range.get()))
    };
    let tenant = queries.tenant;
    let zone = create_selector(move || tenant.with(|tenant| tenant.as_ref().map(|tenant| tenant.timezone.clone())));
    let from_input = create_node_ref();
    let to_input = create_node_ref();
    let problem = create_signal(None::<&'static str>);
    // The custom inputs show the range on screen until the user edits them.
    let edited = create_signal(false);
    create_effect(move || {
        range.track();
        edited.set(false);
        problem.set(None);
    });
    let fill = move || {
        if edited.get() {
            return;
        }
        let (Some((from, to)), Some(zone)) = (resolved.get(), zone.get_clone()) else {
            return;
        };
        if let (Some(from_box), Some(to_box)) = (input_of(from_input), input_of(to_input)) {
            from_box.set_value(&input_value(from, &zone));
            to_box.set_value(&input_value(to, &zone));
        }
    };
    create_effect(fill);

    let options: Vec<View> = PRESETS
        .iter()
        .map(|preset| {
            let id = preset.id;
            view! {
                option(value=id, selected=move || preset_of(&range.get()).is_some_and(|chosen| chosen.id == id)) {
                    (preset.label)
                }
            }
        })
        .collect();
    let choose = move |event: web_sys::Event| {
        let Some(select) = event
            .target()
            .and_then(|target| target.dyn_into::<web_sys::HtmlSelectElement>().ok())
        else {
            return;
        };
        if let Some(preset) = PRESETS.iter().find(|preset| preset.id == select.value()) {
            let route = navigation.route.get_clone_untracked();
            navigation.go(route.with_range(preset.range()));
        }
    };
    let apply = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        let (Some(from_box), Some(to_box)) = (input_of(from_input), input_of(to_input)) else {
            return;
        };
        let Some(zone) = zone.get_clone_untracked() else {
            problem.set(Some("The tenant's time zone is not known yet; try again in a moment."));
            return;
        };
        let (Some(from), Some(to)) = (parse_input(&from_box.value()), parse_input(&to_box.value())) else {
            problem.set(Some("Enter both ends as a date and a time."));
            return;
        };
        let (from, to) = (zone::instant_in(from, &zone), zone::instant_in(to, &zone));
        if from >= to {
            problem.set(Some("The start must be before the end."));
            return;
        }
        problem.set(None);
        let route = navigation.route.get_clone_untracked();
        navigation.go(route.with_range(absolute(from, to)));
    };
    let moved = move |change: fn(DateTime<Utc>, DateTime<Utc>, DateTime<Utc>) -> paypulse_shared::range::TimeRange| {
        move |_| {
            if let Some((from, to)) = resolved.get_untracked() {
                let route = navigation.route.get_clone_untracked();
                navigation.go(route.with_range(change(from, to, now())));
            }
        }
    };
    let back = moved(|from, to, now| shift(from, to, now, Direction::Back));
    let forward = moved(|from, to, now| shift(from, to, now, Direction::Forward));
    let out = moved(zoom_out);
    let unresolved = move || resolved.with(Option::is_none);
    // The range is read first, so it is a dependency in every state: a range
    // that ends now disables Later whatever its fetch is doing; an absolute
    // one waits for the instants the server resolved.
    let at_now = move || {
        let range = range.get();
        ends_now(&range)
            || resolved
                .get()
                .is_none_or(|(_, to)| !can_shift_forward(&range, to, now()))
    };
    let summary = move || match (resolved.get(), zone.get_clone()) {
        (Some((from, to)), Some(zone)) => format!(
            "{} – {} ({zone})",
            format::local_time(&from, &zone, TimeStyle::DayHour),
            format::local_time(&to, &zone, TimeStyle::DayHour)
        ),
        _ => "…".to_owned(),
    };
    let text =
        |point: Option<paypulse_shared::range::TimePoint>| point.map(|point| point.to_string()).unwrap_or_default();

    view! {
        div(class="time-range card", role="group", aria-label="Time range", data-testid="time-range",
            data-range-from=move || text(range.get().from), data-range-to=move || text(range.get().to),
            data-from=move || resolved.get().map(|(from, _)| paypulse_shared::time::format_utc(&from)).unwrap_or_default(),
            data-to=move || resolved.get().map(|(_, to)| paypulse_shared::time::format_utc(&to)).unwrap_or_default()) {
            button(class="secondary", data-testid="range-back", title="Half a span earlier", disabled=unresolved,
                   on:click=back) { "◀ Earlier" }
            label(class="label") {
                span(class="visually-hidden") { "Range" }
                select(data-testid="range-preset", on:change=choose) {
                    option(value="custom", disabled=true, selected=move || preset_of(&range.get()).is_none()) { "Custom range" }
                    (options)
                }
            }
            button(class="secondary", data-testid="range-forward", title="Half a span later (never past now)",
                   disabled=at_now, on:click=forward) { "Later ▶" }
            button(class="secondary", data-testid="range-zoom-out", title="Twice the span", disabled=unresolved,
                   on:click=out) { "Zoom out" }
            form(class="custom-range", on:submit=apply) {
                label(class="label") {
                    "From "
                    input(r#type="datetime-local", data-testid="range-from", r#ref=from_input,
                          on:input=move |_| edited.set(true))
                }
                label(class="label") {
                    "to "
                    input(r#type="datetime-local", data-testid="range-to", r#ref=to_input,
                          on:input=move |_| edited.set(true))
                }
                button(class="secondary", r#type="submit", data-testid="range-apply") { "Apply" }
            }
            span(class="muted range-summary", data-testid="range-summary") { (summary) }
            (move || match problem.get() {
                Some(message) => view! { span(class="error", role="alert") { (message) } },
                None => view! {},
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_datetime_inputs() {
        let minutes = parse_input("2026-11-24T14:05").unwrap();
        assert_eq!(minutes.to_string(), "2026-11-24 14:05:00");
        assert_eq!(
            parse_input("2026-11-24T14:05:30").unwrap().to_string(),
            "2026-11-24 14:05:30"
        );
        assert_eq!(parse_input(""), None);
        assert_eq!(parse_input("2026-13-01T00:00"), None);
        assert_eq!(parse_input("2026-11-24"), None);
    }
}
