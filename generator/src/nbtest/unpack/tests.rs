use super::*;

#[test]
fn magic_bytes_decide() {
    assert_eq!(detect(&[0x1f, 0x8b, 8, 0]), Compression::Gzip);
    assert_eq!(detect(b"BZh91AY"), Compression::Bzip2);
    assert_eq!(detect(&[0xfd, b'7', b'z', b'X', b'Z', 0]), Compression::Xz);
    assert_eq!(detect(b"etc/"), Compression::None);
    assert_eq!(detect(b""), Compression::None);
}

#[test]
fn archive_paths() {
    assert_eq!(archive_path(b"./usr/bin/").unwrap(), Path::new("usr/bin"));
    assert_eq!(archive_path(b"./").unwrap(), Path::new(""));
    assert!(archive_path(b"/etc/passwd").is_err());
    assert!(archive_path(b"usr/../../x").is_err());
}

#[test]
fn a_complete_copy_is_marked_used_when_it_is_served_again() {
    let dir = tempfile::tempdir().unwrap();
    let sha512 = "c".repeat(128);
    let made = into_digest_dir(&sha512, dir.path(), |staging| {
        fs::create_dir_all(staging).at(staging)
    })
    .unwrap();
    let week_ago = SystemTime::now() - Duration::from_secs(7 * 86400);
    File::open(&made).unwrap().set_modified(week_ago).unwrap();
    let again = into_digest_dir(&sha512, dir.path(), |_| panic!("complete: not made again"));
    assert_eq!(again.unwrap(), made);
    let modified = fs::metadata(&made).unwrap().modified().unwrap();
    assert!(
        modified > week_ago + Duration::from_secs(86400),
        "{modified:?}"
    );
}
