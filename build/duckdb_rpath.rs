//! Build script of every package whose binaries or tests link DuckDB (queryd, ingestd and the
//! end-to-end tests, which link their libraries): it stops early, with the fix, when DuckDB's
//! release library is missing, and gives the binaries an rpath so they find it without
//! environment variables (docs/duckdb.md).

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");
    let dir = std::env::var("DUCKDB_LIB_DIR").unwrap_or_default();
    let lib = Path::new(&dir).join("libduckdb.so");
    assert!(
        !dir.is_empty() && lib.is_file(),
        "DuckDB's release library is not at {}: run scripts/duckdb-lib.sh (docs/duckdb.md)",
        lib.display()
    );
    println!("cargo:rerun-if-changed={}", lib.display());
    // Next to the binary, then an installed layout (bin/ beside lib/, as deploy/ ships it), then
    // this checkout's copy for binaries and tests run from the target directory.
    println!("cargo:rustc-link-arg=-Wl,-rpath,$ORIGIN:$ORIGIN/../lib:{dir}");
}
