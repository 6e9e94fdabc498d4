//! Output of nodes that must outlive their supervisor (an agent's nodes, across an
//! agent restart or upgrade): each node writes its stdout and stderr into files of its
//! own, never into a pipe that dies with the agent, and a tailer reads new lines into
//! the agent's sink. A file past [`MAX_FILE`] is emptied once read (the node writes
//! with `O_APPEND`, so it goes on at the new end): the disk holds at most that much
//! per stream.

use crate::logs::{LogSink, Stream};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::task::JoinHandle;

/// A stream's file is emptied once read past this.
pub const MAX_FILE: u64 = 4 << 20;
/// The longest line passed on; longer ones are cut.
const MAX_LINE: usize = 16 << 10;
/// How often the tailer looks for new output.
const POLL: Duration = Duration::from_millis(100);

/// The files of one node's streams in `dir`.
pub fn paths(dir: &Path, node: &str) -> [(PathBuf, Stream); 2] {
    [
        (dir.join(format!("{node}.out")), Stream::Out),
        (dir.join(format!("{node}.err")), Stream::Err),
    ]
}

/// Opens (appending, created if missing) the file a stream of a new process writes.
pub fn open_for_child(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    OpenOptions::new().create(true).append(true).open(path)
}

/// Passes what a node writes into one of its files on to a sink.
#[derive(Debug)]
pub struct Tail {
    inner: Arc<Tailing>,
    task: JoinHandle<()>,
}

#[derive(Debug)]
struct Tailing {
    path: PathBuf,
    node: String,
    stream: Stream,
    sink: LogSink,
    /// Read up to here; the start of a line not finished yet.
    state: Mutex<(u64, Vec<u8>)>,
}

impl Tailing {
    /// Passes on what was written since the last look; with `last`, also a line the
    /// node did not finish (it has ended).
    fn pass_on(&self, last: bool) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (offset, pending) = &mut *state;
        match read_new(&self.path, offset, pending) {
            Ok(lines) => {
                for line in lines {
                    self.sink.line(&self.node, self.stream, line);
                }
            }
            Err(e) => {
                tracing::debug!(path = %self.path.display(), error = %e, "cannot read node output")
            }
        }
        if last && !pending.is_empty() {
            let line = String::from_utf8_lossy(pending).into_owned();
            pending.clear();
            self.sink.line(&self.node, self.stream, line);
        }
    }
}

impl Tail {
    /// Passes what is written to `path` from now on to `sink` as lines of `node`.
    pub fn start(path: PathBuf, node: String, stream: Stream, sink: LogSink) -> Self {
        let offset = std::fs::metadata(&path).map_or(0, |m| m.len());
        let inner = Arc::new(Tailing {
            path,
            node,
            stream,
            sink,
            state: Mutex::new((offset, Vec::new())),
        });
        let task = {
            let inner = inner.clone();
            tokio::spawn(async move {
                loop {
                    inner.pass_on(false);
                    tokio::time::sleep(POLL).await;
                }
            })
        };
        Self { inner, task }
    }

    /// Passes on everything written so far, an unfinished last line too: the node
    /// ended, and what it said last is what explains why.
    pub fn finish(&self) {
        self.inner.pass_on(true);
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads what was appended since `offset`; complete lines out, the rest kept in
/// `pending`. Empties a file past [`MAX_FILE`] once read.
fn read_new(path: &Path, offset: &mut u64, pending: &mut Vec<u8>) -> std::io::Result<Vec<String>> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    if len < *offset {
        *offset = 0; // emptied
    }
    let mut lines = Vec::new();
    if len > *offset {
        file.seek(SeekFrom::Start(*offset))?;
        let mut chunk = Vec::new();
        (&mut file).take(len - *offset).read_to_end(&mut chunk)?;
        *offset += chunk.len() as u64;
        for byte in chunk {
            if byte == b'\n' || pending.len() >= MAX_LINE {
                lines.push(String::from_utf8_lossy(pending).into_owned());
                pending.clear();
                if byte == b'\n' {
                    continue;
                }
            }
            pending.push(byte);
        }
    }
    if *offset >= MAX_FILE {
        OpenOptions::new().write(true).open(path)?.set_len(0)?;
        *offset = 0;
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn lines_come_out_whole_and_a_full_file_is_emptied() {
        let dir = std::env::temp_dir().join(format!(
            "pinion-output-{}-{}",
            std::process::id(),
            pinion::host::random_id()
        ));
        let path = dir.join("n.err");
        let mut writer = open_for_child(&path).expect("open");
        let (mut offset, mut pending) = (0, Vec::new());
        writer.write_all(b"one\ntw").expect("write");
        assert_eq!(
            read_new(&path, &mut offset, &mut pending).expect("read"),
            ["one"]
        );
        writer.write_all(b"o\n").expect("write");
        assert_eq!(
            read_new(&path, &mut offset, &mut pending).expect("read"),
            ["two"]
        );
        let big = vec![b'x'; MAX_FILE as usize];
        writer.write_all(&big).expect("write");
        writer.write_all(b"\n").expect("write");
        let lines = read_new(&path, &mut offset, &mut pending).expect("read");
        assert!(
            lines.iter().all(|l| l.len() <= MAX_LINE),
            "long lines are cut"
        );
        assert_eq!(std::fs::metadata(&path).expect("file").len(), 0, "emptied");
        writer.write_all(b"after\n").expect("write");
        assert_eq!(
            read_new(&path, &mut offset, &mut pending).expect("read"),
            ["after"]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
