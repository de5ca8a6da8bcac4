//! Decoding a tensor spec into f32 values: dtype conversion, byte order, strides.

use super::*;

pub(super) fn decode_tensor(
    name: &str,
    spec: &TensorSpec,
    storage_bytes: &[u8],
    big_endian: bool,
    budget: &mut usize,
) -> Result<RawTensor> {
    let sref = &spec.storage;
    let key = sref.key.as_ref();
    let bad_storage = |reason: String| PickleError::BadStorage {
        key: key.to_string(),
        reason,
    };
    let bad_tensor = |reason: String| PickleError::BadTensor {
        name: name.to_string(),
        reason,
    };

    // The bytes the storage declares, checked against the bytes present.
    let storage_elem = sref.dtype.size().unwrap_or(1);
    let declared = sref.numel.checked_mul(storage_elem).ok_or_else(|| {
        bad_storage(format!(
            "declares {} elements, an impossible size",
            sref.numel
        ))
    })?;
    if storage_bytes.len() < declared {
        return Err(bad_storage(format!(
            "holds {} bytes, but declares {} elements of {storage_elem} bytes ({declared} bytes) for tensor `{name}`",
            storage_bytes.len(),
            sref.numel
        )));
    }
    let mut region = storage_bytes.get(..declared).unwrap_or_default();
    if let Some((off, n)) = sref.view {
        region = off
            .checked_mul(storage_elem)
            .and_then(|start| Some(start..start.checked_add(n.checked_mul(storage_elem)?)?))
            .and_then(|range| region.get(range))
            .ok_or_else(|| {
                bad_storage(format!(
                    "view of {n} elements at {off} lies outside the storage"
                ))
            })?;
    }

    let elem = spec
        .dtype
        .size()
        .ok_or_else(|| bad_tensor("unknown element type".to_string()))?;
    let available = region.len() / elem;
    let numel = spec
        .size
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| bad_tensor(format!("size {:?} overflows", spec.size)))?;
    if numel == 0 {
        return Ok(RawTensor::new(spec.size.clone(), Vec::new()));
    }
    // The last element the view reaches must lie inside the storage.
    let last = spec
        .size
        .iter()
        .zip(&spec.stride)
        .try_fold(spec.offset, |acc, (&d, &s)| {
            acc.checked_add((d - 1).checked_mul(s)?)
        });
    match last {
        Some(last) if last < available => {}
        _ => {
            return Err(bad_tensor(format!(
                "size {:?} with stride {:?} at storage offset {} reaches past the end of storage `{key}`, \
                 which holds {available} elements",
                spec.size, spec.stride, spec.offset
            )))
        }
    }
    if numel > *budget {
        return Err(bad_tensor(format!(
            "{numel} elements, but only {} more are allowed for a checkpoint of this size \
             (stride-0 views of a tampered file?)",
            *budget
        )));
    }
    *budget -= numel;

    let mut data = Vec::with_capacity(numel);
    if is_contiguous(&spec.size, &spec.stride) {
        let bytes = spec
            .offset
            .checked_mul(elem)
            .and_then(|start| region.get(start..start.checked_add(numel.checked_mul(elem)?)?))
            .ok_or_else(|| bad_tensor("contiguous data outside the storage".to_string()))?;
        convert_into(spec.dtype, bytes, big_endian, &mut data);
    } else {
        gather_strided(spec, region, elem, big_endian, &mut data)
            .ok_or_else(|| bad_tensor("strided element outside the storage".to_string()))?;
    }
    if data.len() != numel {
        return Err(bad_tensor(format!(
            "decoded {} elements instead of {numel}",
            data.len()
        )));
    }
    Ok(RawTensor::new(spec.size.clone(), data))
}

pub(super) fn is_contiguous(size: &[usize], stride: &[usize]) -> bool {
    let mut expected = 1usize;
    for (&d, &s) in size.iter().zip(stride).rev() {
        if d != 1 && s != expected {
            return false;
        }
        expected = expected.saturating_mul(d);
    }
    true
}

/// Copies a non-contiguous view element by element (bounds already checked; `None` if not).
pub(super) fn gather_strided(
    spec: &TensorSpec,
    region: &[u8],
    elem: usize,
    be: bool,
    out: &mut Vec<f32>,
) -> Option<()> {
    let dims = spec.size.len();
    let mut index = vec![0usize; dims];
    let mut pos = spec.offset;
    let numel: usize = spec.size.iter().product();
    for _ in 0..numel {
        let start = pos.checked_mul(elem)?;
        let bytes = region.get(start..start.checked_add(elem)?)?;
        out.push(convert_one(spec.dtype, bytes, be));
        // Advance the odometer from the last dimension.
        for d in (0..dims).rev() {
            let (size, stride) = (*spec.size.get(d)?, *spec.stride.get(d)?);
            let i = index.get_mut(d)?;
            *i += 1;
            if *i < size {
                pos = pos.checked_add(stride)?;
                break;
            }
            *i = 0;
            pos = pos.checked_sub((size - 1).checked_mul(stride)?)?;
        }
    }
    Some(())
}

pub(super) fn convert_into(dtype: DType, bytes: &[u8], be: bool, out: &mut Vec<f32>) {
    match dtype {
        DType::F32 => out.extend(bytes.chunks_exact(4).map(|c| read_f32(c, be))),
        DType::F16 => out.extend(
            bytes
                .chunks_exact(2)
                .map(|c| f16::from_bits(read_u16(c, be)).to_f32()),
        ),
        DType::BF16 => out.extend(
            bytes
                .chunks_exact(2)
                .map(|c| bf16::from_bits(read_u16(c, be)).to_f32()),
        ),
        DType::F64 => out.extend(bytes.chunks_exact(8).map(|c| read_f64(c, be) as f32)),
        DType::Other(_) => {}
    }
}

pub(super) fn convert_one(dtype: DType, bytes: &[u8], be: bool) -> f32 {
    match dtype {
        DType::F32 => read_f32(bytes, be),
        DType::F16 => f16::from_bits(read_u16(bytes, be)).to_f32(),
        DType::BF16 => bf16::from_bits(read_u16(bytes, be)).to_f32(),
        DType::F64 => read_f64(bytes, be) as f32,
        DType::Other(_) => 0.0,
    }
}

pub(super) fn read_u16(c: &[u8], be: bool) -> u16 {
    let b: [u8; 2] = c.try_into().unwrap_or_default();
    if be {
        u16::from_be_bytes(b)
    } else {
        u16::from_le_bytes(b)
    }
}

pub(super) fn read_f32(c: &[u8], be: bool) -> f32 {
    let b: [u8; 4] = c.try_into().unwrap_or_default();
    if be {
        f32::from_be_bytes(b)
    } else {
        f32::from_le_bytes(b)
    }
}

pub(super) fn read_f64(c: &[u8], be: bool) -> f64 {
    let b: [u8; 8] = c.try_into().unwrap_or_default();
    if be {
        f64::from_be_bytes(b)
    } else {
        f64::from_le_bytes(b)
    }
}
