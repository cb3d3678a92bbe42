//! The trend of a playbook's recovery times and the warnings `firedrill history` gives: an RTO
//! more than 25% above the median of the previous five runs (a regression), and an RTO or RPO
//! above 80% of its target (close to missing it) or above it.

use serde::Serialize;

use super::PastRun;
use crate::language::duration::human;
use crate::util::stats::median;

/// How many earlier runs the regression check and the trend look at.
pub const WINDOW: usize = 5;
/// The fewest earlier measured runs a regression is judged against.
pub const MIN_BASELINE: usize = 3;
/// An RTO above this times the median of the previous runs is a regression.
pub const REGRESSION_FACTOR: f64 = 1.25;
/// A measure above this fraction of its target is close to missing it.
pub const NEAR_TARGET: f64 = 0.8;
/// A change across the trend's window below this fraction of its median is steady.
pub const STEADY: f64 = 0.1;

/// What a warning is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WarningKind {
    /// The RTO is more than 25% above the median of the previous five runs.
    RtoRegression,
    /// The RTO is above 80% of its target.
    RtoNearTarget,
    /// The RTO is above its target.
    RtoMissed,
    /// The RPO is above 80% of its target.
    RpoNearTarget,
    /// The RPO is above its target.
    RpoMissed,
}

/// A warning about one run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Warning {
    /// The run.
    pub run_id: String,
    /// What it is about.
    pub kind: WarningKind,
    /// For a person.
    pub message: String,
}

/// Where the recovery time is heading.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Up by more than 10% across the window: recovery is getting slower.
    Rising,
    /// Within 10%.
    Steady,
    /// Down by more than 10%.
    Falling,
}

/// The RTO trend over the last runs with a measured RTO.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Trend {
    /// How many runs it covers (up to [`WINDOW`]).
    pub runs: usize,
    /// Their median RTO.
    pub rto_median_secs: f64,
    /// The direction (none from a single run).
    pub direction: Option<Direction>,
    /// The change across the window from a least-squares line through the RTOs, as a
    /// percentage of the median.
    pub change_pct: Option<f64>,
}

/// The warnings about each of `runs` (oldest first), in the same order. A run is judged
/// against the runs before it.
pub fn warnings(runs: &[PastRun]) -> Vec<Vec<Warning>> {
    let mut earlier: Vec<f64> = Vec::new();
    let mut out = Vec::with_capacity(runs.len());
    for run in runs {
        let mut found = Vec::new();
        let mut warn = |kind, message: String| {
            found.push(Warning {
                run_id: run.id.clone(),
                kind,
                message,
            });
        };
        if let Some(rto) = run.rto.measured_secs {
            let baseline = &earlier[earlier.len().saturating_sub(WINDOW)..];
            if baseline.len() >= MIN_BASELINE
                && let Some(m) = median(baseline)
                && m > 0.0
                && rto > m * REGRESSION_FACTOR
            {
                warn(
                    WarningKind::RtoRegression,
                    format!(
                        "RTO {} is {:.0}% above the median of the previous {} runs ({})",
                        human(rto),
                        (rto / m - 1.0) * 100.0,
                        baseline.len(),
                        human(m)
                    ),
                );
            }
            earlier.push(rto);
        }
        for (name, m, near, missed) in [
            (
                "RTO",
                run.rto,
                WarningKind::RtoNearTarget,
                WarningKind::RtoMissed,
            ),
            (
                "RPO",
                run.rpo,
                WarningKind::RpoNearTarget,
                WarningKind::RpoMissed,
            ),
        ] {
            let (Some(v), Some(t)) = (m.measured_secs, m.target_secs) else {
                continue;
            };
            if t <= 0.0 {
                continue;
            }
            if v > t {
                warn(
                    missed,
                    format!("{name} {} missed its target {}", human(v), human(t)),
                );
            } else if v > t * NEAR_TARGET {
                warn(
                    near,
                    format!(
                        "{name} {} is {:.0}% of its target {}: close to missing it",
                        human(v),
                        v / t * 100.0,
                        human(t)
                    ),
                );
            }
        }
        out.push(found);
    }
    out
}

