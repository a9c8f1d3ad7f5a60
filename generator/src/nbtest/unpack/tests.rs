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
