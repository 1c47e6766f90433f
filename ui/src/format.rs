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

/// `96.4 %` with one decimal.
pub fn percent(value: f64) -> String {
    format!("{value:.1} %")
}

/// `14:00–15:00` for hour 14.
pub fn hour_range(hour: u8) -> String {
    format!("{hour:02}:00–{:02}:00", (hour + 1) % 24)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(percent(96.4285), "96.4 %");
        assert_eq!(percent(0.0), "0.0 %");
        assert_eq!(hour_range(23), "23:00–00:00");
    }
}
