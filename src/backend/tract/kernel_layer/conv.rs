//! A quantized 2-D convolution on the kernel layer's GEMMs, in NHWC u8.
//!
//! Every convolution is one GEMM per group: the rows are output pixels, the columns the
//! group's output channels, K the group's `kh * kw * Cin_g` inputs in `(ky, kx, c)` order (the
//! weights are re-ordered so at load). A 1x1 convolution with stride 1 and no padding reads
//! its rows straight from the NHWC input. The KxK convolutions without a fused residual run as
//! implicit GEMMs ([`QGemm::run_shifted`]) on AMX-INT8 (strides up to 4) and AVX512-VNNI
//! (stride 1): each image is copied once into a zero-point-padded buffer (phase images for a
//! stride) and every tap reads its rows there in place. Every other one gathers the rows of a
//! block of output pixels into a scratch buffer first (im2col; padding reads as the input zero
//! point, which contributes nothing once the zero point is folded into the bias). The GEMM's
//! epilogue requantizes each output (and adds the residual when one is fused) and writes it in
//! place.
//!
//! One image's output pixels are split into bands over the calling tract executor's threads.

use crate::kernels::qgemm::{PackedWeights, QGemm, Requant, Residual, RowMap, ShiftedA};

/// Columns per slice of a pointwise convolution's weights (see `QConv::slices`).
const SLICE_COLUMNS: usize = 256;
/// Rows per worker under which a pointwise convolution's workers split columns, not rows.
const SPLIT_COLUMNS_BELOW: usize = 128;
/// Output pixels gathered per block at most.
const BLOCK_ROWS: usize = 256;
/// Bytes of im2col rows per block (all groups): about half of this CPU's 2 MiB L2 per core.
const SCRATCH_BYTES: usize = 512 << 10;

/// The shape of a convolution.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Geometry {
    /// Input channels.
    pub cin: usize,
    /// Output channels.
    pub cout: usize,
    /// Groups (both channel counts are multiples of it).
    pub groups: usize,
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Vertical and horizontal strides.
    pub strides: [usize; 2],
    /// top, left, bottom, right.
    pub pads: [usize; 4],
    /// Vertical and horizontal dilations.
    pub dilations: [usize; 2],
}

impl Geometry {
    /// Output height and width for an input of `h x w`; `None` when the kernel does not fit.
    pub fn output_size(&self, h: usize, w: usize) -> Option<(usize, usize)> {
        let side = |size: usize, axis: usize| {
            let padded = size + self.pads[axis] + self.pads[axis + 2];
            let extent = self.dilations[axis] * (self.kernel[axis] - 1) + 1;
            (padded >= extent).then(|| (padded - extent) / self.strides[axis] + 1)
        };
        Some((side(h, 0)?, side(w, 1)?))
    }

    pub(super) fn cin_g(&self) -> usize {
        self.cin / self.groups
    }

    pub(super) fn cout_g(&self) -> usize {
        self.cout / self.groups
    }

    pub(super) fn k_g(&self) -> usize {
        self.kernel[0] * self.kernel[1] * self.cin_g()
    }

    /// Whether the GEMM rows are the input's pixels themselves.
    pub(super) fn is_pointwise(&self) -> bool {
        self.kernel == [1, 1] && self.strides == [1, 1] && self.pads == [0; 4]
    }
}

/// Input bytes (rows of all channels) per chunk of grid rows of a convolution run as an
/// implicit GEMM chunk-major: each chunk's groups one after another, so that the groups of a
/// chunk read input rows already in L2 instead of each group walking the whole padded image
/// (a strided 1/groups of every cache line). On f32, ResNeXt101_32x8d's layer1 conv2 went
/// from 4.5 to 3.4 ms on one thread (profile medians), with whole-image items.
const CHUNK_INPUT_BYTES: usize = 128 << 10;

/// Weight bytes above which an implicit-GEMM convolution's items go unit-major (each unit's
/// weights read once, from start to end of the grid) instead of chunk-major (all the weights
/// read once per chunk): half of a 1 MiB L2, so that chunk-major weights stay in L2 between
/// chunks. ResNeXt's grouped 3x3 convolutions in layer3 (1.2 MB of f32 weights) and layer4
/// (4.7 MB) re-read theirs from L3 or DRAM once per chunk otherwise.
const CHUNK_WEIGHT_BYTES: usize = 512 << 10;

/// The work items of an implicit-GEMM convolution over `grid` GEMM rows per image, run as
/// `units` GEMMs (groups, or merged groups): (unit, block of grid rows) pairs, about four per
/// worker, in whole blocks of `block` rows (the kernel's). When the units' weights fit in
/// [`CHUNK_WEIGHT_BYTES`] the items go chunk-major (item `i` is chunk `i / units`, unit
/// `i % units`), with [`CHUNK_INPUT_BYTES`] of input rows per chunk; otherwise unit-major.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct WorkItems {
    grid: usize,
    units: usize,
    /// Grid rows per item.
    chunk_rows: usize,
    chunks: usize,
    unit_major: bool,
}

impl WorkItems {
    /// Items for input rows of `row_bytes` (all channels) and `weight_bytes` of weights in all.
    pub(super) fn new(
        grid: usize,
        row_bytes: usize,
        units: usize,
        weight_bytes: usize,
        workers: usize,
        block: usize,
    ) -> WorkItems {
        let unit_major = weight_bytes > CHUNK_WEIGHT_BYTES;
        let by_workers = grid.div_ceil((4 * workers).div_ceil(units.max(1)).max(1));
        let by_cache = if unit_major { grid } else { CHUNK_INPUT_BYTES / row_bytes.max(1) };
        let chunk_rows = by_cache.min(by_workers).max(1).next_multiple_of(block.max(1));
        WorkItems { grid, units, chunk_rows, chunks: grid.div_ceil(chunk_rows), unit_major }
    }

    /// How many items there are.
    pub(super) fn len(&self) -> usize {
        self.units * self.chunks
    }

    /// Item `i`'s unit, first grid row and grid rows (`i < self.len()`).
    pub(super) fn item(&self, i: usize) -> (usize, usize, usize) {
        let (chunk, unit) = if self.unit_major {
            (i % self.chunks, i / self.chunks)
        } else {
            (i / self.units, i % self.units)
        };
        let first = chunk * self.chunk_rows;
        (unit, first, self.chunk_rows.min(self.grid - first))
    }
}

/// Runs a closure for each of `n` bands (`parallel(n, f)` calls `f(0) .. f(n - 1)`), in any
/// order, on any threads, returning when all are done.
pub type Parallel<'a> = &'a dyn Fn(usize, &(dyn Fn(usize) + Sync));

/// The fused residual addition's parameters (ONNX Runtime's QLinearAdd).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AddParams {
    /// The shortcut's zero point.
    pub r_zero: u8,
    /// `conv_scale / add_scale`.
    pub ratio_a: f32,
    /// `shortcut_scale / add_scale`.
    pub ratio_b: f32,
    /// The sum's zero point.
    pub add_zero: u8,
}

