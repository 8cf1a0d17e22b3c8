//! Finds the external tools the tests drive (grpcurl, buf), installing them on first use with
//! the project's own script, so `cargo test` needs no manual step.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

static INSTALL: Mutex<()> = Mutex::new(());

/// Returns the repository root (the directory holding the workspace `Cargo.toml`).
pub fn repo_root() -> PathBuf {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    while !dir.join("Cargo.lock").exists() && !dir.join(".git").exists() {
        if !dir.pop() {
            return PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        }
    }
    dir
}

/// Returns the path of grpcurl 1.8.6, installing it into `.tools/` when missing.
///
/// # Panics
/// Panics when the install script fails.
pub fn grpcurl() -> PathBuf {
    tool("grpcurl", &repo_root().join(".tools/venv/bin/grpcurl"))
}

fn tool(name: &str, installed: &Path) -> PathBuf {
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if installed.exists() {
        return installed.to_path_buf();
    }
    let script = repo_root().join("scripts/install-tools.sh");
    let status = Command::new("bash")
        .arg(&script)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        status.success(),
        "{} failed; {name} is needed",
        script.display()
    );
    assert!(
        installed.exists(),
        "{} did not install {name}",
        script.display()
    );
    installed.to_path_buf()
}
