//! The runtime's modules form a tree: no two import each other, directly or through others.
//! Reads `src/**/*.rs` (unit tests cut off), expands every `crate::` and `super::` path, and
//! checks two kinds of graph: the top-level modules (plus the crate root, which declares them
//! all, so anything importing from the root is a loop), and inside each directory module the
//! graph of its files (a child using its parent, or a parent re-exporting its children, is the
//! usual shape and is not an edge).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The node that stands for `lib.rs`: every top-level module hangs from it.
const ROOT: &str = "(crate root)";

/// A module's path inside the crate: `[]` for `lib.rs`, `["config", "raw"]` for
/// `config/raw.rs`.
type ModulePath = Vec<String>;

/// For each directory module (`[]` for the top level), the edges between its children.
type Graphs = BTreeMap<ModulePath, BTreeMap<String, BTreeSet<String>>>;

#[test]
fn runtime_modules_import_each_other_in_no_loop() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect(&src, &src, &mut files);
    assert!(
        files.len() > 10,
        "the sources were not found in {}",
        src.display()
    );
    let graphs = module_graphs(&files);
    let shown = show(&graphs);
    println!("{shown}");
    for (parent, graph) in &graphs {
        if let Some(cycle) = find_cycle(graph) {
            let place = if parent.is_empty() {
                "between top-level modules".to_string()
            } else {
                format!("inside {}", parent.join("::"))
            };
            panic!(
                "runtime modules import each other in a loop {place}: {}\n\nthe module graph:\n{shown}",
                cycle.join(" -> ")
            );
        }
    }
}

#[test]
fn the_check_finds_a_loop_in_a_made_up_tree() {
    let file = |path: &[&str], text: &str| {
        (
            path.iter().map(|s| s.to_string()).collect::<ModulePath>(),
            text.to_string(),
        )
    };
    let tree = vec![
        file(&[], "pub mod a; pub mod b; pub mod c; pub struct Env;"),
        file(&["a"], "use crate::b::{self, Thing as Other};"),
        file(&["b"], "pub struct Thing; fn f() { crate::c::go() }"),
        file(&["c"], "use crate::a;\n// crate::nothing here counts\n"),
        file(&["d"], "mod x; mod y; pub use x::X;"),
        file(&["d", "x"], "use super::{y::Y, Shared};"),
        file(
            &["d", "y"],
            "pub struct Y; #[cfg(test)]\nmod tests { use super::super::x; }",
        ),
    ];
    let graphs = module_graphs(&tree);
    let top = &graphs[&Vec::new()];
    assert_eq!(top["a"], BTreeSet::from(["b".to_string()]));
    assert!(
        top["d"].is_empty(),
        "a parent using its children is no edge"
    );
    let cycle = find_cycle(top).expect("a -> b -> c -> a is a loop");
    assert_eq!(cycle.len(), 4, "{cycle:?}");
    assert_eq!(cycle.first(), cycle.last());
    let inside_d = &graphs[&vec!["d".to_string()]];
    assert_eq!(inside_d["x"], BTreeSet::from(["y".to_string()]));
    assert!(
        find_cycle(inside_d).is_none(),
        "y's unit tests do not count"
    );

    let root_import = vec![file(&[], "pub mod a;"), file(&["a"], "use crate::Env;")];
    let cycle = find_cycle(&module_graphs(&root_import)[&Vec::new()]);
    assert!(cycle.is_some_and(|c| c.contains(&ROOT.to_string())));
}

/// Every `.rs` file under `dir` but the binary's `main.rs`, with its module path.
fn collect(src: &Path, dir: &Path, files: &mut Vec<(ModulePath, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(src, &path, files);
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let relative = path.strip_prefix(src).unwrap();
        if relative == Path::new("main.rs") {
            continue;
        }
        let mut module: ModulePath = relative
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
            module.pop();
        }
        files.push((module, std::fs::read_to_string(&path).unwrap()));
    }
}

/// The graphs of `files`' references, one per directory module.
fn module_graphs(files: &[(ModulePath, String)]) -> Graphs {
    let known: BTreeSet<&ModulePath> = files.iter().map(|(module, _)| module).collect();
    let mut graphs = Graphs::new();
    let top = graphs.entry(Vec::new()).or_default();
    for (module, _) in files {
        if module.len() == 1 {
            top.entry(ROOT.to_string())
                .or_default()
                .insert(module[0].clone());
        }
    }
    for (module, _) in files {
        if let Some((name, parent)) = module.split_last() {
            graphs
                .entry(parent.to_vec())
                .or_default()
                .entry(name.clone())
                .or_default();
        }
    }
    for (module, text) in files {
        for path in references(module, code_of(text)) {
            let target = longest_known(&path, &known);
            if target.is_empty() {
                if !module.is_empty() {
                    add_edge(&mut graphs, Vec::new(), &module[0], ROOT);
                }
                continue;
            }
            let common = module
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            // One is the other's ancestor: a child using its parent or a parent its child.
            if common == module.len() || common == target.len() {
                continue;
            }
            add_edge(
                &mut graphs,
                module[..common].to_vec(),
                &module[common],
                &target[common],
            );
        }
    }
    graphs
}

