//! Optional capture of intermediate tensors by name, for the parity checks against the official
//! fixtures. Disabled traces cost nothing: no tensor is read back.

use burn::tensor::{backend::Backend, Tensor};

use crate::weights::raw::RawTensor;

#[derive(Default)]
pub struct Trace {
    enabled: bool,
    pub entries: Vec<(String, RawTensor)>,
}

impl Trace {
    pub fn off() -> Self {
        Self::default()
    }
    pub fn on() -> Self {
        Self {
            enabled: true,
            entries: Vec::new(),
        }
    }
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn record<B: Backend, const D: usize>(
        &mut self,
        name: impl FnOnce() -> String,
        t: &Tensor<B, D>,
    ) {
        if !self.enabled {
            return;
        }
        let shape = t.dims().to_vec();
        let data = t
            .to_data()
            .convert::<f32>()
            .to_vec::<f32>()
            .unwrap_or_default();
        self.entries.push((name(), RawTensor::new(shape, data)));
    }

    pub fn get(&self, name: &str) -> Option<&RawTensor> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }
}
