//! The `telltale` command line for the end-to-end tests: the same entry point the
//! real program calls (`src-tauri/app` does nothing else for headless commands), built
//! by cargo as part of this package so tests never run a stale or missing binary. The
//! root package's own binary cannot be used from here: `CARGO_BIN_EXE_*` exists only
//! for binaries of the package under test.

fn main() -> std::process::ExitCode {
    telltale_core::cli::main()
}
