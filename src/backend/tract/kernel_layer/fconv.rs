//! A float32 2-D convolution on the kernel layer's f32 GEMMs ([`crate::kernels::fgemm`]),
//! in NHWC, with its bias, a residual addition and a ReLU fused into the epilogue.
//!
//! Every convolution is one implicit GEMM per group: the rows are output pixels, the columns
//! the group's output channels, K the group's `kh * kw * Cin_g` inputs in `(ky, kx, c)` order
//! (the weights are re-ordered so at load). A 1x1 convolution with stride 1 and no padding
//! reads its rows straight from the NHWC input (one GEMM over the pixels of the whole batch);
//! every other one reads a zero-padded copy of each image, split into `s x s` phase images for
//! stride `s`, one segment per tap (`conv::Phases`, shared with the u8 convolution): no im2col.

use super::conv::{Geometry, Parallel, Phases, ShapeError, SharedOut};
use crate::kernels::fgemm::{Epilogue, FGemm, PackedF32, RowMap, ShiftedA};

/// Columns per slice of a pointwise convolution's weights (each slice packed on its own), so
/// that at small M the threads split the columns (and the weight stream).
const SLICE_COLUMNS: usize = 256;
/// Rows per worker under which a pointwise convolution's workers split columns, not rows.
const SPLIT_COLUMNS_BELOW: usize = 96;

/// A float convolution with its weights packed for the GEMM.
#[derive(Debug)]
pub struct FConv {
    /// The convolution's shape.
    pub geometry: Geometry,
    /// `weights[group * slices + slice]`.
    weights: Vec<PackedF32>,
    /// Per output channel.
    bias: Vec<f32>,
    slices: usize,
    relu: bool,
    residual: bool,
    gemm: FGemm,
}

impl FConv {
    /// `weights`: ONNX's `[Cout, Cin/groups, kh, kw]`; `bias`: one value per output channel
    /// (zeros when the model has none); `residual`: whether `run` adds a residual input to the
    /// convolution's output; `relu`: whether a ReLU follows (after the addition).
    pub fn new(
        geometry: Geometry,
        weights: &[f32],
        bias: &[f32],
        residual: bool,
        relu: bool,
        gemm: FGemm,
    ) -> Result<Self, ShapeError> {
        Self::check(&geometry, weights.len(), bias.len())?;
        let g = &geometry;
        let (cout_g, k_g, cin_g) = (g.cout_g(), g.k_g(), g.cin_g());
        let [kh, kw] = g.kernel;
        let slices = if g.is_pointwise() { cout_g.div_ceil(SLICE_COLUMNS) } else { 1 };
        let width = cout_g.div_ceil(slices).next_multiple_of(16).min(cout_g);
        let mut packed = Vec::with_capacity(g.groups * slices);
        for group in 0..g.groups {
            // Row r of B^T: output channel group*cout_g + r, K in (ky, kx, c) order.
            let mut rows = vec![0f32; cout_g * k_g];
            for r in 0..cout_g {
                let filter = &weights[(group * cout_g + r) * k_g..][..k_g];
                let row = &mut rows[r * k_g..][..k_g];
                for ky in 0..kh {
                    for kx in 0..kw {
                        for c in 0..cin_g {
                            row[(ky * kw + kx) * cin_g + c] = filter[(c * kh + ky) * kw + kx];
                        }
                    }
                }
            }
            for slice in 0..slices {
                let cols = slice * width..((slice + 1) * width).min(cout_g);
                packed.push(PackedF32::pack(
                    &rows[cols.start * k_g..cols.end * k_g],
                    cols.len(),
                    k_g,
                ));
            }
        }
        Ok(FConv { geometry, weights: packed, bias: bias.to_vec(), slices, relu, residual, gemm })
    }

    /// Whether `weights` and `biases` values fit `geometry` ([`FConv::new`]'s checks, without
    /// packing).
    pub fn check(geometry: &Geometry, weights: usize, biases: usize) -> Result<(), ShapeError> {
        let g = geometry;
        if g.groups == 0 || !g.cin.is_multiple_of(g.groups) || !g.cout.is_multiple_of(g.groups) {
            return Err(format!(
                "{} groups do not divide {} -> {} channels",
                g.groups, g.cin, g.cout
            ));
        }
        if g.strides.contains(&0) || g.dilations.contains(&0) || g.kernel.contains(&0) {
            return Err("zero stride, dilation or kernel size".into());
        }
        if weights != g.cout * g.k_g() || biases != g.cout {
            return Err(format!(
                "{weights} weights and {biases} biases for {} x {}",
                g.cout,
                g.k_g()
            ));
        }
        Ok(())
    }

    /// Bytes of packed weights.
    pub fn packed_bytes(&self) -> usize {
        self.weights.iter().map(PackedF32::packed_bytes).sum()
    }

