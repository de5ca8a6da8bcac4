//! Building blocks: Burn's own `Linear` and `LayerNorm` (`burn::nn`) and every parameter made with
//! PyTorch's initialisation and epsilon. Their f16-safe use (LayerNorm statistics, vector norms in
//! f32) is in `precision.rs`.

use burn::module::{Initializer, Module, ModuleVisitor, Param};
use burn::nn::{LayerNormConfig, LinearConfig};
use burn::tensor::{backend::Backend, Tensor};

/// LayerNorm over the last dimension through the backend's fused kernel (`gamma` = PyTorch's
/// `weight`, `beta` = its `bias`).
pub use burn::nn::LayerNorm;
/// `y = x·W + b` with W stored `[in, out]` (PyTorch stores `[out, in]`; the loader transposes).
pub use burn::nn::Linear;

// Every parameter is made lazily (`Initializer`): a model built to receive checkpoint weights never
// draws its random values.

/// Draws every parameter of `module` that is not drawn yet, in place. Burn clones an undrawn
/// parameter as its own lazy state, so a clone of a new random model (or a walk over one, which
/// works on a clone) would otherwise draw other values than the model holds.
pub fn materialize<B: Backend, M: Module<B>>(module: &M) {
    struct Draw;
    impl<B: Backend> ModuleVisitor<B> for Draw {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let _ = param.val();
        }
    }
    module.visit(&mut Draw);
}

/// A parameter drawn from N(0, std²).
pub fn normal<B: Backend, const D: usize>(
    shape: [usize; D],
    std: f64,
    device: &B::Device,
) -> Param<Tensor<B, D>> {
    Initializer::Normal { mean: 0.0, std }.init(shape, device)
}

/// A parameter filled with `value`.
pub fn constant<B: Backend, const D: usize>(
    shape: [usize; D],
    value: f64,
    device: &B::Device,
) -> Param<Tensor<B, D>> {
    Initializer::Constant { value }.init(shape, device)
}

/// PyTorch `nn.Linear(d_in, d_out)`: Burn's default initialiser is PyTorch's, U(±1/√d_in) for
/// the weight and the bias.
pub fn linear<B: Backend>(d_in: usize, d_out: usize, bias: bool, device: &B::Device) -> Linear<B> {
    LinearConfig::new(d_in, d_out).with_bias(bias).init(device)
}

/// `nn.LayerNorm`'s epsilon.
pub const LAYER_NORM_EPS: f64 = 1e-5;

/// PyTorch `nn.LayerNorm(d)`: weight 1, bias 0, eps 1e-5.
pub fn layer_norm<B: Backend>(d: usize, device: &B::Device) -> LayerNorm<B> {
    LayerNormConfig::new(d)
        .with_epsilon(LAYER_NORM_EPS)
        .init(device)
}

/// PyTorch `kaiming_uniform_` with a = 0 (gain √2) on a tensor whose fan-in is `fan_in`:
/// U(±√(6/fan_in)).
pub fn kaiming_uniform<B: Backend, const D: usize>(
    shape: [usize; D],
    fan_in: usize,
    device: &B::Device,
) -> Param<Tensor<B, D>> {
    let gain = std::f64::consts::SQRT_2;
    let init = Initializer::KaimingUniform {
        gain,
        fan_out_only: false,
    };
    init.init_with(shape, Some(fan_in), None, device)
}

#[cfg(test)]
mod tests {
    use crate::config::presets;
    use crate::AcdClip;

    type B = burn::backend::NdArray<f32>;

    /// A clone of a new random model is the same model (Burn alone would give the clone's
    /// undrawn parameters their own draw), and two new models differ (so the check can fail).
    #[test]
    fn a_new_model_and_its_clone_hold_the_same_values() {
        let (cfg, device) = (presets::tiny(64), Default::default());
        let model = AcdClip::<B>::new(&cfg, &device);
        let values = |m: &AcdClip<B>| {
            let a = m.vision.conv1.val().into_data().to_vec::<f32>().unwrap();
            let lora = &m.image_adapter.lora_adapters[0].conv_lora_blocks[0];
            let b = lora.lora_a.val().into_data().to_vec::<f32>().unwrap();
            [a, b].concat()
        };
        let same = values(&model.clone()) == values(&model);
        assert!(
            same,
            "a clone of a new model holds other values than the model"
        );
        let other = values(&AcdClip::<B>::new(&cfg, &device)) != values(&model);
        assert!(other, "two new models hold the same values");
    }
}
