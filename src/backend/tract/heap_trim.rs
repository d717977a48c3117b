//! Handing the heap memory that model loading frees back to the operating system, as it is
//! freed rather than at the end of each stage.
//!
//! Loading a model rewrites its weights several times: tract's decluttering (its `ChangeAxes`
//! pass above all) replaces weight constants with re-laid-out copies one patch at a time, and
//! optimizing packs them. Each old tensor is freed as soon as its patch is applied, but glibc
//! serves weight-sized blocks from its heap once its dynamic mmap threshold has risen, and a
//! freed block in the middle of the heap stays mapped. The next weight rarely fits the hole,
//! so the heap grows by one copy of the weights over the pass: ResNeXt101_32x8d (338 MiB of
//! weights) peaked at 2.3x its file size while decluttering, with only one copy of the weights
//! alive at any moment.
//!
//! [`trimming`] wraps every pass of a tract optimizer so that the freed pages are released
//! between two patches (`malloc_trim`, glibc only; elsewhere the passes are left as they are).
//! It changes nothing in what the passes do, and nothing in the caller's allocator settings.
//! It costs load time: the returned pages are faulted in again as later tensors are allocated
//! (ResNeXt101_32x8d FP32 loaded in 1.81 s against 1.50 s, with a peak of 453-478 MB against
//! 754-801 MB, over four alternating runs). `malloc_trim` holds each glibc arena's lock while it
//! walks it, so other threads of the process may wait briefly on `malloc` meanwhile.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tract_core::optim::{Optimizer, OptimizerSession, TypedPass};
use tract_onnx::prelude::*;

/// Hands the pages of freed heap blocks back to the operating system. glibc only: Android's
/// bionic and musl have no such call, and this is then a no-op.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::os::raw::c_int;
        }
        // SAFETY: glibc's malloc_trim takes no pointers and is thread-safe; it only returns
        // free pages to the kernel.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// Whether releasing freed memory does anything on this platform.
const CAN_TRIM: bool = cfg!(all(target_os = "linux", target_env = "gnu"));

/// Patches applied between two trims. A trim walks the heap's free blocks; trimming after every
/// patch made ResNeXt101_32x8d's load measurably slower, every 16 patches did not, and kept the
/// peak within 10 % of trimming after every patch (445-459 vs 422-426 MB; every 64: 509-526).
const PATCHES_PER_TRIM: usize = 16;

/// `optimizer` with every pass wrapped so that freed heap pages are released every
/// `PATCHES_PER_TRIM` (16) patches. Returned unchanged where trimming does nothing.
pub fn trimming(mut optimizer: Optimizer) -> Optimizer {
    if CAN_TRIM {
        let patches = Arc::new(AtomicUsize::new(0));
        optimizer.passes = std::mem::take(&mut optimizer.passes)
            .into_iter()
            .map(|inner| {
                Box::new(TrimBetweenPatches { inner, patches: patches.clone() })
                    as Box<dyn TypedPass>
            })
            .collect();
    }
    optimizer
}

/// tract's decluttering of `model` (what `TypedModel::declutter` does), with freed heap pages
/// released between patches.
pub fn declutter(model: &mut TypedModel) -> TractResult<()> {
    trimming(Optimizer::declutter()).optimize(model)
}

/// A tract optimizer pass that releases freed heap pages before asking the pass it wraps for
/// its next patch (the session applies each patch before asking again).
#[derive(Debug, Clone)]
struct TrimBetweenPatches {
    inner: Box<dyn TypedPass>,
    /// Patches asked for since the last trim, shared by all the passes of one optimizer.
    patches: Arc<AtomicUsize>,
}

impl TypedPass for TrimBetweenPatches {
    fn reset(&mut self) -> TractResult<()> {
        self.inner.reset()
    }

    fn next(
        &mut self,
        session: &mut OptimizerSession,
        model: &TypedModel,
    ) -> TractResult<Option<TypedModelPatch>> {
        if self.patches.fetch_add(1, Ordering::Relaxed) + 1 >= PATCHES_PER_TRIM {
            self.patches.store(0, Ordering::Relaxed);
            release_freed_memory();
        }
        self.inner.next(session, model)
    }

    fn run_direct(&mut self, model: &mut TypedModel) -> TractResult<bool> {
        self.inner.run_direct(model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model whose decluttering applies patches: x * 1 + 0, which tract folds away.
    fn foldable_model() -> TractResult<TypedModel> {
        let mut model = TypedModel::default();
        let x = model.add_source("x", f32::fact([2, 3]))?;
        let one = model.add_const("one", tensor2(&[[1f32]]))?;
        let zero = model.add_const("zero", tensor2(&[[0f32]]))?;
        let y = model.wire_node("mul", tract_core::ops::math::mul(), &[x, one])?;
        let z = model.wire_node("add", tract_core::ops::math::add(), &[y[0], zero])?;
        model.select_output_outlets(&z)?;
        Ok(model)
    }

    #[test]
    fn wrapped_passes_declutter_and_optimize_like_tract_own() -> TractResult<()> {
        let mut ours = foldable_model()?;
        declutter(&mut ours)?;
        let theirs = foldable_model()?.into_decluttered()?;
        assert_eq!(ours.nodes().len(), theirs.nodes().len());
        assert_eq!(ours.nodes().len(), 1, "x * 1 + 0 declutters to the source alone");
        ours.optimize_with_session(&mut trimming(Optimizer::codegen()).session())?;
        let plan = ours.into_runnable()?;
        let x = tensor2(&[[1f32, 2., 3.], [4., 5., 6.]]);
        let out = plan.run(tvec![x.clone().into_tvalue()])?;
        assert_eq!(*out[0], x);
        Ok(())
    }

    #[test]
    fn every_pass_is_wrapped_where_trimming_works() {
        let plain = Optimizer::declutter().passes.len();
        let wrapped = trimming(Optimizer::declutter());
        assert_eq!(wrapped.passes.len(), plain);
        let names: Vec<String> = wrapped.passes.iter().map(|p| format!("{p:?}")).collect();
        assert_eq!(
            names.iter().all(|n| n.starts_with("TrimBetweenPatches")),
            CAN_TRIM,
            "{names:?}"
        );
    }
}
