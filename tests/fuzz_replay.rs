//! The fuzz targets' harnesses (`fuzz/src/targets/`) on the stable toolchain, in every test
//! run: each checked-in seed (`fuzz/seeds/<target>/`), then a fixed number of deterministic
//! mutations of each (bit flips, byte overwrites, truncations, duplications; the same inputs on
//! every run). The harness checks are the fuzzers' own: a violated invariant prints
//! `resnext-fuzz: invariant violated: ...` and aborts this test binary, a panic that escapes
//! the SDK fails the test. This is no substitute for coverage-guided fuzzing
//! (`scripts/hardening.sh`, libFuzzer with AddressSanitizer); it keeps the harnesses building
//! and the seeds passing, so the fuzz targets cannot drift from the library unnoticed.

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod resnext_fuzz;

// The harness source refers to its crate root (`crate::check_tensor`, `$crate::fail`).
#[allow(unused_imports)]
use resnext_fuzz::*;

use std::path::{Path, PathBuf};

/// Mutations replayed per seed.
const MUTATIONS: usize = 300;

/// The seeds of `target`, sorted by file name (at least one).
fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no seeds in {}", dir.display());
    files.into_iter().map(|f| (f.clone(), std::fs::read(&f).unwrap())).collect()
}

/// xorshift64*: the mutations are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A mutation of `seed`: one to four edits of the kinds libFuzzer starts with.
fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(5) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] = [0, 0xFF, 0x7F, 0x80, rng.next() as u8][rng.below(5)];
            }
            2 => data.truncate(rng.below(data.len() + 1)),
            3 if !data.is_empty() => {
                let (start, len) = (rng.below(data.len()), 1 + rng.below(16));
                let chunk: Vec<u8> = data.iter().skip(start).take(len).copied().collect();
                let at = rng.below(data.len() + 1);
                data.splice(at..at, chunk);
            }
            _ => {
                let at = rng.below(data.len() + 1);
                data.insert(at, rng.next() as u8);
            }
        }
    }
    data
}

fn replay(target: &str, run: fn(&[u8])) {
    let seeds = seeds(target);
    let mut rng = Rng(0x5eed_0000 ^ target.len() as u64);
    for (_, seed) in &seeds {
        run(seed);
        for _ in 0..MUTATIONS {
            run(&mutate(seed, &mut rng));
        }
    }
    println!(
        "fuzz replay {target}: {} seeds, {} inputs",
        seeds.len(),
        seeds.len() * (1 + MUTATIONS)
    );
}

#[test]
fn image_decode_seeds() {
    replay("image_decode", targets::image_decode::run);
}

#[test]
fn pixel_buffer_seeds() {
    replay("pixel_buffer", targets::pixel_buffer::run);
}

#[test]
fn model_load_seeds() {
    replay("model_load", targets::model_load::run);
}

#[test]
fn c_abi_seeds() {
    replay("c_abi", targets::c_abi::run);
}

#[test]
fn qgemm_seeds() {
    replay("qgemm", targets::qgemm::run);
}
