//! The kernel layer's u8 x i8 GEMM (`resnext::kernels::qgemm`) on shapes and values from the
//! input: every kernel family this CPU runs (AVX512-VNNI, AMX-INT8) must give the scalar
//! reference kernel's bytes exactly, and the reference must equal a direct computation from
//! the unpacked weights (`sum a * w`, then the epilogue's `requant_scalar`), so the packing is
//! checked too. The bytes of C outside the `m x n` block (row padding up to `ldc`, a guard
//! after the last row) must stay untouched.
//!
//! Input: 12 header bytes (m, n, k, the paddings of A and C, zero points, clamp, flags), then
//! the values of A, B, bias and scale, cycled when the input runs short. Shapes stay small
//! (m <= 40, n <= 80, k <= 320) so an iteration takes well under a millisecond; they still
//! cross every blocking boundary (16-column panels, 8-column narrow layout, 64-deep K steps,
//! 32 x 32 AMX blocks, row tails).

use resnext::kernels::cpu::{supported_isas, Isa};
use resnext::kernels::qgemm::epilogue::requant_scalar;
use resnext::kernels::qgemm::{PackedWeights, QGemm, Requant, Residual};

const GUARD: u8 = 0xA5;

/// Bytes of the input after its header, cycled (so every input gives a full case).
struct Values<'a> {
    data: &'a [u8],
    at: usize,
}

impl Values<'_> {
    fn u8(&mut self) -> u8 {
        if self.data.is_empty() {
            return 0;
        }
        let v = self.data[self.at % self.data.len()];
        self.at += 1;
        v
    }
    fn i32(&mut self) -> i32 {
        i32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
}

/// One fuzz input through this target; aborts (after printing why) when an invariant fails.
pub fn run(data: &[u8]) {
    crate::contain_panics();
    if data.len() < 12 {
        return;
    }
    let (h, rest) = data.split_at(12);
    let m = 1 + h[0] as usize % 40;
    let n = 1 + h[1] as usize % 80;
    let k = 1 + (u16::from_le_bytes([h[2], h[3]]) as usize) % 320;
    let lda = k + h[4] as usize % 5;
    let ldc = n + h[5] as usize % 5;
    let out_zp = h[6];
    let (lo, hi) = match h[7] % 3 {
        0 => (0, 255),
        1 => (out_zp, 255), // a fused ReLU
        _ => (h[8].min(h[9]), h[8].max(h[9])),
    };
    let flags = h[10];
    let mut v = Values { data: rest, at: 0 };
    let a: Vec<u8> = (0..(m - 1) * lda + k).map(|_| v.u8()).collect();
    let w: Vec<i8> = (0..n * k).map(|_| v.u8() as i8).collect();
    // Bias around the accumulator's scale (k * 128 * 128 at most), sometimes huge (saturation).
    let bias: Vec<i32> = (0..n)
        .map(|_| if flags & 1 != 0 { v.i32() / 2 } else { v.i32() % (k as i32 * 4096 + 1) })
        .collect();
    // Scales: powers of two, tiny positive or negative, or saturating.
    let scale: Vec<f32> = (0..n)
        .map(|_| {
            let s = v.u8();
            match s % 4 {
                0 => [0.5f32, 0.25, 1.0, 0.125][s as usize / 64],
                1 => (s as f32 + 1.0) / (k as f32 * 2048.0),
                2 => -(s as f32 + 1.0) / (k as f32 * 4096.0),
                _ => s as f32 * 10.0,
            }
        })
        .collect();
    let requant = Requant { bias, scale, out_zp, lo, hi };
    let res_ld = n + h[11] as usize % 3;
    let res_data: Vec<u8> = (0..(m - 1) * res_ld + n).map(|_| v.u8()).collect();
    let residual = (flags & 2 != 0).then(|| Residual {
        data: &res_data,
        ld: res_ld,
        r_zp: v.u8(),
        ratio_a: (v.u8() as f32 + 1.0) / 64.0,
        ratio_b: (v.u8() as f32 + 1.0) / 128.0,
        add_zp: v.u8(),
        lo: 0,
        hi: 255,
    });
    let packed = PackedWeights::pack(&w, n, k);
    let c_len = (m - 1) * ldc + n + 16; // 16 guard bytes after the last row
    let run_isa = |isa: Isa| {
        let kernel = QGemm::new(isa)
            .unwrap_or_else(|| crate::fail(format_args!("{isa} listed but refused")));
        let mut c = vec![GUARD; c_len];
        kernel.run(m, &a, lda, &packed, &requant, residual.as_ref(), &mut c, ldc);
        c
    };
    let reference = run_isa(Isa::Scalar);
    let shape = format!("m {m} n {n} k {k} lda {lda} ldc {ldc} residual {}", residual.is_some());
    for (i, byte) in reference.iter().enumerate() {
        let inside = i < (m - 1) * ldc + n && i % ldc < n;
        check!(inside || *byte == GUARD, "scalar: byte {i} outside C written ({shape})");
    }
    if residual.is_none() {
        for row in 0..m {
            for col in 0..n {
                let acc = (0..k).fold(0i32, |acc, kk| {
                    acc.wrapping_add(a[row * lda + kk] as i32 * w[col * k + kk] as i32)
                });
                let want =
                    requant_scalar(acc, requant.bias[col], requant.scale[col], out_zp, lo, hi);
                let got = reference[row * ldc + col];
                check!(got == want, "scalar C[{row}][{col}] = {got}, direct {want} ({shape})");
            }
        }
    }
    for isa in supported_isas().into_iter().filter(|&isa| isa != Isa::Scalar) {
        let got = run_isa(isa);
        if let Some(i) = (0..c_len).find(|&i| got[i] != reference[i]) {
            crate::fail(format_args!(
                "{isa}: byte {i} (row {}, col {}) is {}, scalar {} ({shape})",
                i / ldc,
                i % ldc,
                got[i],
                reference[i]
            ));
        }
    }
}
