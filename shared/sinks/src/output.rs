//! Where line-oriented sinks write: standard output, standard error, or a file they append to.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// A place to append whole buffers of lines.
#[derive(Debug, Clone)]
pub enum LineOutput {
    /// The process's standard output.
    Stdout,
    /// The process's standard error.
    Stderr,
    /// A file opened for appending (see [`LineOutput::append_to`]), shared by every clone.
    /// `sync` is false for what is no regular file (`/dev/null`, a pipe): `fdatasync` fails
    /// there with EINVAL, and a write that succeeded is as durable as such a file allows.
    File {
        /// The open file.
        file: Arc<Mutex<File>>,
        /// Whether writes wait for `fdatasync`.
        sync: bool,
    },
}

impl LineOutput {
    /// Opens (creating if needed) `path` for appending.
    pub fn append_to(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let sync = file.metadata()?.file_type().is_file();
        Ok(LineOutput::File {
            file: Arc::new(Mutex::new(file)),
            sync,
        })
    }

    /// Appends `bytes` in one piece and, for a file, waits until it is on disk.
    pub async fn write(&self, bytes: Vec<u8>) -> io::Result<()> {
        match self {
            // Both are locked for the whole buffer, so lines of concurrent writers never interleave.
            LineOutput::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(&bytes)?;
                out.flush()
            }
            LineOutput::Stderr => {
                let mut out = io::stderr().lock();
                out.write_all(&bytes)?;
                out.flush()
            }
            LineOutput::File { file, sync } => {
                let (file, sync) = (file.clone(), *sync);
                tokio::task::spawn_blocking(move || {
                    let file = file
                        .lock()
                        .map_err(|_| io::Error::other("file lock poisoned"))?;
                    (&*file).write_all(&bytes)?;
                    if sync {
                        file.sync_data()?;
                    }
                    Ok(())
                })
                .await
                .map_err(io::Error::other)?
            }
        }
    }
}
