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
fn the_maintainers_guide_module_table_names_every_module() {
    let readme = std::fs::read_to_string(repo_root().join("doc/nbgen.md")).unwrap();
    let start = readme
        .find("The crate's source, by flow")
        .expect("doc/nbgen.md has the module table");
    let end = readme[start..]
        .find("\n## ")
        .map_or(readme.len(), |e| start + e);
    let table = &readme[start..end];
    let mut missing = Vec::new();
    for path in all_sources() {
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        if ["tests", "mod", "lib", "main"].contains(&stem.as_str())
            || stem.ends_with("_tests")
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
        "not in doc/nbgen.md's module table: {missing:?}"
    );
}

/// A README for each reader: README.md short (what this is, the two commands, where each reader
/// goes), the users' README published with the overlay, the maintainers' and the test suite's
/// beside them.
#[test]
fn each_reader_has_a_readme_and_the_top_one_is_short() {
    let top = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    assert!(
        top.lines().count() <= 150,
        "README.md has {} lines",
        top.lines().count()
    );
    for other in ["overlay/README", "doc/nbgen.md", "ci/README"] {
        assert!(top.contains(other), "README.md does not point to {other}");
        assert!(repo_root().join(other).is_file(), "{other} is missing");
    }
    // The users' README is a file of the generated overlay, so the published overlay carries it.
    assert!(repo_root()
        .join("generator/verbatim/overlay/README")
        .is_file());
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

/// What `nbgen test` runs (stage builders, the fixture kernel writer, the real kernel preparation,
/// the stand-in distfiles) lives in testkit/, which the product owns: no source names a script
/// under ci/, which holds only what CI runs. Data under ci/ (matrices, the shared inputs table)
/// may be named.
#[test]
fn no_source_runs_a_script_under_ci() {
    let literal = regex::Regex::new(r#""(ci/[^"]+)""#).unwrap();
    let mut scripts = Vec::new();
    for path in all_sources() {
        let text = std::fs::read_to_string(&path).unwrap();
        for c in literal.captures_iter(&text) {
            let target = repo_root().join(&c[1]);
            let executable = std::fs::metadata(&target)
                .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0)
                .unwrap_or(false);
            if executable && target.is_file() {
                scripts.push(format!("{}: {}", path.display(), &c[1]));
            }
        }
    }
    assert!(
        scripts.is_empty(),
        "sources naming scripts under ci/: {scripts:?}"
    );
    for s in [
        "make-stage",
        "make-era-stage",
        "make-kernel",
        "make-standins",
        "real-kernel/prepare",
    ] {
        assert!(repo_root().join("testkit").join(s).is_file(), "testkit/{s}");
    }
}

/// One harness: what ran stages from shell (in-stage, the ebuild and nb-local-pin tests) is gone,
/// its cases are matrix entries and Rust tests, and ci/ keeps its shell short.
#[test]
fn ci_holds_at_most_4000_lines_of_shell_and_no_second_harness() {
    for gone in [
        "ci/in-stage",
        "testkit/in-stage",
        "ci/ebuild-tests/run",
        "ci/local-pin-tests/run",
    ] {
        assert!(!repo_root().join(gone).exists(), "{gone} is back");
    }
    let mut lines = 0;
    let mut files = Vec::new();
    let mut dirs = vec![repo_root().join("ci")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let first = text.lines().next().unwrap_or_default();
            let shell = path.extension().is_some_and(|e| e == "sh")
                || (first.starts_with("#!") && (first.ends_with("sh") || first.contains("bash")));
            if shell {
                lines += text.lines().count();
                files.push(path);
            }
        }
    }
    assert!(
        files.len() > 10,
        "the walk found {} shell files",
        files.len()
    );
    assert!(
        lines <= 4000,
        "ci/ holds {lines} lines of shell in {} files",
        files.len()
    );
}
