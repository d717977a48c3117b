//! A float32 2-D convolution on the kernel layer's float GEMMs, in NHWC, with its bias, a
//! residual addition and a ReLU fused into the epilogue: f32 on [`crate::kernels::fgemm`], or
//! in the opt-in bf16 mode bf16 products on AMX or AVX512-BF16 ([`crate::kernels::bgemm`],
//! for the convolutions whose groups have 16 or a multiple of 32 input channels, and on AMX
//! 8, see [`bf16_fits`]; the others stay f32).
//!
//! Every convolution is one implicit GEMM per group: the rows are output pixels, the columns
//! the group's output channels, K the group's `kh * kw * Cin_g` inputs in `(ky, kx, c)` order
//! (the weights are re-ordered so at load). A 1x1 convolution with stride 1 and no padding
//! reads its rows straight from the NHWC input (one GEMM over the pixels of the whole batch);
//! every other one reads a zero-padded copy of each image, split into `s x s` phase images for
//! stride `s`, one segment per tap (`conv::Phases`, shared with the u8 convolution): no im2col.
//! On bf16 the input is rounded to bf16 once per run, split over the workers: by the copy into
//! the padded image, or for a pointwise convolution into a buffer of its own.
//!
//! An FP16 model's weights stay float16 ([`FConv::new_f16`]): packed in float16 panels, widened
//! in the f32 kernel (half the memory of float32 panels, the same results), or rounded to bf16
//! from their widened values for the bf16 kernel.

use super::conv::{filter_to_row, Geometry, Parallel, Phases, ShapeError, SharedOut, WorkItems};
use crate::kernels::bgemm::{BGemm, BIsa, PackedBf16, ShiftedBf16, TiledBf16, K_STEP};
use crate::kernels::fgemm::{Epilogue, FGemm, FIsa, PackedF32, RowMap, ShiftedA};
use half::f16;

/// Columns per slice of a pointwise convolution's weights (each slice packed on its own), so
/// that at small M the threads split the columns (and the weight stream).
const SLICE_COLUMNS: usize = 256;
/// Rows per worker under which a pointwise convolution's workers split columns, not rows (so
/// that each reads only its share of the weights): f32, and bf16 on AMX, whose products are
/// faster, so that the weight stream matters at more rows.
const SPLIT_COLUMNS_BELOW: usize = 96;
const SPLIT_COLUMNS_BELOW_BF16: usize = 256;
/// Values per item of the parallel conversion to bf16.
const CONVERT_CHUNK: usize = 64 << 10;

/// The float kernels a convolution may run on: f32 always, bf16 products (on AMX, or on
/// AVX512-BF16 where there is no AMX) when the bf16 mode is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FloatKernels {
    /// The f32 kernel.
    pub f32: FGemm,
    /// The bf16 kernel, used for the convolutions it fits ([`FloatKernels::runs_bf16`]).
    pub bf16: Option<BGemm>,
}

impl FloatKernels {
    /// Whether a convolution with `groups` groups of `cin_g` input channels runs on the bf16
    /// kernel: the bf16 mode is on and [`bf16_fits`].
    pub fn runs_bf16(&self, cin_g: usize, groups: usize) -> bool {
        self.bf16.is_some_and(|b| bf16_fits(b.isa(), cin_g, groups))
    }
}

/// Whether the bf16 kernel `isa` takes a convolution with `groups` groups of `cin_g` input
/// channels: each tap's channels are whole 32-value K steps (the 1x1 convolutions and the 32-
/// and 64-channel groups of ResNeXt), or 16 channels per group in pairs of groups, or (except
/// on AVX512-BF16) 8 in sets of 4, which run as one group of 32 channels with block-diagonal
/// weights (`merged_groups`: half or three quarters of its products are zeros). AMX still
/// computes them faster than f32 computes the others; `vdpbf16ps`, at twice the f32 rate,
/// does for the 16-channel groups (their f32 GEMM, 16 columns wide, runs at about two thirds
/// of the FMA peak) and not for the 8-channel ones (examples/fgemm_gflops.rs measures both).
/// The 3-channel stem stays f32.
pub fn bf16_fits(isa: BIsa, cin_g: usize, groups: usize) -> bool {
    cin_g.is_multiple_of(K_STEP) || merged_groups(isa, cin_g, groups) > 1
}

