//! The payment-method catalogue: stable ids, display names and colours. The
//! server seeds it into the `methods` collection; the UI uses the same colours
//! so a method looks the same in every chart and row.

/// One payment method of the catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Method {
    /// Stable id used on the wire and in storage (`card`, `paypal`, ...).
    pub id: &'static str,
    /// Name shown to people.
    pub display_name: &'static str,
    /// CSS colour, chosen to stay distinguishable in light and dark themes.
    pub colour: &'static str,
}

/// Every method Paypulse knows; tenants enable a subset.
pub const METHODS: &[Method] = &[
    Method {
        id: "apple_pay",
        display_name: "Apple Pay",
        colour: "#6b7280",
    },
    Method {
        id: "bank_transfer",
        display_name: "Bank transfer",
        colour: "#0e9f6e",
    },
    Method {
        id: "card",
        display_name: "Card",
        colour: "#3f83f8",
    },
    Method {
        id: "google_pay",
        display_name: "Google Pay",
        colour: "#e3a008",
    },
    Method {
        id: "paypal",
        display_name: "PayPal",
        colour: "#7e3af2",
    },
    Method {
        id: "sepa_debit",
        display_name: "SEPA Direct Debit",
        colour: "#d61f69",
    },
    Method {
        id: "upi",
        display_name: "UPI",
        colour: "#ff5a1f",
    },
];

/// The catalogue entry for `id`.
pub fn method(id: &str) -> Option<&'static Method> {
    METHODS.iter().find(|method| method.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_snake_case() {
        let mut ids: Vec<_> = METHODS.iter().map(|method| method.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), METHODS.len());
        assert!(
            ids.iter()
                .all(|id| id.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        );
        assert_eq!(method("card").map(|m| m.display_name), Some("Card"));
        assert_eq!(method("cash"), None);
    }
}
