//! Shared helpers of the integration tests: where the generated fixtures live and how to read
//! them. The fixtures are written by `tools/make_test_fixtures.py` (the README's test command
//! runs it first); a test that finds none fails and says how to make them.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The fixture directory: `$RESNEXT_TESTDATA`, else `testdata/` in the repository.
pub fn testdata() -> PathBuf {
    let dir = std::env::var_os("RESNEXT_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata"));
    assert!(
        dir.join("parity/manifest.json").is_file(),
        "no test fixtures in {}: run `python tools/make_test_fixtures.py --out {}` first \
         (scripts/test.sh does)",
        dir.display(),
        dir.display()
    );
    dir
}

/// Whether `RESNEXT_REQUIRE_CPU_KERNELS=1` (CI) makes the kernel family of the CPU flag `flag`
/// (`avx512f`, `avx512_vnni`, `amx_int8`, `amx_bf16`) mandatory: it does where Linux lists the
/// flag in `/proc/cpuinfo`, so a build or a detection that lost a family fails there, and a CPU
/// without the instructions skips it.
pub fn cpu_kernel_required(flag: &str) -> bool {
    std::env::var("RESNEXT_REQUIRE_CPU_KERNELS").as_deref() == Ok("1")
        && resnext::kernels::cpu::linux_lists_cpu_flag(flag)
}

/// How `info().compute` names the f32 kernels the float kernel layer runs on here by default:
/// "AVX-512" where the CPU has AVX-512F, else "AVX2" where it has AVX2, FMA and F16C, else
/// `None` (tract's own kernels). Fails when `RESNEXT_REQUIRE_CPU_KERNELS=1` and Linux lists the
/// flags of a family that does not run (see [`cpu_kernel_required`]).
pub fn float_kernels() -> Option<&'static str> {
    use resnext::kernels::fgemm::FIsa;
    let avx2_flags = ["avx2", "fma", "f16c"];
    assert!(
        FIsa::Avx512.supported() || !cpu_kernel_required("avx512f"),
        "RESNEXT_REQUIRE_CPU_KERNELS=1, Linux lists avx512f, no AVX-512 f32 kernel"
    );
    assert!(
        FIsa::Avx2.supported() || !avx2_flags.iter().all(|f| cpu_kernel_required(f)),
        "RESNEXT_REQUIRE_CPU_KERNELS=1, Linux lists avx2, fma and f16c, no AVX2 f32 kernel"
    );
    if FIsa::Avx512.supported() {
        Some("AVX-512")
    } else if FIsa::Avx2.supported() {
        Some("AVX2")
    } else {
        None
    }
}

/// Whether `CpuKernels::Avx2` (the AVX2 INT8 and f32 kernels) can run here: AVX2, FMA and
/// F16C. Fails when `RESNEXT_REQUIRE_CPU_KERNELS=1`, Linux lists those flags and they cannot.
pub fn avx2_kernels() -> bool {
    use resnext::kernels::{cpu, fgemm::FIsa};
    let runs = cpu::supports(cpu::Isa::Avx2) && FIsa::Avx2.supported();
    assert!(
        runs || !["avx2", "fma", "f16c"].iter().all(|f| cpu_kernel_required(f)),
        "RESNEXT_REQUIRE_CPU_KERNELS=1, Linux lists avx2, fma and f16c, no AVX2 kernels"
    );
    runs
}

/// Fails when `RESNEXT_REQUIRE_CPU_KERNELS=1` and Linux lists `amx_bf16` or `avx512_bf16` but
/// that bf16 kernel cannot run (see [`cpu_kernel_required`]).
pub fn assert_required_bf16_kernels_run() {
    use resnext::kernels::bgemm::BIsa;
    for (isa, flag) in [(BIsa::Amx, "amx_bf16"), (BIsa::Avx512Bf16, "avx512_bf16")] {
        assert!(
            isa.supported() || !cpu_kernel_required(flag),
            "RESNEXT_REQUIRE_CPU_KERNELS=1, Linux lists {flag}, no {isa:?} kernel"
        );
    }
}

