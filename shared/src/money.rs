//! Exact money: amounts are integers of a decimal scale (minor units) inside
//! the system and become JSON numbers only at the edge, computed exactly.
//!
//! The JSON edge is where floating point enters. `to_f64` divides an exact
//! integer by an exact power of ten, which IEEE 754 rounds correctly, so the
//! result is the double nearest to the true decimal and serde_json's shortest
//! round-trip printing writes back exactly the decimal digits (`1234` at scale
//! 2 is written `12.34`). Parsing goes the other way through the same shortest
//! representation, so `0.1` is read as one tenth, not as the binary fraction
//! nearest to it.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Largest magnitude we accept, in units of the smallest scale step: it keeps
/// every amount below 2^53 so that the JSON number is exact.
pub const MAX_MINOR: i64 = 1_000_000_000_000_000;

/// Largest number of decimal places an amount may carry.
pub const MAX_SCALE: u8 = 6;

/// A decimal amount: `minor / 10^scale`.
#[derive(Clone, Copy, Debug)]
pub struct Amount {
    minor: i64,
    scale: u8,
}

/// Why a decimal amount was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("'{0}' is not a decimal number")]
    NotANumber(String),
    #[error("'{0}' has more decimal places than the currency allows ({1})")]
    TooPrecise(String, u8),
    #[error("'{0}' is too large")]
    TooLarge(String),
}

impl Amount {
    /// The amount `minor / 10^scale`.
    pub const fn from_minor(minor: i64, scale: u8) -> Self {
        Self { minor, scale }
    }

    /// The integer of minor units at this amount's own scale.
    pub const fn minor(self) -> i64 {
        self.minor
    }

    /// The number of decimal places of `minor`.
    pub const fn scale(self) -> u8 {
        self.scale
    }

    /// The nearest double to the exact decimal value.
    pub fn to_f64(self) -> f64 {
        self.minor as f64 / 10f64.powi(i32::from(self.scale))
    }

