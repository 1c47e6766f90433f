//! Opaque page cursors: the order and the sort key of the last payment of a
//! page, `<sort>.<key>.<id>` in URL-safe base64, so clients cannot depend on
//! its form, and a cursor of one order is refused by another.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mongodb::bson::oid::ObjectId;
use paypulse_shared::query::Sort;

use crate::error::ApiError;
use crate::store::payments::Position;

pub fn encode(position: Position) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{}.{}.{}",
        position.sort.as_str(),
        position.key,
        position.id.to_hex()
    ))
}

/// The position `cursor` names, which must belong to a list in `sort` order.
pub fn decode(cursor: &str, sort: Sort) -> Result<Position, ApiError> {
    let invalid = || ApiError::invalid_parameter("'cursor' is not a cursor this API issued");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let mut parts = text.rsplitn(3, '.');
    let (Some(id), Some(key), Some(order)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid());
    };
    if order != sort.as_str() {
        return Err(ApiError::invalid_parameter(format!(
            "'cursor' belongs to a list sorted by '{order}', not '{sort}': start again without it"
        )));
    }
    Ok(Position {
        sort,
        key: key.parse().map_err(|_| invalid())?,
        id: ObjectId::parse_str(id).map_err(|_| invalid())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_forgeries() {
        for sort in Sort::ALL {
            let position = Position {
                sort,
                key: -1_764_000_000_000,
                id: ObjectId::new(),
            };
            assert_eq!(decode(&encode(position), sort).unwrap(), position);
        }
        let newest = Position {
            sort: Sort::NewestFirst,
            key: 5,
            id: ObjectId::new(),
        };
        let error = decode(&encode(newest), Sort::SmallestFirst).unwrap_err().to_string();
        assert!(error.contains("sorted by"), "{error}");
        for forged in [
            "",
            "not base64!",
            "MTIz",
            &URL_SAFE_NO_PAD.encode("12.zz"),
            &URL_SAFE_NO_PAD.encode("x.12.zz"),
        ] {
            assert!(decode(forged, Sort::NewestFirst).is_err(), "{forged}");
        }
    }
}