/// A path inside the fixture directory.
pub fn fixture(relative: &str) -> PathBuf {
    testdata().join(relative)
}

/// Reads a float32 .npy file: its shape and values.
pub fn read_npy(path: &Path) -> (Vec<u64>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape = npy.shape().to_vec();
    let values = npy.into_vec::<f32>().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (shape, values)
}

/// The ONNX Runtime output a tract parity case is checked against (`tract_reference`): its
/// default output, except for INT8 models on a CPU where its fused integer kernels saturate
/// (x86_64 without VNNI), where it is the unfused QDQ graph's (tools/make_test_fixtures.py).
/// Fixtures written before that field existed name only `reference`.
pub fn tract_reference(case: &serde_json::Value) -> &str {
    case.get("tract_reference").unwrap_or(&case["reference"]).as_str().unwrap()
}

/// Reads a JSON manifest.
pub fn manifest(relative: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(fixture(relative)).unwrap();
    serde_json::from_str::<serde_json::Value>(&text).unwrap().as_array().unwrap().clone()
}

/// Largest absolute difference of two equally long slices.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Indices of the `k` largest values, highest first.
pub fn top_ids(row: &[f32], k: usize) -> Vec<usize> {
    resnext::postprocess::top_k(row, k).into_iter().map(|(i, _)| i).collect()
}

/// Checks `classifier`'s top-5 predictions for a parity case of a model whose graph ends in a
/// (quantized) Softmax against ONNX Runtime's probabilities (the fixture `reference`, a path
/// in the fixture directory): every predicted score within `bound` of ONNX Runtime's
/// probability for that class (no second softmax), and the top-5 class ids those of ONNX
/// Runtime, in order, wherever its score is more than one quantization step of the output
/// from every other of its top 6 (a quantized output has many equal steps, and a score one
/// step off, well within the bound, swaps two classes one step apart: tract's float path on
/// ResNeXt50 from Paddle2ONNX did, against the unfused reference of a CPU without VNNI).
/// Returns the largest score difference.
pub fn check_top5_probabilities(
    classifier: &resnext::Classifier,
    case: &serde_json::Value,
    reference: &str,
    bound: f32,
) -> f32 {
    let name = case["model"].as_str().unwrap();
    assert_eq!(case["output_kind"], "probabilities", "{name}");
    let (shape, input) = read_npy(&fixture(case["input"].as_str().unwrap()));
    let (_, reference) = read_npy(&fixture(reference));
    let batch = shape[0] as usize;
    let results = classifier.classify_tensor(&input, batch).unwrap();
    let classes = reference.len() / batch;
    let mut worst = 0.0f32;
    for (row, (result, expected)) in results.iter().zip(reference.chunks(classes)).enumerate() {
        let ranked = resnext::postprocess::top_k(expected, 6);
        // One quantization step of the output: the smallest gap between two distinct
        // reference scores of the row (1/255 for a u8 softmax).
        let mut levels = expected.to_vec();
        levels.sort_by(f32::total_cmp);
        levels.dedup();
        let step = levels.windows(2).map(|w| w[1] - w[0]).fold(f32::INFINITY, f32::min);
        assert_eq!(result.predictions.len(), 5, "{name} row {row}");
        for (rank, p) in result.predictions.iter().enumerate() {
            let diff = (p.score - expected[p.class_id]).abs();
            worst = worst.max(diff);
            assert!(
                diff <= bound,
                "{name} row {row}: class {} scores {} vs {}",
                p.class_id,
                p.score,
                expected[p.class_id]
            );
            let (id, score) = ranked[rank];
            let tied = ranked
                .iter()
                .enumerate()
                .any(|(other, (_, s))| other != rank && (s - score).abs() <= 1.001 * step);
            if !tied {
                assert_eq!(p.class_id, id, "{name} row {row}: rank {rank} ({ranked:?})");
            }
        }
    }
    worst
}
