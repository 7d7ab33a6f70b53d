//! The layering of `chanx-core` (ARCHITECTURE.md): a module uses only modules of its
//! own layer or of the layers below. Checked on every `crate::` path in the code (doc
//! comments may link anywhere).

use std::path::{Path, PathBuf};

/// The top-level modules of `chanx-core`, bottom up.
const LAYERS: &[&[&str]] = &[
    &["heartbeat", "log", "origin", "queue", "stats", "wake"],
    &["protocol"],
    &["socket", "transport"],
    &["layer"],
    &["error", "settings"],
    &["connection"],
    &["asyncapi", "client", "server", "testing"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read the sources").flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn no_module_uses_a_layer_above_its_own() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("chanx-core/src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let mut violations = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&root).expect("under src");
        let first = relative.components().next().and_then(|c| c.as_os_str().to_str()).unwrap_or_default();
        let module = first.trim_end_matches(".rs");
        if module == "lib" {
            continue;
        }
        let own = layer_of(module).unwrap_or_else(|| panic!("{module} is in no layer of ARCHITECTURE.md"));
        let text = std::fs::read_to_string(file).expect("read a source");
        for (number, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for (at, _) in line.match_indices("crate::") {
                let used: String =
                    line[at + 7..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                if let Some(layer) = layer_of(&used)
                    && layer > own
                {
                    violations.push(format!("{}:{}: {module} uses {used}", relative.display(), number + 1));
                }
            }
        }
    }
    assert!(violations.is_empty(), "uses of a layer above:\n{}", violations.join("\n"));
    assert!(files.len() > 10, "the sources were found");
}
