//! Human durations as playbooks write them: `90s`, `40m`, `2h`, `1h30m`, `250ms`, `1d`.
//!
//! The grammar is deliberately strict (digits then a unit, repeated, units in decreasing order,
//! no spaces): `1M` or `5 minutes` would be ambiguous or easy to misread at 3 a.m.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written the human way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub std::time::Duration);

/// The units, largest first, with their length in milliseconds.
const UNITS: &[(&str, u64)] = &[
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// The words every duration error carries; [`crate::language::de`] recognizes them to give the error its
/// own code and hint.
pub const NOT_A_DURATION: &str = "is not a duration";

/// What a bad duration is told.
pub const HINT: &str =
    "write a number and a unit, like 90s, 40m, 2h or 1h30m (units: d, h, m, s, ms)";

/// Why a duration does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` {NOT_A_DURATION}: {reason}")]
pub struct ParseError {
    text: String,
    reason: &'static str,
}

impl Duration {
    /// From whole seconds.
    pub fn from_secs(secs: u64) -> Self {
        Self(std::time::Duration::from_secs(secs))
    }

    /// From milliseconds.
    pub fn from_millis(ms: u64) -> Self {
        Self(std::time::Duration::from_millis(ms))
    }

    /// Whole milliseconds, saturating.
    pub fn as_millis(self) -> u64 {
        u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX)
    }

    /// Seconds as a float.
    pub fn as_secs_f64(self) -> f64 {
        self.0.as_secs_f64()
    }

    /// Whether the duration is zero.
    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }
}

impl FromStr for Duration {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, ParseError> {
        let fail = |reason| ParseError {
            text: text.to_owned(),
            reason,
        };
        if text.is_empty() {
            return Err(fail("it is empty"));
        }
        let mut rest = text;
        let mut total: u64 = 0;
        let mut last_unit = usize::MAX;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(fail("a number must come before each unit"));
            }
            let number: u64 = rest[..digits]
                .parse()
                .map_err(|_| fail("the number is too large"))?;
            rest = &rest[digits..];
            let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            if unit_len == 0 {
                return Err(fail("the unit is missing"));
            }
            let unit = &rest[..unit_len];
            let Some(index) = UNITS.iter().position(|(name, _)| *name == unit) else {
                return Err(fail("the unit is not one of d, h, m, s, ms"));
            };
            if last_unit != usize::MAX && index <= last_unit {
                return Err(fail("units must go from largest to smallest, each once"));
            }
            last_unit = index;
            rest = &rest[unit_len..];
            total = number
                .checked_mul(UNITS[index].1)
                .and_then(|ms| total.checked_add(ms))
                .ok_or_else(|| fail("it is too long"))?;
        }
        Ok(Self::from_millis(total))
    }
}

impl fmt::Display for Duration {
    /// The shortest exact form: `1h30m`, `90ms`, `0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.as_millis();
        if ms == 0 {
            return f.write_str("0s");
        }
        for (name, len) in UNITS {
            if ms >= *len {
                write!(f, "{}{name}", ms / len)?;
                ms %= len;
            }
        }
        Ok(())
    }
}

impl Duration {
    /// A measured duration, rounded as firedrill shows it: whole seconds from a minute up,
    /// milliseconds below. Negative and not-a-number are zero.
    pub fn rounded(secs: f64) -> Self {
        let secs = if secs.is_finite() { secs.max(0.0) } else { 0.0 };
        // Rounded, non-negative and far below u64::MAX for any real run.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        if secs >= 60.0 {
            Self::from_secs(secs.round() as u64)
        } else {
            Self::from_millis((secs * 1000.0).round() as u64)
        }
    }
}

/// A duration in seconds for people, the one style of every duration firedrill prints (the
/// machines' is seconds in JSON): under a minute, seconds with two decimals as cargo writes
/// them (`0.25s`, `6.02s`; whole seconds bare, `45s`); from a minute up, whole seconds in the
/// playbook's own syntax (`1m15s`, `20m30s`, `2h1s`), so that they read like the durations
/// firedrill is given.
pub fn human(secs: f64) -> String {
    let secs = if secs.is_finite() { secs.max(0.0) } else { 0.0 };
    // Rounded, non-negative and far below u64::MAX for any real run.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let (centis, whole) = ((secs * 100.0).round() as u64, secs.round() as u64);
    if centis >= 6000 {
        return Duration::from_secs(whole).to_string();
    }
    if centis % 100 == 0 {
        format!("{}s", centis / 100)
    } else {
        format!("{}.{:02}s", centis / 100, centis % 100)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration like 90s, 40m or 1h30m")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Duration, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Duration, E> {
                Err(E::custom(format!(
                    "`{v}` {NOT_A_DURATION}: the unit is missing (did you mean {v}s?)"
                )))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Duration, E> {
                Err(E::custom(format!(
                    "`{v}` {NOT_A_DURATION}: the unit is missing (did you mean {v}s?)"
                )))
            }
        }
        d.deserialize_str(V)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?$",
            "description": "A duration: a number and a unit, repeated from largest to smallest unit: 90s, 40m, 2h, 1h30m (units d, h, m, s, ms).",
            "examples": ["90s", "40m", "1h30m"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for (text, ms) in [
            ("90s", 90_000),
            ("40m", 2_400_000),
            ("1h30m", 5_400_000),
            ("250ms", 250),
            ("1d2h", 93_600_000),
            ("0s", 0),
        ] {
            let d: Duration = text.parse().expect(text);
            assert_eq!(d.as_millis(), ms, "{text}");
        }
        assert_eq!(Duration::from_secs(90).to_string(), "1m30s");
        assert_eq!(Duration::from_millis(5_400_250).to_string(), "1h30m250ms");
    }

    #[test]
    fn rejects_ambiguous_forms() {
        for text in [
            "",
            "40",
            "m",
            "5 min",
            "1M",
            "30m1h",
            "1h1h",
            "1.5h",
            "-3s",
            "99999999999999999999d",
        ] {
            assert!(text.parse::<Duration>().is_err(), "{text:?} must not parse");
        }
    }
}
