//! Build script of the root package. Only the desktop build has anything to do:
//! tauri-build reads `tauri.conf.json`, the capabilities and the app's command list,
//! and checks that the UI it will embed exists.

fn main() {
    #[cfg(feature = "desktop")]
    desktop();
}

#[cfg(feature = "desktop")]
fn desktop() {
    // `generate_context!` embeds ui/dist at compile time; without it the build fails
    // deep inside a macro. Say what to do instead.
    let root = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let index = root.join("ui/dist/index.html");
    println!("cargo:rerun-if-changed={}", index.display());
    if !index.exists() {
        panic!(
            "the desktop build embeds the web UI, and {} is missing: run `npm ci && npm run build` in ui/ first \
             (scripts/run.sh and scripts/test.sh do), or build the headless program with --no-default-features",
            index.display()
        );
    }
    // The capabilities live beside the shell's sources, not in the default
    // `capabilities/` next to tauri.conf.json.
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    let attributes = tauri_build::Attributes::new()
        .capabilities_path_pattern("./src-tauri/capabilities/**/*")
        // Listing the app's commands makes Tauri generate one permission per command
        // (`allow-relay-endpoint`), so a capability can grant exactly that one.
        .app_manifest(tauri_build::AppManifest::new().commands(&["relay_endpoint"]));
    tauri_build::try_build(attributes).expect("tauri-build");
}
