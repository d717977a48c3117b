use resnext::kernels::bgemm::{BGemm, BIsa, PackedBf16, ShiftedBf16};
use resnext::kernels::fgemm::{Epilogue, FGemm, FIsa, PackedF32, ShiftedA};
use std::time::Instant;
fn work(bf16: bool, reps: usize) -> f64 {
    let (m, k, n) = (784usize, 512usize, 512usize);
    let a: Vec<f32> = (0..(m + 16) * k).map(|i| ((i % 17) as f32) * 0.1).collect();
    let w: Vec<f32> = (0..n * k).map(|i| ((i % 13) as f32) * 0.1).collect();
    let bias = vec![0f32; n];
    let e = Epilogue { bias: &bias, residual: None, relu: true };
    let mut c = vec![0f32; m * n];
    let t = Instant::now();
    if bf16 {
        let g = BGemm::new(BIsa::Amx).unwrap();
        let mut a16 = vec![0u16; a.len()];
        g.to_bf16(&a, &mut a16);
        let b = PackedBf16::pack(&w, n, k);
        let t = Instant::now();
        for _ in 0..reps {
            unsafe {
                g.run(
                    m,
                    ShiftedBf16 { data: &a16, lda: k, shifts: &[0], seg_k: k },
                    &b,
                    &e,
                    None,
                    c.as_mut_ptr(),
                    n,
                )
            };
        }
        return t.elapsed().as_secs_f64() / reps as f64 * 1e3;
    }
    let g = FGemm::new(FIsa::Avx512).unwrap();
    let b = PackedF32::pack(&w, n, k);
    let _ = t;
    let t = Instant::now();
    for _ in 0..reps {
        unsafe {
            g.run(
                m,
                ShiftedA { data: &a, lda: k, shifts: &[0], seg_k: k },
                &b,
                &e,
                None,
                c.as_mut_ptr(),
                n,
            )
        };
    }
    t.elapsed().as_secs_f64() / reps as f64 * 1e3
}
fn main() {
    for bf16 in [true, false] {
        let one = work(bf16, 200);
        let h: Vec<_> = (0..2).map(|_| std::thread::spawn(move || work(bf16, 200))).collect();
        let two: Vec<f64> = h.into_iter().map(|h| h.join().unwrap()).collect();
        println!(
            "bf16={bf16}: alone {one:.3} ms/call, two threads at once {:.3} / {:.3} ms/call",
            two[0], two[1]
        );
    }
}