/// A convolution with its weights packed for the GEMM.
#[derive(Debug)]
pub struct QConv {
    /// The convolution's shape.
    pub geometry: Geometry,
    x_zero: u8,
    /// Groups computed by one GEMM (block-diagonal weights): fills the kernel's columns when a
    /// group has fewer output channels than the kernel's width.
    merge: usize,
    /// Whether the convolution runs as an implicit GEMM over a padded copy of the input
    /// ([`QGemm::run_shifted`], no im2col): no fused residual, a kernel with a
    /// shifted variant, and GEMM units of a multiple of 64 input channels.
    direct: bool,
    /// Column slices of a pointwise convolution's GEMM (each with its own packed weights), so
    /// that at small M the threads split the columns (and the weight stream) instead of the
    /// rows; 1 for the others. `weights[unit * slices + slice]`.
    slices: usize,
    weights: Vec<PackedWeights>,
    requant: Vec<Requant>,
    add: Option<AddParams>,
    gemm: QGemm,
}

/// Why a convolution's constants do not fit its shape.
pub type ShapeError = String;

impl QConv {
    /// `weights`: ONNX's `[Cout, Cin/groups, kh, kw]` int8; `bias`: int32 per output channel
    /// (on the scale `x_scale * w_scale`); `scales`: `x_scale * w_scale[c] / y_scale` per
    /// output channel; zero points in the u8 domain. The weights are packed by `parallel`'s
    /// threads, one GEMM unit's column slice per item.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        geometry: Geometry,
        weights: &[i8],
        bias: &[i32],
        scales: &[f32],
        x_zero: u8,
        y_zero: u8,
        add: Option<AddParams>,
        gemm: QGemm,
        merge: Option<usize>,
        parallel: Parallel<'_>,
    ) -> Result<Self, ShapeError> {
        let g = &geometry;
        if g.groups == 0 || !g.cin.is_multiple_of(g.groups) || !g.cout.is_multiple_of(g.groups) {
            return Err(format!(
                "{} groups do not divide {} -> {} channels",
                g.groups, g.cin, g.cout
            ));
        }
        if g.strides.contains(&0) || g.dilations.contains(&0) || g.kernel.contains(&0) {
            return Err("zero stride, dilation or kernel size".into());
        }
        let (cout_g, k_g) = (g.cout_g(), g.k_g());
        if weights.len() != g.cout * k_g || bias.len() != g.cout || scales.len() != g.cout {
            return Err(format!(
                "{} weights, {} biases and {} scales for {} x {k_g} ",
                weights.len(),
                bias.len(),
                scales.len(),
                g.cout
            ));
        }
        let direct_merge =
            if merge.is_none() { direct_merge_for(g, gemm, add.is_some()) } else { None };
        let merge = direct_merge.or(merge).unwrap_or_else(|| merge_for(g, gemm));
        if merge == 0 || !g.groups.is_multiple_of(merge) {
            return Err(format!("{merge} groups per GEMM do not divide {}", g.groups));
        }
        let (kh, kw, cin_g) = (g.kernel[0], g.kernel[1], g.cin_g());
        let (units, k_u, n_u) = (g.groups / merge, merge * k_g, merge * cout_g);
        let slices =
            if g.is_pointwise() && g.groups == 1 { n_u.div_ceil(SLICE_COLUMNS) } else { 1 };
        let (cin_u, taps) = (merge * cin_g, kh * kw);
        let width = if slices > 1 { SLICE_COLUMNS } else { n_u };
        // Item `unit * slices + slice`: one GEMM unit's packed column slice and its
        // requantization. The items are independent: `parallel` packs them on the threads.
        let item = |index: usize| -> (PackedWeights, Requant) {
            let (unit, slice) = (index / slices, index % slices);
            let unit_weights = &weights[unit * n_u * k_g..][..n_u * k_g];
            // Row r of B^T: output channel unit*n_u + r, of member group j = r / cout_g. K runs
            // over (ky, kx, the unit's input channels): member j's channels are the j-th
            // cin_g of each (ky, kx); the other members' weights are zero. A 1x1
            // convolution's filters, one group per GEMM, already are those rows.
            let transposed;
            let rows: &[i8] = if taps == 1 && merge == 1 {
                unit_weights
            } else {
                let mut t = vec![0i8; n_u * k_u];
                for (r, (row, filter)) in
                    t.chunks_exact_mut(k_u).zip(unit_weights.chunks_exact(k_g)).enumerate()
                {
                    filter_to_row(filter, taps, row, cin_u, (r / cout_g) * cin_g);
                }
                transposed = t;
                &transposed
            };
            let cols = slice * width..((slice + 1) * width).min(n_u);
            let w = PackedWeights::pack(&rows[cols.start * k_u..cols.end * k_u], cols.len(), k_u);
            let channels = unit * n_u + cols.start..unit * n_u + cols.end;
            let bias = channels
                .clone()
                .zip(w.column_sums())
                .map(|(c, &sum)| bias[c].wrapping_sub(x_zero as i32 * sum))
                .collect();
            let scale = scales[channels].to_vec();
            (w, Requant { bias, scale, out_zp: y_zero, lo: 0, hi: 255 })
        };
        let items = units * slices;
        let done: Vec<std::sync::OnceLock<(PackedWeights, Requant)>> =
            (0..items).map(|_| std::sync::OnceLock::new()).collect();
        parallel(items, &|index| {
            let _ = done[index].set(item(index));
        });
        let (packed, requant): (Vec<_>, Vec<_>) =
            done.into_iter().map(|d| d.into_inner().expect("`parallel` runs every item")).unzip();
        let direct = direct_merge.is_some();
        Ok(QConv { geometry, x_zero, merge, direct, slices, weights: packed, requant, add, gemm })
    }

    /// Bytes of packed weights.
    pub fn packed_bytes(&self) -> usize {
        self.weights.iter().map(PackedWeights::packed_bytes).sum()
    }

    /// Runs the convolution on `batch` NHWC images of `h x w` (`input`), writing every one of
    /// the `batch x ho x wo x cout` bytes of `output` (which may start uninitialized); `residual` has the output's shape. Each
    /// image's output pixels are split into bands for `workers` threads: `parallel` is called
    /// with the number of bands and a closure to run for each band index, in any order and on
    /// any thread.
    pub fn run(
        &self,
        input: &[u8],
        (batch, h, w): (usize, usize, usize),
        residual: Option<&[u8]>,
        output: &mut [u8],
        workers: usize,
        parallel: Parallel<'_>,
    ) -> Result<(), ShapeError> {
        let g = &self.geometry;
        let (ho, wo) = g.output_size(h, w).ok_or("the kernel is larger than the input")?;
        let (in_image, out_image) = (h * w * g.cin, ho * wo * g.cout);
        if input.len() != batch * in_image || output.len() != batch * out_image {
            return Err(format!("input or output size wrong for {batch} x {h} x {w}"));
        }
        if residual.is_some_and(|r| r.len() != output.len())
            || residual.is_some() != self.add.is_some()
        {
            return Err("residual input does not match".into());
        }
        if g.is_pointwise() {
            self.run_pointwise(input, batch * h * w, residual, output, workers, parallel);
            return Ok(());
        }
        if self.direct {
            self.run_direct(input, (batch, h, w), output, workers, parallel);
            return Ok(());
        }
        let pixels = ho * wo;
        // About four bands per worker for balance (the weights per group are small); bands
        // are multiples of 16 rows (the AMX tile height).
        let per_worker = 4;
        let band_rows = if workers <= 1 {
            pixels
        } else {
            pixels.div_ceil(per_worker * workers).div_ceil(16).max(1) * 16
        };
        let bands = pixels.div_ceil(band_rows.max(1));
        for image in 0..batch {
            let x = &input[image * in_image..][..in_image];
            let r = residual.map(|r| &r[image * out_image..][..out_image]);
            let out = SharedOut::new(&mut output[image * out_image..][..out_image]);
            parallel(bands, &|band| {
                let rows = band * band_rows..((band + 1) * band_rows).min(pixels);
                // SAFETY: bands cover disjoint pixel ranges, so the rows written are disjoint.
                let out = unsafe { out.rows(rows.start * g.cout, rows.len() * g.cout) };
                let r = r.map(|r| &r[rows.start * g.cout..][..rows.len() * g.cout]);
                self.run_rows(x, (h, w, wo), rows.start, rows.len(), r, out);
            });
        }
        Ok(())
    }

    /// A convolution as an implicit GEMM: each image is copied once, padded with the input
    /// zero point, into the phase images of [`Phases`], and each tap reads its rows in place
    /// (no im2col). Work items are (GEMM unit, block of grid rows) pairs, about four per
    /// worker.
    fn run_direct(
        &self,
        input: &[u8],
        (batch, h, w): (usize, usize, usize),
        output: &mut [u8],
        workers: usize,
        parallel: Parallel<'_>,
    ) {
        let g = &self.geometry;
        // Whole 32-row blocks (the AMX kernel's) at every shift stay inside the buffer.
        let phases = Phases::new(g, h, w, 32);
        let Phases { wq, wo, grid, .. } = phases;
        let (ho, shifts) = (grid / wq, &phases.shifts);
        let mut padded = vec![self.x_zero; phases.padded_pixels * g.cin];
        let (units, k_u, n_u) =
            (g.groups / self.merge, self.merge * g.cin_g(), self.merge * g.cout_g());
        let weight_bytes = g.cout * g.k_g() * self.merge;
        let items = WorkItems::new(grid, g.cin, units, weight_bytes, workers, 32);
        let out_image = ho * wo * g.cout;
        for image in 0..batch {
            phases.fill(g, &input[image * h * w * g.cin..][..h * w * g.cin], &mut padded, parallel);
            let out = SharedOut::new(&mut output[image * out_image..][..out_image]);
            assert!(out.len == ho * wo * g.cout && units * n_u == g.cout);
            let (padded, out) = (&padded, &out);
            parallel(items.len(), &|item| {
                let (unit, first, rows) = items.item(item);
                let a = ShiftedA {
                    data: &padded[first * g.cin + unit * k_u..],
                    lda: g.cin,
                    shifts,
                    seg_k: k_u,
                };
                let map = RowMap { first, wp: wq, wo };
                // SAFETY: `out` is this image's ho x wo x cout output; the mapped rows of
                // grid rows first..first + rows are output pixels < ho * wo, and this item
                // writes only unit `unit`'s columns of them: items write disjoint bytes.
                unsafe {
                    self.gemm.run_shifted(
                        rows,
                        a,
                        &self.weights[unit],
                        &self.requant[unit],
                        map,
                        out.ptr.add(unit * n_u),
                        g.cout,
                    )
                }
            });
        }
    }

    /// A 1x1 convolution with stride 1: one GEMM over the pixels of all images. Its GEMM
    /// streams all its weights once per row band, so with enough rows each worker gets one
    /// band of rows (more bands re-read the weights: at 14x14x1024, 7 bands of 32 rows took
    /// 2.6x one band's time); with fewer than `SPLIT_COLUMNS_BELOW` rows per worker the
    /// workers split the column slices instead, each streaming only its slices' weights.
    fn run_pointwise(
        &self,
        input: &[u8],
        pixels: usize,
        residual: Option<&[u8]>,
        output: &mut [u8],
        workers: usize,
        parallel: Parallel<'_>,
    ) {
        let g = &self.geometry;
        let out = SharedOut::new(output);
        if workers > 1 && self.slices > 1 && pixels < SPLIT_COLUMNS_BELOW * workers {
            parallel(self.slices, &|slice| {
                for unit in 0..g.groups {
                    // SAFETY: `out` covers `pixels` rows of `cout` bytes; each slice writes
                    // only its own columns, disjoint from every other slice's.
                    unsafe { self.gemm_slice(input, 0..pixels, unit, slice, residual, &out) };
                }
            });
            return;
        }
        let band_rows = pixels.div_ceil(workers.max(1)).div_ceil(16).max(1) * 16;
        let bands = pixels.div_ceil(band_rows);
        parallel(bands, &|band| {
            let rows = band * band_rows..((band + 1) * band_rows).min(pixels);
            for unit in 0..g.groups {
                for slice in 0..self.slices {
                    // SAFETY: `out` covers `pixels` rows; bands cover disjoint rows.
                    unsafe { self.gemm_slice(input, rows.clone(), unit, slice, residual, &out) };
                }
            }
        });
    }

    /// Rows `rows` of a pointwise convolution for group `unit`'s column slice `slice`: A rows
    /// from `x` (NHWC, `cin` bytes per pixel), C (`out`) and residual rows of `cout` bytes.
    ///
    /// # Safety
    /// `out` must cover the rows `rows` and no other thread may access the columns of this
    /// (unit, slice) in those rows during the call.
    unsafe fn gemm_slice(
        &self,
        x: &[u8],
        rows: std::ops::Range<usize>,
        unit: usize,
        slice: usize,
        residual: Option<&[u8]>,
        out: &SharedOut<u8>,
    ) {
        let g = &self.geometry;
        let (cin_g, cout_g) = (g.cin_g(), g.cout_g());
        let index = unit * self.slices + slice;
        let (weights, requant) = (&self.weights[index], &self.requant[index]);
        let col = unit * cout_g + slice * SLICE_COLUMNS;
        let residual = self.add.zip(residual).map(|(add, r)| Residual {
            data: &r[rows.start * g.cout + col..],
            ld: g.cout,
            r_zp: add.r_zero,
            ratio_a: add.ratio_a,
            ratio_b: add.ratio_b,
            add_zp: add.add_zero,
            lo: 0,
            hi: 255,
        });
        assert!(
            rows.is_empty() || (rows.end - 1) * g.cout + col + weights.n() <= out.len,
            "pointwise rows out of bounds"
        );
        // SAFETY: in bounds (asserted); exclusive access to these columns of these rows is the
        // caller's contract.
        unsafe {
            self.gemm.run_raw_out(
                rows.len(),
                &x[rows.start * g.cin + unit * cin_g..],
                g.cin,
                weights,
                requant,
                residual.as_ref(),
                out.ptr.add(rows.start * g.cout + col),
                g.cout,
            )
        }
    }

    /// Output pixels `first .. first + count` of one image.
    fn run_rows(
        &self,
        x: &[u8],
        (h, w, wo): (usize, usize, usize),
        first: usize,
        count: usize,
        residual: Option<&[u8]>,
        out: &mut [u8],
    ) {
        let g = &self.geometry;
        let (cout_g, k_g) = (g.cout_g(), g.k_g());
        // The residual columns of GEMM `unit` (a group, or `merge` groups together).
        let residual_of = |rows: &std::ops::Range<usize>, unit: usize| {
            let add = self.add?;
            let data = &residual?[rows.start * g.cout + unit * cout_g * self.merge..];
            Some(Residual {
                data,
                ld: g.cout,
                r_zp: add.r_zero,
                ratio_a: add.ratio_a,
                ratio_b: add.ratio_b,
                add_zp: add.add_zero,
                lo: 0,
                hi: 255,
            })
        };
        // Rows per block: every group's rows of a block together stay within the scratch
        // budget (a multiple of 16, the AMX tile height).
        let (units, k_u) = (g.groups / self.merge, self.merge * k_g);
        let block = (SCRATCH_BYTES / (k_u * units)).clamp(16, BLOCK_ROWS) / 16 * 16;
        let mut scratch = vec![0u8; block.min(count) * k_u * units];
        let mut start = 0;
        while start < count {
            let n = block.min(count - start);
            let rows = &mut scratch[..n * k_u * units];
            self.im2col(x, (h, w, wo), first + start, n, rows);
            let block_rows = start..start + n;
            for unit in 0..units {
                let a = &rows[unit * n * k_u..][..n * k_u];
                let residual = residual_of(&block_rows, unit);
                let c = &mut out[start * g.cout + unit * cout_g * self.merge..];
                self.gemm.run(
                    n,
                    a,
                    k_u,
                    &self.weights[unit],
                    &self.requant[unit],
                    residual.as_ref(),
                    c,
                    g.cout,
                );
            }
            start += n;
        }
    }

    /// The GEMM rows of output pixels `first .. first + n` for every GEMM unit, unit-major:
    /// `rows[(unit * n + i) * k_u ..]` is pixel i's row for `unit`, in `(ky, kx, c)` order over
    /// the unit's input channels. One pass over the input: each input pixel's channels are
    /// split among the units.
    fn im2col(
        &self,
        x: &[u8],
        (h, w, wo): (usize, usize, usize),
        first: usize,
        n: usize,
        rows: &mut [u8],
    ) {
        let g = &self.geometry;
        let [kh, kw] = g.kernel;
        let (cin_u, k_u) = (self.merge * g.cin_g(), self.merge * g.k_g());
        // Where unit u's rows start.
        let offsets: Vec<usize> = (0..g.groups / self.merge).map(|u| u * n * k_u).collect();
        // One group, no dilation: a kernel row's inputs are consecutive pixels, so a row fully
        // inside the image is one copy of kw * cin bytes.
        let runs = g.groups == 1 && g.dilations[1] == 1;
        for i in 0..n {
            let (oy, ox) = ((first + i) / wo, (first + i) % wo);
            for ky in 0..kh {
                let iy = (oy * g.strides[0] + ky * g.dilations[0]) as isize - g.pads[0] as isize;
                let ix0 = (ox * g.strides[1]) as isize - g.pads[1] as isize;
                if runs && iy >= 0 && (iy as usize) < h && ix0 >= 0 && ix0 as usize + kw <= w {
                    let pixel = (iy as usize * w + ix0 as usize) * g.cin;
                    let run = kw * g.cin;
                    rows[i * k_u + ky * run..][..run].copy_from_slice(&x[pixel..pixel + run]);
                    continue;
                }
                for kx in 0..kw {
                    let ix =
                        (ox * g.strides[1] + kx * g.dilations[1]) as isize - g.pads[1] as isize;
                    let at = i * k_u + (ky * kw + kx) * cin_u;
                    if iy < 0 || ix < 0 || iy as usize >= h || ix as usize >= w {
                        for &offset in &offsets {
                            rows[offset + at..][..cin_u].fill(self.x_zero);
                        }
                        continue;
                    }
                    let pixel = (iy as usize * w + ix as usize) * g.cin;
                    let src = &x[pixel..pixel + g.cin];
                    let dst = &mut rows[at..];
                    match cin_u {
                        8 => scatter::<8>(src, dst, &offsets),
                        16 => scatter::<16>(src, dst, &offsets),
                        32 => scatter::<32>(src, dst, &offsets),
                        64 => scatter::<64>(src, dst, &offsets),
                        _ => {
                            for (chunk, &offset) in src.chunks_exact(cin_u).zip(&offsets) {
                                dst[offset..][..cin_u].copy_from_slice(chunk);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Copies chunk g (`C` bytes) of `src` to `dst[offsets[g]..]`.
#[inline(always)]
fn scatter<const C: usize>(src: &[u8], dst: &mut [u8], offsets: &[usize]) {
    for (chunk, &at) in src.chunks_exact(C).zip(offsets) {
        let chunk: &[u8; C] = chunk.try_into().expect("exact chunk");
        let to: &mut [u8; C] = (&mut dst[at..at + C]).try_into().expect("C bytes");
        *to = *chunk;
    }
}

/// Groups per GEMM. Narrow groups are merged into one block-diagonal GEMM (K over the
/// merged groups' channels, so im2col copies one run per unit): more multiplications by zero,
/// fewer and larger copies and GEMM calls. Measured on ResNeXt101_32x8d's grouped 3x3 shapes
/// (`grouped_timings` below): on AMX, 32 input channels per GEMM (8 -> 4 groups, 16 -> 2)
/// took 0.6-0.7x the time of one GEMM per group; on AVX512-VNNI only 8-channel groups gain
/// (2 groups, 0.75x).
fn merge_for(g: &Geometry, gemm: QGemm) -> usize {
    let cin_g = g.cin_g();
    let merge = match gemm.isa() {
        crate::kernels::cpu::Isa::AmxInt8 if cin_g < 32 && 32 % cin_g == 0 => 32 / cin_g,
        crate::kernels::cpu::Isa::Avx512Vnni if cin_g == 8 => 2,
        _ => 1,
    };
    if g.groups > 1 && g.groups.is_multiple_of(merge) && g.cin_g() == g.cout_g() {
        merge
    } else {
        1
    }
}

/// Groups per GEMM unit of a direct (implicit GEMM) convolution, when it can run as one: not
/// 1x1, no fused residual, an ISA with a shifted kernel, and units whose input channels are a
/// multiple of its segment step, at most 256 channels.
/// - AMX-INT8: strides up to 4 (the phase images); units of a multiple of 64 input channels
///   (its K step), narrower groups merged block-diagonally.
/// - AVX512-VNNI: stride 1 (as implicit GEMMs, two of ResNeXt101_32x8d's three strided grouped
///   convolutions took 1.1x their im2col time, the copy into phase images outweighing the
///   gather; the third, at 14x14, 0.9x); units of a multiple of 4 input channels and at least
///   16 output channels (one zmm of columns): 8-channel groups merged in pairs, which took
///   about 0.8x the time of each group alone on 8 columns (a narrow-packing variant) in the
///   model.
///
/// None otherwise (im2col). The scalar reference keeps im2col (the path it checks).
fn direct_merge_for(g: &Geometry, gemm: QGemm, has_residual: bool) -> Option<usize> {
    let vnni = match gemm.isa() {
        crate::kernels::cpu::Isa::AmxInt8 => false,
        crate::kernels::cpu::Isa::Avx512Vnni => true,
        _ => return None,
    };
    let step = gemm.shifted_seg_step()?;
    let max_stride = if vnni { 1 } else { 4 };
    if g.strides.iter().any(|&s| s > max_stride) || g.kernel == [1, 1] || has_residual {
        return None;
    }
    let (cin_g, cout_g) = (g.cin_g(), g.cout_g());
    let columns_fit = |m: usize| !vnni || m * cout_g >= 16 || m == g.groups;
    (1..=g.groups).find(|&m| {
        g.groups.is_multiple_of(m)
            && (m * cin_g).is_multiple_of(step)
            && m * cin_g <= 256.max(cin_g)
            && columns_fit(m)
            && (m == 1 || cin_g == cout_g)
    })
}

/// Writes one ONNX filter (`(c, ky, kx)` order, `taps = kh * kw` values per input channel)
/// into a row of B^T, whose K runs over `(ky, kx, c)` in segments of `cin_u` channels per tap:
/// the filter's channels go to positions `at .. at + filter.len() / taps` of each segment (a
/// merged group's member `j` at `j * cin_g`), the rest of the row is left as it is.
pub(super) fn filter_to_row<T: Copy>(
    filter: &[T],
    taps: usize,
    row: &mut [T],
    cin_u: usize,
    at: usize,
) {
    let cin_g = filter.len() / taps.max(1);
    for (tap, segment) in row.chunks_exact_mut(cin_u).enumerate() {
        for (c, w) in segment[at..][..cin_g].iter_mut().enumerate() {
            *w = filter[c * taps + tap];
        }
    }
}

/// An output buffer handed to several bands or work items that each write their own values.
pub(super) struct SharedOut<T> {
    pub(super) ptr: *mut T,
    pub(super) len: usize,
}

// SAFETY: the bands and items write disjoint values only (each call site's contract), so sharing
// the pointer between threads cannot create overlapping access.
unsafe impl<T> Sync for SharedOut<T> {}

impl<T> SharedOut<T> {
    pub(super) fn new(out: &mut [T]) -> Self {
        SharedOut { ptr: out.as_mut_ptr(), len: out.len() }
    }

    /// # Safety
    /// No two live results may overlap.
    #[allow(clippy::mut_from_ref)]
    pub(super) unsafe fn rows(&self, start: usize, len: usize) -> &mut [T] {
        assert!(start + len <= self.len, "band out of bounds");
        // SAFETY: in bounds (checked) and disjoint from every other live band (contract).
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), len) }
    }
}

/// The implicit-GEMM layout of a convolution over a padded copy of its input (both element
/// types use it): the padded image split into `s x s` phase images (stride `s`; one for
/// stride 1), phase `(a, b)` holding the padded pixels `(s*i + a, s*j + b)` in rows of
/// `wq = ceil(wp / s)` pixels. The GEMM rows are the grid `ho x wq` (its `wq - wo` extra
/// columns computed and dropped by the row map), and tap `(ky, kx)` reads them in place in
/// phase `(d*ky mod s, d*kx mod s)`, `shifts[tap]` pixels after the grid row.
pub(super) struct Phases {
    /// Grid pixels per grid row.
    pub(super) wq: usize,
    /// Output pixels per output row.
    pub(super) wo: usize,
    /// GEMM rows per image (`ho * wq`).
    pub(super) grid: usize,
    /// Per tap, in `(ky, kx)` order, its pixel offset from the grid row.
    pub(super) shifts: Vec<usize>,
    /// Pixels the padded buffer holds: every phase, and every row read by whole blocks of
    /// `block_rows` grid rows at the largest shift.
    pub(super) padded_pixels: usize,
    phase_pixels: usize,
    /// The input's width.
    w: usize,
}

impl Phases {
    /// The layout for an `h x w` input (`g.output_size` must fit, as `run` checks).
    pub(super) fn new(g: &Geometry, h: usize, w: usize, block_rows: usize) -> Phases {
        let [kh, kw] = g.kernel;
        let [top, left, bottom, right] = g.pads;
        let [sy, sx] = g.strides;
        let (hq, wq) = ((h + top + bottom).div_ceil(sy), (w + left + right).div_ceil(sx));
        let phase_pixels = hq * wq;
        let (ho, wo) = g.output_size(h, w).expect("checked by run");
        let grid = ho * wq;
        let shifts: Vec<usize> = (0..kh)
            .flat_map(|ky| (0..kw).map(move |kx| (ky * g.dilations[0], kx * g.dilations[1])))
            .map(|(dy, dx)| ((dy % sy) * sx + dx % sx) * phase_pixels + (dy / sy) * wq + dx / sx)
            .collect();
        let max_shift = shifts.iter().copied().max().unwrap_or(0);
        let padded_pixels =
            (sy * sx * phase_pixels).max(grid.next_multiple_of(block_rows) + max_shift);
        Phases { wq, wo, grid, shifts, padded_pixels, phase_pixels, w }
    }

    /// Copies one NHWC image `x` (`h x w x cin`, the `h` and `w` of [`Phases::new`]) into its
    /// place in `padded` (whose padding keeps the value it was filled with), in items of
    /// whole input rows (about [`FILL_ITEM_BYTES`] each) run by `parallel`.
    pub(super) fn fill<T: Copy + Sync>(
        &self,
        g: &Geometry,
        x: &[T],
        padded: &mut [T],
        parallel: Parallel<'_>,
    ) {
        self.fill_with(g, x, padded, parallel, |src, dst| dst.copy_from_slice(src))
    }

    /// [`Phases::fill`] with `put(src, dst)` writing the values of `src` into `dst` (its
    /// length): a copy, or a conversion to the padded image's element type.
    pub(super) fn fill_with<S: Copy + Sync, T: Copy + Sync>(
        &self,
        g: &Geometry,
        x: &[S],
        padded: &mut [T],
        parallel: Parallel<'_>,
        put: impl Fn(&[S], &mut [T]) + Sync,
    ) {
        let (top, left) = (g.pads[0], g.pads[1]);
        let [sy, sx] = g.strides;
        let (cin, wq, phase_pixels) = (g.cin, self.wq, self.phase_pixels);
        let row_len = self.w * cin;
        if row_len == 0 {
            return;
        }
        let h = x.len() / row_len;
        let rows_per_item = (FILL_ITEM_BYTES / (row_len * size_of::<S>()).max(1)).max(1);
        let out = SharedOut::new(padded);
        parallel(h.div_ceil(rows_per_item), &|item| {
            let ys = item * rows_per_item..((item + 1) * rows_per_item).min(h);
            for (y, row) in
                ys.clone().zip(x[ys.start * row_len..ys.end * row_len].chunks_exact(row_len))
            {
                let py = y + top;
                if sx == 1 {
                    let at = (((py % sy) * sx) * phase_pixels + (py / sy) * wq + left) * cin;
                    // SAFETY: distinct input pixels have distinct places in the padded image
                    // (the phase, row and column follow from the pixel), so items, which copy
                    // distinct input rows, write disjoint values.
                    put(row, unsafe { out.rows(at, row.len()) });
                    continue;
                }
                for (x, pixel) in row.chunks_exact(cin).enumerate() {
                    let px = left + x;
                    let phase = (py % sy) * sx + px % sx;
                    let at = (phase * phase_pixels + (py / sy) * wq + px / sx) * cin;
                    // SAFETY: as above.
                    put(pixel, unsafe { out.rows(at, cin) });
                }
            }
        });
    }
}

/// Input bytes per work item of [`Phases::fill`]: enough for the copy to outweigh handing the
/// item to a thread, small enough to split a layer's image over the workers.
const FILL_ITEM_BYTES: usize = 64 << 10;

#[cfg(test)]
mod tests {
    use super::*;

    use crate::kernels::cpu::{supported_isas, Isa};
    use crate::kernels::qgemm::epilogue::requant_scalar;

    #[test]
    fn work_items_cover_every_unit_and_grid_row_once_in_either_order() {
        for (grid, units, weight_bytes) in
            [(224, 32, 1 << 20), (224, 32, 100 << 10), (63, 32, 5 << 20), (3248, 16, 0), (5, 1, 0)]
        {
            for (workers, block) in [(1, 1), (2, 1), (2, 16), (3, 32)] {
                let items = WorkItems::new(grid, 4096, units, weight_bytes, workers, block);
                let mut covered = vec![0u8; grid * units];
                for i in 0..items.len() {
                    let (unit, first, rows) = items.item(i);
                    assert!(unit < units && rows > 0 && first.is_multiple_of(block));
                    for row in first..first + rows {
                        covered[unit * grid + row] += 1;
                    }
                }
                assert!(covered.iter().all(|&c| c == 1), "{grid} rows, {units} units");
                // Heavy weights: consecutive items share their unit (each unit's weights are
                // read once); light ones: consecutive items share their rows.
                if units > 1 && items.len() > units {
                    let (a, b) = (items.item(0), items.item(1));
                    if weight_bytes > CHUNK_WEIGHT_BYTES {
                        assert_eq!(a.0, b.0);
                    } else {
                        assert_eq!(a.1, b.1);
                    }
                }
            }
        }
    }

    /// A direct convolution in NCHW with ONNX's QLinearConv arithmetic, then the optional add.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        g: &Geometry,
        x_nhwc: &[u8],
        (h, w): (usize, usize),
        weights: &[i8],
        bias: &[i32],
        scales: &[f32],
        x_zero: u8,
        y_zero: u8,
        add: Option<(AddParams, &[u8])>,
    ) -> Vec<u8> {
        let (ho, wo) = g.output_size(h, w).unwrap();
        let (cin_g, cout_g) = (g.cin / g.groups, g.cout / g.groups);
        let [kh, kw] = g.kernel;
        let mut out = vec![0u8; ho * wo * g.cout];
        for oy in 0..ho {
            for ox in 0..wo {
                for co in 0..g.cout {
                    let group = co / cout_g;
                    let mut acc = 0i32;
                    for c in 0..cin_g {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = (oy * g.strides[0] + ky * g.dilations[0]) as isize
                                    - g.pads[0] as isize;
                                let ix = (ox * g.strides[1] + kx * g.dilations[1]) as isize
                                    - g.pads[1] as isize;
                                if iy < 0 || ix < 0 || iy as usize >= h || ix as usize >= w {
                                    continue;
                                }
                                let xv = x_nhwc
                                    [(iy as usize * w + ix as usize) * g.cin + group * cin_g + c]
                                    as i32
                                    - x_zero as i32;
                                let wv = weights[((co * cin_g + c) * kh + ky) * kw + kx] as i32;
                                acc += xv * wv;
                            }
                        }
                    }
                    let t = requant_scalar(acc, bias[co], scales[co], y_zero, 0, 255);
                    let i = (oy * wo + ox) * g.cout + co;
                    out[i] = match add {
                        None => t,
                        Some((p, r)) => {
                            let fixed = p.add_zero as f32
                                - (p.ratio_a * y_zero as f32 + p.ratio_b * p.r_zero as f32);
                            let v = (t as f32)
                                .mul_add(p.ratio_a, (r[i] as f32).mul_add(p.ratio_b, fixed));
                            v.round_ties_even().clamp(0.0, 255.0) as u8
                        }
                    };
                }
            }
        }
        out
    }

    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u32 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (self.0 >> 33) as u32
        }
    }

    fn serial(bands: usize, f: &(dyn Fn(usize) + Sync)) {
        for b in (0..bands).rev() {
            f(b);
        }
    }

    fn check(
        g: Geometry,
        (h, w): (usize, usize),
        with_add: bool,
        isa: Isa,
        merge: Option<usize>,
        seed: u64,
    ) {
        let mut rng = Lcg(seed);
        let k = g.kernel[0] * g.kernel[1] * g.cin / g.groups;
        let x: Vec<u8> = (0..h * w * g.cin).map(|_| rng.next() as u8).collect();
        let weights: Vec<i8> = (0..g.cout * k).map(|_| rng.next() as i8).collect();
        let bias: Vec<i32> = (0..g.cout).map(|_| (rng.next() % 20000) as i32 - 10000).collect();
        let scales: Vec<f32> =
            (0..g.cout).map(|_| 1e-4 + (rng.next() % 1000) as f32 * 2e-6).collect();
        let (x_zero, y_zero) = ((rng.next() % 256) as u8, (rng.next() % 256) as u8);
        let (ho, wo) = g.output_size(h, w).unwrap();
        let r: Vec<u8> = (0..ho * wo * g.cout).map(|_| rng.next() as u8).collect();
        let params = AddParams { r_zero: 17, ratio_a: 0.75, ratio_b: 1.25, add_zero: 3 };
        let add = with_add.then_some(params);
        let conv = QConv::new(
            g.clone(),
            &weights,
            &bias,
            &scales,
            x_zero,
            y_zero,
            add,
            QGemm::new(isa).unwrap(),
            merge,
            &serial,
        )
        .unwrap();
        let expected = reference(
            &g,
            &x,
            (h, w),
            &weights,
            &bias,
            &scales,
            x_zero,
            y_zero,
            add.map(|p| (p, &r[..])),
        );
        // A guard value, so bytes the convolution fails to write show up as differences
        // (`Int8Conv` hands `run` an uninitialized output).
        let mut out = vec![0xA5u8; expected.len()];
        conv.run(&x, (1, h, w), with_add.then_some(&r[..]), &mut out, 2, &serial).unwrap();
        let wrong = out.iter().zip(&expected).filter(|(a, b)| a != b).count();
        assert_eq!(
            wrong, 0,
            "{g:?} {h}x{w} add={with_add} {isa:?} merge {merge:?}: {wrong} outputs differ"
        );
        // A batch of three images (the same image thrice) gives the same output per image.
        let x3 = x.repeat(3);
        let r3 = r.repeat(3);
        let mut out3 = vec![0xA5u8; 3 * expected.len()];
        conv.run(&x3, (3, h, w), with_add.then_some(&r3[..]), &mut out3, 2, &serial).unwrap();
        for (image, chunk) in out3.chunks_exact(expected.len()).enumerate() {
            let wrong = chunk.iter().zip(&expected).filter(|(a, b)| a != b).count();
            assert_eq!(wrong, 0, "{g:?} {h}x{w} {isa:?} batch image {image}: {wrong} differ");
        }
    }

    fn geometry(cin: usize, cout: usize, groups: usize, k: usize, s: usize, p: usize) -> Geometry {
        Geometry {
            cin,
            cout,
            groups,
            kernel: [k, k],
            strides: [s, s],
            pads: [p; 4],
            dilations: [1, 1],
        }
    }

    #[test]
    fn convolutions_match_the_direct_reference_on_every_kernel() {
        let cases = [
            (geometry(64, 32, 1, 1, 1, 0), (9, 7), false),
            (geometry(64, 32, 1, 1, 1, 0), (9, 7), true),
            (geometry(32, 64, 1, 1, 2, 0), (9, 9), true),
            (geometry(64, 64, 8, 3, 1, 1), (11, 6), false),
            (geometry(64, 64, 8, 3, 2, 1), (11, 6), false),
            (geometry(256, 256, 32, 3, 1, 1), (5, 5), false),
            (geometry(3, 16, 1, 7, 2, 3), (21, 17), false),
            (geometry(128, 128, 4, 3, 1, 1), (20, 20), true),
            // direct (implicit GEMM) shapes on AMX: 64-, 16- and 8-channel groups, 5x5,
            // dilation 2, asymmetric padding, a 1-wide output
            (geometry(128, 128, 2, 3, 1, 1), (7, 7), false),
            (geometry(64, 64, 4, 3, 1, 1), (13, 6), false),
            (geometry(256, 256, 32, 5, 1, 2), (9, 13), false),
            (Geometry { dilations: [2, 2], ..geometry(64, 64, 8, 3, 1, 2) }, (10, 11), false),
            (Geometry { pads: [1, 0, 2, 1], ..geometry(64, 64, 8, 3, 1, 1) }, (6, 3), false),
            (geometry(64, 64, 8, 3, 1, 0), (3, 5), false),
            // strided direct shapes (phase images): even and odd sizes, stride 3, 5x5
            (geometry(512, 512, 32, 3, 2, 1), (8, 8), false),
            (geometry(128, 128, 8, 3, 2, 1), (9, 7), false),
            (geometry(64, 64, 4, 3, 3, 1), (10, 8), false),
            (Geometry { pads: [2, 1, 0, 2], ..geometry(128, 128, 2, 5, 2, 0) }, (11, 12), false),
            // strided 1x1 (im2col) wider than one slice, with and without the residual
            (geometry(256, 512, 1, 1, 2, 0), (56, 56), false),
            (geometry(256, 512, 1, 1, 2, 0), (20, 18), true),
            // pointwise with column slices: split by slices (few rows), by rows (many)
            (geometry(64, 600, 1, 1, 1, 0), (5, 7), true),
            (geometry(32, 300, 1, 1, 1, 0), (20, 20), false),
        ];
        for isa in supported_isas() {
            for (i, (g, hw, add)) in cases.iter().enumerate() {
                check(g.clone(), *hw, *add, isa, None, 7 + i as u64);
            }
        }
    }

    /// Whether `g` runs as an implicit GEMM on `gemm` (default merge), and with which merge.
    fn direct_on(gemm: QGemm, g: Geometry, add: Option<AddParams>) -> Option<usize> {
        let n = g.cout * g.kernel[0] * g.kernel[1] * g.cin / g.groups;
        let conv = QConv::new(
            g.clone(),
            &vec![1; n],
            &vec![0; g.cout],
            &vec![1e-3; g.cout],
            0,
            0,
            add,
            gemm,
            None,
            &serial,
        )
        .unwrap();
        conv.direct.then_some(conv.merge)
    }

    #[test]
    fn grouped_convolutions_run_direct_on_amx() {
        let Some(amx) = QGemm::new(Isa::AmxInt8) else {
            assert!(
                !crate::kernels::cpu::required_by_tests("amx_int8"),
                "AMX-INT8 required but not available"
            );
            return;
        };
        let direct = |g: Geometry, add: Option<AddParams>| direct_on(amx, g, add).is_some();
        for (cin_g, groups) in [(8, 32), (16, 32), (32, 32), (64, 32), (128, 2)] {
            assert!(direct(geometry(cin_g * groups, cin_g * groups, groups, 3, 1, 1), None));
        }
        assert!(direct(geometry(256, 256, 32, 3, 2, 1), None), "stride 2 runs on phase images");
        assert!(!direct(geometry(64, 64, 1, 1, 1, 0), None), "1x1 is a plain GEMM");
        let add = AddParams { r_zero: 0, ratio_a: 1.0, ratio_b: 1.0, add_zero: 0 };
        assert!(!direct(geometry(64, 64, 8, 3, 1, 1), Some(add)), "a fused residual uses im2col");
        assert!(
            !direct(geometry(24, 24, 8, 3, 1, 1), None),
            "3-channel groups: no 64-channel unit"
        );
    }

    #[test]
    fn grouped_convolutions_run_direct_on_vnni() {
        let Some(vnni) = QGemm::new(Isa::Avx512Vnni) else {
            assert!(
                !crate::kernels::cpu::required_by_tests("avx512_vnni"),
                "AVX512-VNNI required but not available"
            );
            return;
        };
        let direct = |g: Geometry, add: Option<AddParams>| direct_on(vnni, g, add);
        // ResNeXt's grouped 3x3: 8-channel groups in pairs (16 columns), the others alone;
        // strided ones on im2col
        for (cin_g, merge) in [(8, 2), (16, 1), (32, 1), (64, 1)] {
            let c = cin_g * 32;
            assert_eq!(direct(geometry(c, c, 32, 3, 1, 1), None), Some(merge), "{cin_g} a group");
            assert_eq!(direct(geometry(c, c, 32, 3, 2, 1), None), None, "stride 2");
        }
        assert_eq!(direct(geometry(48, 48, 4, 3, 1, 1), None), Some(2), "12 columns: in pairs");
        assert_eq!(direct(geometry(64, 64, 16, 3, 1, 1), None), Some(4), "4 columns: by 4");
        assert_eq!(direct(geometry(64, 64, 1, 1, 1, 0), None), None, "1x1 is a plain GEMM");
        let add = AddParams { r_zero: 0, ratio_a: 1.0, ratio_b: 1.0, add_zero: 0 };
        assert_eq!(direct(geometry(64, 64, 8, 3, 1, 1), Some(add)), None, "fused residual");
        assert_eq!(direct(geometry(3, 64, 1, 7, 2, 3), None), None, "3 channels: not 4-byte K");
        assert_eq!(direct(geometry(64, 64, 1, 3, 5, 1), None), None, "stride 5: no phase images");
    }

    #[test]
    fn merged_groups_give_the_per_group_result() {
        let cases = [
            (geometry(64, 64, 8, 3, 1, 1), (11, 6), true, 2),
            (geometry(64, 64, 8, 3, 2, 1), (11, 6), false, 4),
            (geometry(256, 256, 32, 3, 1, 1), (5, 5), false, 2),
            (geometry(256, 256, 32, 3, 1, 1), (9, 5), true, 8),
        ];
        for isa in supported_isas() {
            for (i, (g, hw, add, merge)) in cases.iter().enumerate() {
                check(g.clone(), *hw, *add, isa, Some(*merge), 40 + i as u64);
            }
        }
    }

    #[test]
    fn bands_on_threads_give_the_serial_result() {
        let g = geometry(64, 64, 8, 3, 1, 1);
        let isa = crate::kernels::cpu::best();
        let mut rng = Lcg(5);
        let (h, w) = (40, 40);
        let x: Vec<u8> = (0..h * w * 64).map(|_| rng.next() as u8).collect();
        let weights: Vec<i8> = (0..64 * 72).map(|_| rng.next() as i8).collect();
        let conv = QConv::new(
            g,
            &weights,
            &[5; 64],
            &[3e-4; 64],
            9,
            100,
            None,
            QGemm::new(isa).unwrap(),
            None,
            &serial,
        )
        .unwrap();
        let mut a = vec![0u8; h * w * 64];
        let mut b = a.clone();
        conv.run(&x, (1, h, w), None, &mut a, 1, &serial).unwrap();
        let threaded = |bands: usize, f: &(dyn Fn(usize) + Sync)| {
            std::thread::scope(|s| {
                for band in 0..bands {
                    s.spawn(move || f(band));
                }
            })
        };
        conv.run(&x, (1, h, w), None, &mut b, 2, &threaded).unwrap();
        assert_eq!(a, b);
    }
}

