//! Where a bundle's files come from, and their check against the manifest as each one is read.
//! A source hands each file over once, so that the page can copy a shard into the module's memory
//! when it is decoded and free it right after: the load's peak holds one shard's bytes next to
//! the decoded weights, not every file's (WebAssembly memory never shrinks, so that peak stays).

use std::collections::{HashMap, HashSet};

use super::bundle::{sha256_hex, BundleError, Manifest};

/// A bundle's files by name.
pub trait BundleFiles {
    /// The size of `file` in bytes; `None` when it is missing.
    fn size(&self, file: &str) -> Option<u64>;
    /// `read` applied to the bytes of `file`; `None` when it is missing. Each file is read at most
    /// once, so a source may drop a file's bytes when `read` returns.
    fn read<R>(&mut self, file: &str, read: impl FnOnce(&[u8]) -> R) -> Option<R>;
}

impl BundleFiles for &HashMap<String, Vec<u8>> {
    fn size(&self, file: &str) -> Option<u64> {
        self.get(file).map(|b| b.len() as u64)
    }

    fn read<R>(&mut self, file: &str, read: impl FnOnce(&[u8]) -> R) -> Option<R> {
        self.get(file).map(|b| read(b))
    }
}

/// How much of each file `load_bundle_checked` verifies against the manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileCheck {
    /// Presence, size and SHA-256.
    Sha256,
    /// Presence and size only: the caller has checked every file's SHA-256 against this manifest
    /// already (the page's worker does, with WebCrypto, as it downloads), so it is not hashed twice.
    SizeOnly,
}

/// A source whose every listed file is present with its size (checked when made), each file's
/// SHA-256 checked before its bytes are used, and no file read that the manifest does not list.
pub(crate) struct CheckedFiles<'m, F> {
    manifest: &'m Manifest,
    files: F,
    check: FileCheck,
    read: HashSet<String>,
}

impl<'m, F: BundleFiles> CheckedFiles<'m, F> {
    pub fn new(manifest: &'m Manifest, files: F, check: FileCheck) -> Result<Self, BundleError> {
        for entry in &manifest.files {
            let found = files
                .size(&entry.file)
                .ok_or_else(|| BundleError::MissingFile {
                    file: entry.file.clone(),
                })?;
            if found != entry.bytes {
                return Err(BundleError::Size {
                    file: entry.file.clone(),
                    expected: entry.bytes,
                    found,
                });
            }
        }
        let read = HashSet::new();
        Ok(Self {
            manifest,
            files,
            check,
            read,
        })
    }

    /// `read` applied to the bytes of `file`, once they have passed the check.
    pub fn read<R>(
        &mut self,
        file: &str,
        read: impl FnOnce(&[u8]) -> Result<R, BundleError>,
    ) -> Result<R, BundleError> {
        let Some(entry) = self.manifest.files.iter().find(|e| e.file == file) else {
            return Err(match self.files.size(file) {
                None => BundleError::MissingFile { file: file.into() },
                Some(_) => BundleError::Manifest(format!("{file} is not listed in `files`")),
            });
        };
        if !self.read.insert(file.to_string()) {
            return Err(BundleError::Manifest(format!("{file} was read twice")));
        }
        let check = self.check;
        let checked = |bytes: &[u8]| {
            if check == FileCheck::Sha256 && !sha256_hex(bytes).eq_ignore_ascii_case(&entry.sha256)
            {
                return Err(BundleError::Checksum { file: file.into() });
            }
            read(bytes)
        };
        self.files
            .read(file, checked)
            .unwrap_or_else(|| Err(BundleError::MissingFile { file: file.into() }))
    }

    /// Checks the listed files that nothing read (a vocabulary a bundle without a text tower does
    /// not use): a damaged bundle is refused whichever of its files is damaged.
    pub fn finish(mut self) -> Result<(), BundleError> {
        if self.check == FileCheck::SizeOnly {
            return Ok(());
        }
        let manifest = self.manifest;
        for entry in &manifest.files {
            if !self.read.contains(&entry.file) {
                self.read(&entry.file, |_| Ok(()))?;
            }
        }
        Ok(())
    }
}

/// Checks that every file of the manifest is present with its size and SHA-256.
pub fn verify_files(
    manifest: &Manifest,
    files: &HashMap<String, Vec<u8>>,
) -> Result<(), BundleError> {
    CheckedFiles::new(manifest, files, FileCheck::Sha256)?.finish()
}
