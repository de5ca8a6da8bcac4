//! `torch.save` zip archives and TorchScript archives: finding `data.pkl`, reading storages.

use super::*;

pub(super) fn read_zip_checkpoint(bytes: &[u8]) -> Result<Vec<(String, RawTensor)>> {
    let zip = ZipArchive::new(Cursor::new(bytes)).map_err(|e| PickleError::Zip(e.to_string()))?;
    let prefix = find_archive_prefix(&zip)?;
    let mut store = ZipStore {
        bytes,
        zip,
        inflate_budget: MIN_INFLATE_BUDGET.max(bytes.len().saturating_mul(16)),
        cache: HashMap::new(),
    };

    let big_endian = match store.read_optional(&format!("{prefix}byteorder"), 64)? {
        None => false,
        Some(order) => match std::str::from_utf8(&order).map(str::trim) {
            Ok("little") => false,
            Ok("big") => true,
            _ => {
                return Err(PickleError::ZipEntry {
                    entry: format!("{prefix}byteorder"),
                    reason: format!(
                        "unknown byte order {:?} (expected \"little\" or \"big\")",
                        String::from_utf8_lossy(&order)
                    ),
                })
            }
        },
    };

    let pkl_name = format!("{prefix}data.pkl");
    let pkl = store.read(&pkl_name, MAX_PICKLE_LEN)?;
    let mut heap = Heap::default();
    let (root, _) = Vm::new(&pkl_name, pkl.as_ref(), 0, &mut heap).run()?;
    let tensors = flatten(&heap, &root)?;

    let mut budget = element_budget(bytes.len());
    let mut out = Vec::with_capacity(tensors.len());
    for (name, spec) in tensors {
        let entry = format!("{prefix}data/{}", spec.storage.key);
        let data = store.storage(&entry, &spec.storage.key)?;
        let tensor = decode_tensor(&name, &spec, data, big_endian, &mut budget)?;
        out.push((name, tensor));
    }
    Ok(out)
}

/// The `<archive>/` prefix of `<archive>/data.pkl` (empty if `data.pkl` sits at the root).
pub(super) fn find_archive_prefix(zip: &ZipArchive<Cursor<&[u8]>>) -> Result<String> {
    let mut root_level = None;
    for name in zip.file_names() {
        if let Some(dir) = name.strip_suffix("/data.pkl") {
            if !dir.is_empty() && !dir.contains('/') {
                return Ok(format!("{dir}/"));
            }
        } else if name == "data.pkl" {
            root_level = Some(String::new());
        }
    }
    root_level.ok_or_else(|| {
        let mut names: Vec<&str> = zip.file_names().take(6).collect();
        if zip.len() > names.len() {
            names.push("...");
        }
        PickleError::MissingDataPkl {
            entries: if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            },
        }
    })
}

pub(super) struct ZipStore<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) zip: ZipArchive<Cursor<&'a [u8]>>,
    /// Bytes compressed entries may still inflate to.
    pub(super) inflate_budget: usize,
    /// Storage entries already read (several tensors often share one storage).
    pub(super) cache: HashMap<String, Cow<'a, [u8]>>,
}

impl<'a> ZipStore<'a> {
    pub(super) fn read(&mut self, entry: &str, max_len: usize) -> Result<Cow<'a, [u8]>> {
        self.read_optional(entry, max_len)?
            .ok_or_else(|| PickleError::ZipEntry {
                entry: entry.to_string(),
                reason: "missing from the archive".to_string(),
            })
    }

    /// An entry's bytes: borrowed from the input when stored uncompressed (torch's way),
    /// inflated within the budget otherwise.
    pub(super) fn read_optional(
        &mut self,
        entry: &str,
        max_len: usize,
    ) -> Result<Option<Cow<'a, [u8]>>> {
        let bytes: &'a [u8] = self.bytes;
        let entry_err = |reason: String| PickleError::ZipEntry {
            entry: entry.to_string(),
            reason,
        };
        let mut file = match self.zip.by_name(entry) {
            Ok(file) => file,
            Err(ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(entry_err(e.to_string())),
        };
        let size = file.size();
        let size_usize = usize::try_from(size)
            .ok()
            .filter(|&s| s <= max_len)
            .ok_or_else(|| {
                entry_err(format!(
                    "declares {size} bytes, over the limit of {max_len}"
                ))
            })?;
        if file.compression() == CompressionMethod::Stored {
            if file.compressed_size() != size {
                return Err(entry_err(format!(
                    "stored entry declares {} bytes in the archive but {size} bytes of content",
                    file.compressed_size()
                )));
            }
            let start = usize::try_from(file.data_start()).ok();
            let slice = start
                .and_then(|s| Some(s..s.checked_add(size_usize)?))
                .and_then(|range| bytes.get(range))
                .ok_or_else(|| {
                    entry_err(format!(
                        "its {size} bytes extend past the end of the file ({} bytes; truncated?)",
                        bytes.len()
                    ))
                })?;
            return Ok(Some(Cow::Borrowed(slice)));
        }
        if size_usize > self.inflate_budget {
            return Err(entry_err(format!(
                "compressed entry declares {size} bytes, more than the {} bytes allowed to inflate",
                self.inflate_budget
            )));
        }
        let mut buf = Vec::with_capacity(size_usize.min(1 << 20));
        (&mut file)
            .take(size.saturating_add(1))
            .read_to_end(&mut buf)
            .map_err(|e| entry_err(format!("cannot decompress: {e}")))?;
        if buf.len() != size_usize {
            return Err(entry_err(format!(
                "inflates to {}{} bytes but declares {size}",
                buf.len(),
                if buf.len() > size_usize {
                    " or more"
                } else {
                    ""
                }
            )));
        }
        self.inflate_budget -= size_usize;
        Ok(Some(Cow::Owned(buf)))
    }

    pub(super) fn storage(&mut self, entry: &str, key: &str) -> Result<&[u8]> {
        if !self.cache.contains_key(entry) {
            let data =
                self.read_optional(entry, usize::MAX)?
                    .ok_or_else(|| PickleError::BadStorage {
                        key: key.to_string(),
                        reason: format!("zip entry `{entry}` is missing"),
                    })?;
            self.cache.insert(entry.to_string(), data);
        }
        self.cache
            .get(entry)
            .map(|c| c.as_ref())
            .ok_or_else(|| PickleError::BadStorage {
                key: key.to_string(),
                reason: "storage cache lookup failed".to_string(),
            })
    }
}