/// How many groups of `cin_g` channels the bf16 kernel `isa` runs as one (1: none merged).
fn merged_groups(isa: BIsa, cin_g: usize, groups: usize) -> usize {
    match cin_g {
        8 if isa != BIsa::Avx512Bf16 && groups.is_multiple_of(4) => 4,
        16 if groups.is_multiple_of(2) => 2,
        _ => 1,
    }
}

/// How many groups the f32 kernel runs as one (1: none merged): 8-channel groups (8 in, 8 out:
/// ResNeXt's first stage) in pairs, as one 16-channel group with block-diagonal weights. Their
/// own GEMM is 8 columns wide, half a zmm register, and ran at 43 GFLOP/s where the 16-column
/// one runs at 125 (examples/fgemm_gflops.rs, one core): half the merged products are zeros,
/// and the layer is still faster. The zeros add nothing to any sum (`acc + 0 * x` is `acc`), so
/// the results are unchanged for finite inputs; a NaN or infinite input value also reaches the
/// other group of its pair. The AVX2 kernel runs an 8-column GEMM in one ymm register per row
/// (12 rows a tile), so it keeps the groups apart.
fn f32_merged_groups(isa: FIsa, g: &Geometry) -> usize {
    if isa != FIsa::Avx2 && g.cin_g() == 8 && g.cout_g() == 8 && g.groups.is_multiple_of(2) {
        2
    } else {
        1
    }
}

/// Packs one slice of re-ordered weights (`n` rows of `k` values of `T`) in f32 panels.
type PackF32<T> = fn(&[T], usize, usize) -> PackedF32;
/// Packs one slice of re-ordered weights in bf16 panels.
type PackBf16<T> = fn(&[T], usize, usize) -> PackedBf16;

/// The packed weights, `[group * slices + slice]`, for the kernel that runs them.
#[derive(Debug)]
enum Packed {
    F32(Vec<PackedF32>, FGemm),
    Bf16(Vec<PackedBf16>, BGemm),
}

