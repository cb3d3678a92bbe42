//! The account guard: before the first mutating call of a run, prove where we are.
//!
//! STS `GetCallerIdentity` (which needs no permission and changes nothing) names the account
//! and principal of the credentials. The account must be one of the playbook's
//! `sandbox.accounts`, and root-user credentials are refused outright: a drill that creates and
//! deletes resources must never run as root, nor anywhere but the sandbox.

use aws_sdk_sts::error::DisplayErrorContext;

/// Who the credentials belong to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The 12-digit account id.
    pub account: String,
    /// The principal's ARN.
    pub arn: String,
    /// The principal's unique id.
    pub user_id: String,
}

/// Why the guard refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The credentials belong to an account the playbook does not allow.
    #[error(
        "refusing to run: the credentials belong to account {found} ({arn}), but the playbook allows only {}; \
         check AWS_PROFILE and the credentials in the environment, or add the account to sandbox.accounts if it \
         really is a sandbox",
        .allowed.join(", ")
    )]
    WrongAccount {
        /// The account found.
        found: String,
        /// The principal found.
        arn: String,
        /// The accounts allowed.
        allowed: Vec<String>,
    },
    /// Root-user credentials.
    #[error(
        "refusing to run: these are the root user's credentials of account {account} ({arn}); use a role or user \
         made for drills (sandbox.role_arn assumes one)"
    )]
    Root {
        /// The account.
        account: String,
        /// The root ARN.
        arn: String,
    },
    /// STS could not be asked.
    #[error("refusing to run: cannot prove which account the credentials belong to: {0}")]
    Unknown(String),
}

/// Whether `arn` is a root user's.
pub fn is_root(arn: &str) -> bool {
    arn.starts_with("arn:") && arn.ends_with(":root")
}

/// Checks the caller identity against the allowed accounts.
pub fn judge(identity: &Identity, allowed: &[String]) -> Result<(), Refusal> {
    if is_root(&identity.arn) {
        return Err(Refusal::Root {
            account: identity.account.clone(),
            arn: identity.arn.clone(),
        });
    }
    if !allowed.iter().any(|a| a == &identity.account) {
        return Err(Refusal::WrongAccount {
            found: identity.account.clone(),
            arn: identity.arn.clone(),
            allowed: allowed.to_vec(),
        });
    }
    Ok(())
}

/// Asks STS who the credentials are and judges the answer. Makes no mutating call.
pub async fn check(sts: &aws_sdk_sts::Client, allowed: &[String]) -> Result<Identity, Refusal> {
    let out = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| Refusal::Unknown(DisplayErrorContext(&e).to_string()))?;
    let identity = Identity {
        account: out.account().unwrap_or_default().to_owned(),
        arn: out.arn().unwrap_or_default().to_owned(),
        user_id: out.user_id().unwrap_or_default().to_owned(),
    };
    judge(&identity, allowed)?;
    Ok(identity)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(arn: &str) -> Identity {
        Identity {
            account: "123456789012".into(),
            arn: arn.into(),
            user_id: "AIDA".into(),
        }
    }

    #[test]
    fn refuses_root_and_other_accounts() {
        let allowed = vec!["123456789012".to_owned()];
        assert_eq!(
            judge(
                &id("arn:aws:sts::123456789012:assumed-role/firedrill/run"),
                &allowed
            ),
            Ok(())
        );
        assert!(matches!(
            judge(&id("arn:aws:iam::123456789012:root"), &allowed),
            Err(Refusal::Root { .. })
        ));
        let other = vec!["111122223333".to_owned()];
        let refusal =
            judge(&id("arn:aws:iam::123456789012:user/ci"), &other).expect_err("wrong account");
        let message = refusal.to_string();
        assert!(message.contains("account 123456789012"), "{message}");
        assert!(message.contains("allows only 111122223333"), "{message}");
    }
}
