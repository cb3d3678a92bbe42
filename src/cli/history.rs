//! `firedrill history [PLAYBOOK]`: past runs with RTO and RPO against the targets, the trend,
//! and warnings about regressions and targets nearly missed; and the walkthroughs beside them.

use std::collections::BTreeMap;
use std::path::Path;

use clap::{Args, ValueEnum};

use super::out::{eprint, print};
use crate::engine::exit;
use crate::store::history::render::{self, PlaybookHistory};
use crate::store::history::{self, PastRun};
use crate::store::journal::Journal;
use crate::walkthrough::record::Record;
use crate::walkthrough::render as walk_render;

/// `firedrill history`.
#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// A playbook file (its `name:` is read) or a playbook name [default: every playbook].
    pub playbook: Option<String>,
    /// Show at most this many of each playbook's most recent runs (warnings and the trend
    /// still judge them against the runs before).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t = HistoryFormat::Text)]
    pub format: HistoryFormat,
}

/// Formats of `history`.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum HistoryFormat {
    /// A table per playbook, the trend and warnings.
    Text,
    /// One JSON document.
    Json,
}

/// The playbook name `arg` means: the `name:` of the file it names, else itself.
fn playbook_name(arg: &str, color: bool) -> Result<String, u8> {
    let path = Path::new(arg);
    if !path.is_file() {
        return Ok(arg.to_owned());
    }
    let (file, loaded) = crate::playbook::load(path);
    match loaded {
        Ok(l) => Ok(l.playbook.name),
        Err(diags) => {
            eprint(&crate::language::diag::render(&file, &diags, color));
            eprint(&format!(
                "invalid: {}: cannot tell which playbook it is; pass its name instead\n",
                file.name
            ));
            Err(exit::INVALID)
        }
    }
}

/// Runs `firedrill history`.
pub fn run(args: &HistoryArgs, state_dir: &Path, color: bool) -> u8 {
    let name = match args.playbook.as_deref().map(|p| playbook_name(p, color)) {
        Some(Ok(n)) => Some(n),
        Some(Err(code)) => return code,
        None => None,
    };
    let runs = match Journal::open_read_only(state_dir) {
        Ok(Some(journal)) => match history::load(&journal, name.as_deref(), None) {
            Ok(runs) => runs,
            Err(e) => {
                eprint(&format!("error: {e}\n"));
                return exit::INTERNAL;
            }
        },
        Ok(None) => Vec::new(),
        Err(e) => {
            eprint(&format!("error: {e}\n"));
            return exit::INTERNAL;
        }
    };
    let mut by_playbook: BTreeMap<String, Vec<PastRun>> = BTreeMap::new();
    for r in runs {
        by_playbook.entry(r.playbook.clone()).or_default().push(r);
    }
    let limit = usize::try_from(args.limit).unwrap_or(usize::MAX);
    let histories: Vec<PlaybookHistory> = by_playbook
        .values()
        .filter_map(|runs| PlaybookHistory::new(runs, limit))
        .collect();
    // Walkthroughs beside runs (a journal of an older firedrill has none yet).
    let walkthroughs: Vec<Record> = Journal::open_read_only(state_dir)
        .ok()
        .flatten()
        .and_then(|j| j.walkthroughs(name.as_deref()).ok())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|w| Record::from_json(&w.record).ok())
        .take(limit)
        .collect();
    match args.format {
        HistoryFormat::Json => {
            let mut doc: serde_json::Value =
                serde_json::from_str(&render::json(&histories)).expect("history JSON parses");
            doc["walkthroughs"] = walk_render::history_json(&walkthroughs);
            print(&format!(
                "{}\n",
                serde_json::to_string_pretty(&doc).expect("JSON serializes")
            ));
        }
        HistoryFormat::Text if histories.is_empty() && !walkthroughs.is_empty() => {
            print(&walk_render::history_text(&walkthroughs));
        }
        HistoryFormat::Text if histories.is_empty() => {
            let what = name.map_or_else(|| "no runs".to_owned(), |n| format!("no runs of `{n}`"));
            let mut text = format!("{what} in the journal in {}\n", state_dir.display());
            // A name (not a playbook file) that no run has: a typo, not an empty history.
            let unknown = args
                .playbook
                .as_deref()
                .is_some_and(|p| !Path::new(p).is_file());
            if let Some(asked) = args.playbook.as_deref() {
                let known = Journal::open_read_only(state_dir)
                    .ok()
                    .flatten()
                    .and_then(|j| history::load(&j, None, None).ok())
                    .unwrap_or_default();
                let mut names: Vec<&str> = known.iter().map(|r| r.playbook.as_str()).collect();
                names.sort_unstable();
                names.dedup();
                if !names.is_empty() {
                    text.push_str(&format!(
                        "  = hint: {}\n",
                        crate::language::suggest::hint(
                            asked,
                            "playbooks with runs",
                            names.into_iter()
                        )
                    ));
                }
            }
            if unknown {
                eprint(&format!("error: {text}"));
                return exit::INVALID;
            }
            print(&text);
        }
        HistoryFormat::Text => {
            let mut text = render::text(&histories);
            if !walkthroughs.is_empty() {
                text.push('\n');
                text.push_str(&walk_render::history_text(&walkthroughs));
            }
            print(&text);
        }
    }
    exit::OK
}
