package org.resnext;

/**
 * The SDK's own CPU kernels for the convolutions on the tract backend; the same values as the C
 * ABI's {@code resnext_cpu_kernels}. INT8 (QDQ) models run on the named integer kernels; FP32
 * and widened FP16 models on the AVX-512 f32 kernels (the AVX2 ones on a CPU without AVX-512)
 * for every value but OFF, SCALAR and AVX2.
 */
public enum CpuKernels {
    /**
     * AMX-INT8 where the CPU has it, else AVX512-VNNI, else AVX2 + FMA (exact 16-bit products),
     * else tract's own path (the default).
     */
    AUTO(0),
    /** tract's own path for every model (the kernel layer off). */
    OFF(1),
    /** The AVX512-VNNI kernels, even on an AMX CPU; BACKEND_UNAVAILABLE where there is no VNNI. */
    AVX512_VNNI(2),
    /** The AMX-INT8 kernels; BACKEND_UNAVAILABLE where the CPU or the OS cannot run them. */
    AMX_INT8(3),
    /** The portable scalar reference kernels (slow: for checking the others). */
    SCALAR(4),
    /**
     * The AVX2 kernels (INT8 with exact 16-bit products, f32 on AVX2 + FMA), even on an AVX-512
     * CPU; BACKEND_UNAVAILABLE where the CPU lacks AVX2, FMA or F16C.
     */
    AVX2(5);

    private final int value;

    CpuKernels(int value) {
        this.value = value;
    }

    /** The stable numeric value. */
    public int value() {
        return value;
    }
}