    /// Whether `run` takes a residual.
    pub fn has_residual(&self) -> bool {
        self.residual
    }

    /// Runs the convolution on `batch` NHWC images of `h x w` (`input`), writing every value
    /// of `output` (`batch x ho x wo x cout`, which may start uninitialized); `residual` has
    /// the output's shape. The work is split for `workers` threads: `parallel` is called with
    /// a number of items and a closure to run for each index, in any order, on any thread.
    pub fn run(
        &self,
        input: &[f32],
        (batch, h, w): (usize, usize, usize),
        residual: Option<&[f32]>,
        output: &mut [f32],
        workers: usize,
        parallel: Parallel<'_>,
    ) -> Result<(), ShapeError> {
        let g = &self.geometry;
        let (ho, wo) = g.output_size(h, w).ok_or("the kernel is larger than the input")?;
        if input.len() != batch * h * w * g.cin || output.len() != batch * ho * wo * g.cout {
            return Err(format!("input or output size wrong for {batch} x {h} x {w}"));
        }
        if residual.is_some_and(|r| r.len() != output.len()) || residual.is_some() != self.residual
        {
            return Err("residual input does not match".into());
        }
        let out = SharedOut::new(output);
        if g.is_pointwise() {
            self.run_pointwise(input, batch * h * w, residual, &out, workers, parallel);
        } else {
            self.run_direct(input, (batch, h, w), residual, &out, workers, parallel);
        }
        Ok(())
    }

    /// The GEMM of group `group`'s column slice `slice` for `m` rows.
    ///
    /// # Safety
    /// The C rows this writes (row `d` of `out` at the slice's columns, for the mapped rows)
    /// must not be accessed by anyone else during the call; `out` must cover them (checked
    /// by the kernel's bounds only in debug builds: the callers derive them from the shape).
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm(
        &self,
        m: usize,
        a: ShiftedA<'_>,
        group: usize,
        slice: usize,
        map: Option<RowMap>,
        residual: Option<&[f32]>,
        out: &SharedOut<f32>,
        out_offset: usize,
    ) {
        let g = &self.geometry;
        let b = &self.weights[group * self.slices + slice];
        let col = group * g.cout_g() + slice * self.weights[group * self.slices].n();
        let bias = &self.bias[col..][..b.n()];
        let rows = (0..m).rev().find_map(|r| map.map_or(Some(r), |map| map.dest(r)));
        let Some(last) = rows else { return };
        assert!(
            out_offset + last * g.cout + col + b.n() <= out.len,
            "convolution rows out of bounds"
        );
        let e = Epilogue {
            bias,
            residual: residual.map(|r| (&r[out_offset + col..], g.cout)),
            relu: self.relu,
        };
        // SAFETY: the rows written are inside `out` (asserted); exclusivity is the caller's.
        unsafe { self.gemm.run(m, a, b, &e, map, out.ptr.add(out_offset + col), g.cout) }
    }

    /// A 1x1 convolution with stride 1: one GEMM per group over the pixels of all images,
    /// rows split into one band per worker, or the column slices split when the rows are few.
    fn run_pointwise(
        &self,
        input: &[f32],
        pixels: usize,
        residual: Option<&[f32]>,
        out: &SharedOut<f32>,
        workers: usize,
        parallel: Parallel<'_>,
    ) {
        let g = &self.geometry;
        let a = |first: usize, group: usize| ShiftedA {
            data: &input[first * g.cin + group * g.cin_g()..],
            lda: g.cin,
            shifts: &[0],
            seg_k: g.cin_g(),
        };
        if workers > 1 && self.slices > 1 && pixels < SPLIT_COLUMNS_BELOW * workers {
            parallel(g.groups * self.slices, &|item| {
                let (group, slice) = (item / self.slices, item % self.slices);
                // SAFETY: each item writes only its own (group, slice) columns.
                unsafe { self.gemm(pixels, a(0, group), group, slice, None, residual, out, 0) }
            });
            return;
        }
        let band = pixels.div_ceil(workers.max(1));
        let bands = pixels.div_ceil(band.max(1));
        parallel(bands, &|i| {
            let rows = i * band..((i + 1) * band).min(pixels);
            for group in 0..g.groups {
                for slice in 0..self.slices {
                    // SAFETY: bands cover disjoint rows.
                    unsafe {
                        self.gemm(
                            rows.len(),
                            a(rows.start, group),
                            group,
                            slice,
                            None,
                            residual,
                            out,
                            rows.start * g.cout,
                        )
                    }
                }
            }
        });
    }

