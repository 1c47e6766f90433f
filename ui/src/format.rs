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
    let grouped = exact.grouped();
    let (sign, number) = grouped
        .strip_prefix('-')
        .map_or(("", grouped.as_str()), |rest| ("-", rest));
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

/// `value` rounded to `decimals` places (at most 9): `12.5`, `-0.25`.
///
/// Written with integers: Rust's own float formatting (`{:.1}`, and the
/// shortest form of `to_string`) is about 12 KB of the page, a cost the
/// dashboard's size budget does not allow for what this does.
pub fn fixed(value: f64, decimals: u32) -> String {
    let factor = 10_u64.pow(decimals.min(9));
    let scaled = (value.abs() * factor as f64).round();
    if !scaled.is_finite() || scaled >= 1e18 {
        return if value.is_nan() { "NaN".into() } else { "∞".into() };
    }
    let scaled = scaled as u64;
    let mut text = String::new();
    if value < 0.0 && scaled != 0 {
        text.push('-');
    }
    text.push_str(&(scaled / factor).to_string());
    if decimals > 0 {
        let fraction = (scaled % factor).to_string();
        text.push('.');
        for _ in fraction.len()..decimals.min(9) as usize {
            text.push('0');
        }
        text.push_str(&fraction);
    }
    text
}

/// A float as the API wrote it, for `data-` attributes that tests read as
/// numbers: the shortest text that reads back as the same float, by the
/// browser's own formatting (see [`fixed`] for why not Rust's).
#[cfg(target_arch = "wasm32")]
pub fn raw(value: f64) -> String {
    js_sys::Number::from(value)
        .to_string_with_radix(10)
        .map(String::from)
        .unwrap_or_default()
}

#[cfg(not(target_arch = "wasm32"))]
pub fn raw(value: f64) -> String {
    value.to_string()
}

/// `96.4%` with one decimal (no space, as English writes it).
pub fn percent(value: f64) -> String {
    fixed(value, 1) + "%"
}

/// A number without a trailing `.0`: `97.5`, `90`.
pub fn trim_number(value: f64) -> String {
    let text = fixed(value, 2);
    if !text.contains('.') {
        return text;
    }
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
    let text = fixed(scaled, 1);
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
    fn fixed_decimals_without_float_formatting() {
        assert_eq!(fixed(12.345, 1), "12.3");
        assert_eq!(fixed(12.35, 1), "12.4");
        assert_eq!(fixed(-0.25, 2), "-0.25");
        assert_eq!(fixed(-0.01, 1), "0.0");
        assert_eq!(fixed(7.0, 0), "7");
        assert_eq!(fixed(0.05, 2), "0.05");
        assert_eq!(fixed(1_234_567.891, 1), "1234567.9");
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
