//! The Kubernetes CronJob manifest that runs a drill: one container per drill,
//! `concurrencyPolicy: Forbid` (a drill never overlaps itself), no retries of a failed drill
//! (`backoffLimit: 0`), the schedule in UTC, the playbook from a ConfigMap and the state
//! directory (journal, history, lock) on a PersistentVolumeClaim, and the completion webhook's
//! URL (a secret) from an optional Secret, never written into the manifest by firedrill.

use std::fmt::Write as _;

/// Where the playbook is mounted in the container.
pub const PLAYBOOK_DIR: &str = "/etc/firedrill";
/// Where the state directory is mounted in the container.
pub const STATE_DIR: &str = "/var/lib/firedrill";
/// The PersistentVolumeClaim of the state directory.
pub const STATE_CLAIM: &str = "firedrill-state";
/// The key of the webhook URL in the CronJob's Secret (`NAME-webhook`).
pub const WEBHOOK_KEY: &str = "url";

/// The Secret that holds a CronJob's webhook URL.
pub fn webhook_secret(playbook: &str) -> String {
    format!("{}-webhook", name(playbook))
}

/// What the manifest is made of.
pub struct CronJob<'a> {
    /// The playbook's name.
    pub playbook: &'a str,
    /// The playbook's file name (the ConfigMap's key).
    pub file_name: &'a str,
    /// The cron expression.
    pub schedule: &'a str,
    /// The container image.
    pub image: &'a str,
    /// Extra `run` arguments.
    pub extra: &'a [String],
    /// The next run times, for a comment.
    pub next: &'a [String],
}

/// A name Kubernetes accepts for the CronJob (a DNS label of at most 52 characters, as the
/// Jobs it makes add 11): `firedrill-` and the playbook's name, lowercased, other characters
/// turned into `-`.
pub fn name(playbook: &str) -> String {
    let mut out = String::from("firedrill-");
    for c in playbook.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(52);
    out.trim_end_matches('-').to_owned()
}

/// A YAML double-quoted scalar (JSON strings are YAML).
fn q(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// The manifest.
pub fn manifest(job: &CronJob<'_>) -> String {
    let name = name(job.playbook);
    let mut command = vec![
        "firedrill".to_owned(),
        "--state-dir".to_owned(),
        STATE_DIR.to_owned(),
        "run".to_owned(),
        "--quiet".to_owned(),
    ];
    command.extend(job.extra.iter().cloned());
    command.push(format!("{PLAYBOOK_DIR}/{}", job.file_name));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# The CronJob of the `{}` drill, from `firedrill schedule`. Before applying it, put the\n\
         # playbook (and any file it refers to) in a ConfigMap, and give the drills a volume for the\n\
         # state directory (journal, run history, lock):\n\
         #   kubectl create configmap {name} --from-file={}=PLAYBOOK\n\
         #   (and a PersistentVolumeClaim `{STATE_CLAIM}`)\n\
         # For a completion webhook, keep its URL (a secret) in a Secret; the drill reads it as\n\
         # FIREDRILL_WEBHOOK, and runs without a webhook while there is none:\n\
         #   kubectl create secret generic {secret} --from-literal={WEBHOOK_KEY}=URL",
        job.playbook,
        job.file_name,
        secret = webhook_secret(job.playbook),
    );
    if !job.next.is_empty() {
        let _ = writeln!(out, "# Next runs (UTC): {}", job.next.join(", "));
    }
    let _ = write!(
        out,
        "apiVersion: batch/v1
kind: CronJob
metadata:
  name: {name}
  labels:
    app.kubernetes.io/name: firedrill
    app.kubernetes.io/instance: {name}
spec:
  schedule: {schedule}
  timeZone: \"Etc/UTC\"
  concurrencyPolicy: Forbid
  startingDeadlineSeconds: 3600
  successfulJobsHistoryLimit: 3
  failedJobsHistoryLimit: 5
  jobTemplate:
    spec:
      backoffLimit: 0
      template:
        metadata:
          labels:
            app.kubernetes.io/name: firedrill
            app.kubernetes.io/instance: {name}
        spec:
          restartPolicy: Never
          containers:
            - name: firedrill
              image: {image}
              command: [{command}]
              env:
                - name: FIREDRILL_WEBHOOK
                  valueFrom:
                    secretKeyRef:
                      name: {secret}
                      key: {WEBHOOK_KEY}
                      optional: true
              volumeMounts:
                - name: playbook
                  mountPath: {PLAYBOOK_DIR}
                  readOnly: true
                - name: state
                  mountPath: {STATE_DIR}
          volumes:
            - name: playbook
              configMap:
                name: {name}
            - name: state
              persistentVolumeClaim:
                claimName: {STATE_CLAIM}
",
        schedule = q(job.schedule),
        image = q(job.image),
        command = command.iter().map(|c| q(c)).collect::<Vec<_>>().join(", "),
        secret = webhook_secret(job.playbook),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_labels_short_enough_for_their_jobs() {
        assert_eq!(name("checkout-service"), "firedrill-checkout-service");
        assert_eq!(name("Orders_Aurora v2"), "firedrill-orders-aurora-v2");
        let long = name(&"x".repeat(80));
        assert_eq!(long.len(), 52);
        assert_eq!(name("a-"), "firedrill-a");
    }
}
