//! The training loop: epochs of shuffled batches from a sample source, the StepLR schedule,
//! a checkpoint per epoch, and events for progress bars and logs.

use std::time::Instant;

use burn::tensor::backend::AutodiffBackend;
use serde::Serialize;

use crate::batch::{model_input, resize_mask, Batch, TrainSample};
use crate::trainer::{StepLosses, Trainer};
use crate::TrainError;

/// Where training samples come from. `sample(i, epoch)` must be reproducible: the same
/// `(i, epoch)` always gives the same image and mask (synthetic sources derive their seed from it).
pub trait SampleSource {
    /// Samples per epoch.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn sample(&self, index: usize, epoch: usize) -> Result<TrainSample, TrainError>;
}

/// Turns a sample into model input and mask (and applies the training augmentations).
pub trait Prepare {
    fn prepare(
        &self,
        sample: TrainSample,
        image_size: usize,
        map_size: usize,
        seed: u64,
    ) -> (Vec<f32>, Vec<f32>);
}

/// No augmentation: resize + normalise, nearest-resized mask.
pub struct NoAugment;

impl Prepare for NoAugment {
    fn prepare(
        &self,
        s: TrainSample,
        image_size: usize,
        map_size: usize,
        _: u64,
    ) -> (Vec<f32>, Vec<f32>) {
        let mask = resize_mask(&s.mask, s.image.width, s.image.height, map_size);
        (model_input(&s.image, image_size), mask)
    }
}

#[derive(Clone, Debug, Serialize)]
pub enum Event {
    Step {
        epoch: usize,
        step: usize,
        steps_per_epoch: usize,
        losses: StepLosses,
        lr_image: f64,
        images_per_second: f64,
    },
    EpochEnd {
        epoch: usize,
        mean_loss: f64,
        seconds: f64,
    },
}

/// SplitMix64: the sample order and augmentation seeds (stable across platforms and versions).
pub fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Fisher–Yates order of `0..n` for an epoch.
pub fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut state = splitmix(seed ^ splitmix(epoch as u64));
    for i in (1..n).rev() {
        state = splitmix(state);
        let j = (state % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

/// Runs epochs `first_epoch..=recipe.epochs` (1-based). `on_epoch_end(trainer, epoch)` runs after
/// each epoch (validation, checkpoint); an error there stops training.
pub fn fit<B: AutodiffBackend>(
    trainer: &mut Trainer<B>,
    source: &dyn SampleSource,
    prepare: &dyn Prepare,
    first_epoch: usize,
    on_event: &mut dyn FnMut(&Event),
    on_epoch_end: &mut dyn FnMut(&Trainer<B>, usize, f64) -> Result<(), TrainError>,
) -> Result<(), TrainError> {
    if source.is_empty() {
        return Err(TrainError::Data("the training set is empty".into()));
    }
    let (s, m) = (
        trainer.config.clip.vision.image_size,
        trainer.config.map_size,
    );
    let bs = trainer.recipe.batch_size.max(1);
    let seed = trainer.recipe.seed;
    for epoch in first_epoch..=trainer.recipe.epochs {
        let start = Instant::now();
        let order = epoch_order(source.len(), seed, epoch);
        let steps = order.len().div_ceil(bs); // no drop_last
        let mut loss_sum = 0.0;
        for (step, chunk) in order.chunks(bs).enumerate() {
            let t0 = Instant::now();
            let mut batch = Batch::default();
            for &i in chunk {
                let sample = source.sample(i, epoch)?;
                let class = sample.class_name.clone();
                let aug_seed = splitmix(seed ^ splitmix((epoch as u64) << 32 | i as u64));
                let (x, mask) = prepare.prepare(sample, s, m, aug_seed);
                batch.push(x, mask, class);
            }
            let losses = trainer.step(&batch, epoch)?;
            loss_sum += losses.total;
            on_event(&Event::Step {
                epoch,
                step: step + 1,
                steps_per_epoch: steps,
                losses,
                lr_image: trainer.recipe.image_lr * trainer.recipe.lr_factor(epoch),
                images_per_second: batch.len() as f64 / t0.elapsed().as_secs_f64().max(1e-9),
            });
        }
        let mean_loss = loss_sum / steps as f64;
        on_event(&Event::EpochEnd {
            epoch,
            mean_loss,
            seconds: start.elapsed().as_secs_f64(),
        });
        on_epoch_end(trainer, epoch, mean_loss)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_order_is_a_permutation_that_changes_per_epoch() {
        let a = epoch_order(100, 7, 1);
        let b = epoch_order(100, 7, 2);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_ne!(a, b);
        assert_eq!(a, epoch_order(100, 7, 1));
    }
}