/// A convolution input as the kernel reads it: f32, or rounded to bf16.
#[derive(Clone, Copy)]
enum Rows<'a> {
    F32(&'a [f32]),
    Bf16(&'a [u16]),
    /// bf16 in the tiled layout of [`TiledBf16`] (a pointwise convolution with one group).
    Tiled(&'a [u16]),
}

/// A float convolution with its weights packed for the GEMM.
#[derive(Debug)]
pub struct FConv {
    /// The convolution's shape.
    pub geometry: Geometry,
    /// The shape the kernels run: `geometry`, or with small groups merged (fewer, wider groups
    /// with block-diagonal weights: `merged_groups` on bf16, `f32_merged_groups` on f32).
    layout: Geometry,
    weights: Packed,
    /// Per output channel.
    bias: Vec<f32>,
    slices: usize,
    relu: bool,
    residual: bool,
}

impl FConv {
    /// `weights`: ONNX's `[Cout, Cin/groups, kh, kw]`; `bias`: one value per output channel
    /// (zeros when the model has none); `residual`: whether `run` adds a residual input to the
    /// convolution's output; `relu`: whether a ReLU follows (after the addition). The weights
    /// are packed for bf16 when `kernels.runs_bf16(Cin/groups)`, else for f32.
    pub fn new(
        geometry: Geometry,
        weights: &[f32],
        bias: &[f32],
        residual: bool,
        relu: bool,
        kernels: FloatKernels,
    ) -> Result<Self, ShapeError> {
        let packs = (PackedF32::pack as PackF32<f32>, PackedBf16::pack as PackBf16<f32>);
        Self::packed(geometry, weights, packs, bias, residual, relu, kernels)
    }

    /// [`FConv::new`] for float16 weights (an FP16 model's): on the f32 kernel they are
    /// re-ordered and packed in float16 (half the bytes of float32 panels) and widened exactly
    /// in the kernel, so the results are those of `new` on the widened weights, bit for bit;
    /// for the bf16 kernel each slice is widened, then rounded to bf16 as `new` rounds it.
    pub fn new_f16(
        geometry: Geometry,
        weights: &[f16],
        bias: &[f32],
        residual: bool,
        relu: bool,
        kernels: FloatKernels,
    ) -> Result<Self, ShapeError> {
        fn widened_bf16(w: &[f16], n: usize, k: usize) -> PackedBf16 {
            PackedBf16::pack(&w.iter().map(|h| h.to_f32()).collect::<Vec<f32>>(), n, k)
        }
        let packs = (PackedF32::pack_f16 as PackF32<f16>, widened_bf16 as PackBf16<f16>);
        Self::packed(geometry, weights, packs, bias, residual, relu, kernels)
    }

    /// `new` / `new_f16` on weights of element type `T`, each slice packed by `pack_f32` or
    /// `pack_bf16`.
    fn packed<T: Copy + Default>(
        geometry: Geometry,
        weights: &[T],
        (pack_f32, pack_bf16): (PackF32<T>, PackBf16<T>),
        bias: &[f32],
        residual: bool,
        relu: bool,
        kernels: FloatKernels,
    ) -> Result<Self, ShapeError> {
        Self::check(&geometry, weights.len(), bias.len())?;
        let bf16 = kernels.bf16.filter(|_| kernels.runs_bf16(geometry.cin_g(), geometry.groups));
        let merge = match bf16 {
            Some(b) => merged_groups(b.isa(), geometry.cin_g(), geometry.groups),
            None => f32_merged_groups(kernels.f32.isa(), &geometry),
        };
        let layout = Geometry { groups: geometry.groups / merge, ..geometry.clone() };
        let merged;
        let weights = if merge > 1 {
            merged = block_diagonal(&geometry, weights, merge);
            &merged[..]
        } else {
            weights
        };
        let g = &layout;
        let (cout_g, k_g, cin_g) = (g.cout_g(), g.k_g(), g.cin_g());
        let [kh, kw] = g.kernel;
        let slices = if g.is_pointwise() { cout_g.div_ceil(SLICE_COLUMNS) } else { 1 };
        let width = cout_g.div_ceil(slices).next_multiple_of(16).min(cout_g);
        let mut f32_panels = Vec::new();
        let mut bf16_panels = Vec::new();
        for group in 0..g.groups {
            // Row r of B^T: output channel group*cout_g + r, K in (ky, kx, c) order.
            let mut rows = vec![T::default(); cout_g * k_g];
            let filters = &weights[group * cout_g * k_g..][..cout_g * k_g];
            for (row, filter) in rows.chunks_exact_mut(k_g).zip(filters.chunks_exact(k_g)) {
                filter_to_row(filter, kh * kw, row, cin_g, 0);
            }
            for slice in 0..slices {
                let cols = slice * width..((slice + 1) * width).min(cout_g);
                let w = &rows[cols.start * k_g..cols.end * k_g];
                if bf16.is_some() {
                    bf16_panels.push(pack_bf16(w, cols.len(), k_g));
                } else {
                    f32_panels.push(pack_f32(w, cols.len(), k_g));
                }
            }
        }
        let weights = match bf16 {
            Some(b) => Packed::Bf16(bf16_panels, b),
            None => Packed::F32(f32_panels, kernels.f32),
        };
        Ok(FConv { geometry, layout, weights, bias: bias.to_vec(), slices, relu, residual })
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
        match &self.weights {
            Packed::F32(w, _) => w.iter().map(PackedF32::packed_bytes).sum(),
            Packed::Bf16(w, _) => w.iter().map(PackedBf16::packed_bytes).sum(),
        }
    }

    /// Whether its products run in bf16 (on AMX).
    pub fn runs_bf16(&self) -> bool {
        matches!(self.weights, Packed::Bf16(..))
    }

    /// Output columns of group `group`'s slice `slice`.
    fn slice_columns(&self, group: usize, slice: usize) -> (usize, usize) {
        let at = group * self.slices;
        let (first, this) = match &self.weights {
            Packed::F32(w, _) => (w[at].n(), w[at + slice].n()),
            Packed::Bf16(w, _) => (w[at].n(), w[at + slice].n()),
        };
        (group * self.layout.cout_g() + slice * first, this)
    }

    /// `input` (rows of `cin` values) as the kernel reads it: itself on f32; on bf16 rounded
    /// into `buffer`, in the tiled layout of [`TiledBf16`] when `tiled`, else row-major with
    /// `extra_rows` zero rows after it (the 16-row blocks the kernel reads past the last row).
    /// The conversion is split over the workers in whole rows (whole 16-row blocks if tiled).
    fn rows_for<'a>(
        &self,
        input: &'a [f32],
        tiled: bool,
        extra_rows: usize,
        buffer: &'a mut Vec<u16>,
        workers: usize,
        parallel: Parallel<'_>,
    ) -> Rows<'a> {
        let Packed::Bf16(_, gemm) = &self.weights else { return Rows::F32(input) };
        let k = self.layout.cin;
        let rows = input.len().checked_div(k).unwrap_or(0);
        buffer.clear();
        buffer.resize(if tiled { TiledBf16::len(rows, k) } else { (rows + extra_rows) * k }, 0);
        let unit = if tiled { 16 } else { 1 };
        let units = rows.div_ceil(unit).max(1);
        let chunks =
            if workers > 1 { input.len().div_ceil(CONVERT_CHUNK).clamp(1, units) } else { 1 };
        let per = unit * units.div_ceil(chunks);
        let out = SharedOut::new(&mut buffer[..]);
        parallel(chunks, &|i| {
            let range = i * per..((i + 1) * per).min(rows);
            if range.is_empty() {
                return;
            }
            let src = &input[range.start * k..range.end * k];
            let len = if tiled { TiledBf16::len(range.len(), k) } else { src.len() };
            // SAFETY: the items convert disjoint rows (whole 16-row blocks if tiled) of the
            // buffer.
            let dst = unsafe { out.rows(range.start * k, len) };
            if tiled {
                gemm.to_bf16_tiled(src, range.len(), k, dst);
            } else {
                gemm.to_bf16(src, dst);
            }
        });
        let buffer: &'a Vec<u16> = buffer;
        if tiled {
            Rows::Tiled(buffer)
        } else {
            Rows::Bf16(buffer)
        }
    }

    /// Whether a pointwise convolution reads its bf16 input tiled: one group whose rows are
    /// a multiple of 2 KiB apart in row-major bf16 (1024 channels or more), where the rows of
    /// an A tile load would fall in the same few L1 sets (measured with examples/fgemm_gflops:
    /// the tiled layout is faster at 14x14 x 1024 and 7x7 x 2048, slower at 28x28 x 512), on
    /// a kernel that reads tiles (AMX).
    fn reads_tiles(&self) -> bool {
        let Packed::Bf16(_, gemm) = &self.weights else { return false };
        gemm.reads_tiles() && self.layout.groups == 1 && self.layout.cin.is_multiple_of(1024)
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

    /// The GEMM of group `group`'s column slice `slice` for `m` rows of `rows` (from row 0,
    /// all channels: the group's start is added here), one segment per shift.
    ///
    /// # Safety
    /// The C rows this writes (row `d` of `out` at the slice's columns, for the mapped rows)
    /// must not be accessed by anyone else during the call; `out` must cover them (asserted
    /// here from the last row mapped).
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm(
        &self,
        m: usize,
        rows: Rows<'_>,
        shifts: &[usize],
        group: usize,
        slice: usize,
        map: Option<RowMap>,
        residual: Option<&[f32]>,
        out: &SharedOut<f32>,
        out_offset: usize,
    ) {
        let g = &self.layout;
        let (col, n) = self.slice_columns(group, slice);
        let bias = &self.bias[col..][..n];
        let last = (0..m).rev().find_map(|r| map.map_or(Some(r), |map| map.dest(r)));
        let Some(last) = last else { return };
        assert!(out_offset + last * g.cout + col + n <= out.len, "convolution rows out of bounds");
        let e = Epilogue {
            bias,
            residual: residual.map(|r| (&r[out_offset + col..], g.cout)),
            relu: self.relu,
        };
        let (lda, seg_k, at) = (g.cin, g.cin_g(), group * g.cin_g());
        let c = out.ptr.add(out_offset + col);
        let item = group * self.slices + slice;
        // SAFETY: the rows written are inside `out` (asserted); exclusivity is the caller's.
        unsafe {
            match (&self.weights, rows) {
                (Packed::F32(w, gemm), Rows::F32(data)) => {
                    let a = ShiftedA { data: &data[at..], lda, shifts, seg_k };
                    gemm.run(m, a, &w[item], &e, map, c, g.cout)
                }
                (Packed::Bf16(w, gemm), Rows::Bf16(data)) => {
                    let a = ShiftedBf16 { data: &data[at..], lda, shifts, seg_k };
                    gemm.run(m, a, &w[item], &e, map, c, g.cout)
                }
                (Packed::Bf16(w, gemm), Rows::Tiled(data)) => {
                    assert!(at == 0 && shifts == [0] && map.is_none(), "tiled A: one plain GEMM");
                    gemm.run_tiled(m, TiledBf16 { data, k: lda }, &w[item], &e, c, g.cout)
                }
                _ => unreachable!("rows_for converts the input for the packed weights"),
            }
        }
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
        let g = &self.layout;
        let mut buffer = Vec::new();
        let tiled = self.reads_tiles();
        // 16 more rows: the bf16 kernel reads whole 16-row blocks.
        let rows = self.rows_for(input, tiled, 16, &mut buffer, workers, parallel);
        let split_below =
            if self.runs_bf16() { SPLIT_COLUMNS_BELOW_BF16 } else { SPLIT_COLUMNS_BELOW };
        if workers > 1 && self.slices > 1 && pixels < split_below * workers {
            parallel(g.groups * self.slices, &|item| {
                let (group, slice) = (item / self.slices, item % self.slices);
                // SAFETY: each item writes only its own (group, slice) columns.
                unsafe { self.gemm(pixels, rows, &[0], group, slice, None, residual, out, 0) }
            });
            return;
        }
        // Tiled A is addressed by whole 16-row blocks.
        let band = pixels.div_ceil(workers.max(1)).next_multiple_of(if tiled { 16 } else { 1 });
        let bands = pixels.div_ceil(band.max(1));
        parallel(bands, &|i| {
            let first = i * band;
            let len = band.min(pixels - first);
            let rows = rows.from(first * g.cin);
            for group in 0..g.groups {
                for slice in 0..self.slices {
                    // SAFETY: bands cover disjoint rows.
                    unsafe {
                        self.gemm(
                            len,
                            rows,
                            &[0],
                            group,
                            slice,
                            None,
                            residual,
                            out,
                            first * g.cout,
                        )
                    }
                }
            }
        });
    }

    /// Any other convolution, as an implicit GEMM over a zero-padded copy of each image in the
    /// phase images of [`Phases`], each tap reading its rows in place. Work items are (group,
    /// block of grid rows) pairs, about four per worker (whole 16-row blocks on bf16).
    fn run_direct(
        &self,
        input: &[f32],
        (batch, h, w): (usize, usize, usize),
        residual: Option<&[f32]>,
        out: &SharedOut<f32>,
        workers: usize,
        parallel: Parallel<'_>,
    ) {
        let g = &self.layout;
        let block = if self.runs_bf16() { 16 } else { 1 };
        let phases = Phases::new(g, h, w, block);
        let Phases { wq, wo, grid, .. } = phases;
        let (ho, shifts) = (grid / wq, &phases.shifts);
        let value_bytes = if self.runs_bf16() { 2 } else { 4 };
        let weight_bytes = g.cout * g.k_g() * value_bytes;
        let items =
            WorkItems::new(grid, value_bytes * g.cin, g.groups, weight_bytes, workers, block);
        let out_image = ho * wo * g.cout;
        let image_len = h * w * g.cin;
        let mut padded_f32 = Vec::new();
        let mut padded_bf16 = Vec::new();
        for image in 0..batch {
            let x = &input[image * image_len..(image + 1) * image_len];
            // On bf16 the copy into the padded image rounds the input to bf16 on the way.
            let padded = match &self.weights {
                Packed::F32(..) => {
                    Rows::F32(padded_image(&phases, g, x, &mut padded_f32, parallel, |s, d| {
                        d.copy_from_slice(s)
                    }))
                }
                Packed::Bf16(_, gemm) => {
                    Rows::Bf16(padded_image(&phases, g, x, &mut padded_bf16, parallel, |s, d| {
                        gemm.to_bf16(s, d)
                    }))
                }
            };
            parallel(items.len(), &|item| {
                let (group, first, len) = items.item(item);
                let map = RowMap { first, wp: wq, wo };
                // SAFETY: the mapped rows of grid rows first..first + len are output pixels
                // of this image, and this item writes only group `group`'s columns of them:
                // items write disjoint values. On bf16, `first` is a multiple of 16 and the
                // padded buffer holds whole 16-row blocks of the grid at every shift.
                unsafe {
                    self.gemm(
                        len,
                        padded.from(first * g.cin),
                        shifts,
                        group,
                        0,
                        Some(map),
                        residual,
                        out,
                        image * out_image,
                    )
                }
            });
        }
    }
}

/// One image of `x` in `phases`' padded layout in `buffer`, each input row written by `put` (a
/// copy, or the rounding to bf16): zeroed by the allocator on first use (`vec!` of zeros:
/// fresh zero pages, no memset on this thread); the padding stays zero from image to image,
/// and the fill overwrites every input pixel.
fn padded_image<'b, T: Copy + Default + Sync>(
    phases: &Phases,
    g: &Geometry,
    x: &[f32],
    buffer: &'b mut Vec<T>,
    parallel: Parallel<'_>,
    put: impl Fn(&[f32], &mut [T]) + Sync,
) -> &'b [T] {
    if buffer.is_empty() {
        *buffer = vec![T::default(); phases.padded_pixels * g.cin];
    }
    phases.fill_with(g, x, buffer, parallel, put);
    buffer
}