    /// Parses a plain decimal literal (`12`, `12.5`, `-0.01`, `1e2`): the form
    /// query parameters and shortest-printed doubles take.
    pub fn parse(text: &str) -> Result<Self, AmountError> {
        let invalid = || AmountError::NotANumber(text.to_owned());
        let trimmed = text.trim();
        let (mantissa, exponent) = match trimmed.find(['e', 'E']) {
            Some(at) => {
                let exponent: i32 = trimmed[at + 1..].parse().map_err(|_| invalid())?;
                (&trimmed[..at], i64::from(exponent))
            }
            None => (trimmed, 0),
        };
        let (negative, digits) = match mantissa.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, mantissa.strip_prefix('+').unwrap_or(mantissa)),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && fraction.is_empty()) || !all_digits(whole) || !all_digits(fraction) {
            return Err(invalid());
        }
        // Trailing zeros of the fraction carry no value; dropping them keeps
        // `12.50` acceptable for a two-decimal currency and `1.000` for any.
        let fraction = fraction.trim_end_matches('0');
        // In i64, no exponent an i32 holds can overflow the scale.
        let mut scale = i64::try_from(fraction.len()).map_err(|_| invalid())? - exponent;
        let mut mantissa_digits = format!("{whole}{fraction}");
        let too_large = || AmountError::TooLarge(text.to_owned());
        if scale < 0 {
            // The zeros a positive exponent appends are counted before they
            // are written: `1e999999999` is too large, not a gigabyte of
            // zeros (a query string's `minAmount` can say it).
            let zeros = usize::try_from(-scale).map_err(|_| too_large())?;
            let significant = mantissa_digits.trim_start_matches('0').len();
            if significant > 0 {
                if significant.saturating_add(zeros) > 18 {
                    return Err(too_large());
                }
                mantissa_digits.push_str(&"0".repeat(zeros));
            }
            scale = 0;
        }
        let digits = mantissa_digits.trim_start_matches('0');
        if scale > i64::from(MAX_SCALE) {
            return Err(AmountError::TooPrecise(text.to_owned(), MAX_SCALE));
        }
        if digits.len() > 18 {
            return Err(too_large());
        }
        let magnitude: i64 = if digits.is_empty() {
            0
        } else {
            digits.parse().map_err(|_| too_large())?
        };
        if magnitude > MAX_MINOR {
            return Err(too_large());
        }
        let scale = u8::try_from(scale).map_err(|_| invalid())?;
        Ok(Self::from_minor(if negative { -magnitude } else { magnitude }, scale))
    }

    /// Reads a JSON double exactly as the decimal it was written as.
    pub fn from_f64(value: f64) -> Result<Self, AmountError> {
        if !value.is_finite() {
            return Err(AmountError::NotANumber(value.to_string()));
        }
        // `Display` for f64 prints the shortest digits that read back to the
        // same double, without an exponent: the decimal the sender wrote.
        Self::parse(&value.to_string())
    }

    /// The same value in minor units of `scale` decimal places; fails when the
    /// value has finer digits than that scale can hold.
    pub fn to_minor_units(self, scale: u8) -> Result<i64, AmountError> {
        let text = || self.to_string();
        if self.scale <= scale {
            let factor = 10i64
                .checked_pow(u32::from(scale - self.scale))
                .ok_or_else(|| AmountError::TooLarge(text()))?;
            let minor = self
                .minor
                .checked_mul(factor)
                .ok_or_else(|| AmountError::TooLarge(text()))?;
            // `unsigned_abs`: `i64::MIN.abs()` overflows.
            if minor.unsigned_abs() > MAX_MINOR.unsigned_abs() {
                return Err(AmountError::TooLarge(text()));
            }
            Ok(minor)
        } else {
            let factor = 10i64.pow(u32::from(self.scale - scale));
            if self.minor % factor != 0 {
                return Err(AmountError::TooPrecise(text(), scale));
            }
            Ok(self.minor / factor)
        }
    }

    /// Integer division rounded half away from zero, in the same scale: the
    /// rounding a finance user expects of an average shown in cents.
    /// The plain decimal (as `Display` writes it) with its whole part
    /// grouped by thousands: `12,345.67`, `-1,000`. Exact: no float on the
    /// way.
    pub fn grouped(self) -> String {
        let text = self.to_string();
        let (sign, digits) = text.strip_prefix('-').map_or(("", text.as_str()), |rest| ("-", rest));
        let (whole, fraction) = digits
            .split_once('.')
            .map_or((digits, None), |(whole, fraction)| (whole, Some(fraction)));
        let mut grouped = String::with_capacity(text.len() + whole.len() / 3);
        grouped.push_str(sign);
        for (index, digit) in whole.chars().enumerate() {
            if index > 0 && (whole.len() - index).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        if let Some(fraction) = fraction {
            grouped.push('.');
            grouped.push_str(fraction);
        }
        grouped
    }

    pub fn div_round(self, divisor: u64) -> Self {
        if divisor == 0 {
            return Self::from_minor(0, self.scale);
        }
        let divisor = i128::from(divisor);
        let numerator = i128::from(self.minor);
        let quotient = numerator / divisor;
        let remainder = numerator % divisor;
        let rounded = if remainder.abs() * 2 >= divisor {
            quotient + numerator.signum()
        } else {
            quotient
        };
        Self::from_minor(i64::try_from(rounded).unwrap_or(i64::MAX), self.scale)
    }

    fn normalized(self, other: Self) -> (i128, i128) {
        let scale = self.scale.max(other.scale);
        let lift = |amount: Self| i128::from(amount.minor) * 10i128.pow(u32::from(scale - amount.scale));
        (lift(self), lift(other))
    }
}

impl PartialEq for Amount {
    fn eq(&self, other: &Self) -> bool {
        let (left, right) = self.normalized(*other);
        left == right
    }
}

impl Eq for Amount {}

impl PartialOrd for Amount {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Amount {
    fn cmp(&self, other: &Self) -> Ordering {
        let (left, right) = self.normalized(*other);
        left.cmp(&right)
    }
}

impl fmt::Display for Amount {
    /// Plain decimal with exactly `scale` places: `1234` at scale 2 is `12.34`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.minor < 0 { "-" } else { "" };
        let magnitude = self.minor.unsigned_abs();
        if self.scale == 0 {
            return write!(f, "{sign}{magnitude}");
        }
        let factor = 10u64.pow(u32::from(self.scale));
        let width = usize::from(self.scale);
        write!(f, "{sign}{}.{:0width$}", magnitude / factor, magnitude % factor)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.to_f64())
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = f64::deserialize(deserializer)?;
        Self::from_f64(value).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_the_whole_part_by_thousands() {
        assert_eq!(Amount::from_minor(1_234_567, 2).grouped(), "12,345.67");
        assert_eq!(Amount::from_minor(-100_000, 0).grouped(), "-100,000");
        assert_eq!(Amount::from_minor(5, 2).grouped(), "0.05");
        assert_eq!(Amount::from_minor(999, 3).grouped(), "0.999");
    }

    #[test]
    fn serializes_minor_units_as_exact_decimal_numbers() {
        let cases = [
            (1234, 2, "12.34"),
            (30, 2, "0.3"),
            (-5, 2, "-0.05"),
            (1500, 0, "1500.0"),
            (1, 3, "0.001"),
        ];
        for (minor, scale, json) in cases {
            assert_eq!(serde_json::to_string(&Amount::from_minor(minor, scale)).unwrap(), json);
        }
    }

