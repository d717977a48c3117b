package org.resnext;

/** The inference engine; the same values as the C ABI's {@code resnext_backend}. */
public enum Backend {
    /** tract: pure Rust, CPU, nothing to install (the default). */
    TRACT(0),
    /** ONNX Runtime, loaded at run time (see {@link ClassifierOptions.Builder#ortLibrary}). */
    ORT(1);

    private final int value;

    Backend(int value) {
        this.value = value;
    }

    /** The stable numeric value. */
    public int value() {
        return value;
    }
}
