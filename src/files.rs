//! Small file helpers shared by the actors and commands.

use std::path::Path;

/// Writes `bytes` to `path` atomically: a temporary file beside it (`<name>.tmp`) renamed over
/// it, so a reader sees the old content or the new, never half. Creates the directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
