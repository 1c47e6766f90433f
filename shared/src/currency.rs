//! The currencies Paypulse accepts and their number of minor-unit digits
//! (ISO 4217 exponents). A tenant has one currency; every amount of that
//! tenant is stored as an integer of that many decimal places.

/// ISO 4217 code and exponent of every currency a tenant may use.
const CURRENCIES: &[(&str, u8)] = &[
    ("AUD", 2),
    ("BHD", 3),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CNY", 2),
    ("DKK", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("INR", 2),
    ("JPY", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("MXN", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("PLN", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("USD", 2),
    ("ZAR", 2),
];

/// The number of minor-unit digits of `code`, or `None` for a currency we do
/// not support.
pub fn exponent(code: &str) -> Option<u8> {
    CURRENCIES
        .iter()
        .find(|(known, _)| *known == code)
        .map(|(_, exponent)| *exponent)
}

/// Every supported ISO 4217 code, alphabetical.
pub fn supported() -> impl Iterator<Item = &'static str> {
    CURRENCIES.iter().map(|(code, _)| *code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_the_exponents_that_differ_from_two() {
        assert_eq!(exponent("USD"), Some(2));
        assert_eq!(exponent("INR"), Some(2));
        assert_eq!(exponent("JPY"), Some(0));
        assert_eq!(exponent("KWD"), Some(3));
        assert_eq!(exponent("usd"), None, "codes are upper case, as ISO 4217 writes them");
        assert_eq!(exponent("XXX"), None);
    }

    #[test]
    fn table_is_sorted_for_readers() {
        let codes: Vec<_> = supported().collect();
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        assert_eq!(codes, sorted);
    }
}