/// The trend of the last [`WINDOW`] runs of `runs` (oldest first) with a measured RTO; none
/// when no run has one.
pub fn trend(runs: &[PastRun]) -> Option<Trend> {
    let rtos: Vec<f64> = runs.iter().filter_map(|r| r.rto.measured_secs).collect();
    let window = &rtos[rtos.len().saturating_sub(WINDOW)..];
    let m = median(window)?;
    let n = window.len();
    let change = (n >= 2 && m > 0.0).then(|| {
        // Least squares over x = 0..n: slope × (n - 1) is the change across the window.
        #[allow(clippy::cast_precision_loss)]
        let (nf, xs) = (n as f64, (0..n).map(|x| x as f64));
        let mean_x = (nf - 1.0) / 2.0;
        let mean_y = window.iter().sum::<f64>() / nf;
        let (mut num, mut den) = (0.0, 0.0);
        for (x, y) in xs.zip(window) {
            num += (x - mean_x) * (y - mean_y);
            den += (x - mean_x) * (x - mean_x);
        }
        num / den * (nf - 1.0) / m * 100.0
    });
    Some(Trend {
        runs: n,
        rto_median_secs: m,
        direction: change.map(|c| {
            if c > STEADY * 100.0 {
                Direction::Rising
            } else if c < -STEADY * 100.0 {
                Direction::Falling
            } else {
                Direction::Steady
            }
        }),
        change_pct: change,
    })
}

#[cfg(test)]
mod tests {
    use super::super::stored::StoredMeasure;
    use super::*;

    fn run(id: &str, rto: Option<f64>, target: Option<f64>) -> PastRun {
        PastRun {
            id: id.into(),
            playbook: "p".into(),
            file: "p.yaml".into(),
            started_at: String::new(),
            state: "passed".into(),
            rto: StoredMeasure {
                target_secs: target,
                measured_secs: rto,
                met: None,
            },
            rpo: StoredMeasure::default(),
        }
    }

    fn kinds(w: &[Warning]) -> Vec<WarningKind> {
        w.iter().map(|w| w.kind).collect()
    }

    #[test]
    fn a_regression_is_judged_against_the_median_of_the_previous_five() {
        // 100, 1000 (an outlier the median ignores), 100, 100, 100, 100, then 124 and 126.
        let rtos = [100.0, 1000.0, 100.0, 100.0, 100.0, 100.0, 124.0, 126.0];
        let runs: Vec<PastRun> = rtos
            .iter()
            .enumerate()
            .map(|(i, &r)| run(&format!("r{i}"), Some(r), None))
            .collect();
        let w = warnings(&runs);
        // r1 has only one run before it: no baseline yet.
        assert!(w[1].is_empty(), "{w:?}");
        assert!(w[6].is_empty(), "124 is within 25% of 100: {w:?}");
        assert_eq!(kinds(&w[7]), [WarningKind::RtoRegression]);
        assert_eq!(
            w[7][0].message,
            "RTO 2m6s is 26% above the median of the previous 5 runs (1m40s)"
        );
    }

    #[test]
    fn runs_without_a_measured_rto_do_not_count_in_the_baseline() {
        let mut runs = vec![run("a", Some(10.0), None), run("b", None, None)];
        runs.push(run("c", Some(10.0), None));
        runs.push(run("d", Some(20.0), None));
        assert!(
            warnings(&runs)[3].is_empty(),
            "only two measured runs before d"
        );
        runs.insert(3, run("c2", Some(10.0), None));
        assert_eq!(kinds(&warnings(&runs)[4]), [WarningKind::RtoRegression]);
    }

    #[test]
    fn near_and_over_the_target() {
        let runs = [
            run("ok", Some(80.0), Some(100.0)),
            run("near", Some(81.0), Some(100.0)),
            run("over", Some(101.0), Some(100.0)),
        ];
        let w = warnings(&runs);
        assert!(w[0].is_empty(), "exactly 80% is not above it");
        assert_eq!(kinds(&w[1]), [WarningKind::RtoNearTarget]);
        assert_eq!(
            w[1][0].message,
            "RTO 1m21s is 81% of its target 1m40s: close to missing it"
        );
        assert_eq!(kinds(&w[2]), [WarningKind::RtoMissed]);
    }

    #[test]
    fn the_trend_is_the_median_and_direction_of_the_last_five() {
        let runs: Vec<PastRun> = [500.0, 100.0, 110.0, 120.0, 130.0, 140.0]
            .iter()
            .map(|&r| run("r", Some(r), None))
            .collect();
        let t = trend(&runs).expect("a trend");
        assert_eq!((t.runs, t.rto_median_secs), (5, 120.0));
        assert_eq!(t.direction, Some(Direction::Rising));
        let change = t.change_pct.expect("a change");
        assert!((change - 40.0 / 120.0 * 100.0).abs() < 1e-9, "{change}");

        let flat: Vec<PastRun> = [100.0, 104.0, 98.0]
            .iter()
            .map(|&r| run("r", Some(r), None))
            .collect();
        assert_eq!(
            trend(&flat).and_then(|t| t.direction),
            Some(Direction::Steady)
        );
        let one = [run("r", Some(5.0), None)];
        assert_eq!(trend(&one).map(|t| t.direction), Some(None));
        assert!(trend(&[run("r", None, None)]).is_none());
    }
}
