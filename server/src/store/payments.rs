//! Queries over `payments`: analytics cells, the drill-down list, one payment,
//! and bulk inserts that skip duplicates (idempotent on `externalId`).

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Bson, Document, doc};
use paypulse_shared::filter::PaymentFilter;
use paypulse_shared::query::Sort;
use paypulse_shared::stats::{CELL_MINUTES, Cell, Stats};

use super::Store;
use super::documents::{PaymentDoc, before, in_range, not_before, read_i64};

/// One tenant's payments in `[from, to)` that pass `filter`: what a list
/// page or an export reads.
#[derive(Clone, Copy, Debug)]
pub struct Slice<'a> {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub filter: &'a PaymentFilter,
    /// Only these parts of the range (an hour of the day on each day; see
    /// `buckets::local_hour_intervals`); `None`: all of it. Never empty.
    pub within: Option<&'a [(DateTime<Utc>, DateTime<Utc>)]>,
    /// Decimal places of the tenant's currency, for the amount bounds.
    pub scale: u8,
}

impl Slice<'_> {
    /// The MongoDB filter of this slice of `tenant_id`'s payments.
    pub(super) fn to_document(self, tenant_id: &str) -> Document {
        let mut query = doc! { "tenantId": tenant_id };
        // Inclusive bounds are written as exclusive ones a unit beyond (exact:
        // dates are whole milliseconds, amounts whole minor units), for the
        // development database's sake (see `documents::in_range`).
        let mut created = Document::new();
        if let Some(from) = self.from {
            created.insert("$gt", not_before(from));
        }
        if let Some(to) = self.to {
            created.insert("$lt", before(to));
        }
        if !created.is_empty() {
            query.insert("createdAt", created);
        }
        let filter = self.filter;
        if !filter.statuses.is_empty() {
            let statuses: Vec<&str> = filter.statuses.iter().map(|status| status.as_str()).collect();
            query.insert("status", doc! { "$in": statuses });
        }
        if !filter.methods.is_empty() {
            let methods: Vec<&str> = filter.methods.iter().map(String::as_str).collect();
            query.insert("method", doc! { "$in": methods });
        }
        let mut amount = Document::new();
        // Bounds finer than the currency were refused before they got here;
        // the fallback only keeps a bound from being dropped.
        let minor = |bound: paypulse_shared::Amount| bound.to_minor_units(self.scale).unwrap_or_else(|_| bound.minor());
        if let Some(minimum) = filter.min_amount {
            amount.insert("$gt", minor(minimum) - 1);
        }
        if let Some(maximum) = filter.max_amount {
            amount.insert("$lt", minor(maximum) + 1);
        }
        if !amount.is_empty() {
            query.insert("amountMinor", amount);
        }
        if let Some(prefix) = &filter.external_id_prefix {
            // An anchored, escaped prefix: the `{tenantId, externalId}` index
            // answers it as a range.
            query.insert("externalId", doc! { "$regex": format!("^{}", escape_regex(prefix)) });
        }
        if let Some(parts) = self.within {
            // Under `$and`: a list's cursor takes the top-level `$or`.
            let parts: Vec<Document> = parts
                .iter()
                .map(|(from, to)| doc! { "createdAt": in_range(*from, *to) })
                .collect();
            query.insert("$and", vec![doc! { "$or": parts }]);
        }
        query
    }
}

/// The MongoDB order of `sort`, `_id` breaking ties the same way.
pub(super) fn sort_document(sort: Sort) -> Document {
    let direction = if sort.descending() { -1 } else { 1 };
    doc! { sort_field(sort): direction, "_id": direction }
}

/// `text` with every regular-expression metacharacter escaped.
fn escape_regex(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if "\\^$.|?*+()[]{}-/".contains(character) {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

/// Where a page ends: the sort key of its last payment (`createdAt` in
/// milliseconds or `amountMinor`, as the order says) and its id, which
/// breaks ties.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub sort: Sort,
    pub key: i64,
    pub id: ObjectId,
}

/// The field a sort orders by.
fn sort_field(sort: Sort) -> &'static str {
    if sort.by_amount() { "amountMinor" } else { "createdAt" }
}

/// The position of `payment` in a list ordered by `sort`.
pub fn position_of(payment: &PaymentDoc, sort: Sort) -> Position {
    Position {
        sort,
        key: if sort.by_amount() {
            payment.amount_minor
        } else {
            payment.created_at.timestamp_millis()
        },
        id: payment.id,
    }
}

