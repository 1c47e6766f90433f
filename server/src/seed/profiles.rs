//! The demo tenants (SPEC §4) and what their traffic looks like: time zone,
//! currency, method mix, typical amount and failure rate.

/// How one tenant's payments look.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    pub id: String,
    pub name: String,
    pub timezone: &'static str,
    pub currency: &'static str,
    /// Methods and their share of traffic.
    pub methods: &'static [(&'static str, f64)],
    /// Median payment in minor units; amounts are log-normal around it.
    pub median_minor: f64,
    /// Usual share of failed payments (a spike multiplies it).
    pub failure_rate: f64,
}

/// The profile of a demo tenant; unknown ids get a plain UTC/USD profile.
pub fn profile(id: &str) -> Profile {
    let (name, timezone, currency, methods, median_minor, failure_rate): (&str, _, _, &'static [(&str, f64)], _, _) =
        match id {
            "acme" => (
                "Acme Corp",
                "UTC",
                "USD",
                &[
                    ("card", 0.5),
                    ("paypal", 0.2),
                    ("apple_pay", 0.15),
                    ("google_pay", 0.1),
                    ("bank_transfer", 0.05),
                ],
                4_500.0,
                0.03,
            ),
            "globex" => (
                "Globex",
                "America/New_York",
                "USD",
                &[
                    ("card", 0.45),
                    ("bank_transfer", 0.25),
                    ("paypal", 0.15),
                    ("apple_pay", 0.15),
                ],
                12_000.0,
                0.05,
            ),
            "initech" => (
                "Initech India",
                "Asia/Kolkata",
                "INR",
                &[("upi", 0.5), ("card", 0.3), ("bank_transfer", 0.15), ("paypal", 0.05)],
                150_000.0,
                0.07,
            ),
            _ => (
                "",
                "UTC",
                "USD",
                &[("card", 0.7), ("bank_transfer", 0.3)],
                5_000.0,
                0.04,
            ),
        };
    let name = if name.is_empty() {
        title_case(id)
    } else {
        name.to_owned()
    };
    Profile {
        id: id.to_owned(),
        name,
        timezone,
        currency,
        methods,
        median_minor,
        failure_rate,
    }
}

fn title_case(id: &str) -> String {
    let mut characters = id.chars();
    characters
        .next()
        .map(|first| first.to_uppercase().chain(characters).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_tenants_match_the_spec() {
        let zones: Vec<_> = ["acme", "globex", "initech"]
            .iter()
            .map(|id| (profile(id).timezone, profile(id).currency))
            .collect();
        assert_eq!(
            zones,
            [("UTC", "USD"), ("America/New_York", "USD"), ("Asia/Kolkata", "INR")]
        );
        assert_eq!(profile("hooli").name, "Hooli");
        for id in ["acme", "globex", "initech", "other"] {
            let total: f64 = profile(id).methods.iter().map(|(_, share)| share).sum();
            assert!((total - 1.0).abs() < 1e-9, "{id}");
            assert!((0.02..=0.08).contains(&profile(id).failure_rate));
        }
    }
}
