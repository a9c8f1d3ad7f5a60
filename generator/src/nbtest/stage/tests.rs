use super::*;

fn script(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("make-x-stage");
    fs::write(&path, body).unwrap();
    path
}

#[test]
fn a_stage_script_can_say_its_sources_are_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let s = script(
        dir.path(),
        "echo progress >&2\necho 'unavailable: bash-3.1.tar.xz: not in /x/era'\nexit 77\n",
    );
    let got = run_stage_script(dir.path(), &s, &[]).unwrap();
    assert_eq!(got, Err("bash-3.1.tar.xz: not in /x/era".to_string()));
    // Without a reason line the script is still named.
    let s = script(dir.path(), "exit 77\n");
    let why = run_stage_script(dir.path(), &s, &[]).unwrap().unwrap_err();
    assert!(why.contains("make-x-stage exited with 77"), "{why}");
}

#[test]
fn a_failing_stage_script_is_an_error_not_a_skip() {
    let dir = tempfile::tempdir().unwrap();
    let s = script(
        dir.path(),
        "echo 'unavailable: no'\necho broken >&2\nexit 1\n",
    );
    let err = run_stage_script(dir.path(), &s, &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("make-x-stage") && err.contains("broken"),
        "{err}"
    );
}

#[test]
fn a_stage_script_gets_its_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let s = script(dir.path(), "printf '%s|' \"$@\"\n");
    let args = ["2.1.1".to_string(), "no-pycrypto".to_string()];
    let got = run_stage_script(dir.path(), &s, &args).unwrap();
    assert_eq!(got, Ok("2.1.1|no-pycrypto|".to_string()));
}
