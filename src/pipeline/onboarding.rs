//! The onboarding decision: checks, each with a machine-readable reason when it fails, and the
//! policy that says which failed reasons reject and which only ask for a human review.
//! Pure: no models, no I/O (the orchestration is in `api::onboarding`).

use std::collections::BTreeMap;

use serde::Serialize;

/// What a failed check does to the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Review,
    Reject,
}

/// The one answer of an onboarding call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Review,
    Reject,
}

/// Every reason a check can fail with, and its default action (README, "Onboarding").
pub const DEFAULT_POLICY: &[(&str, Action)] = &[
    ("no_face_on_selfie", Action::Reject),
    ("multiple_faces_on_selfie", Action::Reject),
    ("selfie_not_live", Action::Reject),
    ("selfie_low_quality", Action::Review),
    ("no_face_on_document", Action::Reject),
    ("face_mismatch", Action::Reject),
    ("mrz_not_found", Action::Review),
    ("mrz_check_digit", Action::Review),
    ("document_expired", Action::Reject),
    ("underage", Action::Reject),
    ("duplicate_identity", Action::Review),
];

/// Reason -> action.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy(BTreeMap<String, Action>);

impl Default for Policy {
    fn default() -> Self {
        Policy(DEFAULT_POLICY.iter().map(|(r, a)| (r.to_string(), *a)).collect())
    }
}

impl Policy {
    /// The defaults with `overrides` applied: `reason=reject|review` pairs separated by commas.
    /// An unknown reason or action is an error (a typo must not silently approve).
    pub fn parse(overrides: &str) -> Result<Policy, String> {
        let mut policy = Policy::default();
        for pair in overrides.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (reason, action) =
                pair.split_once('=').ok_or_else(|| format!("{pair:?}: expected reason=reject or reason=review"))?;
            let (reason, action) = (reason.trim(), action.trim());
            if !policy.0.contains_key(reason) {
                let known: Vec<&str> = DEFAULT_POLICY.iter().map(|(r, _)| *r).collect();
                return Err(format!("unknown onboarding reason {reason:?}; one of: {}", known.join(", ")));
            }
            let action = match action {
                "reject" => Action::Reject,
                "review" => Action::Review,
                other => return Err(format!("{reason}: unknown action {other:?}; reject or review")),
            };
            policy.0.insert(reason.to_string(), action);
        }
        Ok(policy)
    }

    /// A reason the policy does not know asks for review (never approves).
    pub fn action(&self, reason: &str) -> Action {
        self.0.get(reason).copied().unwrap_or(Action::Review)
    }

    pub fn table(&self) -> &BTreeMap<String, Action> {
        &self.0
    }
}

/// One check of an onboarding call.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Check {
    pub name: &'static str,
    /// False when the check failed, and also when it could not run (then `skipped` is true).
    pub passed: bool,
    /// True when an earlier failure left nothing to check (e.g. no face on the document); a
    /// skipped check does not count in the decision: the failure that caused it does.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub skipped: bool,
    /// The measured value (similarity, liveness score, age...), when there is one.
    pub score: Option<f32>,
    /// The value `score` was compared with.
    pub threshold: Option<f32>,
    /// Machine-readable reason when not passed.
    pub reason: Option<&'static str>,
    /// What the reason does under the policy (`reject` or `review`), when not passed.
    pub action: Option<Action>,
    /// Human-readable detail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Check {
    pub fn pass(name: &'static str, score: Option<f32>, threshold: Option<f32>) -> Check {
        Check { name, passed: true, skipped: false, score, threshold, reason: None, action: None, detail: None }
    }

    pub fn fail(name: &'static str, reason: &'static str, score: Option<f32>, threshold: Option<f32>) -> Check {
        Check {
            name,
            passed: false,
            skipped: false,
            score,
            threshold,
            reason: Some(reason),
            action: None,
            detail: None,
        }
    }

    pub fn skip(name: &'static str, because: &str) -> Check {
        Check {
            name,
            passed: false,
            skipped: true,
            score: None,
            threshold: None,
            reason: None,
            action: None,
            detail: Some(format!("not run: {because}")),
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Check {
        self.detail = Some(detail.into());
        self
    }

    /// Pass when `score >= threshold`, else fail with `reason`.
    pub fn at_least(name: &'static str, reason: &'static str, score: f32, threshold: f32) -> Check {
        if score >= threshold {
            Check::pass(name, Some(score), Some(threshold))
        } else {
            Check::fail(name, reason, Some(score), Some(threshold))
        }
    }
}

/// Applies `policy` to `checks` (filling in each failed check's action) and decides: any
/// rejecting reason rejects, else any reviewing reason asks for review, else approve.
pub fn decide(checks: &mut [Check], policy: &Policy) -> (Decision, Vec<&'static str>) {
    let mut worst: Option<Action> = None;
    let mut reasons = Vec::new();
    for c in checks.iter_mut().filter(|c| !c.passed && !c.skipped) {
        let reason = c.reason.unwrap_or("unknown");
        let action = policy.action(reason);
        c.action = Some(action);
        reasons.push(reason);
        worst = worst.max(Some(action));
    }
    let decision = match worst {
        None => Decision::Approve,
        Some(Action::Review) => Decision::Review,
        Some(Action::Reject) => Decision::Reject,
    };
    (decision, reasons)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_action_decides() {
        let policy = Policy::default();
        let mut checks = vec![Check::pass("a", None, None)];
        assert_eq!(decide(&mut checks, &policy).0, Decision::Approve);
        checks.push(Check::fail("mrz", "mrz_not_found", None, None));
        assert_eq!(decide(&mut checks, &policy), (Decision::Review, vec!["mrz_not_found"]));
        checks.push(Check::fail("live", "selfie_not_live", Some(0.1), Some(0.6)));
        assert_eq!(decide(&mut checks, &policy).0, Decision::Reject);
        assert_eq!(checks[2].action, Some(Action::Reject));
        checks.push(Check::skip("match", "no face"));
        assert_eq!(decide(&mut checks, &policy).1, vec!["mrz_not_found", "selfie_not_live"]);
    }

    #[test]
    fn overrides_and_typos() {
        let p = Policy::parse("document_expired=review, duplicate_identity=reject").unwrap();
        assert_eq!(p.action("document_expired"), Action::Review);
        assert_eq!(p.action("duplicate_identity"), Action::Reject);
        assert_eq!(p.action("selfie_not_live"), Action::Reject, "untouched defaults stay");
        assert!(Policy::parse("selfie_not_alive=review").unwrap_err().contains("unknown onboarding reason"));
        assert!(Policy::parse("face_mismatch=approve").unwrap_err().contains("unknown action"));
        assert!(Policy::parse("face_mismatch").is_err());
        assert_eq!(Policy::parse("").unwrap(), Policy::default());
    }
}
