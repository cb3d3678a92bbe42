//! The account guard: before the first mutating call of a run, prove where we are.
//!
//! STS `GetCallerIdentity` (which needs no permission and changes nothing) names the account
//! and principal of the credentials. The account must be one of the playbook's
//! `sandbox.accounts`, and root-user credentials are refused outright: a drill that creates and
//! deletes resources must never run as root, nor anywhere but the sandbox.

use aws_credential_types::provider::error::CredentialsError;

use super::Clients;
use crate::language::diag::error_chain;

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
    /// No credentials from any source of the default chain.
    #[error(
        "refusing to run: no AWS credentials found (tried the environment, the shared profile, SSO, \
         container and instance metadata)"
    )]
    NoCredentials,
    /// The profile named gives no credentials.
    #[error(
        "refusing to run: the AWS profile `{0}` gives no credentials (it is not in ~/.aws/config \
         or ~/.aws/credentials, or it has none)"
    )]
    NoProfile(String),
    /// A source of credentials is there but failed (a bad profile, an expired SSO session, ...).
    #[error("refusing to run: cannot load AWS credentials: {0}")]
    BadCredentials(String),
    /// The credentials belong to an account the playbook does not allow.
    #[error(
        "refusing to run: the credentials belong to account {found} ({arn}), but the playbook allows only {}",
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
    #[error("refusing to run: these are the root user's credentials of account {account} ({arn})")]
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

/// Where a run was pointed, for advice that fits it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The local sandbox (`--sandbox local`), which answers as one fixed account.
    LocalSandbox,
    /// An AWS account (or an endpoint of the playbook's), through the credentials' chain.
    Aws,
}

impl Refusal {
    /// What the operator can do about it, for a run pointed at `target`.
    pub fn hints(&self, target: Target) -> Vec<String> {
        match (self, target) {
            (Refusal::NoCredentials, _) => vec![
                "pass --profile NAME (or set AWS_PROFILE), or run `aws sso login` for an SSO profile".into(),
                "to drill without an AWS account, run it on the local sandbox: --sandbox local".into(),
            ],
            (Refusal::NoProfile(_), _) => vec![
                "`aws configure list-profiles` lists the profiles there are; `aws configure --profile NAME` makes one".into(),
            ],
            (Refusal::BadCredentials(_), _) => vec![
                "check the profile (--profile, AWS_PROFILE) in ~/.aws/config; an SSO session may need `aws sso login`".into(),
            ],
            (Refusal::WrongAccount { found, .. }, Target::LocalSandbox) => vec![format!(
                "the local sandbox answers as account {found}: add it to `sandbox.accounts` to drill this playbook there"
            )],
            (Refusal::WrongAccount { .. }, Target::Aws) => vec![
                "check --profile (or AWS_PROFILE) and the credentials in the environment (AWS_ACCESS_KEY_ID)".into(),
                "if this account really is a sandbox, add it to `sandbox.accounts`".into(),
            ],
            (Refusal::Root { .. }, _) => vec![
                "use a role or user made for drills; `sandbox.role_arn` assumes one".into(),
            ],
            (Refusal::Unknown(_), Target::LocalSandbox) => vec![
                "the local sandbox did not answer: `firedrill sandbox status` says whether it runs".into(),
            ],
            (Refusal::Unknown(_), Target::Aws) => vec![
                "check the network path to STS and the region; `-vv` logs each AWS request".into(),
            ],
        }
    }
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

/// Loads the credentials first, so that their absence is said in one sentence and not as the
/// SDK's dispatch failure; then asks STS who they are and judges the answer. Makes no
/// mutating call.
pub async fn check(clients: &Clients, allowed: &[String]) -> Result<Identity, Refusal> {
    if let Some(provider) = clients.config().credentials_provider() {
        use aws_credential_types::provider::ProvideCredentials;
        provider.provide_credentials().await.map_err(|e| match e {
            CredentialsError::CredentialsNotLoaded(_) => match &clients.profile {
                Some(p) => Refusal::NoProfile(p.clone()),
                None => Refusal::NoCredentials,
            },
            e => Refusal::BadCredentials(error_chain(&e)),
        })?;
    }
    let out = clients
        .sts()
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| Refusal::Unknown(super::sdk_error(&e)))?;
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
