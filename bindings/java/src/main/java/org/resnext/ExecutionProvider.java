package org.resnext;

/**
 * Where ONNX Runtime runs the model; the same values as the C ABI's {@code resnext_provider}.
 * Only used with {@link Backend#ORT}.
 */
public enum ExecutionProvider {
    /** ONNX Runtime's CPU provider (the default). */
    CPU(0),
    /** NVIDIA CUDA. */
    CUDA(1),
    /** NVIDIA TensorRT, with CUDA for what TensorRT cannot run. */
    TENSORRT(2);

    private final int value;

    ExecutionProvider(int value) {
        this.value = value;
    }

    /** The stable numeric value. */
    public int value() {
        return value;
    }
}
