//! Finding a node's program.

use crate::model::NodeSpec;
use std::path::{Path, PathBuf};

/// A path as written (if it has a directory part), else beside `pinion`, else on PATH.
pub fn resolve(spec: &NodeSpec, bin_dir: &Path) -> Option<PathBuf> {
    let written = Path::new(&spec.binary);
    if written.components().count() > 1 {
        return written.is_file().then(|| written.to_owned());
    }
    let beside = bin_dir.join(&spec.binary);
    if beside.is_file() {
        return Some(beside);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(&spec.binary))
        .find(|p| p.is_file())
}
