//! The conventions an SRE expects, as one would meet them beside the aws CLI: errors that say
//! what is true with a hint (no SDK debug dump), `--profile`, verbose logs with each AWS
//! request, and hints that keep the options they were given.

mod support;

use firedrill::engine::exit;
use support::Test;

/// A run with no AWS credentials anywhere: no environment keys, no profile files, no
/// instance metadata.
fn without_credentials() -> Test {
    Test::new()
        .without("AWS_ACCESS_KEY_ID")
        .without("AWS_SECRET_ACCESS_KEY")
        .without("AWS_SESSION_TOKEN")
        .without("AWS_PROFILE")
        .without("AWS_WEB_IDENTITY_TOKEN_FILE")
        .without("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        .without("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/aws/config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws/credentials",
        )
}

#[test]
fn no_credentials_is_one_sentence_with_what_to_do_and_exit_5() {
    let out = without_credentials()
        .args(["run", "--region", "us-east-1", "examples/quickstart/playbook.yaml"])
        .code(exit::REFUSED)
        .stderr_has(
            "error: refusing to run: no AWS credentials found (tried the environment, the shared profile, SSO, container and instance metadata)\n",
        )
        .stderr_has("  = hint: pass --profile NAME (or set AWS_PROFILE), or run `aws sso login`")
        .stderr_has("  = hint: to drill without an AWS account, run it on the local sandbox: --sandbox local\n")
        .stderr_has("as refused: `firedrill history quickstart` lists it")
        .run();
    for dump in [
        "DispatchFailure",
        "ConnectorError",
        "{",
        "CredentialsNotLoaded",
    ] {
        assert!(
            !out.stderr.contains(dump),
            "no debug structure reaches the user ({dump}):\n{}",
            out.stderr
        );
    }
}

#[test]
fn a_profile_that_gives_no_credentials_is_named() {
    without_credentials()
        .args([
            "run",
            "--profile",
            "drills",
            "--region",
            "us-east-1",
            "examples/quickstart/playbook.yaml",
        ])
        .code(exit::REFUSED)
        .stderr_has("error: refusing to run: the AWS profile `drills` gives no credentials")
        .stderr_has("= hint: `aws configure list-profiles`")
        .run();
    // AWS_PROFILE is the same option.
    without_credentials()
        .env("AWS_PROFILE", "drills")
        .args([
            "run",
            "--region",
            "us-east-1",
            "examples/quickstart/playbook.yaml",
        ])
        .code(exit::REFUSED)
        .stderr_has("the AWS profile `drills` gives no credentials")
        .run();
}

#[test]
fn profile_is_taken_by_every_command_that_talks_to_aws() {
    for command in [
        &["run", "--help"][..],
        &["teardown", "--help"],
        &["sweep", "--help"],
        &["walkthrough", "--help"],
    ] {
        Test::new()
            .args(command.iter().copied())
            .stdout_has("--profile <NAME>")
            .run();
    }
}

#[test]
fn verbose_flags_and_a_bad_filter_are_understood() {
    // Nothing logs by default; -v is a flag, not an unknown argument.
    let quiet = Test::new()
        .args(["validate", "examples/quickstart/playbook.yaml"])
        .run();
    assert!(!quiet.stderr.contains("INFO"), "{}", quiet.stderr);
    Test::new()
        .args(["-vv", "validate", "examples/quickstart/playbook.yaml"])
        .run();
    Test::new()
        .env("FIREDRILL_LOG", "firedrill=[")
        .args(["validate", "examples/quickstart/playbook.yaml"])
        .stderr_has("warning: the log filter `firedrill=[` is not valid")
        .run();
}

/// The local sandbox, started with `--state-dir` and stopped when dropped.
struct Sandbox {
    _stop: support::sandbox::StopSandbox,
    state: tempfile::TempDir,
}

impl Sandbox {
    fn start() -> (Self, String) {
        let state = tempfile::tempdir().expect("tempdir");
        let out = Test::new()
            .args([
                std::ffi::OsStr::new("--state-dir"),
                state.path().as_os_str(),
            ])
            .args(["sandbox", "start", "--time-scale", "0"])
            .run();
        let stop = support::sandbox::StopSandbox(state.path().to_path_buf());
        (Self { _stop: stop, state }, out.stdout)
    }

    fn dir(&self) -> &str {
        self.state.path().to_str().expect("utf-8")
    }
}

#[test]
fn the_wrong_account_on_the_local_sandbox_gets_advice_for_the_sandbox_and_logs_its_requests() {
    let (sandbox, started) = Sandbox::start();
    let dir = sandbox.dir().to_owned();
    assert!(
        started.contains(&format!(
            "stop it with `firedrill --state-dir {dir} sandbox stop`"
        )),
        "the hint keeps the state directory it was given:\n{started}"
    );
    let playbooks = tempfile::tempdir().expect("tempdir");
    let playbook = playbooks.path().join("elsewhere.yaml");
    std::fs::write(
        &playbook,
        r#"version: 1
name: elsewhere
sandbox: { accounts: ["111122223333"] }
steps:
  app:
    uses: ec2.launch
    with: { image: { latest_tagged: { role: shop } } }
"#,
    )
    .expect("write");
    let out = Test::new()
        .args(["-vv", "--state-dir", &dir, "run", "--sandbox", "local"])
        .args([playbook.as_os_str()])
        .code(exit::REFUSED)
        .stderr_has("error: refusing to run: the credentials belong to account 123456789012 (arn:aws:sts::123456789012:user/moto), but the playbook allows only 111122223333\n")
        .stderr_has("  = hint: the local sandbox answers as account 123456789012: add it to `sandbox.accounts` to drill this playbook there\n")
        .stderr_has(&format!("`firedrill --state-dir {dir} history elsewhere` lists it"))
        .stderr_has("firedrill::aws: aws request")
        .stderr_has(r#"service="STS" operation="GetCallerIdentity" attempt=1 status=200"#)
        .run();
    assert!(
        !out.stderr.contains("AWS_PROFILE"),
        "no advice about profiles against the sandbox:\n{}",
        out.stderr
    );
    for secret in ["firedrill-local-sandbox", "Signature", "authorization"] {
        assert!(
            !out.stderr.to_lowercase().contains(&secret.to_lowercase()),
            "the request log carries no credential or signature ({secret}):\n{}",
            out.stderr
        );
    }
    let refused_run = out
        .stderr
        .split("keeps run ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("the run id is printed")
        .to_owned();
    Test::new()
        .args(["--state-dir", &dir, "history", "elsewhere"])
        .stdout_has(&refused_run)
        .stdout_has("refused")
        .run();
}