/// `cargo test --release --lib grouped_timings -- --ignored --nocapture`: the grouped 3x3
/// convolutions of ResNeXt101_32x8d's stages on each kernel, per GEMM merge factor.
#[cfg(test)]
#[test]
#[ignore]
fn grouped_timings() {
    use crate::kernels::cpu::supported_isas;
    for (cg, side) in [(8usize, 56usize), (16, 28), (32, 14), (64, 7)] {
        let c = cg * 32;
        let g = Geometry {
            cin: c,
            cout: c,
            groups: 32,
            kernel: [3, 3],
            strides: [1, 1],
            pads: [1; 4],
            dilations: [1, 1],
        };
        let x = vec![7u8; side * side * c];
        let weights: Vec<i8> = (0..c * 9 * cg).map(|i| (i % 13) as i8 - 6).collect();
        for isa in supported_isas().into_iter().filter(|i| *i != crate::kernels::cpu::Isa::Scalar) {
            // None: the default choice (the direct implicit GEMM on AMX and AVX512-VNNI), then
            // forced im2col
            for merge in [None, Some(1usize), Some(2), Some(4), Some(8)] {
                let gemm = QGemm::new(isa).unwrap();
                let serial = |bands: usize, f: &(dyn Fn(usize) + Sync)| (0..bands).for_each(f);
                let conv = QConv::new(
                    g.clone(),
                    &weights,
                    &vec![0; c],
                    &vec![1e-3; c],
                    3,
                    9,
                    None,
                    gemm,
                    merge,
                    &serial,
                )
                .unwrap();
                let mut out = vec![0u8; side * side * c];
                let mut best = f64::MAX;
                for _ in 0..20 {
                    let t = std::time::Instant::now();
                    conv.run(&x, (1, side, side), None, &mut out, 1, &serial).unwrap();
                    best = best.min(t.elapsed().as_secs_f64());
                }
                let ops = 2.0 * (side * side * c * 9 * cg) as f64;
                println!(
                    "cg {cg:2} {side}x{side} {isa:?} merge {merge:?} (direct {}): {:.3} ms, {:.0} GOP/s",
                    conv.direct,
                    best * 1e3,
                    ops / best / 1e9
                );
            }
        }
    }
}

