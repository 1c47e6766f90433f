//! How numbers look on screen: money with its currency symbol and thousands
//! separators (exact, from minor units), percentages, hours of day.

use paypulse_shared::{Amount, currency};

/// `$12,345.67`, `₹1,500.00`, `¥1,500`, `CHF 10.00`.
pub fn money(amount: Amount, code: &str) -> String {
    let scale = currency::exponent(code).unwrap_or(amount.scale());
    let exact = amount
        .to_minor_units(scale)
        .map(|minor| Amount::from_minor(minor, scale))
        .unwrap_or(amount);
    let text = exact.to_string();
    let (sign, digits) = text.strip_prefix('-').map_or(("", text.as_str()), |rest| ("-", rest));
    let (whole, fraction) = digits
        .split_once('.')
        .map_or((digits, None), |(whole, fraction)| (whole, Some(fraction)));
    let mut grouped = String::new();
    for (index, digit) in whole.chars().enumerate() {
        if index > 0 && (whole.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let number = match fraction {
        Some(fraction) => format!("{grouped}.{fraction}"),
        None => grouped,
    };
    match symbol(code) {
        Some(symbol) => format!("{sign}{symbol}{number}"),
        None => format!("{sign}{code} {number}"),
    }
}

fn symbol(code: &str) -> Option<&'static str> {
    Some(match code {
        "USD" => "$",
        "EUR" => "€",
        "GBP" => "£",
        "INR" => "₹",
        "JPY" => "¥",
        _ => return None,
    })
}

/// `96.4%` with one decimal (no space, as English writes it).
pub fn percent(value: f64) -> String {
    format!("{value:.1}%")
}

/// A number without a trailing `.0`: `97.5`, `90`.
pub fn trim_number(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// `14:00–15:00` for hour 14.
pub fn hour_range(hour: u8) -> String {
    format!("{hour:02}:00–{:02}:00", (hour + 1) % 24)
}

/// An axis label: `950`, `12.5k`, `3.2M`.
pub fn compact(value: f64) -> String {
    let (scaled, suffix) = match value.abs() {
        v if v >= 1e9 => (value / 1e9, "B"),
        v if v >= 1e6 => (value / 1e6, "M"),
        v if v >= 1e3 => (value / 1e3, "k"),
        _ => (value, ""),
    };
    let text = format!("{scaled:.1}");
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text}{suffix}")
}

/// How much of a time to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeStyle {
    /// `14:00`
    Hour,
    /// `24 Nov, 14:00`
    DayHour,
    /// `24 Nov`
    Day,
}

/// `instant` in the IANA zone `timezone`, by the browser's own time-zone
/// tables (shipping ours in WASM would cost more than the page).
pub fn local_time(instant: &chrono::DateTime<chrono::Utc>, timezone: &str, style: TimeStyle) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(instant.timestamp_millis() as f64));
    let options = js_sys::Object::new();
    let mut parts = vec![("timeZone", timezone)];
    if style != TimeStyle::Hour {
        parts.extend([("day", "numeric"), ("month", "short")]);
    }
    if style != TimeStyle::Day {
        parts.extend([("hour", "2-digit"), ("minute", "2-digit"), ("hourCycle", "h23")]);
    }
    for (key, value) in parts {
        js_sys::Reflect::set(&options, &key.into(), &value.into()).ok();
    }
    String::from(date.to_locale_string("en-GB", &options))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_labels_are_short() {
        assert_eq!(compact(0.0), "0");
        assert_eq!(compact(950.0), "950");
        assert_eq!(compact(12_500.0), "12.5k");
        assert_eq!(compact(3_000_000.0), "3M");
    }

    #[test]
    fn money_is_exact_and_grouped() {
        assert_eq!(money(Amount::from_minor(1_234_567, 2), "USD"), "$12,345.67");
        assert_eq!(money(Amount::from_minor(30, 2), "USD"), "$0.30");
        assert_eq!(
            money(Amount::from_minor(3, 1), "USD"),
            "$0.30",
            "wire amounts come at any scale"
        );
        assert_eq!(money(Amount::from_minor(150_000, 2), "INR"), "₹1,500.00");
        assert_eq!(money(Amount::from_minor(1500, 0), "JPY"), "¥1,500");
        assert_eq!(money(Amount::from_minor(-100_000, 2), "CHF"), "-CHF 1,000.00");
        assert_eq!(money(Amount::from_minor(999, 2), "EUR"), "€9.99");
    }

    #[test]
    fn percentages_and_hours() {
        assert_eq!(percent(96.4285), "96.4%");
        assert_eq!(percent(0.0), "0.0%");
        assert_eq!(hour_range(23), "23:00–00:00");
        assert_eq!(
            (trim_number(97.5), trim_number(90.0), trim_number(99.25)),
            ("97.5".into(), "90".into(), "99.25".into())
        );
    }
}
