//! A 5-field cron expression as cron(8) and Kubernetes read it (minute, hour, day of month,
//! month, day of week; names like `MON` and `JAN`; `@daily` and the other nicknames), parsed
//! and evaluated with the `croner` crate, with Vixie cron's rule that a restricted day of month
//! and day of week match either. Extensions that croner understands but cron and Kubernetes
//! do not (`L`, `W`, `#`, `?`, a seconds or a year field) are refused.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// The fields, in order, with their ranges.
pub const FIELDS: [(&str, &str); 5] = [
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day of month", "1-31"),
    ("month", "1-12 or JAN-DEC"),
    ("day of week", "0-7 or SUN-SAT, 0 and 7 are Sunday"),
];

/// The nicknames cron and Kubernetes both understand.
pub const NICKNAMES: [&str; 7] = [
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

/// The names of months and days of the week (some contain `L` or `W`, which are not the
/// extensions then).
const NAMES: [&str; 19] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC", "SUN",
    "MON", "TUE", "WED", "THU", "FRI", "SAT",
];

/// Why an expression is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CronExprError {
    /// Not five fields.
    #[error("`{expr}` has {found} field{}; a cron expression has 5: minute hour day-of-month month day-of-week", if *found == 1 { "" } else { "s" })]
    FieldCount {
        /// The expression.
        expr: String,
        /// How many fields it has.
        found: usize,
    },
    /// A field is not valid.
    #[error("`{expr}`: the {field} field `{value}` is not valid ({range}): {reason}")]
    Field {
        /// The expression.
        expr: String,
        /// Which field.
        field: &'static str,
        /// Its text.
        value: String,
        /// Its range.
        range: &'static str,
        /// What croner said.
        reason: String,
    },
    /// An extension cron(8) and Kubernetes do not understand.
    #[error("`{expr}` uses `{what}`, which cron and Kubernetes do not understand")]
    Extension {
        /// The expression.
        expr: String,
        /// The extension.
        what: String,
    },
    /// An unknown or unsupported nickname.
    #[error("`{expr}` is not a nickname cron and Kubernetes both understand ({})", NICKNAMES.join(", "))]
    Nickname {
        /// The expression.
        expr: String,
    },
    /// It never fires (the 31st of February).
    #[error("`{expr}` never fires: no date matches it")]
    Never {
        /// The expression.
        expr: String,
    },
}

/// A checked cron expression.
#[derive(Clone, Debug)]
pub struct CronExpr {
    text: String,
    cron: Cron,
}

fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .dom_and_dow(false)
        .build()
}

impl CronExpr {
    /// The expression as given (whitespace normalized).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The next `count` times it fires after `after`.
    pub fn next_after(&self, after: DateTime<Utc>, count: usize) -> Vec<DateTime<Utc>> {
        self.cron.iter_after(after).take(count).collect()
    }
}

impl FromStr for CronExpr {
    type Err = CronExprError;

    fn from_str(expr: &str) -> Result<Self, Self::Err> {
        let text = expr.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.starts_with('@') {
            if !NICKNAMES.iter().any(|n| n.eq_ignore_ascii_case(&text)) {
                return Err(CronExprError::Nickname { expr: text });
            }
        } else {
            let fields: Vec<&str> = text.split(' ').filter(|f| !f.is_empty()).collect();
            if fields.len() != 5 {
                return Err(CronExprError::FieldCount {
                    found: fields.len(),
                    expr: text,
                });
            }
            for (i, value) in fields.iter().enumerate() {
                let mut bare = value.to_ascii_uppercase();
                for name in NAMES {
                    bare = bare.replace(name, "");
                }
                if let Some(what) = ['L', 'W', '#', '?'].into_iter().find(|c| bare.contains(*c)) {
                    return Err(CronExprError::Extension {
                        what: what.to_string(),
                        expr: text,
                    });
                }
                // Each field alone, the others `*`: says which one is wrong.
                let mut alone = ["*"; 5];
                alone[i] = value;
                if let Err(e) = parser().parse(&alone.join(" ")) {
                    return Err(CronExprError::Field {
                        expr: text.clone(),
                        field: FIELDS[i].0,
                        value: (*value).to_owned(),
                        range: FIELDS[i].1,
                        reason: e.to_string(),
                    });
                }
            }
        }
        let cron = parser().parse(&text).map_err(|e| CronExprError::Field {
            expr: text.clone(),
            field: "whole",
            value: text.clone(),
            range: "five fields",
            reason: e.to_string(),
        })?;
        let parsed = Self { text, cron };
        if parsed.next_after(Utc::now(), 1).is_empty() {
            return Err(CronExprError::Never { expr: parsed.text });
        }
        Ok(parsed)
    }
}

