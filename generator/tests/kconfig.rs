//! `nbgen kconfig check|merge` run as a user runs them, on the fixture configs in
//! tests/fixtures/kconfig/ and the real kernel-fragments/ of this workspace.

use std::path::{Path, PathBuf};

use nbgen::kconfig;

mod common;
use common::{repo_root, run_in};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kconfig")
}

/// Runs nbgen in the fixture directory (so messages name fixtures by their short names) against
/// this workspace, and asserts the exit code. Returns (stdout, stderr).
fn nbgen_in(dir: &Path, args: &[&str], code: i32) -> (String, String) {
    run_in(dir, &repo_root().join("Cargo.toml"), args, code)
}

fn nbgen(args: &[&str], code: i32) -> (String, String) {
    nbgen_in(&fixtures(), args, code)
}

/// The line `check` prints for an option of a shipped fragment, built from the fragment itself so
/// that rewording a reason does not break the test, while the format is still pinned exactly.
fn shipped_line(option: &str, want: &str, found: &str) -> String {
    for name in ["common.config", "2.4.config", "2.6.config"] {
        let source = format!("kernel-fragments/{name}");
        let f = kconfig::read(&repo_root().join(&source), &source).unwrap();
        if let Some(e) = f.get(option) {
            return format!(
                "CONFIG_{option}: want {want}, found {found}: {} [{source}:{}]",
                e.why.as_deref().unwrap(),
                e.line
            );
        }
    }
    panic!("no shipped fragment sets CONFIG_{option}");
}

#[test]
fn a_good_2_6_config_satisfies_the_shipped_fragments() {
    let (out, _) = nbgen(&["kconfig", "check", "fixture-2.6-good.config"], 0);
    assert_eq!(out, "fixture-2.6-good.config: all 13 options satisfied\n");
}

#[test]
fn a_good_2_4_config_satisfies_the_shipped_fragments() {
    let (out, _) = nbgen(&["kconfig", "check", "fixture-2.4-good.config"], 0);
    assert_eq!(out, "fixture-2.4-good.config: all 9 options satisfied\n");
}

#[test]
fn the_series_flag_picks_the_fragment_when_the_header_cannot() {
    nbgen(&["kconfig", "check", "fixture-no-series.config"], 2);
    let (out, _) = nbgen(
        &[
            "kconfig",
            "check",
            "fixture-no-series.config",
            "--series",
            "2.6",
        ],
        1,
    );
    assert!(
        out.ends_with("fixture-no-series.config: lacks 4 of 13 options\n"),
        "{out}"
    );
}

#[test]
fn a_lacking_config_lists_each_option_with_its_reason() {
    let (out, _) = nbgen(&["kconfig", "check", "fixture-2.6-lacking.config"], 1);
    let expected = [
        shipped_line("SYSVIPC", "y or m", "not set"),
        shipped_line("CHR_DEV_SG", "y or m", "absent"),
        shipped_line("SCSI_MULTI_LUN", "y or m", "not set"),
        shipped_line("SCSI_QLA_FC", "not set", "m"),
        "fixture-2.6-lacking.config: lacks 4 of 13 options".to_string(),
    ];
    assert_eq!(out.lines().collect::<Vec<_>>(), expected);
}

#[test]
fn explicit_fragments_replace_the_shipped_ones_and_the_last_wins() {
    let (out, _) = nbgen(
        &[
            "kconfig",
            "check",
            "fixture-2.6-lacking.config",
            "--fragments",
            "fixture-fragment-scsi.config",
            "fixture-fragment-noqla.config",
        ],
        1,
    );
    assert_eq!(
        out,
        "CONFIG_CHR_DEV_SG: want y or m, found absent: built in after all; the last fragment wins [fixture-fragment-noqla.config:7]\n\
         CONFIG_SCSI_MULTI_LUN: want y or m, found not set: all LUNs [fixture-fragment-scsi.config:10]\n\
         CONFIG_SCSI_QLA_FC: want not set, found m: QLogic's own driver instead [fixture-fragment-noqla.config:4]\n\
         CONFIG_SYSVIPC: want y or m, found not set: NetBackup's shared memory [fixture-fragment-noqla.config:10]\n\
         fixture-2.6-lacking.config: lacks 4 of 5 options\n"
    );
}

