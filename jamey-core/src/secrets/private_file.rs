//! Private files on disk for the secrets store: created with mode 0600, replaced atomically
//! (temporary file, fsync, rename), and read with "absent" as a normal answer.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{random_bytes, SecretError};

pub(crate) fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, SecretError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(SecretError::io("read", path, err)),
    }
}

/// Replaces `path` with `bytes`: a private temporary file in the same directory, flushed to disk,
/// then renamed over the old file, so a reader sees the old file or the new one, never a mix.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SecretError> {
    let temporary = write_private_temporary(path, bytes)?;
    if let Err(err) = fs::rename(&temporary, path) {
        remove_quietly(&temporary);
        return Err(SecretError::io("replace", path, err));
    }
    sync_parent(path);
    Ok(())
}

pub(crate) fn write_private_temporary(beside: &Path, bytes: &[u8]) -> Result<PathBuf, SecretError> {
    let directory = beside
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(directory)
        .map_err(|e| SecretError::io("create the directory", directory, e))?;
    let file_name = beside
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = directory.join(format!(
        ".{file_name}.{}.tmp",
        hex::encode(random_bytes::<6>()?)
    ));
    let written = create_private(&temporary).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    if let Err(err) = written {
        remove_quietly(&temporary);
        return Err(SecretError::io("write", temporary, err));
    }
    Ok(temporary)
}

/// Creates a new file readable and writable by its owner only.
fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path)?;
        // The umask can only narrow the mode; set it exactly anyway.
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
        Ok(file)
    }
    #[cfg(not(unix))]
    {
        options.open(path)
    }
}

pub(crate) fn remove_quietly(path: &Path) {
    if let Err(err) = fs::remove_file(path) {
        if err.kind() != io::ErrorKind::NotFound {
            tracing::warn!(path = %path.display(), error = %err, "could not remove a temporary secrets file");
        }
    }
}

/// Flushes the directory entry after a rename; best effort, as not every platform allows it.
pub(crate) fn sync_parent(path: &Path) {
    #[cfg(unix)]
    if let Some(directory) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if let Err(err) = File::open(directory).and_then(|dir| dir.sync_all()) {
            tracing::debug!(path = %directory.display(), error = %err, "could not sync the directory");
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

pub(crate) fn warn_if_shared(key_file: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(metadata) = fs::metadata(key_file) {
            let mode = metadata.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(path = %key_file.display(), mode = format_args!("{mode:o}"), "the secrets key file is readable by other users; run chmod 600 on it");
            }
        }
    }
    #[cfg(not(unix))]
    let _ = key_file;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn replacing_a_shared_file_leaves_a_private_one() -> anyhow::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("nested").join("secrets.enc");
        fs::create_dir_all(dir.path().join("nested"))?;
        fs::write(&path, b"old")?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644))?;

        write_atomically(&path, b"new")?;
        assert_eq!(fs::read(&path)?, b"new");
        assert_eq!(fs::metadata(&path)?.permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::read_dir(dir.path().join("nested"))?.count(), 1);
        Ok(())
    }

    #[test]
    fn absent_is_none_and_a_directory_is_an_error() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        assert_eq!(read_optional(&dir.path().join("missing"))?, None);
        assert!(matches!(
            read_optional(dir.path()),
            Err(SecretError::Io { action: "read", .. })
        ));
        Ok(())
    }
}
