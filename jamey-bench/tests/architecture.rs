//! The dependency invariants of docs/ARCHITECTURE.md ("Invariants"), checked on what cargo
//! resolves: `cargo metadata` for the workspace crates each crate declares and reaches, and
//! `cargo tree -p jamey-cli -e normal` for what the CLI really links.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Crates the light CLI must not link: databases, Redis, the cache and the model code.
const HEAVY: [&str; 8] = [
    "tokio-postgres",
    "deadpool",
    "refinery",
    "rusqlite",
    "redis",
    "moka",
    "candle",
    "tokenizers",
];

/// jamey-core's features that turn on stores or embedders.
const HEAVY_CORE_FEATURES: [&str; 5] = [
    "default",
    "store",
    "bundled-embedder",
    "local-embedder",
    "remote-embedder",
];

fn cargo(args: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let output = Command::new(&cargo)
        .args(args)
        .current_dir(&root)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cargo}: {e}"));
    assert!(
        output.status.success(),
        "cargo {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// One dependency a workspace crate declares.
#[derive(Debug)]
struct Declared {
    name: String,
    /// `None` for a normal dependency, else `"dev"` or `"build"`.
    kind: Option<String>,
    default_features: bool,
    features: Vec<String>,
}

/// The workspace as cargo resolves it.
struct Workspace {
    /// Each workspace crate's declared dependencies on other workspace crates.
    declared: BTreeMap<String, Vec<Declared>>,
    /// Package id -> (name, ids it depends on through normal or build edges).
    graph: BTreeMap<String, (String, Vec<String>)>,
}

impl Workspace {
    fn load() -> Self {
        let metadata: Value =
            serde_json::from_str(&cargo(&["metadata", "--format-version", "1"])).unwrap();
        let members: BTreeSet<&str> = metadata["workspace_members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_str().unwrap())
            .collect();
        let packages = metadata["packages"].as_array().unwrap();
        let names: BTreeSet<String> = packages
            .iter()
            .filter(|p| members.contains(p["id"].as_str().unwrap()))
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect();
        let mut declared = BTreeMap::new();
        for package in packages {
            if !members.contains(package["id"].as_str().unwrap()) {
                continue;
            }
            let name = package["name"].as_str().unwrap().to_owned();
            let deps = package["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| {
                    let dep = d["name"].as_str().unwrap();
                    names.contains(dep) && dep != name
                })
                .map(|d| Declared {
                    name: d["name"].as_str().unwrap().to_owned(),
                    kind: d["kind"].as_str().map(str::to_owned),
                    default_features: d["uses_default_features"].as_bool().unwrap(),
                    features: d["features"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|f| f.as_str().unwrap().to_owned())
                        .collect(),
                })
                .collect();
            declared.insert(name, deps);
        }
        let package_names: BTreeMap<&str, &str> = packages
            .iter()
            .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
            .collect();
        let graph = metadata["resolve"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|node| {
                let id = node["id"].as_str().unwrap().to_owned();
                let deps = node["deps"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|dep| {
                        dep["dep_kinds"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|k| k["kind"].as_str() != Some("dev"))
                    })
                    .map(|dep| dep["pkg"].as_str().unwrap().to_owned())
                    .collect();
                let name = package_names[id.as_str()].to_owned();
                (id, (name, deps))
            })
            .collect();
        Self { declared, graph }
    }

    /// The workspace crates `name` declares as normal or build dependencies.
    fn uses(&self, name: &str) -> BTreeSet<&str> {
        self.declared[name]
            .iter()
            .filter(|d| d.kind.as_deref() != Some("dev"))
            .map(|d| d.name.as_str())
            .collect()
    }

    /// Every package `name` reaches through normal and build edges (feature unification across
    /// the workspace can only add edges, so this is a superset of what `name` alone links).
    fn reaches(&self, name: &str) -> BTreeSet<&str> {
        let start = self
            .graph
            .iter()
            .find(|(_, (n, _))| n == name)
            .map(|(id, _)| id.as_str())
            .unwrap_or_else(|| panic!("{name} is not in the workspace"));
        let mut seen = BTreeSet::new();
        let mut stack = vec![start];
        while let Some(id) = stack.pop() {
            for dep in &self.graph[id].1 {
                if seen.insert(dep.as_str()) {
                    stack.push(dep);
                }
            }
        }
        seen.iter().map(|id| self.graph[*id].0.as_str()).collect()
    }
}

fn set<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
    names.iter().copied().collect()
}

#[test]
fn workspace_crates_depend_one_way() {
    let ws = Workspace::load();
    assert_eq!(ws.uses("jamey-protocol"), set(&[]), "protocol");
    assert_eq!(
        ws.uses("jamey-providers"),
        set(&["jamey-protocol"]),
        "providers"
    );
    assert_eq!(ws.uses("jamey-core"), set(&["jamey-protocol"]), "core");
    assert_eq!(
        ws.uses("jamey-tools"),
        set(&["jamey-protocol", "jamey-core"]),
        "tools"
    );
    assert_eq!(ws.uses("jamey-client"), set(&["jamey-protocol"]), "client");
    for client in ["jamey-cli", "jamey-tui", "jamey-client"] {
        let any_kind: BTreeSet<&str> = ws.declared[client]
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        assert!(
            !any_kind.contains("jamey-runtime") && !ws.reaches(client).contains("jamey-runtime"),
            "{client} depends on jamey-runtime"
        );
    }
    let tui: BTreeSet<&str> = ws
        .reaches("jamey-tui")
        .into_iter()
        .filter(|name| ws.declared.contains_key(*name))
        .collect();
    for forbidden in [
        "jamey-core",
        "jamey-providers",
        "jamey-tools",
        "jamey-runtime",
    ] {
        assert!(
            !tui.contains(forbidden),
            "jamey-tui reaches {forbidden}: {tui:?}"
        );
    }
}

#[test]
fn the_cli_links_the_light_core() {
    let ws = Workspace::load();
    let core: Vec<&Declared> = ws.declared["jamey-cli"]
        .iter()
        .filter(|d| d.name == "jamey-core" && d.kind.is_none())
        .collect();
    assert_eq!(core.len(), 1, "jamey-cli's normal dependency on jamey-core");
    assert!(
        !core[0].default_features,
        "jamey-cli must take jamey-core with default-features = false"
    );
    for feature in &core[0].features {
        assert!(
            !HEAVY_CORE_FEATURES.contains(&feature.as_str()),
            "jamey-cli enables jamey-core's {feature:?} feature"
        );
    }
    let tree = cargo(&[
        "tree",
        "-p",
        "jamey-cli",
        "-e",
        "normal",
        "--prefix",
        "none",
        "--format",
        "{p}",
    ]);
    let linked: BTreeSet<&str> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert!(linked.contains("jamey-core"), "{linked:?}");
    for heavy in HEAVY {
        let found: Vec<&&str> = linked
            .iter()
            .filter(|name| name.starts_with(heavy))
            .collect();
        assert!(found.is_empty(), "jamey-cli links {found:?}");
    }
}
