//! The walkthroughs the journal keeps: each one's record (a JSON document the walkthrough
//! defines; the store only keeps it and the columns it is looked up by), written again after
//! every change while it goes on, so that a lost terminal loses nothing.

use rusqlite::{OptionalExtension, params};

use crate::store::journal::{Journal, JournalError};

/// A stored walkthrough: its columns and its record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredWalkthrough {
    /// Its id.
    pub id: String,
    /// The playbook's name.
    pub playbook: String,
    /// When it started.
    pub started_at: String,
    /// When it ended.
    pub finished_at: Option<String>,
    /// `in-progress`, `saved` or `interrupted`.
    pub state: String,
    /// Who led it.
    pub facilitator: String,
    /// The record, as JSON.
    pub record: String,
}

/// The columns of a walkthrough to store.
pub struct WalkthroughRow<'a> {
    /// Its id.
    pub id: &'a str,
    /// The playbook's name.
    pub playbook: &'a str,
    /// The playbook's file.
    pub playbook_path: &'a str,
    /// The hash of its text.
    pub file_hash: &'a str,
    /// Who led it.
    pub facilitator: &'a str,
    /// When it started.
    pub started_at: &'a str,
    /// When it ended.
    pub finished_at: Option<&'a str>,
    /// Its state's name.
    pub state: &'a str,
    /// The record, as JSON.
    pub record: &'a str,
}

fn stored(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredWalkthrough> {
    Ok(StoredWalkthrough {
        id: r.get(0)?,
        playbook: r.get(1)?,
        started_at: r.get(2)?,
        finished_at: r.get(3)?,
        state: r.get(4)?,
        facilitator: r.get(5)?,
        record: r.get(6)?,
    })
}

const COLUMNS: &str = "id, playbook, started_at, finished_at, state, facilitator, record";

impl Journal {
    /// Stores a walkthrough, or its newer version (one durable write).
    pub fn save_walkthrough(&self, w: &WalkthroughRow<'_>) -> Result<(), JournalError> {
        self.conn
            .execute(
                "INSERT INTO walkthroughs (id, playbook, playbook_path, file_hash, facilitator, started_at, finished_at, state, record)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (id) DO UPDATE SET finished_at = excluded.finished_at,
                     state = excluded.state, record = excluded.record",
                params![
                    w.id,
                    w.playbook,
                    w.playbook_path,
                    w.file_hash,
                    w.facilitator,
                    w.started_at,
                    w.finished_at,
                    w.state,
                    w.record
                ],
            )
            .map(|_| ())
            .map_err(self.fail())
    }

    /// Forgets a walkthrough (the facilitator quit without saving it).
    pub fn drop_walkthrough(&self, id: &str) -> Result<(), JournalError> {
        self.conn
            .execute("DELETE FROM walkthroughs WHERE id = ?1", params![id])
            .map(|_| ())
            .map_err(self.fail())
    }

    /// The walkthrough `id`.
    pub fn walkthrough(&self, id: &str) -> Result<Option<StoredWalkthrough>, JournalError> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM walkthroughs WHERE id = ?1"),
                params![id],
                stored,
            )
            .optional()
            .map_err(self.fail())
    }

    /// The newest walkthrough of `playbook`: what its open concerns and estimates are
    /// carried from.
    pub fn latest_walkthrough(
        &self,
        playbook: &str,
    ) -> Result<Option<StoredWalkthrough>, JournalError> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM walkthroughs WHERE playbook = ?1
                     ORDER BY started_at DESC, id DESC LIMIT 1"
                ),
                params![playbook],
                stored,
            )
            .optional()
            .map_err(self.fail())
    }

    /// Every walkthrough (of `playbook`, when given), newest first.
    pub fn walkthroughs(
        &self,
        playbook: Option<&str>,
    ) -> Result<Vec<StoredWalkthrough>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM walkthroughs WHERE ?1 IS NULL OR playbook = ?1
                 ORDER BY started_at DESC, id DESC"
            ))
            .map_err(self.fail())?;
        let rows = stmt
            .query_map(params![playbook], stored)
            .map_err(self.fail())?;
        rows.collect::<Result<_, _>>().map_err(self.fail())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row<'a>(id: &'a str, started: &'a str, record: &'a str) -> WalkthroughRow<'a> {
        WalkthroughRow {
            id,
            playbook: "shop",
            playbook_path: "shop.yaml",
            file_hash: "abc",
            facilitator: "sam",
            started_at: started,
            finished_at: None,
            state: "in-progress",
            record,
        }
    }

    #[test]
    fn a_walkthrough_is_stored_updated_found_and_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let journal = Journal::open(dir.path()).expect("open");
        journal
            .save_walkthrough(&row("wt-1", "2026-01-01T00:00:00Z", "{}"))
            .expect("save");
        journal
            .save_walkthrough(&row("wt-2", "2026-01-02T00:00:00Z", "{\"v\":1}"))
            .expect("save");
        let mut newer = row("wt-1", "2026-01-01T00:00:00Z", "{\"v\":2}");
        newer.state = "saved";
        journal.save_walkthrough(&newer).expect("update");
        let one = journal.walkthrough("wt-1").expect("read").expect("there");
        assert_eq!(
            (one.state.as_str(), one.record.as_str()),
            ("saved", "{\"v\":2}")
        );
        let latest = journal.latest_walkthrough("shop").expect("latest");
        assert_eq!(latest.map(|w| w.id), Some("wt-2".to_owned()));
        assert_eq!(journal.walkthroughs(None).expect("all").len(), 2);
        assert!(
            journal
                .walkthroughs(Some("other"))
                .expect("none")
                .is_empty()
        );
        journal.drop_walkthrough("wt-2").expect("drop");
        let latest = journal.latest_walkthrough("shop").expect("latest");
        assert_eq!(latest.map(|w| w.id), Some("wt-1".to_owned()));
    }
}
