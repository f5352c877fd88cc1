//! Reading the server's log file (its stderr), for panic messages.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// The last `lines` lines of the log, or a note saying why there are none.
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(err) => return format!("(no server log at {}: {err})", path.display()),
    };
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Current length of the log: where the next start attempt's output begins.
pub(crate) fn len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |metadata| metadata.len())
}

/// Everything written to the log after `offset`.
pub(crate) fn since(path: &Path, offset: u64) -> String {
    let mut text = Vec::new();
    if let Ok(mut file) = std::fs::File::open(path)
        && file.seek(SeekFrom::Start(offset)).is_ok()
    {
        let _ = file.read_to_end(&mut text);
    }
    String::from_utf8_lossy(&text).into_owned()
}

/// A panic-message appendix: the log tail under a header.
pub(crate) fn appendix(path: &Path) -> String {
    format!("\n--- last lines of {} ---\n{}", path.display(), tail(path, 40))
}
