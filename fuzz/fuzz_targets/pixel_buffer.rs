//! libFuzzer entry point of `resnext_fuzz::targets::pixel_buffer` (the harness and its checks live
//! there, shared with the seed replay of `tests/fuzz_replay.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| resnext_fuzz::targets::pixel_buffer::run(data));
