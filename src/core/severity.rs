//! Severity from CVSS 3.1, and the release policy that follows from it.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rating {
    None,
    Low,
    Medium,
    High,
    Critical,
}

impl Rating {
    pub fn as_str(self) -> &'static str {
        match self {
            Rating::None => "none",
            Rating::Low => "low",
            Rating::Medium => "medium",
            Rating::High => "high",
            Rating::Critical => "critical",
        }
    }

    /// CVSS 3.1 qualitative ratings: none 0.0, low 0.1–3.9, medium 4.0–6.9,
    /// high 7.0–8.9, critical 9.0–10.0.
    pub fn for_score(score: f64) -> Rating {
        if score < 0.1 {
            Rating::None
        } else if score < 4.0 {
            Rating::Low
        } else if score < 7.0 {
            Rating::Medium
        } else if score < 9.0 {
            Rating::High
        } else {
            Rating::Critical
        }
    }
}

impl FromStr for Rating {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Ok(Rating::None),
            "low" => Ok(Rating::Low),
            "medium" => Ok(Rating::Medium),
            "high" => Ok(Rating::High),
            "critical" => Ok(Rating::Critical),
            _ => Err(format!(
                "{s:?} is not a rating: use low, medium, high or critical"
            )),
        }
    }
}

impl std::fmt::Display for Rating {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An incident's severity: a rating, and the CVSS vector and score it came
/// from when it came from one (an explicit `/severity` keeps the vector).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Severity {
    pub rating: Rating,
    pub vector: Option<String>,
    pub score: Option<f64>,
}

impl Eq for Severity {}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CvssError {
    #[error("{0:?} is not a CVSS 3.1 vector: it must start with CVSS:3.1/")]
    Prefix(String),
    #[error(
        "the CVSS vector lacks the base metric {0}: a vector needs AV, AC, PR, UI, S, C, I and A"
    )]
    Missing(&'static str),
    #[error("bad CVSS vector: {0}")]
    Invalid(String),
}

const BASE_METRICS: [&str; 8] = ["AV", "AC", "PR", "UI", "S", "C", "I", "A"];

/// Scores a CVSS 3.x vector with the `cvss` crate.
pub fn from_vector(vector: &str) -> Result<Severity, CvssError> {
    let vector = vector.trim();
    if !(vector.starts_with("CVSS:3.1/") || vector.starts_with("CVSS:3.0/")) {
        return Err(CvssError::Prefix(vector.to_owned()));
    }
    let parsed =
        cvss::v3::Vector::from_str(vector).map_err(|e| CvssError::Invalid(e.to_string()))?;
    // The crate accepts a vector without all base metrics; a score from one is meaningless.
    let present: Vec<String> = vector
        .split('/')
        .skip(1)
        .filter_map(|c| c.split(':').next())
        .map(|m| m.to_ascii_uppercase())
        .collect();
    if let Some(missing) = BASE_METRICS
        .iter()
        .find(|m| !present.iter().any(|p| p == *m))
    {
        return Err(CvssError::Missing(missing));
    }
    let score = parsed.base_score().value();
    Ok(Severity {
        rating: Rating::for_score(score),
        vector: Some(parsed.to_string()),
        score: Some(score),
    })
}

/// What the process says to do for a severity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleasePolicy {
    pub out_of_band: bool,
    pub may_slow_down: bool,
    pub may_fix_semi_publicly: bool,
    pub summary: &'static str,
}

pub fn release_policy(rating: Rating) -> ReleasePolicy {
    match rating {
        Rating::Critical | Rating::High => ReleasePolicy {
            out_of_band: true,
            may_slow_down: false,
            may_fix_semi_publicly: false,
            summary: "out-of-band release",
        },
        Rating::Medium => ReleasePolicy {
            out_of_band: false,
            may_slow_down: false,
            may_fix_semi_publicly: true,
            summary: "next patch release; the fix may be developed semi-publicly",
        },
        Rating::Low | Rating::None => ReleasePolicy {
            out_of_band: false,
            may_slow_down: true,
            may_fix_semi_publicly: true,
            summary: "next patch release; the Fix Team may slow the process down",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_follow_the_cvss_bands() {
        for (score, rating) in [
            (0.0, Rating::None),
            (0.1, Rating::Low),
            (3.9, Rating::Low),
            (4.0, Rating::Medium),
            (6.9, Rating::Medium),
            (7.0, Rating::High),
            (8.9, Rating::High),
            (9.0, Rating::Critical),
            (10.0, Rating::Critical),
        ] {
            assert_eq!(Rating::for_score(score), rating, "{score}");
        }
    }

    #[test]
    fn vectors_score_as_the_calculator_does() {
        // Reference values from FIRST's CVSS 3.1 calculator.
        for (vector, score, rating) in [
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                9.8,
                Rating::Critical,
            ),
            (
                "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
                7.8,
                Rating::High,
            ),
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
                6.1,
                Rating::Medium,
            ),
            (
                "CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N",
                1.6,
                Rating::Low,
            ),
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N",
                0.0,
                Rating::None,
            ),
        ] {
            let s = from_vector(vector).unwrap();
            assert_eq!((s.score, s.rating), (Some(score), rating), "{vector}");
        }
    }

    #[test]
    fn bad_vectors_name_what_is_wrong() {
        let e = from_vector("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
            .unwrap_err()
            .to_string();
        assert!(e.contains("AV") && e.contains("`X`"), "{e}");
        let e = from_vector("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H").unwrap_err();
        assert_eq!(e, CvssError::Missing("A"));
        assert!(matches!(
            from_vector("AV:N/AC:L"),
            Err(CvssError::Prefix(_))
        ));
    }

    #[test]
    fn policy_follows_severity() {
        assert!(release_policy(Rating::Critical).out_of_band);
        assert!(release_policy(Rating::High).out_of_band);
        assert!(
            !release_policy(Rating::Medium).out_of_band
                && release_policy(Rating::Medium).may_fix_semi_publicly
        );
        assert!(release_policy(Rating::Low).may_slow_down);
    }
}
