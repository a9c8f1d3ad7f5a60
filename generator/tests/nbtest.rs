//! `nbgen test`: engine detection and its errors, and real builds in containers (podman and
//! bwrap) including a deliberately broken ebuild. The builds need root, podman and the stage that
//! testkit/make-stage builds; `ci/test` sets NBGEN_REQUIRE_TOOLS=1 so that they cannot be skipped there.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::repo_root;

fn nbgen(args: &[&str], path_env: Option<&Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nbgen"));
    cmd.args(args)
        .arg("--manifest-path")
        .arg(repo_root().join("Cargo.toml"));
    if let Some(p) = path_env {
        cmd.env("PATH", p);
    }
    cmd.output().unwrap()
}

/// A PATH holding only cargo (nbgen asks it where the workspace is) and the given scripts.
fn bare_path(dir: &Path, scripts: &[(&str, &str)]) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let cargo = which("cargo").expect("cargo on PATH");
    std::os::unix::fs::symlink(cargo, bin.join("cargo")).unwrap();
    for (name, body) in scripts {
        let p = bin.join(name);
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn no_engine_lists_what_was_tried() {
    let dir = tempfile::tempdir().unwrap();
    let bin = bare_path(dir.path(), &[]);
    let results = dir.path().join("results");
    let out = nbgen(
        &[
            "test",
            "--results",
            results.to_str().unwrap(),
            "--cache",
            dir.path().join("cache").to_str().unwrap(),
        ],
        Some(&bin),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    for tried in [
        "podman: podman not found",
        "docker: docker not found",
        "bwrap: bwrap not found",
    ] {
        assert!(err.contains(tried), "{err}");
    }
    assert!(err.contains("apt-get install podman runc"), "{err}");
}

#[test]
fn an_engine_that_fails_is_named_with_its_message() {
    let dir = tempfile::tempdir().unwrap();
    let bin = bare_path(
        dir.path(),
        &[("docker", "#!/bin/sh\necho 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock' >&2\nexit 1\n")],
    );
    let out = nbgen(
        &[
            "test",
            "--engine",
            "docker",
            "--results",
            dir.path().join("r").to_str().unwrap(),
            "--cache",
            dir.path().join("c").to_str().unwrap(),
        ],
        Some(&bin),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("docker: docker is installed but failed: Cannot connect to the Docker daemon"),
        "{err}"
    );
}

#[test]
fn unknown_entry_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = nbgen(
        &[
            "test",
            "--entry",
            "no-such-entry",
            "--results",
            dir.path().to_str().unwrap(),
        ],
        None,
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("matrix-local.toml: no entry \"no-such-entry\""),
        "{err}"
    );
}

/// Real builds need root and podman (ci/install-deps); skipped loudly elsewhere, never under
/// NBGEN_REQUIRE_TOOLS.
fn can_build() -> bool {
    let root = unsafe { libc::geteuid() } == 0;
    if root && which("podman").is_some() && which("bwrap").is_some() {
        return true;
    }
    if std::env::var_os("NBGEN_REQUIRE_TOOLS").is_some() {
        panic!("nbgen test needs root, podman and bwrap: run ci/install-deps as root");
    }
    eprintln!("SKIPPED: container builds need root, podman and bwrap (ci/install-deps)");
    false
}

fn summary(results: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(results.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn a_broken_ebuild_fails_its_entry_and_points_at_the_log() {
    if !can_build() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    let entry = "linux-2.4.27-up-fixture";
    // A first run writes the overlay it tests (with the stand-ins pinned) next to the results.
    // Its results directory is relative, which podman would take for a volume name.
    let out = Command::new(env!("CARGO_BIN_EXE_nbgen"))
        .args([
            "test",
            "--entry",
            entry,
            "--results",
            "results",
            "--engine",
            "podman",
        ])
        .arg("--manifest-path")
        .arg(repo_root().join("Cargo.toml"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let broken = dir.path().join("broken-overlay");
    let status = Command::new("cp")
        .arg("-a")
        .arg(results.join(".overlay"))
        .arg(&broken)
        .status()
        .unwrap();
    assert!(status.success());
    let ebuild = broken.join("sys-block/qla2x00-driver/qla2x00-driver-7.00.01.ebuild");
    let text = std::fs::read_to_string(&ebuild).unwrap();
    let text = text.replacen(
        "src_install() {\n",
        "src_install() {\n\tdie \"deliberately broken for nbgen's test\"\n",
        1,
    );
    std::fs::write(&ebuild, &text).unwrap();
    // The Manifest is thick: portage refuses an ebuild whose EBUILD line does not match it, so the
    // broken ebuild gets its own line, as a maintainer's regen would write it (today's portage, the
    // stage's, reads only the Manifest2 lines).
    let manifest = broken.join("sys-block/qla2x00-driver/Manifest");
    let name = "qla2x00-driver-7.00.01.ebuild";
    let line = nbgen::regen::manifest::entry_line(
        nbgen::regen::manifest::Kind::Ebuild,
        name,
        &nbgen::regen::manifest::measure_bytes(text.as_bytes()),
    );
    let lines: Vec<String> = std::fs::read_to_string(&manifest)
        .unwrap()
        .lines()
        .map(|l| {
            if l.starts_with(&format!("EBUILD {name} ")) {
                line.clone()
            } else {
                l.to_string()
            }
        })
        .collect();
    assert!(lines.contains(&line));
    std::fs::write(&manifest, lines.join("\n") + "\n").unwrap();

    let results2 = dir.path().join("results2");
    let out = nbgen(
        &[
            "test",
            "--entry",
            entry,
            "--results",
            results2.to_str().unwrap(),
            "--engine",
            "podman",
            "--overlay",
            broken.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("0 passed, 1 failed"), "{stdout}");
    let s = summary(&results2);
    let e = &s["entries"][0];
    assert_eq!(e["status"], "failed", "{s}");
    assert_eq!(e["failure"]["phase"], "install", "{s}");
    let log = PathBuf::from(e["failure"]["log"].as_str().unwrap());
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(
        log_text.contains("deliberately broken for nbgen's test"),
        "{}",
        log.display()
    );
    let junit = std::fs::read_to_string(results2.join("junit.xml")).unwrap();
    assert!(junit.contains("<failure"), "{junit}");
}

#[test]
fn bwrap_engine_builds_an_entry_too() {
    if !can_build() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    let out = nbgen(
        &[
            "test",
            "--entry",
            "linux-2.6.18-fixture",
            "--engine",
            "bwrap",
            "--results",
            results.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stderr(&out),
        String::from_utf8_lossy(&out.stdout)
    );
    let s = summary(&results);
    assert_eq!(s["entries"][0]["status"], "passed", "{s}");
    let contents =
        results.join("linux-2.6.18-fixture/out/contents/sys-block:qla2x00-driver-8.01.07.CONTENTS");
    let text = std::fs::read_to_string(&contents).unwrap();
    assert!(
        text.contains("/lib/modules/2.6.18-fixture/qla2x00-driver/intermodule.ko"),
        "{text}"
    );
}

/// Fetch failures fail their entries, in their own phase, and the reports are still written.
#[test]
fn a_failed_fetch_fails_its_entries_and_the_reports_are_still_written() {
    let dir = tempfile::tempdir().unwrap();
    let (bin, stage) = idle_engine_and_stage(dir.path());
    let missing = dir.path().join("missing");
    // Downloads come from a server on 127.0.0.1 that has none of them (404 is not retried).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            use std::io::{BufRead, Write};
            let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    let matrix = dir.path().join("matrix.toml");
    std::fs::write(
        &matrix,
        format!(
            r#"[defaults]
packages = ["app-backup/netbackup-support"]
profile = "default/linux/amd64"

[stage]
path = "{stage}"

[snapshot]
url = "{server}/portage-20061201.tar.bz2"

[[entry]]
name = "kernel-missing"
kernel = {{ url = "{server}/linux-2.6.18.tar.bz2" }}
fragments = ["common.config", "2.6.config"]

[[entry]]
name = "stage-missing-fixture"
kernel = {{ fixture = {{ version = "2.6.18", smp = true, intermodule = "built" }} }}
fragments = ["common.config", "2.6.config"]
fixture = true
[entry.stage]
path = "{missing}/stage3.tar.bz2"

[[entry]]
name = "snapshot-missing-fixture"
kernel = {{ fixture = {{ version = "2.6.18", smp = true, intermodule = "built" }} }}
fragments = ["common.config", "2.6.config"]
fixture = true
"#,
            stage = stage.display(),
            missing = missing.display(),
        ),
    )
    .unwrap();
    let results = dir.path().join("results");
    let out = nbgen(
        &[
            "test",
            "--engine",
            "docker",
            "--matrix",
            matrix.to_str().unwrap(),
            "--results",
            results.to_str().unwrap(),
            "--cache",
            dir.path().join("cache").to_str().unwrap(),
        ],
        Some(&bin),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("unexpected: docker"), "{err}");
    let v = summary(&results);
    let entries = v["entries"].as_array().unwrap();
    let phase = |name: &str| {
        let e = entries
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("no result for {name}: {v}"));
        assert_eq!(e["status"], "failed", "{e}");
        e["failure"]["phase"].as_str().unwrap().to_string()
    };
    assert_eq!(phase("kernel-missing"), "fetch-kernel");
    assert_eq!(phase("stage-missing-fixture"), "fetch-stage");
    assert_eq!(phase("snapshot-missing-fixture"), "fetch-snapshot");
    // Each log holds the error that names the missing file.
    let log = std::fs::read_to_string(results.join("kernel-missing/fetch-kernel.log")).unwrap();
    assert!(log.contains("linux-2.6.18.tar.bz2"), "{log}");
    let log =
        std::fs::read_to_string(results.join("stage-missing-fixture/fetch-stage.log")).unwrap();
    assert!(log.contains("stage3.tar.bz2"), "{log}");
    let junit = std::fs::read_to_string(results.join("junit.xml")).unwrap();
    assert!(junit.contains("fetch-snapshot"), "{junit}");
}

/// The bwrap engine runs builds in the sandbox of generator/sandbox/bwrap.args (`nbgen stage run`
/// too): nothing of the host's environment, no CAP_SYS_MODULE (bit 16) or CAP_SYS_ADMIN (bit 21).
#[test]
fn bwrap_engine_clears_the_environment_and_drops_capabilities() {
    use nbgen::nbtest::engine::{Engine, Kind, Mount};
    if !can_build() {
        return;
    }
    let (tarball, sha512) =
        nbgen::nbtest::stage::script_stage(&repo_root(), Path::new("testkit/make-stage"), &[])
            .unwrap()
            .expect("testkit/make-stage builds the stage here");
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::detect(Some(Kind::Bwrap), &dir.path().join("cache")).unwrap();
    let image = engine.prepare(&tarball, &sha512).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let mounts = [Mount {
        host: out.clone(),
        guest: "/out".into(),
        writable: true,
    }];
    let script = "printf '%s' \"${NBGEN_TEST_HOST_VAR-unset}\" >/out/env; \
                  sed -n 's/^CapEff:[[:space:]]*//p' /proc/self/status >/out/caps";
    let log = dir.path().join("log");
    // The variable is set for nbgen's own process, which the sandbox must not pass on.
    std::env::set_var("NBGEN_TEST_HOST_VAR", "from the host");
    let rc = engine.run(&image, &mounts, script, &log).unwrap();
    assert_eq!(rc, 0, "{}", std::fs::read_to_string(&log).unwrap());
    assert_eq!(std::fs::read_to_string(out.join("env")).unwrap(), "unset");
    let caps = u64::from_str_radix(
        std::fs::read_to_string(out.join("caps")).unwrap().trim(),
        16,
    )
    .unwrap();
    assert_eq!(caps & (1 << 16), 0, "CAP_SYS_MODULE kept: {caps:x}");
    assert_eq!(caps & (1 << 21), 0, "CAP_SYS_ADMIN kept: {caps:x}");
    assert_ne!(caps, 0, "root inside keeps its other capabilities");
}

/// A PATH whose docker answers and has every image, so that nothing may reach a container, and a
/// stage tarball holding only /etc.
fn idle_engine_and_stage(dir: &Path) -> (PathBuf, PathBuf) {
    let bin = bare_path(
        dir,
        &[(
            "docker",
            "#!/bin/sh\ncase \"$1\" in info|image) exit 0;; esac\necho \"unexpected: docker $*\" >&2\nexit 9\n",
        )],
    );
    let stage = dir.join("stage.tar");
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    h.set_size(0);
    b.append_data(&mut h, "./etc/", &b""[..]).unwrap();
    std::fs::write(&stage, b.into_inner().unwrap()).unwrap();
    (bin, stage)
}

/// The shared directory's rule inside `nbgen test` (formerly ci/matrix-real-tests' first two
/// scenarios), with an engine that may start no container: without the shared file the entry is
/// SKIPPED, its reason naming the file, NB_SHARED and `nbgen shared fetch`; with a file of other
/// content it FAILS in phase shared-file, its log naming the digest ci/shared-inputs.toml pins.
/// The real run of ci/matrix-real.toml is ci/test's.
#[test]
fn a_shared_file_missing_skips_and_one_with_other_content_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (bin, stage) = idle_engine_and_stage(dir.path());
    let matrix = dir.path().join("matrix.toml");
    std::fs::write(
        &matrix,
        format!(
            r#"[stage]
path = "{}"

[[entry]]
name = "real-source-fixture"
kernel = {{ fixture = {{ version = "2.6.18", smp = true, intermodule = "built" }} }}
fragments = ["common.config", "2.6.config"]
packages = [">=sys-block/qla2x00-driver-8"]
profile = "default/linux/amd64"
distfiles = [{{ name = "qla2xxx-v8.01.07-dist.tgz", path = "real/qla2xxx-8.01.07-src.tar.xz" }}]
fixture = true
"#,
            stage.display()
        ),
    )
    .unwrap();
    let run = |shared: &Path, results: &Path| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nbgen"));
        cmd.args(["test", "--engine", "docker", "--matrix"])
            .arg(&matrix)
            .arg("--results")
            .arg(results)
            .arg("--cache")
            .arg(dir.path().join("cache"))
            .arg("--manifest-path")
            .arg(repo_root().join("Cargo.toml"))
            .env("PATH", &bin)
            .env("NB_SHARED", shared);
        cmd.output().unwrap()
    };
    // Missing: SKIPPED, with the reason, and nbgen test exits 0.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let results = dir.path().join("skip");
    let out = run(&empty, &results);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let e = &summary(&results)["entries"][0];
    assert_eq!(e["status"], "skipped", "{e}");
    let why = e["skip_reason"].as_str().unwrap();
    for part in [
        format!("{}/real/qla2xxx-8.01.07-src.tar.xz", empty.display()),
        format!("NB_SHARED={}", empty.display()),
        "nbgen shared fetch --into".to_string(),
    ] {
        assert!(why.contains(&part), "{part} not in {why}");
    }
    // Other content (one changed byte in one file of a tar.xz): FAILED in phase shared-file.
    let bad = dir.path().join("bad");
    let archive = bad.join("real/qla2xxx-8.01.07-src.tar.xz");
    std::fs::create_dir_all(archive.parent().unwrap()).unwrap();
    let xz = xz2::write::XzEncoder::new(std::fs::File::create(&archive).unwrap(), 1);
    let mut b = tar::Builder::new(xz);
    let mut h = tar::Header::new_gnu();
    h.set_size(2);
    h.set_mode(0o644);
    b.append_data(&mut h, "qla2xxx-8.01.07/qla_os.c", &b"x\n"[..])
        .unwrap();
    b.into_inner().unwrap().finish().unwrap();
    let results = dir.path().join("bad-results");
    let out = run(&bad, &results);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("unexpected: docker"), "{err}");
    let e = &summary(&results)["entries"][0];
    assert_eq!(e["status"], "failed", "{e}");
    assert_eq!(e["failure"]["phase"], "shared-file", "{e}");
    let table =
        nbgen::nbtest::shared_inputs::table::load(&repo_root().join("ci/shared-inputs.toml"))
            .unwrap();
    let pinned =
        &nbgen::nbtest::shared_inputs::table::find(&table, "real/qla2xxx-8.01.07-src.tar.xz")
            .unwrap()
            .content;
    let log = std::fs::read_to_string(e["failure"]["log"].as_str().unwrap()).unwrap();
    assert!(log.contains(pinned.as_str()), "{log}");
}
