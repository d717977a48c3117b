//! Weight packing: one layout shared by the AVX512-VNNI and the AMX kernels.
//!
//! `panels`: for each panel of 16 output columns, `kpad / 4` lines of 64 bytes; line `g` of
//! panel `p` holds, for column `c` in 0..16, the 4 weights `B[4g .. 4g + 4][16p + c]` at bytes
//! `4c .. 4c + 4`: i.e. `[N/16][K_pad/4][16][4]`. That line is one `vpdpbusd` operand (16
//! dword lanes = 16 columns) and 16 consecutive lines are one AMX B tile (16 rows x 64 bytes,
//! K step 64). `kpad` is `k` rounded up to 64 (the AMX K step); every padding byte (K beyond
//! `k`, columns beyond `n`) is zero, so padded products add nothing.
//!
//! `narrow` (only when `n <= 8`): `kpad / 8` lines; line `h` covers the K groups `2h` and
//! `2h + 1`: for column `c` in 0..8, bytes `8c .. 8c + 4` hold `B[8h .. 8h + 4][c]` and bytes
//! `8c + 4 .. 8c + 8` hold `B[8h + 4 .. 8h + 8][c]`. A `vpbroadcastq` of 8 activation bytes
//! then feeds both groups at once, so 8-column GEMMs use all 16 lanes of a zmm.

/// One cache line of packed weights (64-byte aligned, so vector loads and tile loads of the
/// packed data never split lines).
#[repr(C, align(64))]
#[derive(Clone, Copy)]
pub(crate) struct Line(pub [i8; 64]);

pub(crate) const ZERO_LINE: Line = Line([0; 64]);

pub(crate) struct Packed {
    pub kpad: usize,
    pub panels: Vec<Line>,
    pub narrow: Vec<Line>,
    pub col_sums: Vec<i32>,
}

/// `w`: row `j` (0..n) holds the `k` weights of output column `j`.
pub(crate) fn pack(w: &[i8], n: usize, k: usize) -> Packed {
    assert!(
        w.len() >= n * k,
        "PackedWeights::pack: w has {} values, need n*k = {}",
        w.len(),
        n * k
    );
    let kpad = k.div_ceil(64) * 64;
    let np = n.div_ceil(16);
    let lps = kpad / 4; // lines per panel
    let mut panels = vec![ZERO_LINE; np * lps];
    for (col, row) in w[..n * k].chunks_exact(k.max(1)).enumerate() {
        let (p, c) = (col / 16, col % 16);
        scatter::<4>(row, &mut panels[p * lps..][..lps], c);
    }
    let mut narrow = Vec::new();
    if n <= 8 {
        narrow = vec![ZERO_LINE; kpad / 8];
        for (col, row) in w[..n * k].chunks_exact(k.max(1)).enumerate() {
            scatter::<8>(row, &mut narrow, col);
        }
    }
    let col_sums =
        (0..n).map(|col| w[col * k..col * k + k].iter().map(|&v| v as i32).sum()).collect();
    Packed { kpad, panels, narrow, col_sums }
}

/// Copies `row` into `lines` `B` bytes per line, at bytes `slot * B .. slot * B + B` of each:
/// line `i` gets `row[B * i ..]`, the last line the tail (`row.len() % B` bytes, the rest of
/// its slot left as it is).
fn scatter<const B: usize>(row: &[i8], lines: &mut [Line], slot: usize) {
    let chunks = row.chunks_exact(B);
    let tail = chunks.remainder();
    for (line, chunk) in lines.iter_mut().zip(chunks) {
        line.0[slot * B..slot * B + B].copy_from_slice(chunk);
    }
    if !tail.is_empty() {
        lines[row.len() / B].0[slot * B..][..tail.len()].copy_from_slice(tail);
    }
}