fn add_edge(graphs: &mut Graphs, parent: ModulePath, from: &str, to: &str) {
    graphs
        .entry(parent)
        .or_default()
        .entry(from.to_string())
        .or_default()
        .insert(to.to_string());
}

/// The longest prefix of `path` that names a module; `[]` (the root) when none does.
fn longest_known(path: &[String], known: &BTreeSet<&ModulePath>) -> ModulePath {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|prefix| known.contains(prefix))
        .unwrap_or_default()
}

/// The text without its unit tests and line comments.
fn code_of(text: &str) -> String {
    let code = match text.find("#[cfg(test)]") {
        Some(at) => &text[..at],
        None => text,
    };
    code.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::...` and `super::...` path in `code`, written from inside `module`, expanded
/// into absolute paths (`use crate::a::{b, c::D}` gives `a::b` and `a::c::D`).
fn references(module: &[String], code: String) -> Vec<ModulePath> {
    let chars: Vec<char> = code.chars().collect();
    let mut paths = Vec::new();
    let mut at = 0;
    while at < chars.len() {
        let before = at.checked_sub(1).map(|i| chars[i]);
        let starts_word = !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$');
        if starts_word && matches_at(&chars, at, "crate::") {
            at = parse_tree(&chars, at + "crate::".len(), Vec::new(), &mut paths);
        } else if starts_word && matches_at(&chars, at, "super::") {
            let mut base = module.to_vec();
            while matches_at(&chars, at, "super::") {
                base.pop();
                at += "super::".len();
            }
            at = parse_tree(&chars, at, base, &mut paths);
        } else {
            at += 1;
        }
    }
    paths
}

fn matches_at(chars: &[char], at: usize, word: &str) -> bool {
    word.chars()
        .enumerate()
        .all(|(i, c)| chars.get(at + i) == Some(&c))
}

/// Parses one use tree at `at` under `prefix`; returns where it ends.
fn parse_tree(
    chars: &[char],
    mut at: usize,
    prefix: ModulePath,
    out: &mut Vec<ModulePath>,
) -> usize {
    while chars.get(at).is_some_and(|c| c.is_whitespace()) {
        at += 1;
    }
    if chars.get(at) == Some(&'{') {
        at += 1;
        loop {
            at = parse_tree(chars, at, prefix.clone(), out);
            // Skip what follows the element (`as alias`, spaces) up to `,` or `}`.
            while chars.get(at).is_some_and(|c| *c != ',' && *c != '}') {
                at += 1;
            }
            match chars.get(at) {
                Some(',') => at += 1,
                _ => return at + 1,
            }
            while chars.get(at).is_some_and(|c| c.is_whitespace()) {
                at += 1;
            }
            if chars.get(at) == Some(&'}') {
                return at + 1;
            }
        }
    }
    let start = at;
    while chars
        .get(at)
        .is_some_and(|c| c.is_alphanumeric() || *c == '_')
    {
        at += 1;
    }
    if at == start {
        out.push(prefix);
        return at;
    }
    let segment: String = chars[start..at].iter().collect();
    let mut path = prefix;
    if segment != "self" {
        path.push(segment);
    }
    if matches_at(chars, at, "::") {
        parse_tree(chars, at + 2, path, out)
    } else {
        out.push(path);
        at
    }
}

/// A loop in `graph`, as the nodes along it with the first repeated at the end.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, done, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut done, &mut Vec::new()))
}

/// The graphs as `module -> modules it uses` lines.
fn show(graphs: &Graphs) -> String {
    let mut lines = Vec::new();
    for (parent, graph) in graphs {
        for (from, to) in graph {
            if from == ROOT {
                continue;
            }
            let name = |m: &str| {
                if parent.is_empty() || m == ROOT {
                    m.to_string()
                } else {
                    format!("{}/{m}", parent.join("/"))
                }
            };
            let uses: Vec<String> = to.iter().map(|m| name(m)).collect();
            let uses = if uses.is_empty() {
                "(nothing)".to_string()
            } else {
                uses.join(", ")
            };
            lines.push(format!("{} -> {uses}", name(from)));
        }
    }
    lines.join("\n")
}
