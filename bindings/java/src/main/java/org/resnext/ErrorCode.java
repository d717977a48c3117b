package org.resnext;

import org.jspecify.annotations.Nullable;

/**
 * The stable numeric error codes of the SDK, the same values as the Rust {@code ErrorCode} and
 * the C ABI's {@code resnext_result}. Values are never renumbered; new codes are appended.
 */
public enum ErrorCode {
    /** Success (never carried by an exception). */
    OK(0),
    /** A required argument was null or empty. */
    NULL_ARGUMENT(1),
    /** An argument is out of range or inconsistent (zero size, bad rotation, bad enum value...). */
    INVALID_ARGUMENT(2),
    /** A file could not be opened or read. */
    IO(3),
    /** The model bytes are not a valid ONNX model (truncated, corrupt, random bytes). */
    MODEL_DECODE(4),
    /** Valid ONNX but not an image classifier the SDK can run. */
    MODEL_UNSUPPORTED(5),
    /** The inference engine failed to load, optimize or run the model. */
    INFERENCE(6),
    /** The image bytes could not be decoded. */
    IMAGE_DECODE(7),
    /** The image is zero-sized. */
    IMAGE_SIZE(8),
    /** A raw pixel buffer is shorter than its width, height, stride and format require. */
    BUFFER_SIZE(9),
    /** The labels do not match the model, or a label file is malformed. */
    LABELS(10),
    /** A resource limit was exceeded (model size, pixel count, batch size). */
    LIMIT_EXCEEDED(11),
    /** The requested backend is not available in this build. */
    BACKEND_UNAVAILABLE(12),
    /** A panic (an internal error) was caught in the native library; the process is intact. */
    PANIC(13),
    /**
     * The handle is closed: reported only by the C++ wrapper (a moved-from object). A closed
     * {@link Classifier} throws {@link IllegalStateException} instead, never this code; it is kept
     * so that the numbers match the C ABI's.
     */
    CLOSED(14),
    /** A string is not valid UTF-8. */
    UTF8(15),
    /**
     * The requested execution provider (CUDA, TensorRT) cannot run here and the fallback policy
     * is {@link FallbackPolicy#FAIL}.
     */
    PROVIDER_UNAVAILABLE(16);

    private static final ErrorCode[] BY_VALUE = values();

    private final int value;

    ErrorCode(int value) {
        this.value = value;
    }

    /** The stable numeric value. */
    public int value() {
        return value;
    }

    /** The code for a numeric value, or {@code null} when the value is unknown to this version. */
    public static @Nullable ErrorCode fromValue(int value) {
        return value >= 0 && value < BY_VALUE.length ? BY_VALUE[value] : null;
    }
}