    /// Any other convolution, as an implicit GEMM over a zero-padded copy of each image in the
    /// phase images of [`Phases`], each tap reading its rows in place. Work items are (group,
    /// block of grid rows) pairs, about four per worker.
    fn run_direct(
        &self,
        input: &[f32],
        (batch, h, w): (usize, usize, usize),
        residual: Option<&[f32]>,
        out: &SharedOut<f32>,
        workers: usize,
        parallel: Parallel<'_>,
    ) {
        let g = &self.geometry;
        let phases = Phases::new(g, h, w, 1);
        let Phases { wq, wo, grid, .. } = phases;
        let (ho, shifts) = (grid / wq, &phases.shifts);
        let mut padded = vec![0f32; phases.padded_pixels * g.cin];
        let chunk_rows = grid.div_ceil((4 * workers).div_ceil(g.groups).max(1)).max(1);
        let chunks = grid.div_ceil(chunk_rows);
        let out_image = ho * wo * g.cout;
        for image in 0..batch {
            phases.fill(g, &input[image * h * w * g.cin..][..h * w * g.cin], &mut padded);
            let padded = &padded;
            parallel(g.groups * chunks, &|item| {
                let (group, chunk) = (item / chunks, item % chunks);
                let first = chunk * chunk_rows;
                let rows = chunk_rows.min(grid - first);
                let a = ShiftedA {
                    data: &padded[first * g.cin + group * g.cin_g()..],
                    lda: g.cin,
                    shifts,
                    seg_k: g.cin_g(),
                };
                let map = RowMap { first, wp: wq, wo };
                // SAFETY: the mapped rows of grid rows first..first + rows are output pixels
                // of this image, and this item writes only group `group`'s columns of them:
                // items write disjoint values.
                unsafe { self.gemm(rows, a, group, 0, Some(map), residual, out, image * out_image) }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::fgemm::FIsa;

    fn values(len: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            })
            .collect()
    }

    /// The convolution by its definition (NHWC in and out, f64 sums).
    #[allow(clippy::too_many_arguments)]
    fn direct(
        g: &Geometry,
        x: &[f32],
        (n, h, w): (usize, usize, usize),
        wt: &[f32],
        bias: &[f32],
        residual: Option<&[f32]>,
        relu: bool,
    ) -> Vec<f64> {
        let (ho, wo) = g.output_size(h, w).unwrap();
        let (cin_g, cout_g) = (g.cin / g.groups, g.cout / g.groups);
        let [kh, kw] = g.kernel;
        let mut out = vec![0f64; n * ho * wo * g.cout];
        for img in 0..n {
            for oy in 0..ho {
                for ox in 0..wo {
                    for oc in 0..g.cout {
                        let grp = oc / cout_g;
                        let mut acc = bias[oc] as f64;
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = (oy * g.strides[0] + ky * g.dilations[0]) as isize
                                    - g.pads[0] as isize;
                                let ix = (ox * g.strides[1] + kx * g.dilations[1]) as isize
                                    - g.pads[1] as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                    continue;
                                }
                                for c in 0..cin_g {
                                    let xv = x[((img * h + iy as usize) * w + ix as usize) * g.cin
                                        + grp * cin_g
                                        + c];
                                    let wv = wt[((oc * cin_g + c) * kh + ky) * kw + kx];
                                    acc += xv as f64 * wv as f64;
                                }
                            }
                        }
                        let at = ((img * ho + oy) * wo + ox) * g.cout + oc;
                        if let Some(r) = residual {
                            acc += r[at] as f64;
                        }
                        out[at] = if relu { acc.max(0.0) } else { acc };
                    }
                }
            }
        }
        out
    }

    fn serial(n: usize, f: &(dyn Fn(usize) + Sync)) {
        (0..n).rev().for_each(f)
    }

    /// Pointwise, grouped, strided, padded, dilated, asymmetric and stem-like convolutions,
    /// with and without the fused residual and ReLU, at batch 1 and 3 and 1 or 3 workers,
    /// against the definition; every output value is written (the output starts as NaN).
    #[test]
    fn convolutions_match_the_definition() {
        let gemms: Vec<FGemm> =
            [FIsa::Scalar, FIsa::Avx512].into_iter().filter_map(FGemm::new).collect();
        let shapes = [
            // (cin, cout, groups, kernel, stride, pads, dilation, h, w)
            (16, 300, 1, 1, 1, [0; 4], 1, 5, 7),
            (32, 48, 1, 1, 2, [0; 4], 1, 9, 8),
            (64, 64, 8, 3, 1, [1; 4], 1, 6, 7),
            (32, 64, 2, 3, 2, [1; 4], 1, 9, 11),
            (3, 16, 1, 7, 2, [3; 4], 1, 13, 12),
            (16, 16, 1, 3, 1, [0, 1, 2, 0], 2, 8, 9),
            (24, 40, 4, 5, 3, [2; 4], 1, 10, 10),
        ];
        for gemm in gemms {
            for (i, &(cin, cout, groups, k, s, pads, d, h, w)) in shapes.iter().enumerate() {
                let g = Geometry {
                    cin,
                    cout,
                    groups,
                    kernel: [k, k],
                    strides: [s, s],
                    pads,
                    dilations: [d, d],
                };
                let wt = values(cout * cin / groups * k * k, i as u64);
                let bias = values(cout, 100 + i as u64);
                for (batch, workers, residual, relu) in [
                    (1, 1, false, false),
                    (3, 3, true, true),
                    (1, 3, false, true),
                    (3, 1, true, false),
                ] {
                    let conv = FConv::new(g.clone(), &wt, &bias, residual, relu, gemm).unwrap();
                    let x = values(batch * h * w * cin, 200 + i as u64);
                    let (ho, wo) = g.output_size(h, w).unwrap();
                    let len = batch * ho * wo * cout;
                    let r = residual.then(|| values(len, 300 + i as u64));
                    let mut out = vec![f32::NAN; len];
                    conv.run(&x, (batch, h, w), r.as_deref(), &mut out, workers, &serial).unwrap();
                    let want = direct(&g, &x, (batch, h, w), &wt, &bias, r.as_deref(), relu);
                    for (j, (&got, &want)) in out.iter().zip(&want).enumerate() {
                        assert!(
                            (got as f64 - want).abs() <= 1e-5 * (1.0 + want.abs()),
                            "{:?} shape {i} batch {batch} workers {workers}: value {j} is {got}, \
                             expected {want}",
                            gemm.isa()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn shapes_that_do_not_fit_are_refused() {
        let gemm = FGemm::new(FIsa::Scalar).unwrap();
        let g = Geometry {
            cin: 6,
            cout: 4,
            groups: 4,
            kernel: [1, 1],
            strides: [1, 1],
            pads: [0; 4],
            dilations: [1, 1],
        };
        assert!(FConv::new(g.clone(), &[0.0; 6], &[0.0; 4], false, false, gemm).is_err());
        let g = Geometry { cin: 4, groups: 1, ..g };
        let conv = FConv::new(g, &[0.0; 16], &[0.0; 4], false, false, gemm).unwrap();
        let serial = |n: usize, f: &(dyn Fn(usize) + Sync)| (0..n).for_each(f);
        let mut out = vec![0.0; 4];
        assert!(conv.run(&[0.0; 5], (1, 1, 1), None, &mut out, 1, &serial).is_err());
        assert!(conv.run(&[0.0; 4], (1, 1, 1), Some(&[0.0; 4]), &mut out, 1, &serial).is_err());
    }
}

/// `cargo test --release --lib f32_scaling -- --ignored --nocapture`: ResNeXt101_32x8d's 1x1
/// and grouped convolutions on the AVX-512 kernel with 1 and 2 threads of a rayon pool.
#[cfg(test)]
#[test]
#[ignore]
fn f32_scaling() {
    use crate::kernels::fgemm::FIsa;
    use rayon::prelude::*;
    let Some(gemm) = FGemm::new(FIsa::Avx512) else { return };
    for (side, cin, cout, groups, k) in [
        (56usize, 256usize, 512usize, 1usize, 1usize),
        (28, 512, 512, 1, 1),
        (14, 1024, 1024, 1, 1),
        (7, 2048, 2048, 1, 1),
        (56, 256, 256, 32, 3),
        (14, 1024, 1024, 32, 3),
    ] {
        let g = Geometry {
            cin,
            cout,
            groups,
            kernel: [k, k],
            strides: [1, 1],
            pads: [k / 2; 4],
            dilations: [1, 1],
        };
        let x = vec![0.5f32; side * side * cin];
        let weights: Vec<f32> =
            (0..cout * cin / groups * k * k).map(|i| (i % 13) as f32 - 6.0).collect();
        let conv = FConv::new(g, &weights, &vec![0.0; cout], false, true, gemm).unwrap();
        let mut out = vec![0f32; side * side * cout];
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        for workers in [1usize, 2] {
            let par = |items: usize, f: &(dyn Fn(usize) + Sync)| {
                if workers == 1 {
                    (0..items).for_each(f)
                } else {
                    pool.install(|| (0..items).into_par_iter().for_each(f))
                }
            };
            let mut best = f64::MAX;
            for _ in 0..10 {
                let t = std::time::Instant::now();
                conv.run(&x, (1, side, side), None, &mut out, workers, &par).unwrap();
                best = best.min(t.elapsed().as_secs_f64());
            }
            let flops = 2.0 * (side * side * cin * cout / groups * k * k) as f64;
            println!(
                "{side}x{side} {cin}->{cout} g{groups} k{k}, {workers} threads: {:.3} ms, {:.0} GFLOP/s",
                best * 1e3,
                flops / best / 1e9
            );
        }
    }
}
