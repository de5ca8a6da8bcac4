//! Dense, row-blocked, parallel f32 attention (acd-clip patch, see PATCHES.md).
//!
//! For attention without mask, bias or softcap (a ViT's self-attention, a causal text tower) the
//! upstream flash path walked the `(batch, head)` pairs one after the other on one thread, with a
//! scalar `exp` and three scalar passes per 64-wide KV tile. Here each task is one block of query
//! rows of one `(batch, head)`:
//!
//! 1. `S = scale · Q_blk Kᵀ` (one gemm over all keys, reading Q and K through their strides, so the
//!    head split of a packed qkv projection is never copied);
//! 2. per row: max, then `exp(s − max)` and its sum with an AVX2/FMA `exp` (scalar elsewhere);
//! 3. `O_blk = P V / sum`, written straight into a `[batch, seq_q, heads, val_dim]` buffer that the
//!    result views as `[batch, heads, seq_q, val_dim]`: the usual `swap_dims(1, 2)` + reshape back
//!    to `[batch, seq_q, heads · val_dim]` that follows attention is then free.
//!
//! Rows of a softmax are independent, so blocking the query rows is exact; the tasks run on rayon.
//! Scratch per task: `Q_BLOCK × seq_kv` floats.

use alloc::vec;
use alloc::vec::Vec;
use burn_backend::DType;
use burn_backend::ops::AttentionModuleOptions;
use burn_std::{Bytes, Shape};

use crate::{FlexTensor, Layout};

/// Query rows per task: the score block (`Q_BLOCK × seq_kv` f32) stays in L2 for ViT sequence
/// lengths (128 × 1370 × 4 B = 700 KB), and a ViT-L layer still yields 16 × 11 tasks to share out.
const Q_BLOCK: usize = 128;

/// Whether [`attention_dense_f32`] computes this call (otherwise the upstream paths do).
pub fn applies(
    query: &FlexTensor,
    key: &FlexTensor,
    value: &FlexTensor,
    mask: &Option<FlexTensor>,
    attn_bias: &Option<FlexTensor>,
    options: &AttentionModuleOptions,
) -> bool {
    mask.is_none()
        && attn_bias.is_none()
        && options.softcap.is_none()
        && query.dtype() == DType::F32
        && key.dtype() == DType::F32
        && value.dtype() == DType::F32
        && query.layout().shape().num_dims() == 4
        && key.layout().shape().num_dims() == 4
        && value.layout().shape().num_dims() == 4
        // No keys (or an empty head): upstream's paths return zeros without dividing by anything.
        && key.layout().shape()[2] > 0
        && query.layout().shape()[3] > 0
}

/// Raw pointers handed to the tasks; every task writes a disjoint set of output rows.
#[derive(Clone, Copy)]
struct SendPtr<T>(T);
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}

impl<T: Copy> SendPtr<T> {
    /// Through a method, so closures capture the wrapper rather than the bare pointer field.
    fn get(&self) -> T {
        self.0
    }
}

/// Base pointer and the four element strides of one 4-D operand.
#[derive(Clone, Copy)]
struct Operand {
    base: SendPtr<*const f32>,
    strides: [isize; 4],
}

impl Operand {
    fn of(t: &FlexTensor) -> Self {
        let data: &[f32] = t.storage();
        let s = t.layout().strides();
        Self {
            base: SendPtr(unsafe { data.as_ptr().add(t.layout().start_offset()) }),
            strides: [s[0], s[1], s[2], s[3]],
        }
    }

    /// Pointer to element `[b, h, row, 0]`.
    unsafe fn at(&self, b: usize, h: usize, row: usize) -> *const f32 {
        let off = b as isize * self.strides[0]
            + h as isize * self.strides[1]
            + row as isize * self.strides[2];
        unsafe { self.base.get().offset(off) }
    }
}

