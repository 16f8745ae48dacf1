//! `CredentialsCache`: `credentials.json` (token hashes and certificate revocations), re-read
//! when it changes, so a revocation applies without a restart.

use jamey_core::credentials::Credentials;
use parking_lot::RwLock;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// `credentials.json`, re-read when its modification time changes (checked at most once a second).
#[derive(Debug)]
pub struct CredentialsCache {
    path: PathBuf,
    state: RwLock<Cached>,
}

#[derive(Debug)]
struct Cached {
    credentials: Arc<Credentials>,
    modified: Option<SystemTime>,
    checked: Instant,
}

const RECHECK: Duration = Duration::from_secs(1);

impl CredentialsCache {
    pub fn open(path: PathBuf) -> Result<Self, jamey_core::credentials::CredentialsError> {
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        let credentials = Arc::new(Credentials::load(&path)?);
        Ok(Self {
            path,
            state: RwLock::new(Cached {
                credentials,
                modified,
                checked: Instant::now(),
            }),
        })
    }

    /// The current credentials, re-read if the file changed.
    pub fn current(&self) -> Arc<Credentials> {
        {
            let cached = self.state.read();
            if cached.checked.elapsed() < RECHECK {
                return cached.credentials.clone();
            }
        }
        let mut cached = self.state.write();
        cached.checked = Instant::now();
        let modified = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok();
        if modified != cached.modified {
            match Credentials::load(&self.path) {
                Ok(fresh) => {
                    tracing::info!(path = %self.path.display(), "credentials reloaded");
                    cached.credentials = Arc::new(fresh);
                    cached.modified = modified;
                }
                // Keep serving with what we had: a half-written file must not lock everyone out.
                Err(error) => {
                    tracing::warn!(%error, "cannot reload credentials; keeping the previous ones")
                }
            }
        }
        cached.credentials.clone()
    }
}
