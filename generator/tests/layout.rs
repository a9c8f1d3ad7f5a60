//! The source tree's shape: no file over 600 lines, no function over 80, and the README's module
//! table naming every module there is.

mod common;

use std::path::{Path, PathBuf};

use common::repo_root;

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn all_sources() -> Vec<PathBuf> {
    let mut out = Vec::new();
    sources(&repo_root().join("generator/src"), &mut out);
    out.sort();
    assert!(out.len() > 30, "{} source files", out.len());
    out
}

/// Each `fn` item with the number of lines from its signature to its closing brace, found by
/// indentation as rustfmt lays code out.
fn functions(text: &str) -> Vec<(usize, String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let indent = line.len() - line.trim_start().len();
        let rest = line.trim_start();
        let rest = rest
            .strip_prefix("pub(super) ")
            .or_else(|| rest.strip_prefix("pub(crate) "))
            .or_else(|| rest.strip_prefix("pub "))
            .unwrap_or(rest);
        if let Some(sig) = rest.strip_prefix("fn ") {
            if !line.trim_end().ends_with(';') {
                let name: String = sig
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let close = format!("{}}}", " ".repeat(indent));
                let end = (i + 1..lines.len())
                    .find(|&k| lines[k] == close)
                    .unwrap_or(lines.len() - 1);
                found.push((i + 1, name, end - i + 1));
                i = end;
            }
        }
        i += 1;
    }
    found
}

#[test]
fn no_file_over_600_lines_and_no_function_over_80() {
    let mut bad = Vec::new();
    for path in all_sources() {
        let text = std::fs::read_to_string(&path).unwrap();
        let n = text.lines().count();
        if n > 600 {
            bad.push(format!("{}: {n} lines", path.display()));
        }
        for (line, name, len) in functions(&text) {
            if len > 80 {
                bad.push(format!(
                    "{}:{line}: fn {name} is {len} lines",
                    path.display()
                ));
            }
        }
    }
    assert!(bad.is_empty(), "split these:\n{}", bad.join("\n"));
}

#[test]
fn the_function_finder_measures_what_rustfmt_writes() {
    let text = "fn a() {\n    x();\n}\n\n    pub(super) fn b(\n        y: u8,\n    ) -> u8 {\n        y\n    }\nfn c();\n";
    assert_eq!(
        functions(text),
        vec![(1, "a".to_string(), 3), (5, "b".to_string(), 5)]
    );
}

#[test]
fn the_readme_module_table_names_every_module() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let start = readme
        .find("The crate's source, by flow")
        .expect("README has the module table");
    let table = &readme[start..start + readme[start..].find("\n## ").unwrap()];
    let mut missing = Vec::new();
    for path in all_sources() {
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        if ["tests", "mod", "lib", "main"].contains(&stem.as_str())
            || path.components().any(|c| c.as_os_str() == "cli")
        {
            continue;
        }
        if !table.contains(&format!("`{stem}`")) && !table.contains(&format!("`{stem}.rs`")) {
            missing.push(path.display().to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "not in the README's module table: {missing:?}"
    );
}

/// Printing, progress display and exit codes belong to the command line (src/cli/): the library
/// says what happened through return values and notes.
#[test]
fn only_the_command_line_prints() {
    let mut printing = Vec::new();
    for path in all_sources() {
        let in_cli = path.components().any(|c| c.as_os_str() == "cli");
        let is_test = path.file_stem().is_some_and(|s| s == "tests");
        if in_cli || is_test || path.file_name().is_some_and(|n| n == "main.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // A module's own #[cfg(test)] part may print what a failing test shows.
        let text = text.split("#[cfg(test)]").next().unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap();
            for word in [
                "println!",
                "eprintln!",
                "print!",
                "eprint!",
                "indicatif",
                "process::exit",
            ] {
                if code.contains(word) {
                    printing.push(format!("{}:{}: {word}", path.display(), n + 1));
                }
            }
        }
    }
    assert!(
        printing.is_empty(),
        "printing outside src/cli: {printing:?}"
    );
}