/// ONNX-layout weights (`[Cout, Cin_g, kh, kw]`) of `g` as those of `g.groups / merge` groups
/// of `merge * Cin_g` channels: output channel `o` keeps its filter at its own group's place
/// among the merged group's inputs and has zeros elsewhere.
fn block_diagonal<T: Copy + Default>(g: &Geometry, weights: &[T], merge: usize) -> Vec<T> {
    let (cin_g, cout_g) = (g.cin_g(), g.cout_g());
    let taps = g.kernel[0] * g.kernel[1];
    let filter = cin_g * taps;
    let mut out = vec![T::default(); g.cout * merge * filter];
    for o in 0..g.cout {
        let at = (o * merge + (o / cout_g) % merge) * filter;
        out[at..at + filter].copy_from_slice(&weights[o * filter..][..filter]);
    }
    out
}

impl<'a> Rows<'a> {
    /// The rows from value `offset` on.
    fn from(self, offset: usize) -> Rows<'a> {
        match self {
            Rows::F32(x) => Rows::F32(&x[offset..]),
            Rows::Bf16(x) => Rows::Bf16(&x[offset..]),
            Rows::Tiled(x) => Rows::Tiled(&x[offset..]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::bgemm::{bf16_bits, bf16_value, BIsa};

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

    /// Every f32 kernel this CPU runs without bf16, and each bf16 kernel (with the scalar f32
    /// one for the convolutions it does not take).
    fn kernel_sets() -> Vec<FloatKernels> {
        let mut sets: Vec<FloatKernels> = FIsa::ALL
            .into_iter()
            .filter_map(FGemm::new)
            .map(|f32| FloatKernels { f32, bf16: None })
            .collect();
        let scalar = FGemm::new(FIsa::Scalar).unwrap();
        for isa in [BIsa::Scalar, BIsa::Amx, BIsa::Avx512Bf16] {
            if let Some(bf16) = BGemm::new(isa) {
                sets.push(FloatKernels { f32: scalar, bf16: Some(bf16) });
            }
        }
        sets
    }

    fn serial(n: usize, f: &(dyn Fn(usize) + Sync)) {
        (0..n).rev().for_each(f)
    }

    /// Pointwise, grouped, strided, padded, dilated, asymmetric and stem-like convolutions,
    /// with and without the fused residual and ReLU, at batch 1 and 3 and 1 or 3 workers,
    /// against the definition; every output value is written (the output starts as NaN).
    #[test]
    fn convolutions_match_the_definition() {
        crate::kernels::bgemm::tests::assert_required_kernels_run();
        let gemms = kernel_sets();
        let shapes = [
            // (cin, cout, groups, kernel, stride, pads, dilation, h, w)
            (16, 300, 1, 1, 1, [0; 4], 1, 5, 7),
            (32, 48, 1, 1, 2, [0; 4], 1, 9, 8),
            (64, 64, 8, 3, 1, [1; 4], 1, 6, 7),
            (32, 64, 2, 3, 2, [1; 4], 1, 9, 11),
            (3, 16, 1, 7, 2, [3; 4], 1, 13, 12),
            (16, 16, 1, 3, 1, [0, 1, 2, 0], 2, 8, 9),
            (24, 40, 4, 5, 3, [2; 4], 1, 10, 10),
            // bf16-eligible: 1x1 with several slices, 32- and 64-channel groups, strided
            (64, 300, 1, 1, 1, [0; 4], 1, 5, 7),
            (64, 64, 2, 3, 1, [1; 4], 1, 9, 7),
            (128, 64, 2, 3, 2, [1; 4], 1, 11, 9),
            // bf16 with the input tiled (1024 channels, one group), rows in 16-row bands
            (1024, 48, 1, 1, 1, [0; 4], 1, 3, 7),
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
                    assert_eq!(conv.runs_bf16(), gemm.runs_bf16(cin / groups, groups));
                    let x = values(batch * h * w * cin, 200 + i as u64);
                    // On bf16 the definition reads the inputs rounded as the kernel does.
                    let round = |v: &[f32]| -> Vec<f32> {
                        if conv.runs_bf16() {
                            v.iter().map(|&x| bf16_value(bf16_bits(x))).collect()
                        } else {
                            v.to_vec()
                        }
                    };
                    let (ho, wo) = g.output_size(h, w).unwrap();
                    let len = batch * ho * wo * cout;
                    let r = residual.then(|| values(len, 300 + i as u64));
                    let mut out = vec![f32::NAN; len];
                    conv.run(&x, (batch, h, w), r.as_deref(), &mut out, workers, &serial).unwrap();
                    let (xr, wr) = (round(&x), round(&wt));
                    let want = direct(&g, &xr, (batch, h, w), &wr, &bias, r.as_deref(), relu);
                    for (j, (&got, &want)) in out.iter().zip(&want).enumerate() {
                        assert!(
                            (got as f64 - want).abs() <= 1e-5 * (1.0 + want.abs()),
                            "{gemm:?} shape {i} batch {batch} workers {workers}: value {j} is \
                             {got}, expected {want}"
                        );
                    }
                }
            }
        }
    }

