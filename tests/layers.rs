//! The layers of ARCHITECTURE.md, checked on the source: a module that
//! reaches past its layer fails here, so the map stays true.
//!
//! Foundation (plain values and helpers) < core (the domain and the state it
//! runs on) < HTTP (layers, shared extractors) < front ends (`api`, `web`,
//! `health`) < `lib.rs`/`main.rs`, which compose them. Arrows point down only;
//! the front ends do not use each other, and they reach the database only
//! through the core (no `entity::` row types, no `sea_orm`).

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

const FOUNDATION: &[&str] = &["clock", "config", "db", "display", "error", "input", "key_file", "metrics", "scope", "sealed", "secret", "telemetry", "tenant"];
const CORE: &[&str] = &["access", "audit", "auth", "background", "backup", "demo", "pdf", "practice", "records", "sso", "state", "vault"];
const HTTP: &[&str] = &["http", "serve"];
const FRONT_ENDS: &[&str] = &["api", "health", "web"];

/// What `module` may import from the crate: its own layer and those below.
fn allowed(module: &str) -> BTreeSet<&'static str> {
    let layers = [FOUNDATION, CORE, HTTP];
    let below: Vec<&'static str> = if FOUNDATION.contains(&module) {
        FOUNDATION.to_vec()
    } else if CORE.contains(&module) {
        layers[..2].concat()
    } else if HTTP.contains(&module) {
        layers.concat()
    } else if FRONT_ENDS.contains(&module) {
        // A front end uses the layers below, never another front end.
        layers.concat()
    } else {
        panic!("src/{module} is in no layer: add it to tests/layers.rs and ARCHITECTURE.md");
    };
    below.into_iter().chain(std::iter::once(leak(module))).collect()
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file below src/: `web/clinical/couple.rs` is
/// `["web", "clinical", "couple"]`, `web/mod.rs` is `["web"]`.
fn module_path(relative: &str) -> Vec<String> {
    let mut parts: Vec<String> = relative.trim_end_matches(".rs").split('/').map(str::to_owned).collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The source without comments (doc comments name other modules freely) and
/// without the insides of string literals.
fn code_of(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
            }
            '"' => {
                out.push('"');
                let mut escaped = false;
                for c in chars.by_ref() {
                    if c == '"' && !escaped {
                        break;
                    }
                    escaped = c == '\\' && !escaped;
                }
                out.push('"');
            }
            // A char literal such as '"' or '{' (not a lifetime): skipped whole.
            '\'' => {
                let rest: String = chars.clone().take(3).collect();
                let literal = rest.chars().nth(1) == Some('\'') || (rest.starts_with('\\') && rest.chars().nth(2) == Some('\''));
                if literal {
                    let len = if rest.starts_with('\\') { 3 } else { 2 };
                    for _ in 0..len {
                        chars.next();
                    }
                } else {
                    out.push(c);
                }
            }
            _ => out.push(c),
        }
    }
    out
}