impl Store {
    /// The 15-minute cells of one tenant's payments in `[from, to)`.
    pub async fn payment_cells(
        &self,
        tenant_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> mongodb::error::Result<Vec<Cell>> {
        self.payment_cells_of(tenant_id, from, to, CELL_MINUTES).await
    }

    /// Cells of `cell_minutes` (UTC-aligned) of one tenant's payments in
    /// `[from, to)`, grouped from the payments themselves.
    pub async fn payment_cells_of(
        &self,
        tenant_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        cell_minutes: i64,
    ) -> mongodb::error::Result<Vec<Cell>> {
        let succeeded = doc! { "$in": ["$status", ["succeeded", "refunded"]] };
        let refunded = doc! { "$eq": ["$status", "refunded"] };
        let failed = doc! { "$eq": ["$status", "failed"] };
        let cell_millis = cell_minutes * 60 * 1000;
        let pipeline = vec![
            doc! { "$match": { "tenantId": tenant_id, "createdAt": in_range(from, to) } },
            doc! { "$group": {
                "_id": {
                    // The cell start: the timestamp less its remainder modulo
                    // the cell's length since the epoch (UTC-aligned).
                    "cell": { "$subtract": [
                        { "$toLong": "$createdAt" },
                        { "$mod": [{ "$toLong": "$createdAt" }, cell_millis] },
                    ] },
                    "method": "$method",
                },
                "succeeded": { "$sum": { "$cond": [succeeded.clone(), 1, 0] } },
                "failed": { "$sum": { "$cond": [failed, 1, 0] } },
                "refunded": { "$sum": { "$cond": [refunded.clone(), 1, 0] } },
                "volume": { "$sum": { "$cond": [succeeded, "$amountMinor", 0_i64] } },
                "refundedVolume": { "$sum": { "$cond": [refunded, "$amountMinor", 0_i64] } },
            } },
        ];
        let groups: Vec<Document> = self.payments().aggregate(pipeline).await?.try_collect().await?;
        let mut cells: Vec<Cell> = groups
            .iter()
            .map(|group| {
                let key = group.get_document("_id").cloned().unwrap_or_default();
                let count = |field| u64::try_from(read_i64(group, field)).unwrap_or(0);
                Cell {
                    start: DateTime::from_timestamp_millis(read_i64(&key, "cell")).unwrap_or_default(),
                    method: key.get_str("method").unwrap_or_default().to_owned(),
                    stats: Stats {
                        succeeded: count("succeeded"),
                        failed: count("failed"),
                        refunded: count("refunded"),
                        volume_minor: read_i64(group, "volume"),
                        refunded_minor: read_i64(group, "refundedVolume"),
                    },
                }
            })
            .collect();
        cells.sort_by(|left, right| (left.start, &left.method).cmp(&(right.start, &right.method)));
        Ok(cells)
    }

    /// Up to `limit` payments of `slice` after `after`, in `sort` order, and
    /// the position to continue from when more remain.
    pub async fn list_payments(
        &self,
        tenant_id: &str,
        slice: Slice<'_>,
        sort: Sort,
        after: Option<Position>,
        limit: u32,
    ) -> mongodb::error::Result<(Vec<PaymentDoc>, Option<Position>)> {
        let mut query = slice.to_document(tenant_id);
        if let Some(position) = after {
            let field = sort_field(sort);
            let at = if sort.by_amount() {
                Bson::Int64(position.key)
            } else {
                Bson::DateTime(mongodb::bson::DateTime::from_millis(position.key))
            };
            let beyond = if sort.descending() { "$lt" } else { "$gt" };
            query.insert(
                "$or",
                vec![
                    doc! { field: { beyond: at.clone() } },
                    doc! { field: at, "_id": { beyond: position.id } },
                ],
            );
        }
        let mut page: Vec<PaymentDoc> = self
            .payments()
            .find(query)
            .sort(sort_document(sort))
            .limit(i64::from(limit) + 1)
            .await?
            .try_collect()
            .await?;
        let more = super::split_page(&mut page, limit);
        let next = more.then(|| page.last()).flatten().map(|last| position_of(last, sort));
        Ok((page, next))
    }

    /// One payment of one tenant.
    pub async fn find_payment(&self, tenant_id: &str, id: ObjectId) -> mongodb::error::Result<Option<PaymentDoc>> {
        self.payments()
            .find_one(doc! { "_id": id, "tenantId": tenant_id })
            .await
    }
}