    /// Float16 weights: the same bits as float32 weights holding the widened values, on every
    /// kernel (f32 and bf16) and shape (pointwise with column slices, grouped, strided,
    /// padded), with half the packed bytes on the f32 kernels (float16 panels).
    #[test]
    fn float16_weights_give_the_bits_of_their_widened_values() {
        let gemms = kernel_sets();
        for gemm in gemms {
            for (i, &(cin, cout, groups, k, s, pad, h, w)) in [
                (16usize, 300usize, 1usize, 1usize, 1usize, 0usize, 5usize, 7usize),
                (64, 300, 1, 1, 1, 0, 5, 7),
                (64, 64, 2, 3, 1, 1, 6, 7),
                (64, 64, 8, 3, 1, 1, 6, 7),
                (32, 64, 2, 3, 2, 1, 9, 11),
                (3, 16, 1, 7, 2, 3, 13, 12),
            ]
            .iter()
            .enumerate()
            {
                let g = Geometry {
                    cin,
                    cout,
                    groups,
                    kernel: [k, k],
                    strides: [s, s],
                    pads: [pad; 4],
                    dilations: [1, 1],
                };
                let halves: Vec<f16> = values(cout * cin / groups * k * k, 50 + i as u64)
                    .into_iter()
                    .map(f16::from_f32)
                    .collect();
                let widened: Vec<f32> = halves.iter().map(|h| h.to_f32()).collect();
                let bias = values(cout, 60 + i as u64);
                let narrow = FConv::new_f16(g.clone(), &halves, &bias, true, true, gemm).unwrap();
                let wide = FConv::new(g.clone(), &widened, &bias, true, true, gemm).unwrap();
                // f32 kernels: float16 panels, half the bytes; bf16: the same bf16 panels.
                assert_eq!(narrow.runs_bf16(), wide.runs_bf16());
                let halved = if wide.runs_bf16() { 1 } else { 2 };
                assert_eq!(halved * narrow.packed_bytes(), wide.packed_bytes());
                let x = values(2 * h * w * cin, 70 + i as u64);
                let (ho, wo) = g.output_size(h, w).unwrap();
                let r = values(2 * ho * wo * cout, 80 + i as u64);
                let mut a = vec![f32::NAN; r.len()];
                let mut b = vec![f32::NAN; r.len()];
                narrow.run(&x, (2, h, w), Some(&r), &mut a, 3, &serial).unwrap();
                wide.run(&x, (2, h, w), Some(&r), &mut b, 3, &serial).unwrap();
                let same = a.iter().zip(&b).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{gemm:?} shape {i}: f16 weights differ from widened f32");
            }
        }
        let g = Geometry {
            cin: 4,
            cout: 4,
            groups: 1,
            kernel: [1, 1],
            strides: [1, 1],
            pads: [0; 4],
            dilations: [1, 1],
        };
        let gemm = FloatKernels { f32: FGemm::new(FIsa::Scalar).unwrap(), bf16: None };
        let halves = [f16::from_f32(1.0); 15];
        assert!(FConv::new_f16(g, &halves, &[0.0; 4], false, false, gemm).is_err());
    }

