package org.resnext;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

/** The tract engine options reach the native classifier: {@code info().compute()} reports the
 * effective bf16 and float16 settings. */
public class EngineOptionsTest {
    private static final String FP16 = "models/tiny_fp16.onnx";
    /** Where the bf16 mode runs (the CPU has AMX-BF16), the tiny model's convolutions with
     * 8, 16 or a multiple of 32 channels per group run on AMX. */
    private static final String BF16_RAN = "bf16 on AMX: 11 of 17 convolutions, 4 f32 on AVX-512, "
            + "4 residual additions fused, 1 max pool in NHWC";
    /** Without AMX: the convolutions with whole 32-channel groups on AVX512-BF16. */
    private static final String BF16_RAN_AVX512 = "bf16 on AVX512-BF16: 10 of 17 convolutions, "
            + "5 f32 on AVX-512, 4 residual additions fused, 1 max pool in NHWC";
    private static final String BF16_UNAVAILABLE = "bf16 products asked for, not available";

    private static String compute(ClassifierOptions.Builder options) {
        try (Classifier c = new Classifier(options.threads(2).build())) {
            return c.info().compute();
        }
    }

    /** Whether {@code compute} says the float kernel layer runs the model (AVX-512 or AVX2). */
    private static boolean onFloatLayer(String compute) {
        return compute.startsWith("f32 on AVX-512: ") || compute.startsWith("f32 on AVX2: ");
    }

    @Test
    public void bf16MatmulRunsOnAmxOrSaysWhyNot() {
        assertFalse(ClassifierOptions.builder().build().bf16Matmul());
        String off = compute(TestSupport.tiny().modelPath(TestSupport.path(TestSupport.TINY))
                .cpuKernels(CpuKernels.OFF));
        assertEquals("f32", off);
        // By default FP32 runs on the float kernel layer where the CPU has AVX-512F or AVX2.
        String layer = compute(TestSupport.tiny().modelPath(TestSupport.path(TestSupport.TINY)));
        assertTrue(layer, layer.equals("f32") || onFloatLayer(layer));
        String on = compute(TestSupport.tiny().modelPath(TestSupport.path(TestSupport.TINY))
                .bf16Matmul(true));
        if (TestSupport.cpuKernelRequired("amx_bf16") || on.startsWith("bf16 on AMX: ")) {
            assertEquals(BF16_RAN, on);
        } else if (TestSupport.cpuKernelRequired("avx512_bf16") || !on.contains(BF16_UNAVAILABLE)) {
            assertEquals(BF16_RAN_AVX512, on);
        } else {
            assertTrue(on, on.contains(BF16_UNAVAILABLE));
        }
    }

    @Test
    public void widenFp16FalseKeepsFloat16() {
        assertTrue(ClassifierOptions.builder().build().widenFp16());
        String widened = compute(TestSupport.tiny().modelPath(TestSupport.path(FP16))
                .cpuKernels(CpuKernels.OFF));
        assertEquals("f32 (float16 weights widened at load)", widened);
        String layer = compute(TestSupport.tiny().modelPath(TestSupport.path(FP16)));
        // On the float kernel layer (AVX-512F or AVX2) the convolutions' float16 weights stay
        // float16.
        String suffix = onFloatLayer(layer)
                ? "(float16 weights kept as float16, widened in the kernel)"
                : "(float16 weights widened at load)";
        assertTrue(layer, layer.startsWith("f32") && layer.endsWith(suffix));
        String kept = compute(TestSupport.tiny().modelPath(TestSupport.path(FP16)).widenFp16(false));
        assertEquals("f16", kept);
        ClassifierOptions rebuilt = TestSupport.tiny().widenFp16(false).bf16Matmul(true)
                .modelPath(TestSupport.path(FP16)).build().toBuilder().build();
        assertFalse(rebuilt.widenFp16());
        assertTrue(rebuilt.bf16Matmul());
    }
}
