//! The `popctl` binary: set the allocator, install the TLS provider, run the CLI, map the
//! outcome to an exit code.

fn main() -> std::process::ExitCode {
    popctl::mem::configure_allocator();
    // reqwest is built without a default crypto provider (ring only, no aws-lc); it must be
    // installed before the first client is built.
    let _ = rustls::crypto::ring::default_provider().install_default();
    popctl::cli::main()
}