#[test]
fn merge_writes_the_merged_config_and_reports_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("merged.config");
    let out_arg = out_path.to_str().unwrap();
    let (out, _) = nbgen(
        &[
            "kconfig",
            "merge",
            "fixture-2.6-lacking.config",
            "fixture-fragment-scsi.config",
            "fixture-fragment-noqla.config",
            "-o",
            out_arg,
        ],
        0,
    );
    assert_eq!(
        out,
        format!(
            "CONFIG_SCSI_MULTI_LUN: not set -> y [fixture-fragment-scsi.config:10]\n\
             CONFIG_SCSI_QLA_FC: m -> not set [fixture-fragment-noqla.config:4]\n\
             CONFIG_CHR_DEV_SG: m -> y [fixture-fragment-noqla.config:7]\n\
             CONFIG_SYSVIPC: not set -> y [fixture-fragment-noqla.config:10]\n\
             {out_arg}: written (4 overridden)\n"
        )
    );
    assert_eq!(
        std::fs::read_to_string(&out_path).unwrap(),
        "# nbgen test fixture, not a real kernel config: a 2.6.17-style .config that lacks several options.\n\
         #\n\
         # Automatically generated make config: don't edit\n\
         # Linux kernel version: 2.6.17\n\
         #\n\
         CONFIG_SYSVIPC=y\n\
         CONFIG_MODULES=y\n\
         CONFIG_SCSI=y\n\
         CONFIG_CHR_DEV_ST=m\n\
         CONFIG_SCSI_MULTI_LUN=y\n\
         # CONFIG_SCSI_QLA_FC is not set\n\
         # CONFIG_SCSI_QLA2XXX_EMBEDDED_FIRMWARE is not set\n\
         # why: built in after all; the last fragment wins\n\
         CONFIG_CHR_DEV_SG=y\n"
    );
    let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(entries.len(), 1, "a temporary file was left behind");
}

#[test]
fn merging_the_shipped_fragments_satisfies_check() {
    let dir = tempfile::tempdir().unwrap();
    let merged = dir.path().join("merged.config");
    let common = repo_root().join("kernel-fragments/common.config");
    let series = repo_root().join("kernel-fragments/2.6.config");
    let args = [
        "kconfig",
        "merge",
        "fixture-2.6-lacking.config",
        common.to_str().unwrap(),
        series.to_str().unwrap(),
        "-o",
        merged.to_str().unwrap(),
    ];
    nbgen(&args, 0);
    nbgen(&["kconfig", "check", merged.to_str().unwrap()], 0);
}

/// Bad input: exit 2, the message names the file (and line), and nothing is written.
fn refused(args: &[&str], expect: &[&str]) {
    let (_, err) = nbgen(args, 2);
    for e in expect {
        assert!(err.contains(e), "expected {e:?} in:\n{err}");
    }
}

#[test]
fn check_refuses_what_is_not_a_config() {
    refused(
        &["kconfig", "check", "fixture-not-a-config.config"],
        &["fixture-not-a-config.config:3: not .config syntax"],
    );
}

#[test]
fn check_asks_for_the_series_when_the_header_does_not_tell() {
    refused(
        &["kconfig", "check", "fixture-no-series.config"],
        &[
            "fixture-no-series.config: cannot tell the kernel series",
            "--series 2.4",
        ],
    );
}

#[test]
fn check_refuses_an_unknown_fragment() {
    refused(
        &[
            "kconfig",
            "check",
            "fixture-2.6-good.config",
            "--fragments",
            "no-such-fragment.config",
        ],
        &["no-such-fragment.config: cannot read"],
    );
}

fn merge_refused(base: &str, fragments: &[&str], expect: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.config");
    let mut args = vec!["kconfig", "merge", base];
    args.extend_from_slice(fragments);
    args.extend_from_slice(&["-o", out.to_str().unwrap()]);
    refused(&args, expect);
    assert!(!out.exists(), "output written despite bad input");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "something was left in the output directory"
    );
}

#[test]
fn merge_refuses_a_missing_base() {
    merge_refused(
        "no-such-base.config",
        &["fixture-fragment-scsi.config"],
        &["no-such-base.config: cannot read"],
    );
}

#[test]
fn merge_refuses_an_unknown_fragment() {
    merge_refused(
        "fixture-2.6-good.config",
        &["fixture-fragment-scsi.config", "no-such-fragment.config"],
        &["no-such-fragment.config: cannot read"],
    );
}

#[test]
fn merge_refuses_a_fragment_that_sets_an_option_twice() {
    merge_refused(
        "fixture-2.6-good.config",
        &["fixture-fragment-dup.config"],
        &["fixture-fragment-dup.config:7: CONFIG_CHR_DEV_SG is set twice (first at line 4)"],
    );
}

#[test]
fn merge_refuses_a_base_that_is_not_a_config() {
    merge_refused(
        "fixture-not-a-config.config",
        &["fixture-fragment-scsi.config"],
        &["fixture-not-a-config.config:3: not .config syntax"],
    );
}

#[test]
fn a_failed_merge_leaves_an_existing_output_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.config");
    std::fs::write(&out, "CONFIG_OLD=y\n").unwrap();
    refused(
        &[
            "kconfig",
            "merge",
            "fixture-2.6-good.config",
            "fixture-fragment-dup.config",
            "-o",
            out.to_str().unwrap(),
        ],
        &["fixture-fragment-dup.config:7:"],
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "CONFIG_OLD=y\n");
}
