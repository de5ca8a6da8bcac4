//! Optional capture of intermediate tensors by name, for the parity checks against the official
//! fixtures. Disabled traces cost nothing: no tensor is read back.

use burn::tensor::{backend::Backend, Tensor};

use crate::weights::raw::RawTensor;

#[derive(Default)]
pub struct Trace {
    enabled: bool,
    pub entries: Vec<(String, RawTensor)>,
    /// Tensors whose read-back failed, with the backend's reason: reported, never kept as empty.
    pub unreadable: Vec<(String, String)>,
}

impl Trace {
    pub fn off() -> Self {
        Self::default()
    }
    pub fn on() -> Self {
        Self {
            enabled: true,
            ..Self::default()
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
        match RawTensor::read_back(t.clone()) {
            Ok(raw) => self.entries.push((name(), raw)),
            Err(why) => self.unreadable.push((name(), why)),
        }
    }

    pub fn get(&self, name: &str) -> Option<&RawTensor> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }

    /// Why the tensor recorded as `name` could not be read back, if it could not.
    pub fn unreadable(&self, name: &str) -> Option<&str> {
        self.unreadable
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, why)| why.as_str())
    }
}
