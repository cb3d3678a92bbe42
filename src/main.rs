//! The `firedrill` command line: a thin shell around [`firedrill::cli`].

/// mimalloc rather than the system allocator: reading a playbook builds and drops a tree of
/// many small values, and glibc's malloc spent a fifth of validation time on them (README,
/// Performance).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    firedrill::cli::main()
}
