package org.resnext;

/** Wall-clock time of each stage of one classification, in milliseconds: immutable. */
public final class Timings {
    private final double decodeMs;
    private final double preprocessMs;
    private final double inferenceMs;
    private final double postprocessMs;

    public Timings(double decodeMs, double preprocessMs, double inferenceMs, double postprocessMs) {
        this.decodeMs = decodeMs;
        this.preprocessMs = preprocessMs;
        this.inferenceMs = inferenceMs;
        this.postprocessMs = postprocessMs;
    }

    /** Reading and decoding the file or bytes, or converting the raw buffer, to RGB. */
    public double decodeMs() {
        return decodeMs;
    }

    /** Resize, crop and normalization. */
    public double preprocessMs() {
        return preprocessMs;
    }

    /** The engine's run; in a batch, the whole batch's run (shared by its images). */
    public double inferenceMs() {
        return inferenceMs;
    }

    /** Softmax and top-k. */
    public double postprocessMs() {
        return postprocessMs;
    }

    /** The sum of the four stages. */
    public double totalMs() {
        return decodeMs + preprocessMs + inferenceMs + postprocessMs;
    }

    @Override
    public String toString() {
        return String.format(java.util.Locale.ROOT,
                "decode %.2f ms, preprocess %.2f ms, inference %.2f ms, postprocess %.2f ms",
                decodeMs, preprocessMs, inferenceMs, postprocessMs);
    }
}
