//! Opaque page cursors: the sort key of the last payment of a page,
//! `<createdAt millis>.<id>` in URL-safe base64, so clients cannot depend on
//! its form.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mongodb::bson::oid::ObjectId;

use crate::error::ApiError;
use crate::store::payments::Position;

pub fn encode(position: Position) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}.{}", position.created_at_ms, position.id.to_hex()))
}

pub fn decode(cursor: &str) -> Result<Position, ApiError> {
    let invalid = || ApiError::invalid_parameter("'cursor' is not a cursor this API issued");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (millis, id) = text.split_once('.').ok_or_else(invalid)?;
    Ok(Position {
        created_at_ms: millis.parse().map_err(|_| invalid())?,
        id: ObjectId::parse_str(id).map_err(|_| invalid())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_forgeries() {
        let position = Position {
            created_at_ms: 1_764_000_000_000,
            id: ObjectId::new(),
        };
        assert_eq!(decode(&encode(position)).unwrap(), position);
        for forged in ["", "not base64!", "MTIz", &URL_SAFE_NO_PAD.encode("12.zz")] {
            assert!(decode(forged).is_err(), "{forged}");
        }
    }
}
