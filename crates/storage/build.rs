//! Rebuild when a migration changes, since they are embedded with `sqlx::migrate!`.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
