//! The precision the model runs in: f32, or f16 on a device with f16 arithmetic (a GPU with
//! `shader-f16`), which halves the memory the weights and activations take. The map stage (from
//! the token-text similarities and the distances to a normal-reference memory to the map and the
//! score), LayerNorm statistics and vector norms run in f32 either way. Distances to f32: docs/parity.md §7.

use burn::tensor::{
    backend::Backend, set_default_dtypes, DType, Element, FloatDType, IntDType, Tensor,
};

use crate::nn::{LayerNorm, LAYER_NORM_EPS};
use crate::Error;

/// Makes f16 the precision of every float tensor made on `device` from now on: the weights as they
/// are loaded, the activations. Call it before anything else touches the device (Burn fixes a
/// device's precision at its first tensor). Fails when the device has no f16 arithmetic.
pub fn use_f16<B: Backend>(device: &B::Device) -> Result<(), Error> {
    let int: IntDType = <B::IntElem as Element>::dtype().into();
    set_default_dtypes::<B>(device, FloatDType::F16, int).map_err(|e| {
        Error::Backend(format!(
            "this device cannot run the model in f16 (for a GPU through wgpu: it lacks `shader-f16`): {e:?}"
        ))
    })
}

/// `t` in f32, whatever precision the model runs in: for the steps f16 would spoil. The
/// similarities of patch tokens to the text (scaled by 10, or CLIP's 100) and everything after
/// them: map logits from f16 have 11 significant bits, and blurred, upsampled and squashed in f16
/// they would give an f16 map, about 2,000 distinct values between 0.5 and 1, whose ties lower
/// the pixel AUROC. A patch's distance to its nearest normal patch, `1 − cos`, keeps few of its digits in
/// f16 when the two are close. A sum of squares overflows f16 (largest value 65,504) once a
/// vector's norm passes 256. A no-op for a model in f32.
pub fn in_f32<B: Backend, const D: usize>(t: Tensor<B, D>) -> Tensor<B, D> {
    in_dtype(t, DType::F32)
}

/// `t` in `dtype`: back to the model's precision after a step in f32. A no-op (not even a node in
/// an autodiff graph) when `t` already is.
pub fn in_dtype<B: Backend, const D: usize>(t: Tensor<B, D>, dtype: DType) -> Tensor<B, D> {
    if t.dtype() == dtype {
        return t;
    }
    t.cast(FloatDType::from(dtype))
}

/// `ln` applied to `x`: the backend's fused kernel in f32; in an f16 model the mean and variance
/// are taken in f32 (as PyTorch's f16 LayerNorm does; with the model's one epsilon,
/// `LAYER_NORM_EPS`), since a squared deviation overflows f16 once it passes 256, and only the
/// normalised values return to f16 for the scale and shift.
pub fn norm<B: Backend, const D: usize>(ln: &LayerNorm<B>, x: Tensor<B, D>) -> Tensor<B, D> {
    let dtype = x.dtype();
    if dtype == DType::F32 {
        return ln.forward(x);
    }
    let x = in_f32(x);
    let centered = x.clone() - x.mean_dim(D - 1);
    let variance = centered.clone().square().mean_dim(D - 1);
    let normalized = in_dtype(centered / (variance + LAYER_NORM_EPS).sqrt(), dtype);
    let scaled = normalized * ln.gamma.val().unsqueeze();
    match &ln.beta {
        Some(beta) => scaled + beta.val().unsqueeze(),
        None => scaled,
    }
}

/// Euclidean norm over the last dimension, kept as a size-1 dimension, in `x`'s precision. The
/// squares are summed in f32: in an f16 model they would overflow once the norm passes 256.
pub fn norm_last<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    let dtype = x.dtype();
    in_dtype(in_f32(x).square().sum_dim(D - 1).sqrt(), dtype)
}

/// `x / ‖x‖` over the last dimension (`F.normalize` with its 1e-12 floor).
pub fn l2_normalize<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    let n = norm_last(x.clone()).clamp_min(1e-12);
    x / n
}
