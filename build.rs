//! Rebuilds the crate when a migration changes: `diesel_migrations::embed_migrations!` embeds
//! `migrations/` at compile time, and cargo does not watch that folder by itself (Diesel's own
//! advice).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
