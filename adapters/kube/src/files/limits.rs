//! How much input one run may read: a cap per file and a cap over every file of the run
//! (fleet, apps, rendered kustomizations, a steps file), so that `--apps /dev/zero` or a
//! runaway dump fails with an error naming the file instead of reading until memory runs out.
//! Each file is read once, from whatever it is (a regular file, a FIFO, `/dev/stdin`), and
//! never more than the limit plus one byte.

use std::fmt;
use std::io::Read;
use std::path::Path;

use crate::error::LoadError;

/// The caps on what one run reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputLimits {
    /// The most bytes one file (or one rendered kustomization) may hold.
    pub file_bytes: u64,
    /// The most bytes all the files of one run may hold together.
    pub total_bytes: u64,
}

impl InputLimits {
    /// 128 MiB per file: a kubectl dump of about 15,000 pods. Kubernetes caps one object
    /// at 1.5 MiB, so a file above this is a dump of a very large cluster or not input at all.
    pub const DEFAULT_FILE_BYTES: u64 = 128 << 20;
    /// 512 MiB over every file of a run.
    pub const DEFAULT_TOTAL_BYTES: u64 = 512 << 20;
}

impl Default for InputLimits {
    fn default() -> Self {
        InputLimits {
            file_bytes: Self::DEFAULT_FILE_BYTES,
            total_bytes: Self::DEFAULT_TOTAL_BYTES,
        }
    }
}

/// Which cap a file went over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitKind {
    /// The cap per file ([`InputLimits::file_bytes`]).
    File,
    /// The cap over every file of the run ([`InputLimits::total_bytes`]).
    Total,
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimitKind::File => "a file",
            LimitKind::Total => "all the input files together",
        })
    }
}

/// What is left of the [`InputLimits`] as the files of one run are read.
#[derive(Clone, Debug)]
pub struct InputBudget {
    limits: InputLimits,
    read: u64,
}

impl InputBudget {
    /// A budget with nothing read yet.
    pub fn new(limits: InputLimits) -> Self {
        InputBudget { limits, read: 0 }
    }

    /// The limits this budget keeps.
    pub fn limits(&self) -> InputLimits {
        self.limits
    }

    /// The UTF-8 text of `path` (read once: a FIFO or `/dev/stdin` works), counted against the
    /// budget.
    ///
    /// # Errors
    /// [`LoadError::Read`] when the file cannot be read or is not UTF-8;
    /// [`LoadError::TooLarge`] when it holds more than the budget allows (no more than the
    /// limit plus one byte is read).
    pub fn read_file(&mut self, path: &Path) -> Result<String, LoadError> {
        let read_error = |source| LoadError::Read {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read_error)?;
        let cap = self.cap();
        let mut bytes = Vec::new();
        file.take(cap.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
        self.spend(path, bytes.len())?;
        String::from_utf8(bytes).map_err(|_| {
            read_error(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "not UTF-8 text (a binary file?)",
            ))
        })
    }

    /// Counts `len` bytes of text that came from `path` by other means (the output of
    /// `kubectl kustomize`) against the budget.
    ///
    /// # Errors
    /// [`LoadError::TooLarge`] as [`InputBudget::read_file`].
    pub fn count(&mut self, path: &Path, len: usize) -> Result<(), LoadError> {
        self.spend(path, len)
    }

    /// The most the next file may hold.
    fn cap(&self) -> u64 {
        let left = self.limits.total_bytes.saturating_sub(self.read);
        self.limits.file_bytes.min(left)
    }

    fn spend(&mut self, path: &Path, len: usize) -> Result<(), LoadError> {
        let len = u64::try_from(len).unwrap_or(u64::MAX);
        if len > self.cap() {
            let (limit, kind) = if len > self.limits.file_bytes {
                (self.limits.file_bytes, LimitKind::File)
            } else {
                (self.limits.total_bytes, LimitKind::Total)
            };
            return Err(LoadError::TooLarge {
                path: path.to_path_buf(),
                limit,
                kind,
            });
        }
        self.read += len;
        Ok(())
    }
}

impl Default for InputBudget {
    fn default() -> Self {
        InputBudget::new(InputLimits::default())
    }
}

/// `bytes` as a Kubernetes quantity: `128Mi`, `1Gi`, or plain `1536`.
pub(crate) fn binary_size(bytes: u64) -> String {
    const UNITS: [(&str, u32); 5] = [("Pi", 50), ("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10)];
    for (suffix, shift) in UNITS {
        let unit = 1u64 << shift;
        if bytes >= unit && bytes.is_multiple_of(unit) {
            return format!("{}{suffix}", bytes / unit);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(file_bytes: u64, total_bytes: u64) -> InputBudget {
        InputBudget::new(InputLimits {
            file_bytes,
            total_bytes,
        })
    }

    #[test]
    fn files_within_the_caps_are_read_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.yaml");
        std::fs::write(&a, "x: 1\n").unwrap();
        let mut budget = limits(5, 9);
        assert_eq!(budget.read_file(&a).unwrap(), "x: 1\n");
        let e = budget.read_file(&a).unwrap_err();
        assert!(
            matches!(
                e,
                LoadError::TooLarge {
                    kind: LimitKind::Total,
                    limit: 9,
                    ..
                }
            ),
            "{e}"
        );
        assert!(
            e.to_string()
                .contains("a.yaml: too large: all the input files together may hold at most 9 bytes"),
            "{e}"
        );
    }

    #[test]
    fn an_endless_file_stops_at_the_cap() {
        let mut budget = limits(1 << 20, 1 << 30);
        let e = budget.read_file(Path::new("/dev/zero")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/dev/zero: too large: a file may hold at most 1Mi bytes"),
            "{e}"
        );
    }

    #[test]
    fn binary_input_is_refused_as_not_text() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("b.yaml");
        std::fs::write(&bin, [0xff, 0xfe, 0x00]).unwrap();
        let e = InputBudget::default().read_file(&bin).unwrap_err();
        assert!(e.to_string().contains("not UTF-8 text"), "{e}");
    }

    #[test]
    fn sizes_print_as_kubectl_quantities() {
        assert_eq!(binary_size(128 << 20), "128Mi");
        assert_eq!(binary_size(3 << 30), "3Gi");
        assert_eq!(binary_size(1536), "1536");
        assert_eq!(binary_size(100), "100");
    }
}
