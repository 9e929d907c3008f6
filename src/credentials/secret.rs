//! IO: a secret's current value. Literals and environment values are fixed; a file is read at start and read
//! again when it changes (checked at most once per [`RECHECK`]: a rotated Kubernetes Secret mount is used within a
//! second of the kubelet swapping it in). A file that can no longer be read keeps its last value, with a warning.
//!
//! Owns: reading and re-reading secret files, and [`FileStamp`], the change check shared with the TLS files. Does
//! not own: where a secret is used ([`super::profile`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::spec::SecretSpec;

/// How often a secret file is checked for a change, at most.
pub const RECHECK: Duration = Duration::from_secs(1);
/// Largest secret file read.
const MAX_SECRET_BYTES: u64 = 64 * 1024;

/// What identifies one version of a file: a rotation changes at least one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

impl FileStamp {
    /// The stamp of `path` now (following symbolic links, as a Secret mount's `..data` link is).
    pub fn of(path: &Path) -> std::io::Result<Self> {
        let metadata = std::fs::metadata(path)?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&metadata);
        #[cfg(not(unix))]
        let inode = 0;
        Ok(Self { modified: metadata.modified().ok(), len: metadata.len(), inode })
    }
}

/// A secret's value, shared by every request that uses it.
pub struct Secret {
    source: String,
    kind: Kind,
}

enum Kind {
    Fixed(Arc<str>),
    File { path: PathBuf, state: Mutex<FileState> },
}

struct FileState {
    value: Arc<str>,
    stamp: FileStamp,
    checked: Instant,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{}>)", self.source)
    }
}

impl Secret {
    /// The secret `spec` describes; a file is read now. The error names the file, never its content.
    pub fn load(spec: &SecretSpec) -> Result<Self, String> {
        let source = spec.source();
        let kind = match spec {
            SecretSpec::Literal(value) | SecretSpec::Env { value, .. } => Kind::Fixed(value.as_str().into()),
            SecretSpec::File(path) => {
                let (value, stamp) = read(path)?;
                Kind::File {
                    path: path.clone(),
                    state: Mutex::new(FileState { value, stamp, checked: Instant::now() }),
                }
            }
        };
        Ok(Self { source, kind })
    }

    /// The current value.
    pub fn value(&self) -> Arc<str> {
        let (path, state) = match &self.kind {
            Kind::Fixed(value) => return value.clone(),
            Kind::File { path, state } => (path, state),
        };
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.checked.elapsed() >= RECHECK {
            state.checked = Instant::now();
            match FileStamp::of(path) {
                Ok(stamp) if stamp == state.stamp => {}
                _ => match read(path) {
                    Ok((value, stamp)) => {
                        tracing::info!(file = %path.display(), "Secret file changed: using its new value.");
                        state.value = value;
                        state.stamp = stamp;
                    }
                    Err(problem) => tracing::warn!("{problem}; keeping the value read before"),
                },
            }
        }
        state.value.clone()
    }
}

/// Reads a secret file: its text without the trailing line break editors and `kubectl create secret` leave.
fn read(path: &Path) -> Result<(Arc<str>, FileStamp), String> {
    let stamp = FileStamp::of(path).map_err(|e| format!("secret file {}: {e}", path.display()))?;
    if stamp.len > MAX_SECRET_BYTES {
        return Err(format!("secret file {}: larger than {MAX_SECRET_BYTES} bytes", path.display()));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("secret file {}: {e}", path.display()))?;
    let value = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text);
    Ok((value.into(), stamp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotated_file_is_read_again_and_a_lost_one_keeps_its_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "first\n").unwrap();
        let secret = Secret::load(&SecretSpec::File(path.clone())).unwrap();
        assert_eq!(&*secret.value(), "first");
        // Rotate the way the kubelet does: a new file moved over the old name.
        let next = dir.path().join("key.new");
        std::fs::write(&next, "second\r\n").unwrap();
        std::fs::rename(&next, &path).unwrap();
        assert_eq!(&*secret.value(), "first", "not re-checked before RECHECK");
        std::thread::sleep(RECHECK + Duration::from_millis(50));
        assert_eq!(&*secret.value(), "second");
        std::fs::remove_file(&path).unwrap();
        std::thread::sleep(RECHECK + Duration::from_millis(50));
        assert_eq!(&*secret.value(), "second", "a file that disappeared keeps its last value");
    }

    #[test]
    fn errors_and_debug_name_the_source_never_the_value() {
        let missing = Secret::load(&SecretSpec::File("/nonexistent/secret".into())).unwrap_err();
        assert!(missing.contains("/nonexistent/secret"), "{missing}");
        let env = Secret::load(&SecretSpec::Env { name: "API_KEY".into(), value: "s3cr3t-value".into() }).unwrap();
        assert_eq!(&*env.value(), "s3cr3t-value");
        let shown = format!("{env:?}");
        assert!(shown.contains("API_KEY") && !shown.contains("s3cr3t"), "{shown}");
    }
}
