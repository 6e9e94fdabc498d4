//! Deployed launches an agent keeps on disk: the current manifest and the one before it,
//! switched by atomic renames, so a rollback is one rename away and an agent that
//! restarts brings its deployments back.

use super::protocol::Manifest;
use std::path::{Path, PathBuf};

/// Why a version could not be installed or rolled back.
#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    /// The launch id could name a file outside the directory.
    #[error("bad launch id `{0}`: letters, digits, `-`, `_` and `.` only, not starting with `.`")]
    BadLaunchId(String),
    /// Nothing to go back to.
    #[error("launch `{0}` has no previous version here")]
    NoPrevious(String),
    /// The manifest did not encode.
    #[error("cannot encode the manifest: {0}")]
    Encode(#[from] postcard::Error),
    /// The disk refused (full, read-only, ...).
    #[error("cannot {what} in {}: {source}", dir.display())]
    Disk {
        /// What was being done.
        what: &'static str,
        /// The deployments directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The deployments directory of an agent.
#[derive(Debug, Clone)]
pub struct Deployments {
    dir: PathBuf,
}

impl Deployments {
    /// Deployments under `dir` (created if missing).
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    fn file(&self, launch: &str, which: &str) -> Option<PathBuf> {
        let safe = !launch.is_empty()
            && launch
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && !launch.starts_with('.');
        safe.then(|| self.dir.join(format!("{launch}.{which}")))
    }

    /// Makes `manifest` current; the current one becomes the previous. Returns (new, previous) versions.
    pub fn install(
        &self,
        launch: &str,
        manifest: &Manifest,
    ) -> Result<(String, Option<String>), DeploymentError> {
        let (current, previous) = self.files(launch)?;
        let old = self.load(launch, "current");
        if old.as_ref() == Some(manifest) {
            return Ok((
                manifest.version(),
                self.load(launch, "previous").map(|m| m.version()),
            ));
        }
        let tmp = self.dir.join(format!("{launch}.incoming"));
        let bytes = postcard::to_stdvec(manifest)?;
        std::fs::write(&tmp, bytes).map_err(self.disk("write the new version"))?;
        if current.exists() {
            std::fs::rename(&current, &previous).map_err(self.disk("keep the previous version"))?;
        }
        std::fs::rename(&tmp, &current).map_err(self.disk("switch versions"))?;
        Ok((manifest.version(), old.map(|m| m.version())))
    }

    /// Swaps current and previous; returns the manifest now current.
    pub fn rollback(&self, launch: &str) -> Result<Manifest, DeploymentError> {
        let (current, previous) = self.files(launch)?;
        let back = self
            .load(launch, "previous")
            .ok_or_else(|| DeploymentError::NoPrevious(launch.to_owned()))?;
        let swap = self.dir.join(format!("{launch}.swap"));
        let swapping = self.disk("swap versions");
        std::fs::rename(&current, &swap).map_err(&swapping)?;
        std::fs::rename(&previous, &current).map_err(&swapping)?;
        std::fs::rename(&swap, &previous).map_err(&swapping)?;
        Ok(back)
    }

    /// The current and previous manifest files of `launch`.
    fn files(&self, launch: &str) -> Result<(PathBuf, PathBuf), DeploymentError> {
        let bad = || DeploymentError::BadLaunchId(launch.to_owned());
        let current = self.file(launch, "current").ok_or_else(bad)?;
        let previous = self.file(launch, "previous").ok_or_else(bad)?;
        Ok((current, previous))
    }

    /// A disk failure while doing `what`.
    fn disk(&self, what: &'static str) -> impl Fn(std::io::Error) -> DeploymentError + '_ {
        move |source| DeploymentError::Disk {
            what,
            dir: self.dir.clone(),
            source,
        }
    }

    /// Forgets a launch (after `pinion launch stop`): it is not brought back at restart.
    pub fn remove(&self, launch: &str) {
        if let Some(current) = self.file(launch, "current") {
            let _ = std::fs::remove_file(current);
        }
    }

    /// Every launch with a current manifest.
    pub fn all(&self) -> Vec<(String, Manifest)> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                e.file_name()
                    .to_str()?
                    .strip_suffix(".current")
                    .map(str::to_owned)
            })
            .filter_map(|launch| Some((launch.clone(), self.load(&launch, "current")?)))
            .collect()
    }

    /// The current version, if any.
    pub fn current_version(&self, launch: &str) -> Option<String> {
        self.load(launch, "current").map(|m| m.version())
    }

    /// The version kept for rollback, if any.
    pub fn previous_version(&self, launch: &str) -> Option<String> {
        self.load(launch, "previous").map(|m| m.version())
    }

    fn load(&self, launch: &str, which: &str) -> Option<Manifest> {
        let bytes = std::fs::read(self.file(launch, which)?).ok()?;
        postcard::from_bytes(&bytes).ok()
    }
}
