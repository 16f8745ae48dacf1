//! The TUI is a thin client: it reaches the runtime over HTTP through `jamey-client` and links
//! neither the runtime nor the crates behind it (docs/ARCHITECTURE.md, "Invariants").

/// The `[dependencies]` table of a manifest, as text.
fn dependencies(manifest: &str) -> String {
    let start = manifest
        .find("\n[dependencies]")
        .expect("a [dependencies] table");
    let rest = &manifest[start + 1..];
    let end = rest[1..].find("\n[").map_or(rest.len(), |i| i + 1);
    rest[..end].to_string()
}

#[test]
fn links_no_runtime_core_providers_or_tools() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let own = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let client = std::fs::read_to_string(root.join("../jamey-client/Cargo.toml")).unwrap();
    let own = dependencies(&own);
    assert!(own.contains("jamey-client"), "{own}");
    for manifest in [own, dependencies(&client)] {
        for forbidden in [
            "jamey-runtime",
            "jamey-core",
            "jamey-providers",
            "jamey-tools",
        ] {
            assert!(
                !manifest.contains(forbidden),
                "{forbidden} in a normal dependency of the TUI:\n{manifest}"
            );
        }
    }
}
