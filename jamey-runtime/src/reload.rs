//! Hot reload: watches `config.toml` and applies safe keys (log level, rate limits, keyword
//! weight, cache lifetimes) without a restart; other changes are logged as needing one. A file that does not
//! validate is logged and ignored: the running configuration stays.

use crate::config::RawConfig;
use crate::environment::Environment;
use crate::state::AppState;
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use std::time::Duration;

/// Changes arriving within this window are applied once.
const SETTLE: Duration = Duration::from_millis(150);

/// Starts watching; the watcher stops when the returned value is dropped.
pub fn watch_config(env: Environment, app: AppState) -> notify::Result<RecommendedWatcher> {
    let file = env.home.config_file();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let watched = file.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            if event
                .paths
                .iter()
                .any(|p| p.file_name() == watched.file_name())
            {
                let _ = tx.send(());
            }
        }
    })?;
    // The directory, not the file: editors and `jamey init --force` replace the file.
    watcher.watch(env.home.root(), RecursiveMode::NonRecursive)?;
    tokio::spawn(async move {
        while rx.recv().await.is_some() {
            tokio::time::sleep(SETTLE).await;
            while rx.try_recv().is_ok() {}
            let raw = RawConfig::from_file(&file).map(|mut raw| {
                raw.apply_env(&env.vars);
                raw
            });
            match raw.and_then(|raw| app.settings.replace_base(raw)) {
                Ok((old, new)) if old != new => {
                    tracing::info!(file = %file.display(), "configuration changed");
                    app.apply_live_settings(&old, &new);
                }
                Ok(_) => {}
                Err(error) => tracing::error!(%error, "ignoring the changed configuration file"),
            }
        }
    });
    Ok(watcher)
}
