//! The `telltale` program. Headless subcommands live in `telltale-core`; with no
//! subcommand the desktop build opens the window.

fn main() -> std::process::ExitCode {
    // First thing, before any TLS client exists: reqwest enables rustls's aws-lc-rs
    // provider and other dependencies enable ring, and with two providers compiled in
    // rustls refuses to pick one and the first HTTPS or rediss:// connection panics.
    // An error only means a provider is already installed, which is what we want.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    telltale_app::main()
}
