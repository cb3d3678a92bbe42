//! The `firedrill` command line: a thin shell around [`firedrill::cli`].

fn main() -> std::process::ExitCode {
    firedrill::cli::main()
}