    #[test]
    fn shapes_that_do_not_fit_are_refused() {
        let gemm = FloatKernels { f32: FGemm::new(FIsa::Scalar).unwrap(), bf16: None };
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
/// and grouped convolutions on the best f32 kernel (AVX-512, else AVX2) and the bf16 one (AMX
/// or AVX512-BF16, where it runs them) with 1 and 2 threads of a rayon pool.
#[cfg(test)]
#[test]
#[ignore]
fn f32_scaling() {
    use rayon::prelude::*;
    let Some(f32) = FIsa::best_simd().and_then(FGemm::new) else { return };
    let bf16 = crate::kernels::bgemm::BIsa::best().and_then(crate::kernels::bgemm::BGemm::new);
    let sets =
        [Some(FloatKernels { f32, bf16: None }), bf16.map(|b| FloatKernels { f32, bf16: Some(b) })];
    for gemm in sets.into_iter().flatten() {
        // (input side, cin, cout, groups, kernel, stride): the 1x1 and grouped 3x3 shapes, the
        // stem, a strided grouped 3x3 (layer2.0 conv2) and a strided 1x1 (downsample).
        for (side, cin, cout, groups, k, s) in [
            (56usize, 256usize, 512usize, 1usize, 1usize, 1usize),
            (28, 512, 512, 1, 1, 1),
            (14, 1024, 1024, 1, 1, 1),
            (7, 2048, 2048, 1, 1, 1),
            (56, 256, 256, 32, 3, 1),
            (28, 512, 512, 32, 3, 1),
            (14, 1024, 1024, 32, 3, 1),
            (7, 2048, 2048, 32, 3, 1),
            (224, 3, 64, 1, 7, 2),
            (56, 512, 512, 32, 3, 2),
            (56, 256, 512, 1, 1, 2),
        ] {
            let g = Geometry {
                cin,
                cout,
                groups,
                kernel: [k, k],
                strides: [s, s],
                pads: [k / 2; 4],
                dilations: [1, 1],
            };
            let (ho, wo) = g.output_size(side, side).expect("the kernel fits");
            let x = vec![0.5f32; side * side * cin];
            let weights: Vec<f32> =
                (0..cout * cin / groups * k * k).map(|i| (i % 13) as f32 - 6.0).collect();
            let conv = FConv::new(g, &weights, &vec![0.0; cout], false, true, gemm).unwrap();
            let mut out = vec![0f32; ho * wo * cout];
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
                let flops = 2.0 * (ho * wo * cin * cout / groups * k * k) as f64;
                println!(
                "{} {side}x{side} {cin}->{cout} g{groups} k{k} s{s}, {workers} threads: {:.3} ms, {:.0} GFLOP/s",
                if conv.runs_bf16() { "bf16" } else { "f32" },
                best * 1e3,
                flops / best / 1e9
            );
            }
        }
    }
}
