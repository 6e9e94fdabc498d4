//! The file beside the master that keeps its parameters, so that values set at run
//! time survive a restart (a crash, a SIGKILL, a power cut after the write).
//!
//! A JSON object of key to value, rewritten whole after every change: to a temporary
//! file, flushed to disk, then renamed over the old one, so a reader (the next master)
//! finds either the old parameters or the new ones, never half of them.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// A larger file is not read: the master keeps at most 8 MiB of parameters, which
/// take less than this as JSON.
const MAX_FILE: u64 = 32 << 20;

/// Why the parameters could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum ParamsFileError {
    /// Reading failed.
    #[error("cannot read the parameters file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Larger than any file the master writes.
    #[error(
        "the parameters file {path} holds {len} bytes, more than the {MAX_FILE} a master writes"
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its length.
        len: u64,
    },
    /// Not a JSON object.
    #[error("the parameters file {path} is damaged: {reason}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Writing failed: the change is not kept.
    #[error("cannot write the parameters file {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why (a full disk, a read-only file system).
        #[source]
        source: std::io::Error,
    },
}

/// Where the master keeps its parameters.
#[derive(Debug, Clone)]
pub struct ParamsFile {
    path: PathBuf,
}

impl ParamsFile {
    /// The file at `path` (its directory is created when first written).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The parameters kept, as (key, JSON text); none if there is no file yet.
    pub fn load(&self) -> Result<Vec<(String, String)>, ParamsFileError> {
        let path = self.path.clone();
        let file = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(ParamsFileError::Read { path, source }),
        };
        let mut text = String::new();
        file.take(MAX_FILE + 1)
            .read_to_string(&mut text)
            .map_err(|source| ParamsFileError::Read {
                path: path.clone(),
                source,
            })?;
        if text.len() as u64 > MAX_FILE {
            return Err(ParamsFileError::TooLarge {
                path,
                len: text.len() as u64,
            });
        }
        let values: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)
            .map_err(|e| ParamsFileError::Damaged {
                path,
                reason: e.to_string(),
            })?;
        Ok(values
            .into_iter()
            .map(|(k, v)| (k, v.to_string()))
            .collect())
    }

    /// Replaces the file with `params`, atomically.
    pub fn save(&self, params: &BTreeMap<String, String>) -> Result<(), ParamsFileError> {
        let fail = |source| ParamsFileError::Write {
            path: self.path.clone(),
            source,
        };
        let mut text = String::with_capacity(
            2 + params
                .iter()
                .map(|(k, v)| k.len() + v.len() + 8)
                .sum::<usize>(),
        );
        text.push('{');
        for (i, (key, value)) in params.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            text.push_str("\n  ");
            text.push_str(&serde_json::Value::from(key.as_str()).to_string());
            text.push_str(": ");
            // Stored values were checked to be JSON when they were set.
            text.push_str(value);
        }
        text.push_str("\n}\n");
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(fail)?;
        let tmp = self
            .path
            .with_extension(format!("tmp-{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)?;
            // The rename itself reaches the disk with the directory.
            std::fs::File::open(dir)?.sync_all()
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            fail(e)
        })
    }

    /// Moves a damaged file aside (`NAME.damaged`) so that the next write does not
    /// destroy what someone may want to look at; returns where it went.
    pub fn set_aside(&self) -> std::io::Result<PathBuf> {
        let aside = self.path.with_extension("damaged");
        std::fs::rename(&self.path, &aside)?;
        Ok(aside)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "pinion-params-{tag}-{}-{}",
            std::process::id(),
            pinion::host::random_id()
        ));
        std::fs::create_dir_all(&dir).expect("dir");
        dir
    }

    #[test]
    fn parameters_round_trip_and_a_missing_file_is_empty() {
        let dir = temp("rt");
        let file = ParamsFile::new(dir.join("sub").join("params.json"));
        assert!(file.load().expect("no file").is_empty());
        let params: BTreeMap<String, String> = [
            ("a/rate".to_owned(), "20".to_owned()),
            ("b \"odd\"".to_owned(), "{\"x\":[1,2]}".to_owned()),
        ]
        .into();
        file.save(&params).expect("save");
        let mut back = file.load().expect("load");
        back.sort();
        assert_eq!(
            back,
            vec![
                ("a/rate".to_owned(), "20".to_owned()),
                ("b \"odd\"".to_owned(), "{\"x\":[1,2]}".to_owned()),
            ]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn damaged_and_oversized_files_are_errors_not_panics() {
        let dir = temp("bad");
        let path = dir.join("params.json");
        std::fs::write(&path, "{\"a\": 1, ").expect("write");
        let file = ParamsFile::new(&path);
        assert!(matches!(file.load(), Err(ParamsFileError::Damaged { .. })));
        let aside = file.set_aside().expect("aside");
        assert!(aside.exists() && !path.exists());
        std::fs::write(&path, vec![b' '; (MAX_FILE + 10) as usize]).expect("write");
        assert!(matches!(file.load(), Err(ParamsFileError::TooLarge { .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
