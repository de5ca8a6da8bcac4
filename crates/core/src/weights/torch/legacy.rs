//! Legacy (pre-1.6) `torch.save` files: five pickles in a row, then the raw storages.

use super::*;

pub(super) fn element_budget(input_len: usize) -> usize {
    MIN_ELEMENT_BUDGET.max(input_len.saturating_mul(2))
}

pub(super) fn read_legacy_checkpoint(bytes: &[u8]) -> Result<Vec<(String, RawTensor)>> {
    let mut heap = Heap::default();
    let legacy = |reason: String| PickleError::LegacyFormat { reason };

    // 1. The magic number. Anything else is not a torch file at all (e.g. a plain pickle).
    let not_torch = || PickleError::NotAZip {
        head: format!(
            "{} (a pickle, but not a torch.save file)",
            describe_head(bytes)
        ),
    };
    let (magic, pos) = Vm::new("legacy magic number", bytes, 0, &mut heap)
        .run()
        .map_err(|_| not_torch())?;
    match magic {
        Value::BigInt(ref b) if b.as_ref() == LEGACY_MAGIC => {}
        _ => return Err(not_torch()),
    }
    // 2. Protocol version, 3. system info.
    let (version, pos) = Vm::new("legacy protocol version", bytes, pos, &mut heap)
        .run()
        .map_err(as_legacy)?;
    if !matches!(version, Value::Int(LEGACY_PROTOCOL_VERSION)) {
        return Err(legacy(format!(
            "unsupported protocol version {}",
            version.describe()
        )));
    }
    let (sys_info, pos) = Vm::new("legacy system info", bytes, pos, &mut heap)
        .run()
        .map_err(as_legacy)?;
    let little_endian = match heap.dict_get(&sys_info, "little_endian") {
        None => true,
        Some(Value::Bool(b)) => b,
        Some(other) => return Err(legacy(format!("little_endian is {}", other.describe()))),
    };
    // 4. The object, 5. the list of storage keys in the order their data follows.
    let (root, pos) = Vm::new("legacy object", bytes, pos, &mut heap)
        .run()
        .map_err(as_legacy)?;
    let (keys, mut pos) = Vm::new("legacy storage key list", bytes, pos, &mut heap)
        .run()
        .map_err(as_legacy)?;
    let keys: Vec<Rc<str>> = match heap.items(&keys) {
        Some(items) => items
            .iter()
            .map(|k| match k {
                Value::Str(s) => Ok(s.clone()),
                other => Err(legacy(format!("storage key is {}", other.describe()))),
            })
            .collect::<Result<_>>()?,
        None => {
            return Err(legacy(format!(
                "the storage key list is {}",
                keys.describe()
            )))
        }
    };

    // Element sizes of the storages the object refers to.
    let mut elem_sizes: HashMap<&str, usize> = HashMap::new();
    for s in &heap.storages {
        if let Some(size) = s.dtype.size() {
            elem_sizes.entry(&s.key).or_insert(size);
        }
    }
    let mut storages: HashMap<Rc<str>, &[u8]> = HashMap::new();
    for key in &keys {
        let header = bytes
            .get(pos..pos.saturating_add(8))
            .and_then(|h| <[u8; 8]>::try_from(h).ok())
            .ok_or_else(|| legacy(format!("the file ends before storage `{key}` (truncated?)")))?;
        let numel = if little_endian {
            u64::from_le_bytes(header)
        } else {
            u64::from_be_bytes(header)
        };
        let elem = *elem_sizes
            .get(key.as_ref())
            .ok_or_else(|| legacy(format!("storage `{key}` has no known element type")))?;
        let len = usize::try_from(numel)
            .ok()
            .and_then(|n| n.checked_mul(elem))
            .filter(|&len| len <= bytes.len())
            .ok_or_else(|| {
                legacy(format!(
                    "storage `{key}` declares {numel} elements, more than the file holds"
                ))
            })?;
        let start = pos + 8;
        let data = start
            .checked_add(len)
            .and_then(|end| bytes.get(start..end))
            .ok_or_else(|| legacy(format!("storage `{key}` is cut short (truncated file?)")))?;
        storages.insert(key.clone(), data);
        pos = start + len;
    }

    let tensors = flatten(&heap, &root)?;
    let mut budget = element_budget(bytes.len());
    let mut out = Vec::with_capacity(tensors.len());
    for (name, spec) in tensors {
        let data = storages
            .get(&spec.storage.key)
            .ok_or_else(|| PickleError::BadStorage {
                key: spec.storage.key.to_string(),
                reason: format!("tensor `{name}` refers to it, but the file has no such storage"),
            })?;
        out.push((
            name.clone(),
            decode_tensor(&name, &spec, data, !little_endian, &mut budget)?,
        ));
    }
    Ok(out)
}

/// A pickle error inside a legacy file, reported with the advice to re-save it.
pub(super) fn as_legacy(e: PickleError) -> PickleError {
    PickleError::LegacyFormat {
        reason: e.to_string(),
    }
}