/// The hint for a refused expression.
pub fn hint() -> String {
    format!(
        "five fields: {}; e.g. `0 3 1 * *` is 03:00 on the 1st of every month, `30 2 * * MON` \
         is 02:30 every Monday; or one of {}",
        FIELDS
            .iter()
            .map(|(name, range)| format!("{name} ({range})"))
            .collect::<Vec<_>>()
            .join(", "),
        NICKNAMES.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn next(expr: &str, after: &str, n: usize) -> Vec<String> {
        expr.parse::<CronExpr>()
            .expect(expr)
            .next_after(at(after), n)
            .iter()
            .map(|t| t.format("%Y-%m-%d %H:%M %a").to_string())
            .collect()
    }

    #[test]
    fn monthly_at_three() {
        assert_eq!(
            next("0 3 1 * *", "2026-11-26T01:25:00Z", 3),
            [
                "2026-12-01 03:00 Tue",
                "2027-01-01 03:00 Fri",
                "2027-02-01 03:00 Mon"
            ]
        );
    }

    #[test]
    fn day_of_month_or_day_of_week_as_vixie_cron() {
        // The 13th, or any Friday.
        assert_eq!(
            next("0 0 13 * FRI", "2026-11-10T00:00:00Z", 3),
            [
                "2026-11-13 00:00 Fri",
                "2026-11-20 00:00 Fri",
                "2026-11-27 00:00 Fri"
            ]
        );
        assert_eq!(
            next("30 2 * * wed", "2026-11-26T00:00:00Z", 1),
            ["2026-12-02 02:30 Wed"]
        );
        assert_eq!(
            next("0 4 1 JUL *", "2026-11-26T00:00:00Z", 1),
            ["2027-07-01 04:00 Thu"]
        );
        assert_eq!(
            next("@weekly", "2026-11-26T00:00:00Z", 1),
            ["2026-11-29 00:00 Sun"]
        );
        assert_eq!(
            next("*/20 * * * *", "2026-11-26T00:00:00Z", 2),
            ["2026-11-26 00:20 Thu", "2026-11-26 00:40 Thu"]
        );
    }

    #[test]
    fn refusals_say_which_field_and_why() {
        let err = |e: &str| e.parse::<CronExpr>().expect_err(e);
        assert!(matches!(
            err("0 3 1 *"),
            CronExprError::FieldCount { found: 4, .. }
        ));
        assert!(matches!(
            err("0 0 3 1 * *"),
            CronExprError::FieldCount { found: 6, .. }
        ));
        let CronExprError::Field { field, value, .. } = err("0 25 1 * *") else {
            panic!("a field error");
        };
        assert_eq!((field, value.as_str()), ("hour", "25"));
        let CronExprError::Field { field, .. } = err("0 3 1 13 *") else {
            panic!("a field error");
        };
        assert_eq!(field, "month");
        assert!(matches!(err("0 3 L * *"), CronExprError::Extension { .. }));
        assert!(matches!(
            err("0 3 * * 5#2"),
            CronExprError::Extension { .. }
        ));
        assert!(matches!(err("@reboot"), CronExprError::Nickname { .. }));
        assert!(matches!(err("0 0 31 2 *"), CronExprError::Never { .. }));
    }
}