pub fn attention_dense_f32(
    query: FlexTensor,
    key: FlexTensor,
    value: FlexTensor,
    options: &AttentionModuleOptions,
) -> FlexTensor {
    let qs = query.layout().shape();
    let ks = key.layout().shape();
    let vs = value.layout().shape();
    let (batch, heads, seq_q, head_dim) = (qs[0], qs[1], qs[2], qs[3]);
    let (seq_kv, val_dim) = (ks[2], vs[3]);
    assert!(head_dim > 0, "attention: head_dim must be non-zero");
    assert_eq!(ks[0], batch, "attention: key batch mismatch");
    assert_eq!(ks[1], heads, "attention: key heads mismatch");
    assert_eq!(ks[3], head_dim, "attention: key head_dim mismatch");
    assert_eq!(vs[0], batch, "attention: value batch mismatch");
    assert_eq!(vs[1], heads, "attention: value heads mismatch");
    assert_eq!(vs[2], seq_kv, "attention: value seq_kv mismatch");

    let scale = options
        .scale
        .unwrap_or_else(|| 1.0 / (head_dim as f64).sqrt()) as f32;
    // Row `i` may see keys `0..=i + offset` (upstream's convention for seq_kv ≠ seq_q).
    let causal_offset = options
        .is_causal
        .then(|| seq_kv as isize - seq_q as isize);

    let (q, k, v) = (Operand::of(&query), Operand::of(&key), Operand::of(&value));
    let mut output = vec![0f32; batch * seq_q * heads * val_dim];
    let out = SendPtr(output.as_mut_ptr());
    let out_row_stride = heads * val_dim;

    let blocks = seq_q.div_ceil(Q_BLOCK);
    let tasks = batch * heads * blocks;
    let run = |scores: &mut Vec<f32>, task: usize| {
        let (bh, blk) = (task / blocks, task % blocks);
        let (b, h) = (bh / heads, bh % heads);
        let q0 = blk * Q_BLOCK;
        let rows = Q_BLOCK.min(seq_q - q0);
        scores.resize(rows * seq_kv, 0.0);
        let mut inv_sums = [0f32; Q_BLOCK];
        unsafe {
            // S = scale · Q_blk Kᵀ: Kᵀ[d, j] = K[j, d].
            gemm::gemm(
                rows,
                seq_kv,
                head_dim,
                scores.as_mut_ptr(),
                1,
                seq_kv as isize,
                false,
                q.at(b, h, q0),
                q.strides[3],
                q.strides[2],
                k.at(b, h, 0),
                k.strides[2],
                k.strides[3],
                0.0f32,
                scale,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
        for (r, row) in scores.chunks_exact_mut(seq_kv).enumerate() {
            let visible = match causal_offset {
                None => seq_kv,
                Some(offset) => ((q0 + r) as isize + offset + 1).clamp(0, seq_kv as isize) as usize,
            };
            let (seen, hidden) = row.split_at_mut(visible);
            hidden.fill(0.0);
            let sum = crate::simd::exp::softmax_numerators(seen);
            // A row that sees no key gets zeros, as upstream.
            inv_sums[r] = if sum > 0.0 { 1.0 / sum } else { 0.0 };
        }
        unsafe {
            let dst = out.get().add(((b * seq_q + q0) * heads + h) * val_dim);
            // O_blk = P V, then each row divided by its sum.
            gemm::gemm(
                rows,
                val_dim,
                seq_kv,
                dst,
                1,
                out_row_stride as isize,
                false,
                scores.as_ptr(),
                1,
                seq_kv as isize,
                v.at(b, h, 0),
                v.strides[3],
                v.strides[2],
                0.0f32,
                1.0f32,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
            for (r, &inv) in inv_sums[..rows].iter().enumerate() {
                let row = core::slice::from_raw_parts_mut(dst.add(r * out_row_stride), val_dim);
                for o in row {
                    *o *= inv;
                }
            }
        }
    };

    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        (0..tasks)
            .into_par_iter()
            .for_each_init(Vec::new, |scores, task| run(scores, task));
    }
    #[cfg(not(feature = "rayon"))]
    {
        let mut scores = Vec::new();
        for task in 0..tasks {
            run(&mut scores, task);
        }
    }

    // Keep the inputs alive until every task has read them.
    drop((query, key, value));
    FlexTensor::new(
        Bytes::from_elems(output),
        Layout::new(
            Shape::from(vec![batch, heads, seq_q, val_dim]),
            vec![
                (seq_q * heads * val_dim) as isize,
                val_dim as isize,
                (heads * val_dim) as isize,
                1,
            ],
            0,
        ),
        DType::F32,
    )
}
