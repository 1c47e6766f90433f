//! The error body every failing API response carries: `{code, message}`.
//! Clients branch on `code` (stable, snake_case) and show `message` to people.

use serde::{Deserialize, Serialize};

/// JSON body of every 4xx/5xx response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Machine-readable reason, e.g. `invalid_parameter`, `unauthorized`.
    pub code: String,
    /// What went wrong, in a sentence a person can act on.
    pub message: String,
}
