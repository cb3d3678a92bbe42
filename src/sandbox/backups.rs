//! Aurora clusters' automated backups as AWS keeps them, over moto's automated cluster
//! snapshots (`rds:CLUSTER-…`). moto keeps those when their cluster is deleted; AWS deletes
//! them with it unless the delete call says `DeleteAutomatedBackups=false` (or a backup plan
//! retains them), and then lists them as retained by `DescribeDBClusterAutomatedBackups` until
//! `DeleteDBClusterAutomatedBackup` removes them. moto has neither call; the realism layer
//! answers them from here.
//!
//! Pure functions of moto's answers: which snapshots a cluster's backups are, and the XML of
//! the emulated answers. The calls to moto are the proxy's.

use std::collections::{BTreeMap, HashSet};

use quick_xml::escape::escape;

use super::xml::{Document, Element};

/// The actions the layer answers itself.
pub const ACTIONS: &[&str] = &[
    "DescribeDBClusterAutomatedBackups",
    "DeleteDBClusterAutomatedBackup",
];

/// What the resource id of a cluster's automated backups starts with; the rest is the cluster's
/// identifier (AWS's are `cluster-` and a random string; the emulation needs to find the
/// cluster back).
const RESOURCE_PREFIX: &str = "cluster-backup-";

/// The resource id of the automated backups of cluster `cluster`.
pub fn resource_id(cluster: &str) -> String {
    format!("{RESOURCE_PREFIX}{cluster}")
}

/// The cluster whose automated backups have resource id `id`.
pub fn cluster_of(id: &str) -> Option<&str> {
    id.strip_prefix(RESOURCE_PREFIX).filter(|c| !c.is_empty())
}

/// One cluster's automated backups: its automated snapshots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backups {
    /// The cluster's identifier.
    pub cluster: String,
    /// Its engine.
    pub engine: String,
    /// The identifiers of the automated snapshots.
    pub snapshots: Vec<String>,
}

/// The automated cluster snapshots in moto's answer to `DescribeDBClusterSnapshots`, by cluster.
pub fn automated(doc: &Document) -> Vec<Backups> {
    let mut by_cluster: BTreeMap<String, Backups> = BTreeMap::new();
    doc.root.visit(&mut |e| {
        if e.name() != "DBClusterSnapshot" {
            return;
        }
        let text = |name: &str| e.child(name).map(Element::text).unwrap_or_default();
        if text("SnapshotType") != "automated" {
            return;
        }
        let cluster = text("DBClusterIdentifier");
        let entry = by_cluster
            .entry(cluster.clone())
            .or_insert_with(|| Backups {
                cluster,
                engine: text("Engine"),
                snapshots: Vec::new(),
            });
        entry.snapshots.push(text("DBClusterSnapshotIdentifier"));
    });
    by_cluster.into_values().collect()
}

/// The cluster identifiers in moto's answer to `DescribeDBClusters`.
pub fn clusters(doc: &Document) -> HashSet<String> {
    let mut out = HashSet::new();
    doc.root.visit(&mut |e| {
        if e.name() == "DBCluster"
            && let Some(id) = e.child("DBClusterIdentifier")
        {
            out.insert(id.text());
        }
    });
    out
}

/// The answer to `DescribeDBClusterAutomatedBackups`: `backups`, each `active` while its cluster
/// exists (in `live`) and `retained` after.
pub fn describe_answer<S: std::hash::BuildHasher>(
    backups: &[Backups],
    live: &HashSet<String, S>,
    request_id: &str,
) -> String {
    let mut members = String::new();
    for b in backups {
        let status = if live.contains(&b.cluster) {
            "active"
        } else {
            "retained"
        };
        members.push_str(&format!(
            "<DBClusterAutomatedBackup><DBClusterIdentifier>{}</DBClusterIdentifier><DbClusterResourceId>{}</DbClusterResourceId><Engine>{}</Engine><Status>{status}</Status></DBClusterAutomatedBackup>",
            escape(&b.cluster),
            escape(resource_id(&b.cluster)),
            escape(&b.engine)
        ));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeDBClusterAutomatedBackupsResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><DescribeDBClusterAutomatedBackupsResult><DBClusterAutomatedBackups>{members}</DBClusterAutomatedBackups></DescribeDBClusterAutomatedBackupsResult><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></DescribeDBClusterAutomatedBackupsResponse>"
    )
}

/// The answer to a `DeleteDBClusterAutomatedBackup` that deleted `b`.
pub fn delete_answer(b: &Backups, request_id: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DeleteDBClusterAutomatedBackupResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><DeleteDBClusterAutomatedBackupResult><DBClusterAutomatedBackup><DBClusterIdentifier>{}</DBClusterIdentifier><DbClusterResourceId>{}</DbClusterResourceId><Engine>{}</Engine><Status>deleting</Status></DBClusterAutomatedBackup></DeleteDBClusterAutomatedBackupResult><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></DeleteDBClusterAutomatedBackupResponse>",
        escape(&b.cluster),
        escape(resource_id(&b.cluster)),
        escape(&b.engine)
    )
}

/// An RDS error answer (HTTP status, body).
pub fn error_answer(status: u16, code: &str, message: &str, request_id: &str) -> (u16, String) {
    (
        status,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
            escape(message)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automated_snapshots_are_grouped_by_cluster_and_manual_ones_left_out() {
        let answer = r"<DescribeDBClusterSnapshotsResponse><DescribeDBClusterSnapshotsResult><DBClusterSnapshots>
<DBClusterSnapshot><DBClusterSnapshotIdentifier>rds:fd-a-2026</DBClusterSnapshotIdentifier><DBClusterIdentifier>fd-a</DBClusterIdentifier><SnapshotType>automated</SnapshotType><Engine>aurora-postgresql</Engine></DBClusterSnapshot>
<DBClusterSnapshot><DBClusterSnapshotIdentifier>orders-nightly</DBClusterSnapshotIdentifier><DBClusterIdentifier>orders</DBClusterIdentifier><SnapshotType>manual</SnapshotType><Engine>aurora-postgresql</Engine></DBClusterSnapshot>
</DBClusterSnapshots></DescribeDBClusterSnapshotsResult></DescribeDBClusterSnapshotsResponse>";
        let doc = Document::parse(answer.as_bytes()).expect("xml");
        let found = automated(&doc);
        assert_eq!(
            found,
            vec![Backups {
                cluster: "fd-a".into(),
                engine: "aurora-postgresql".into(),
                snapshots: vec!["rds:fd-a-2026".into()],
            }]
        );
        let xml = describe_answer(&found, &HashSet::new(), "r1");
        assert!(xml.contains("<DbClusterResourceId>cluster-backup-fd-a</DbClusterResourceId>"));
        assert!(xml.contains("<Status>retained</Status>"));
        assert_eq!(cluster_of(&resource_id("fd-a")), Some("fd-a"));
        assert_eq!(cluster_of("cluster-ABC"), None);
    }

    #[test]
    fn answers_escape_what_they_quote() {
        let (_, xml) = error_answer(400, "InvalidParameterValue", "<a> & \"b\"", "r1");
        let doc = Document::parse(xml.as_bytes()).expect("well-formed XML");
        // The text as written, entities kept: unescaped, it is the message again.
        let message = doc.root.at(&["Error", "Message"]).map(Element::text);
        let message = message.map(|m| {
            quick_xml::escape::unescape(&m)
                .expect("known entities")
                .into_owned()
        });
        assert_eq!(message.as_deref(), Some("<a> & \"b\""));
    }
}