    #[test]
    fn cents_add_up_where_floats_do_not() {
        assert_ne!(0.1 + 0.2, 0.3, "the floating point trap this module exists for");
        let sum = Amount::from_minor(10, 2).minor() + Amount::from_minor(20, 2).minor();
        assert_eq!(serde_json::to_string(&Amount::from_minor(sum, 2)).unwrap(), "0.3");
        let ten_cents = Amount::parse("0.1").unwrap().to_minor_units(2).unwrap();
        let twenty_cents = Amount::parse("0.2").unwrap().to_minor_units(2).unwrap();
        assert_eq!(ten_cents + twenty_cents, 30);
    }

    #[test]
    fn parses_json_doubles_as_the_decimal_written() {
        let amount: Amount = serde_json::from_str("0.1").unwrap();
        assert_eq!(amount.to_minor_units(2), Ok(10));
        let amount: Amount = serde_json::from_str("19.99").unwrap();
        assert_eq!(amount.to_minor_units(2), Ok(1999));
        let amount: Amount = serde_json::from_str("1e3").unwrap();
        assert_eq!(amount.to_minor_units(0), Ok(1000));
    }

    #[test]
    fn refuses_digits_finer_than_the_currency() {
        let amount = Amount::parse("12.345").unwrap();
        assert!(matches!(amount.to_minor_units(2), Err(AmountError::TooPrecise(..))));
        assert_eq!(Amount::parse("12.340").unwrap().to_minor_units(2), Ok(1234));
        assert!(matches!(
            Amount::parse("1.5").unwrap().to_minor_units(0),
            Err(AmountError::TooPrecise(..))
        ));
    }

    #[test]
    fn refuses_what_is_not_a_number() {
        for text in ["", "abc", "1.2.3", "--1", "1,5", ".", "NaN", "inf", "0x10"] {
            assert!(Amount::parse(text).is_err(), "{text} should be refused");
        }
        assert!(matches!(
            Amount::parse("99999999999999999999"),
            Err(AmountError::TooLarge(_))
        ));
    }

    #[test]
    fn huge_exponents_are_refused_without_allocating_them() {
        // Found writing the fuzz targets: `1e-2147483648` overflowed the
        // scale, and `1e999999999` wrote a gigabyte of zeros before finding
        // the number too large.
        assert!(matches!(
            Amount::parse("1e-2147483648"),
            Err(AmountError::TooPrecise(..))
        ));
        assert!(matches!(Amount::parse("1e999999999"), Err(AmountError::TooLarge(_))));
        assert!(matches!(Amount::parse("1e2147483647"), Err(AmountError::TooLarge(_))));
        assert!(matches!(Amount::parse("1e18"), Err(AmountError::TooLarge(_))));
        assert_eq!(Amount::parse("1e15").unwrap(), Amount::from_minor(MAX_MINOR, 0));
        assert_eq!(Amount::parse("0e999999999").unwrap(), Amount::from_minor(0, 0));
        assert_eq!(Amount::parse("12.5e3").unwrap(), Amount::from_minor(12_500, 0));
    }

    #[test]
    fn the_most_negative_minor_units_are_too_large_not_a_panic() {
        // Found writing the fuzz targets (`export_row` feeds any `i64`):
        // `i64::MIN.abs()` overflowed.
        assert!(matches!(
            Amount::from_minor(i64::MIN, 2).to_minor_units(2),
            Err(AmountError::TooLarge(_))
        ));
    }

    #[test]
    fn compares_across_scales() {
        assert_eq!(Amount::from_minor(1230, 2), Amount::from_minor(123, 1));
        assert!(Amount::from_minor(1, 2) < Amount::from_minor(1, 1));
    }

    #[test]
    fn averages_round_half_away_from_zero() {
        assert_eq!(Amount::from_minor(1000, 2).div_round(3).minor(), 333);
        assert_eq!(Amount::from_minor(1001, 2).div_round(2).minor(), 501);
        assert_eq!(Amount::from_minor(-1001, 2).div_round(2).minor(), -501);
        assert_eq!(Amount::from_minor(5, 2).div_round(0).minor(), 0);
    }

    #[test]
    fn displays_with_the_scale_digits() {
        assert_eq!(Amount::from_minor(5, 2).to_string(), "0.05");
        assert_eq!(Amount::from_minor(-123456, 2).to_string(), "-1234.56");
        assert_eq!(Amount::from_minor(42, 0).to_string(), "42");
    }
}
