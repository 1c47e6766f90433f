//! Hour rollup documents kept in memory, checked by version.
//!
//! On the document stores we run on, what a read of rollup documents costs
//! follows their size: a busy tenant's hour holds every method, a quiet
//! one's two or three, so the same trend took up to 1.7 times as long for a
//! tenant with a million payments as for one with ten thousand. Every write
//! to a rollup document also increments its `v`, so a read asks only for
//! each document's start and `v` (small, and the same size for every
//! tenant), takes the documents whose `v` it already holds from memory, and
//! reads in full only the others: normally the current hour, the one being
//! written to. Any instance's write bumps `v`, so the check is exact
//! across instances.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::bson::{Document, doc};
use paypulse_shared::stats::Cell;

use super::Store;
use super::documents::{read_i64, to_chrono};
use super::rollups::{Level, cells_from_document, interval_range};

/// Documents kept over all tenants and levels; the oldest go first beyond.
const MAX_DOCUMENTS: usize = 50_000;
/// Beyond this many changed documents in one read, one range read of full
/// documents is cheaper than reading them one by one.
const MAX_SINGLE_READS: usize = 4;

type Key = (Level, String, i64);

/// One document as kept: its version and its cells.
#[derive(Debug)]
struct Kept {
    version: i64,
    cells: Arc<Vec<Cell>>,
}

#[derive(Debug, Default)]
pub struct KeptRollups {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    documents: HashMap<Key, Kept>,
    order: VecDeque<Key>,
}

impl KeptRollups {
    fn get(&self, key: &Key, version: i64) -> Option<Arc<Vec<Cell>>> {
        let inner = self.inner.lock().ok()?;
        let kept = inner.documents.get(key)?;
        (kept.version == version).then(|| Arc::clone(&kept.cells))
    }

    fn keep(&self, key: Key, version: i64, cells: Arc<Vec<Cell>>) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.documents.insert(key.clone(), Kept { version, cells }).is_none() {
            inner.order.push_back(key);
        }
        while inner.documents.len() > MAX_DOCUMENTS {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            inner.documents.remove(&oldest);
        }
    }
}

impl Store {
    /// The same cells as [`Store::rollup_cells`], from memory for every
    /// document whose version is unchanged since it was last read.
    pub(super) async fn kept_rollup_cells(
        &self,
        level: Level,
        tenant_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> mongodb::error::Result<Vec<Cell>> {
        let versions: Vec<Document> = self
            .rollups(level)
            .find(interval_range(tenant_id, from, to))
            .projection(doc! { "cell": 1, "v": 1 })
            .await?
            .try_collect()
            .await?;
        let key = |start: DateTime<Utc>| (level, tenant_id.to_owned(), start.timestamp_millis());
        let mut cells = Vec::new();
        let mut changed = Vec::new();
        for document in &versions {
            let Ok(start) = document.get_datetime("cell").map(|start| to_chrono(*start)) else {
                continue;
            };
            let version = read_i64(document, "v");
            match self.kept_rollups().get(&key(start), version) {
                Some(kept) => cells.extend(kept.iter().cloned()),
                None => changed.push(document.get_str("_id").unwrap_or_default().to_owned()),
            }
        }
        if changed.len() > MAX_SINGLE_READS {
            // Mostly unknown (a first read): read the range whole.
            let documents = self.rollup_documents(level, tenant_id, from, to).await?;
            return Ok(documents
                .iter()
                .flat_map(|document| self.keep_document(level, tenant_id, document))
                .collect());
        }
        let collection = self.rollups(level);
        let reads = changed.iter().map(|id| {
            let collection = collection.clone();
            async move { collection.find_one(doc! { "_id": id }).await }
        });
        for document in futures::future::try_join_all(reads).await?.into_iter().flatten() {
            cells.extend(self.keep_document(level, tenant_id, &document));
        }
        Ok(cells)
    }

    /// Decodes `document`, keeps it under its version, returns its cells.
    fn keep_document(&self, level: Level, tenant_id: &str, document: &Document) -> Vec<Cell> {
        let cells = cells_from_document(document);
        if let Ok(start) = document.get_datetime("cell") {
            let key = (level, tenant_id.to_owned(), start.timestamp_millis());
            self.kept_rollups()
                .keep(key, read_i64(document, "v"), Arc::new(cells.clone()));
        }
        cells
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_only_for_the_version_it_holds() {
        let kept = KeptRollups::default();
        let key = (Level::Hour, "acme".to_owned(), 0);
        kept.keep(key.clone(), 3, Arc::new(Vec::new()));
        assert!(kept.get(&key, 3).is_some());
        assert!(kept.get(&key, 4).is_none(), "written since");
        assert!(
            kept.get(&(Level::Day, "acme".to_owned(), 0), 3).is_none(),
            "levels apart"
        );
    }

    #[test]
    fn holds_a_bounded_number_of_documents() {
        let kept = KeptRollups::default();
        for start in 0..(MAX_DOCUMENTS as i64 + 10) {
            kept.keep((Level::Hour, "acme".to_owned(), start), 1, Arc::new(Vec::new()));
        }
        let inner = kept.inner.lock().unwrap();
        assert_eq!(inner.documents.len(), MAX_DOCUMENTS);
        assert!(!inner.documents.contains_key(&(Level::Hour, "acme".to_owned(), 0)));
    }
}