fn ident_at(code: &str, at: usize) -> Option<String> {
    let ident: String = code[at..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    (!ident.is_empty()).then_some(ident)
}

/// The first names of every path a `use` group or an inline path starting at
/// `at` reaches: `{a::b, c, d::{e, f}}` gives a, c, d.
fn first_names(code: &str, at: usize) -> Vec<String> {
    if !code[at..].starts_with('{') {
        return ident_at(code, at).into_iter().collect();
    }
    let mut names = Vec::new();
    let (mut depth, mut expecting) = (0, true);
    for (i, c) in code[at..].char_indices() {
        match c {
            '{' => {
                depth += 1;
                expecting = depth == 1;
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => expecting = true,
            c if expecting && depth == 1 && (c.is_alphanumeric() || c == '_') => {
                names.extend(ident_at(code, at + i));
                expecting = false;
            }
            _ => {}
        }
    }
    names
}

/// The top-level modules of the crate a file's code refers to, through
/// `crate::` or through enough `super::` to leave its own module.
fn crate_modules_named(code: &str, module: &[String]) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let bytes = code.as_bytes();
    let boundary = |i: usize| i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_' || bytes[i - 1] == b':');
    for (i, _) in code.match_indices("crate::") {
        if boundary(i) {
            found.extend(first_names(code, i + "crate::".len()));
        }
    }
    for (i, _) in code.match_indices("super::") {
        if !boundary(i) {
            continue;
        }
        let mut depth = 0;
        let mut at = i;
        while code[at..].starts_with("super::") {
            depth += 1;
            at += "super::".len();
        }
        // `super` of a file's module is its parent; leaving the top-level
        // module reaches the crate root.
        if depth >= module.len() {
            found.extend(first_names(code, at));
        }
    }
    // Only the crate's top-level modules: not items of the root (exported
    // macros), nor items of a parent that an inline `mod tests` reaches with
    // `super::`.
    let modules: Vec<&str> = [FOUNDATION, CORE, HTTP, FRONT_ENDS].concat();
    found.retain(|name| modules.contains(&name.as_str()));
    found
}

/// Whether `code` names an entity row type or sea-orm.
fn reads_rows(code: &str) -> bool {
    let bytes = code.as_bytes();
    let standalone = |word: &str| {
        code.match_indices(word)
            .any(|(i, _)| i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_'))
    };
    standalone("entity::") || standalone("sea_orm")
}

struct SourceFile {
    relative: String,
    module: Vec<String>,
    code: String,
}

fn sources() -> Vec<SourceFile> {
    let root = src();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
            let code = code_of(&std::fs::read_to_string(&path).unwrap());
            SourceFile { module: module_path(&relative), relative, code }
        })
        .collect()
}

#[test]
fn no_module_imports_past_its_layer() {
    let mut wrong = Vec::new();
    for file in sources() {
        let top = file.module[0].as_str();
        if top == "lib" || top == "main" {
            continue; // they compose the layers
        }
        let may = allowed(top);
        for name in crate_modules_named(&file.code, &file.module) {
            if !may.contains(name.as_str()) {
                wrong.push(format!("src/{} uses crate::{name}", file.relative));
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the layers of ARCHITECTURE.md:\n{}", wrong.join("\n"));
}

#[test]
fn front_ends_do_not_read_rows() {
    let wrong: Vec<String> = sources()
        .into_iter()
        .filter(|file| FRONT_ENDS.contains(&file.module[0].as_str()) && reads_rows(&file.code))
        .map(|file| format!("src/{}", file.relative))
        .collect();
    assert!(wrong.is_empty(), "front-end files naming entity:: or sea_orm (move the use case into the core):\n{}", wrong.join("\n"));
}

#[test]
fn lib_only_declares_modules_and_composes_the_app() {
    let lib = code_of(&std::fs::read_to_string(src().join("lib.rs")).unwrap());
    for item in ["struct ", "enum ", "impl ", "trait ", "static ", "const "] {
        assert!(!lib.contains(item), "lib.rs defines a {}: it belongs in a layer's module", item.trim());
    }
}

/// The scanner itself: a test that can fail.
#[test]
fn the_scanner_sees_imports_through_groups_super_and_paths() {
    let module = vec!["web".to_owned(), "account".to_owned()];
    let code = code_of("use crate::{state::AppState, api::{Json, Path}, error};\n// crate::records in a comment\nfn f() { crate::pdf::x(); let s = \"crate::sso\"; }\nuse super::super::audit::X;\nuse super::nav;");
    let names: Vec<_> = crate_modules_named(&code, &module).into_iter().collect();
    assert_eq!(names, ["api", "audit", "error", "pdf", "state"]);
    assert!(reads_rows(&code_of("use entity::members;")));
    assert!(reads_rows(&code_of("fn f(db: &sea_orm::DatabaseConnection) {}")));
    assert!(!reads_rows(&code_of("use crate::sso::identity::X; // entity::members")));
    assert!(allowed("web").contains("http") && !allowed("web").contains("api"));
    assert!(!allowed("records").contains("web") && !allowed("error").contains("access"));
}
