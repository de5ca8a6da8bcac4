use acd_core::clip::tokenizer::ClipTokenizer;
use acd_core::config::presets;
use acd_core::detector::prompt_tokens;
use acd_core::trace::Trace;
use acd_core::AcdClip;
use burn::backend::NdArray;
type B = NdArray<f32>;
fn main() {
    let cfg = presets::tiny(64);
    let dev = Default::default();
    let m = AcdClip::<B>::new(&cfg, &dev);
    let tok = ClipTokenizer::new();
    let (n, a) = prompt_tokens(&tok, "wood").unwrap();
    let t = m
        .class_embedding(&cfg, &n, &a, &dev, &mut Trace::off())
        .unwrap(); // [N, D, 2]
    let [ng, d, _] = t.dims();
    for i in 0..ng {
        let x = t.clone().narrow(0, i, 1).reshape([d, 2]);
        let c0 = x.clone().narrow(1, 0, 1);
        let c1 = x.narrow(1, 1, 1);
        let cos = (c0 * c1).sum().into_scalar();
        println!("level {i}: cos(normal, abnormal) = {cos}");
    }
}
