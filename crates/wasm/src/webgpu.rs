//! The page's WebGPU device, initialised once per page (feature `webgpu`: wgpu does not build for
//! the multi-threaded module, whose memory is shared between workers).

use std::cell::{Cell, RefCell};

use burn::backend::wgpu::{
    graphics::AutoGraphicsApi, init_setup_async, RuntimeOptions, WgpuDevice,
};
use burn::backend::Wgpu;
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

use crate::{arithmetic_name, js_error};

thread_local! {
    /// The promise of the one WebGPU initialisation of this page; every load awaits the same one.
    static GPU_INIT: RefCell<Option<Promise>> = const { RefCell::new(None) };
    /// Whether that device runs in f16, once chosen: Burn fixes a device's precision for good.
    static GPU_F16: Cell<Option<bool>> = const { Cell::new(None) };
}

/// Gives the device its precision the first time; later asks must match it.
fn fix_precision(device: &WgpuDevice, f16: bool) -> Result<(), JsValue> {
    match GPU_F16.with(Cell::get) {
        Some(chosen) if chosen == f16 => Ok(()),
        Some(chosen) => Err(js_error(format!(
            "this page's WebGPU device already runs in {}; reload the page to run in {}",
            arithmetic_name(chosen),
            arithmetic_name(f16)
        ))),
        None => {
            if f16 {
                acd_core::precision::use_f16::<Wgpu>(device)
                    .map_err(|e| js_error(e.to_string()))?;
            }
            GPU_F16.with(|c| c.set(Some(f16)));
            Ok(())
        }
    }
}

/// A message for a JS value thrown at us (an `Error`'s message, else its string form).
fn describe(v: &JsValue) -> String {
    if let Some(e) = v.dyn_ref::<js_sys::Error>() {
        return String::from(e.message());
    }
    v.as_string().unwrap_or_else(|| format!("{v:?}"))
}

/// Resolves to the adapter from `navigator.gpu.requestAdapter()`, or explains why there is none.
async fn check_webgpu_adapter() -> Result<(), String> {
    let global = js_sys::global();
    let navigator = Reflect::get(&global, &"navigator".into()).unwrap_or(JsValue::UNDEFINED);
    let gpu = if navigator.is_object() {
        Reflect::get(&navigator, &"gpu".into()).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    };
    if !gpu.is_object() {
        return Err("WebGPU is not available: this browser has no navigator.gpu".into());
    }
    let request = Reflect::get(&gpu, &"requestAdapter".into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .ok_or("WebGPU is not available: navigator.gpu.requestAdapter is not a function")?;
    let promise = request.call0(&gpu).map_err(|e| {
        format!(
            "WebGPU is not available: requestAdapter failed: {}",
            describe(&e)
        )
    })?;
    let adapter = JsFuture::from(Promise::resolve(&promise))
        .await
        .map_err(|e| {
            format!(
                "WebGPU is not available: requestAdapter failed: {}",
                describe(&e)
            )
        })?;
    if adapter.is_null() || adapter.is_undefined() {
        return Err("WebGPU is not available: no adapter".into());
    }
    Ok(())
}

/// The page's WebGPU device, initialised on first use, with f16 as its precision when `f16`.
pub(crate) async fn webgpu_device(f16: bool) -> Result<WgpuDevice, JsValue> {
    let pending = GPU_INIT.with(|cell| cell.borrow().clone());
    let init = match pending {
        Some(p) => p,
        None => {
            // Check the adapter before Burn's init, which panics (unrecoverably) without one.
            // A failed check is not cached: a later load may try again.
            check_webgpu_adapter().await.map_err(js_error)?;
            // Another load may have started the init while we awaited the adapter.
            GPU_INIT.with(|cell| {
                cell.borrow_mut()
                    .get_or_insert_with(|| {
                        future_to_promise(async {
                            init_setup_async::<AutoGraphicsApi>(
                                &WgpuDevice::default(),
                                RuntimeOptions::default(),
                            )
                            .await;
                            Ok(JsValue::UNDEFINED)
                        })
                    })
                    .clone()
            })
        }
    };
    JsFuture::from(init).await?;
    let device = WgpuDevice::default();
    fix_precision(&device, f16)?;
    Ok(device)
}
