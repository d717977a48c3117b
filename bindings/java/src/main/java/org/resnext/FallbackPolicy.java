package org.resnext;

/**
 * What happens when the requested execution provider cannot be used; the same values as the C
 * ABI's {@code resnext_fallback}.
 */
public enum FallbackPolicy {
    /**
     * Creating the classifier fails with {@link ErrorCode#PROVIDER_UNAVAILABLE} (the default): a
     * caller who asked for a GPU learns that there is none.
     */
    FAIL(0),
    /**
     * Try TensorRT, then CUDA, then the CPU, logging a warning for each provider skipped;
     * {@link ModelInfo#provider()} says which one runs.
     */
    NEXT_PROVIDER(1);

    private final int value;

    FallbackPolicy(int value) {
        this.value = value;
    }

    /** The stable numeric value. */
    public int value() {
        return value;
    }
}