/// `cargo test --release --lib conv_scaling -- --ignored --nocapture`: ResNeXt101_32x8d's 1x1
/// and grouped 3x3 convolutions on the best kernel with 1 and 2 threads of a rayon pool (the
/// grouped ones also forced onto im2col, 8-channel groups merged in pairs).
#[cfg(test)]
#[test]
#[ignore]
fn conv_scaling() {
    use rayon::prelude::*;
    let shape = |cin: usize, groups: usize, k: usize| Geometry {
        cin,
        cout: cin,
        groups,
        kernel: [k, k],
        strides: [1, 1],
        pads: [k / 2; 4],
        dilations: [1, 1],
    };
    let pointwise = [(56usize, 256usize), (28, 512), (14, 1024), (7, 2048)]
        .map(|(side, c)| (side, shape(c, 1, 1), None));
    let grouped = [(56usize, 8usize), (28, 16), (14, 32), (7, 64)].map(|(side, cg)| {
        [
            (side, shape(cg * 32, 32, 3), None),
            (side, shape(cg * 32, 32, 3), Some(1 + (cg == 8) as usize)),
        ]
    });
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    for (side, g, merge) in pointwise.into_iter().chain(grouped.into_iter().flatten()) {
        let (cin, cout, k_g) = (g.cin, g.cout, g.k_g());
        let x = vec![7u8; side * side * cin];
        let weights: Vec<i8> = (0..cout * k_g).map(|i| (i % 13) as i8 - 6).collect();
        let gemm = QGemm::best();
        let serial = |bands: usize, f: &(dyn Fn(usize) + Sync)| (0..bands).for_each(f);
        let conv = QConv::new(
            g.clone(),
            &weights,
            &vec![0; cout],
            &vec![1e-3; cout],
            3,
            9,
            None,
            gemm,
            merge,
            &serial,
        )
        .unwrap();
        let mut out = vec![0u8; side * side * cout];
        for workers in [1usize, 2] {
            let par = |bands: usize, f: &(dyn Fn(usize) + Sync)| {
                if workers == 1 {
                    (0..bands).for_each(f)
                } else {
                    pool.install(|| (0..bands).into_par_iter().for_each(f))
                }
            };
            let mut best = f64::MAX;
            for _ in 0..20 {
                let t = std::time::Instant::now();
                conv.run(&x, (1, side, side), None, &mut out, workers, &par).unwrap();
                best = best.min(t.elapsed().as_secs_f64());
            }
            let ops = 2.0 * (side * side * cout * k_g) as f64;
            println!(
                "{side}x{side} {cin}->{cout} {}x{} groups {} {:?} direct {} {workers} threads: \
                 {:.3} ms, {:.0} GOP/s",
                g.kernel[0],
                g.kernel[1],
                g.groups,
                gemm.isa(),
                conv.direct,
                best * 1e3,
                ops / best / 1e9
            );
        }
    }
}
