//! `Settings`: the configuration in effect, the file and environment layer with the runtime
//! overrides on top. Shared by the handlers, the reload watcher and the orchestrator.

use super::overrides::ConfigOverrides;
use super::raw::RawConfig;
use super::validate::Config;
use super::ConfigError;
use parking_lot::RwLock;

/// The configuration as it stands: the file and environment layer plus runtime overrides.
#[derive(Debug)]
pub struct Settings {
    inner: RwLock<SettingsInner>,
    terminal: bool,
}

#[derive(Debug)]
struct SettingsInner {
    base: RawConfig,
    overrides: ConfigOverrides,
    effective: Config,
}

impl Settings {
    pub fn new(base: RawConfig, effective: Config, terminal: bool) -> Self {
        Self {
            inner: RwLock::new(SettingsInner {
                base,
                overrides: ConfigOverrides::default(),
                effective,
            }),
            terminal,
        }
    }

    pub fn current(&self) -> Config {
        self.inner.read().effective.clone()
    }

    pub fn overrides(&self) -> ConfigOverrides {
        self.inner.read().overrides.clone()
    }

    /// Validates `base` (file + environment) with the current overrides on top; on success it
    /// becomes the configuration. Returns (old, new).
    pub fn replace_base(&self, base: RawConfig) -> Result<(Config, Config), ConfigError> {
        let mut inner = self.inner.write();
        let mut layered = base.clone();
        layered.apply_overrides(&inner.overrides);
        let next = layered.validate(self.terminal)?;
        let old = std::mem::replace(&mut inner.effective, next.clone());
        inner.base = base;
        Ok((old, next))
    }

    /// Merges `patch` into the runtime overrides. Returns (old, new).
    pub fn apply_overrides(
        &self,
        patch: &ConfigOverrides,
    ) -> Result<(Config, Config), ConfigError> {
        let mut inner = self.inner.write();
        let overrides = inner.overrides.merged(patch);
        let mut layered = inner.base.clone();
        layered.apply_overrides(&overrides);
        let next = layered.validate(self.terminal)?;
        let old = std::mem::replace(&mut inner.effective, next.clone());
        inner.overrides = overrides;
        Ok((old, next))
    }
}
