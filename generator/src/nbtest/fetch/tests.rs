use super::*;

#[test]
fn expected_checks_algorithm_and_length() {
    let e = Expected::new("SHA256", &"A".repeat(64)).unwrap();
    assert_eq!(e.algo(), Algo::Sha256);
    assert_eq!(e.hex(), "a".repeat(64));
    assert!(Expected::new("sha512", &"a".repeat(64)).is_err());
    assert!(Expected::new("md5", &"a".repeat(32)).is_err());
    // Anything but hex digits would become part of a cache path.
    assert!(Expected::new("sha256", &format!("../{}", "a".repeat(61))).is_err());
    let p = Expected::parse(&format!("sha512:{}", "b".repeat(128))).unwrap();
    assert_eq!(p.algo(), Algo::Sha512);
}

#[test]
fn backoff_doubles_up_to_the_cap() {
    let f = Fetcher::new(
        "/nonexistent",
        Options {
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
            ..Options::default()
        },
    );
    let waits: Vec<_> = (1..=4).map(|a| f.backoff(a).as_millis()).collect();
    assert_eq!(waits, [100, 200, 350, 350]);
}

#[test]
fn sources_are_classified() {
    assert!(matches!(
        Origin::parse("http://127.0.0.1/x").unwrap(),
        Origin::Http(_)
    ));
    assert!(matches!(
        Origin::parse("file:///tmp/x.tar").unwrap(),
        Origin::File(p) if p == Path::new("/tmp/x.tar")
    ));
    assert!(matches!(
        Origin::parse("stages/x.tar").unwrap(),
        Origin::File(p) if p == Path::new("stages/x.tar")
    ));
    let err = Origin::parse("ftp://example.invalid/x").err().unwrap();
    assert!(err.to_string().contains("unsupported URL scheme"), "{err}");
}

#[test]
fn default_cache_dir_ends_in_nbgen() {
    // Only the shape: the variables belong to whoever runs the tests.
    if let Some(dir) = default_cache_dir() {
        assert!(dir.is_absolute());
        assert!(dir.ends_with("nbgen"));
    }
}

#[test]
fn a_cache_hit_marks_the_file_used_and_the_run_records_it() {
    let cache = tempfile::tempdir().unwrap();
    let body = b"a stage tarball";
    let hex = hex::encode(Sha512::digest(body));
    let expected = Expected::new("sha512", &hex).unwrap();
    let f = Fetcher::new(cache.path(), Options::default());
    let path = f.cache_path(&expected);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, body).unwrap();
    let week_ago = std::time::SystemTime::now() - Duration::from_secs(7 * 86400);
    File::open(&path).unwrap().set_modified(week_ago).unwrap();
    // No source is read on a hit: a path that does not exist proves it.
    assert_eq!(f.fetch("/nonexistent/stage.tar", &expected).unwrap(), path);
    let modified = fs::metadata(&path).unwrap().modified().unwrap();
    assert!(
        modified > week_ago + Duration::from_secs(86400),
        "{modified:?}"
    );
    assert_eq!(f.used(), [hex[..16].to_string()].into());
}
