// The templates and verbatim files are embedded with include_dir!, which cargo cannot see: rebuild
// when they change.
fn main() {
    println!("cargo:rerun-if-changed=templates");
    println!("cargo:rerun-if-changed=verbatim");
}
