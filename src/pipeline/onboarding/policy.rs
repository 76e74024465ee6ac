//! The onboarding decision: checks, each with a typed reason when it fails, and the policy that
//! says which failed reasons reject and which only ask for a human review. Pure: no models, no
//! I/O (the flow is in [`super::run`]).

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

/// Every reason a check can fail with. Typed, so a misspelt reason cannot reach the decision
/// (it would not compile); its wire name is the snake_case of the variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    NoFaceOnSelfie,
    MultipleFacesOnSelfie,
    SelfieNotLive,
    SelfieLowQuality,
    NoFaceOnDocument,
    FaceMismatch,
    MrzNotFound,
    MrzCheckDigit,
    BarcodeInvalid,
    DocumentExpired,
    Underage,
    DuplicateIdentity,
}

impl Reason {
    pub const ALL: [Reason; 12] = [
        Reason::NoFaceOnSelfie,
        Reason::MultipleFacesOnSelfie,
        Reason::SelfieNotLive,
        Reason::SelfieLowQuality,
        Reason::NoFaceOnDocument,
        Reason::FaceMismatch,
        Reason::MrzNotFound,
        Reason::MrzCheckDigit,
        Reason::BarcodeInvalid,
        Reason::DocumentExpired,
        Reason::Underage,
        Reason::DuplicateIdentity,
    ];

    /// The wire name (as in responses and `--onboarding-policy`).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NoFaceOnSelfie => "no_face_on_selfie",
            Reason::MultipleFacesOnSelfie => "multiple_faces_on_selfie",
            Reason::SelfieNotLive => "selfie_not_live",
            Reason::SelfieLowQuality => "selfie_low_quality",
            Reason::NoFaceOnDocument => "no_face_on_document",
            Reason::FaceMismatch => "face_mismatch",
            Reason::MrzNotFound => "mrz_not_found",
            Reason::MrzCheckDigit => "mrz_check_digit",
            Reason::BarcodeInvalid => "barcode_invalid",
            Reason::DocumentExpired => "document_expired",
            Reason::Underage => "underage",
            Reason::DuplicateIdentity => "duplicate_identity",
        }
    }

    /// The default action (README, "Onboarding").
    pub fn default_action(self) -> Action {
        match self {
            Reason::NoFaceOnSelfie
            | Reason::MultipleFacesOnSelfie
            | Reason::SelfieNotLive
            | Reason::NoFaceOnDocument
            | Reason::FaceMismatch
            | Reason::DocumentExpired
            | Reason::Underage => Action::Reject,
            Reason::SelfieLowQuality
            | Reason::MrzNotFound
            | Reason::MrzCheckDigit
            | Reason::BarcodeInvalid
            | Reason::DuplicateIdentity => Action::Review,
        }
    }

    pub fn parse(name: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// Reason -> action.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy(BTreeMap<Reason, Action>);

impl Default for Policy {
    fn default() -> Self {
        Policy(Reason::ALL.into_iter().map(|r| (r, r.default_action())).collect())
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
            let (name, action) = (reason.trim(), action.trim());
            let Some(reason) = Reason::parse(name) else {
                let known: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
                return Err(format!("unknown onboarding reason {name:?}; one of: {}", known.join(", ")));
            };
            let action = match action {
                "reject" => Action::Reject,
                "review" => Action::Review,
                other => return Err(format!("{name}: unknown action {other:?}; reject or review")),
            };
            policy.0.insert(reason, action);
        }
        Ok(policy)
    }

    pub fn action(&self, reason: Reason) -> Action {
        self.0.get(&reason).copied().unwrap_or(reason.default_action())
    }

    pub fn table(&self) -> &BTreeMap<Reason, Action> {
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
    pub reason: Option<Reason>,
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

    pub fn fail(name: &'static str, reason: Reason, score: Option<f32>, threshold: Option<f32>) -> Check {
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
    pub fn at_least(name: &'static str, reason: Reason, score: f32, threshold: f32) -> Check {
        if score >= threshold {
            Check::pass(name, Some(score), Some(threshold))
        } else {
            Check::fail(name, reason, Some(score), Some(threshold))
        }
    }
}

/// Applies `policy` to `checks` (filling in each failed check's action) and decides: any
/// rejecting reason rejects, else any reviewing reason asks for review, else approve.
pub fn decide(checks: &mut [Check], policy: &Policy) -> (Decision, Vec<Reason>) {
    let mut worst: Option<Action> = None;
    let mut reasons = Vec::new();
    for c in checks.iter_mut().filter(|c| !c.passed && !c.skipped) {
        // A failed check always has a reason (`Check::fail`); none would still ask for review.
        let Some(reason) = c.reason else {
            worst = worst.max(Some(Action::Review));
            continue;
        };
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
        checks.push(Check::fail("mrz", Reason::MrzNotFound, None, None));
        assert_eq!(decide(&mut checks, &policy), (Decision::Review, vec![Reason::MrzNotFound]));
        checks.push(Check::fail("live", Reason::SelfieNotLive, Some(0.1), Some(0.6)));
        assert_eq!(decide(&mut checks, &policy).0, Decision::Reject);
        assert_eq!(checks[2].action, Some(Action::Reject));
        checks.push(Check::skip("match", "no face"));
        assert_eq!(decide(&mut checks, &policy).1, vec![Reason::MrzNotFound, Reason::SelfieNotLive]);
    }

    #[test]
    fn overrides_and_typos() {
        let p = Policy::parse("document_expired=review, duplicate_identity=reject").unwrap();
        assert_eq!(p.action(Reason::DocumentExpired), Action::Review);
        assert_eq!(p.action(Reason::DuplicateIdentity), Action::Reject);
        assert_eq!(p.action(Reason::SelfieNotLive), Action::Reject, "untouched defaults stay");
        assert!(Policy::parse("selfie_not_alive=review").unwrap_err().contains("unknown onboarding reason"));
        assert!(Policy::parse("face_mismatch=approve").unwrap_err().contains("unknown action"));
        assert!(Policy::parse("face_mismatch").is_err());
        assert_eq!(Policy::parse("").unwrap(), Policy::default());
    }

    #[test]
    fn wire_names_are_the_serde_names() {
        for r in Reason::ALL {
            assert_eq!(serde_json::to_value(r).unwrap(), serde_json::json!(r.as_str()));
            assert_eq!(Reason::parse(r.as_str()), Some(r));
        }
    }
}
