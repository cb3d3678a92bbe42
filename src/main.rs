//! The `firedrill` command line: a thin shell around [`firedrill::cli`].

/// mimalloc rather than the system allocator: reading a playbook builds and drops a tree of
/// many small values, and glibc's malloc spent a fifth of validation time on them (README,
/// Performance). Built without its request for transparent huge pages (`no_thp`): zeroing
/// them was a quarter of a 200-step run's own CPU time (README, The dispatcher).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    firedrill::cli::main()
}
