//! `firedrill schedule`: running a drill unattended, from cron or as a Kubernetes CronJob.
//! The 5-field cron expression is checked and its next run times computed ([`cron`]); the
//! crontab line ([`crontab`]) and the CronJob manifest ([`cronjob`]) are rendered from it.
//! firedrill does not schedule anything itself: cron and Kubernetes do that well.

pub mod cron;
pub mod cronjob;
pub mod crontab;
