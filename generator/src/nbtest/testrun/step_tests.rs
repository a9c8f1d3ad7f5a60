//! The steps after the emerges (emerge --config) and fixture .config edits.

use super::tests::{entry, expect_dir};
use super::*;

#[test]
fn set_config_replaces_the_option_and_its_not_set_comment() {
    let config = "CONFIG_SCSI=y\n# CONFIG_SCSI_QLA2XXX is not set\nCONFIG_CHR_DEV_SG=m\n";
    assert_eq!(
        edited_config(
            config,
            &["CONFIG_CHR_DEV_SG".into()],
            &["CONFIG_SCSI_QLA2XXX=m".into(), "CONFIG_SCSI=m".into()]
        ),
        "CONFIG_SCSI_QLA2XXX=m\nCONFIG_SCSI=m\n"
    );
}

#[test]
fn config_steps_are_judged_after_the_packages_by_their_own_rows() {
    let dir = expect_dir();
    fs::write(
        dir.path().join("out/packages.tsv"),
        "sys-libs/lib-compat\t0\t2\n--config sys-libs/lib-compat\t1\t1\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("out/logs/2.emerge.log"),
        " * ERROR: there is no /etc/qla2xxx.conf\n",
    )
    .unwrap();
    let steps = |extra: &str| -> Vec<(String, Outcome, Option<String>)> {
        collect_packages(&entry(extra), dir.path())
            .into_iter()
            .map(|r| (r.atom, r.outcome, r.failure.map(|f| f.phase)))
            .collect()
    };
    let ok = ("sys-libs/lib-compat".to_string(), Outcome::Passed, None);
    let step = "--config sys-libs/lib-compat".to_string();
    // Must succeed: the failed run fails the entry.
    assert_eq!(
        steps(r#"config = { atoms = ["sys-libs/lib-compat"] }"#),
        [
            ok.clone(),
            (step.clone(), Outcome::Failed, Some("config".into()))
        ]
    );
    // Must be refused with a message its log says: passes.
    assert_eq!(
        steps(r#"config = { atoms = ["sys-libs/lib-compat"], refused = "no /etc/qla2xxx.conf" }"#),
        [ok.clone(), (step.clone(), Outcome::Passed, None)]
    );
    // Refused, but saying something else: fails.
    assert_eq!(
        steps(r#"config = { atoms = ["sys-libs/lib-compat"], refused = "not a file" }"#)[1].2,
        Some("refused-without-message".into())
    );
    // Portage 2.0 and 2.1 exit 0 when pkg_config dies; the banner says it failed.
    fs::write(
        dir.path().join("out/packages.tsv"),
        "sys-libs/lib-compat\t0\t2\n--config sys-libs/lib-compat\t0\t1\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("out/logs/2.emerge.log"),
        "!!! ERROR: sys-libs/lib-compat-1.4 failed.\n!!! there is no /etc/qla2xxx.conf\n",
    )
    .unwrap();
    assert_eq!(
        steps(r#"config = { atoms = ["sys-libs/lib-compat"] }"#)[1].1,
        Outcome::Failed
    );
    assert_eq!(
        steps(r#"config = { atoms = ["sys-libs/lib-compat"], refused = "no /etc/qla2xxx.conf" }"#)
            [1],
        (step.clone(), Outcome::Passed, None)
    );
    fs::write(
        dir.path().join("out/logs/2.emerge.log"),
        " * ERROR: sys-libs/lib-compat-1.4::nb-overlay failed (config phase):\n",
    )
    .unwrap();
    assert_eq!(
        steps(r#"config = { atoms = ["sys-libs/lib-compat"] }"#)[1].1,
        Outcome::Failed
    );
    // Never run (the container stopped first): not run, not passed.
    fs::write(
        dir.path().join("out/packages.tsv"),
        "sys-libs/lib-compat\t0\t2\n",
    )
    .unwrap();
    assert_eq!(
        steps(r#"config = { atoms = ["sys-libs/lib-compat"] }"#)[1].1,
        Outcome::NotRun
    );
}
