//! Positional-embedding resize for a new input size (official `resize_pos_embed`,
//! docs/model.md §1.2): the CLS row is kept, the square grid is resized with antialiased bicubic
//! (a = −0.5).

use crate::resample::resize_planar_f32;
use crate::weights::raw::RawTensor;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PosEmbedError {
    #[error("visual.positional_embedding has shape {0:?}: expected [1 + g·g, width] for a square patch grid")]
    NotSquare(Vec<usize>),
}

/// Side of the patch grid an embedding `[1 + g², D]` was trained for.
pub fn grid_of(shape: &[usize]) -> Result<usize, PosEmbedError> {
    if shape.len() != 2 || shape[0] < 2 {
        return Err(PosEmbedError::NotSquare(shape.to_vec()));
    }
    let g = ((shape[0] - 1) as f64).sqrt().round() as usize;
    if g * g + 1 != shape[0] {
        return Err(PosEmbedError::NotSquare(shape.to_vec()));
    }
    Ok(g)
}

/// `[1 + g², D]` → `[1 + to_grid², D]`; the identity when the grid already matches.
pub fn resize_positional_embedding(
    pos: &RawTensor,
    to_grid: usize,
) -> Result<RawTensor, PosEmbedError> {
    let g = grid_of(&pos.shape)?;
    let d = pos.shape[1];
    if g == to_grid {
        return Ok(pos.clone());
    }
    // rows 1.. are the grid, row-major; make it planar [D, g, g] for the separable resize.
    let mut planar = vec![0f32; d * g * g];
    for p in 0..g * g {
        for c in 0..d {
            planar[c * g * g + p] = pos.data[(1 + p) * d + c];
        }
    }
    let resized = resize_planar_f32(&planar, d, g, g, to_grid, to_grid);
    let n = to_grid * to_grid;
    let mut data = Vec::with_capacity((1 + n) * d);
    data.extend_from_slice(&pos.data[..d]);
    for p in 0..n {
        for c in 0..d {
            data.push(resized[c * n + p]);
        }
    }
    Ok(RawTensor::new(vec![1 + n, d], data))
}
