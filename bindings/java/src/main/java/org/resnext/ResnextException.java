package org.resnext;

import org.jspecify.annotations.Nullable;

/**
 * An error reported by the native SDK: a stable {@link ErrorCode} and a detail message.
 *
 * <p>Misuse of the Java API itself is reported with the usual Java exceptions instead:
 * {@link IllegalStateException} for a call on a closed {@link Classifier},
 * {@link IllegalArgumentException} for a {@code ByteBuffer} that is neither direct nor backed by
 * an accessible array.
 */
public class ResnextException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int codeValue;

    /** Thrown by the native library; {@code code} is an {@link ErrorCode#value()}. */
    public ResnextException(int code, String message) {
        super(message);
        this.codeValue = code;
    }

    /** The error code, or {@code null} if the native library is newer than these classes. */
    public @Nullable ErrorCode code() {
        return ErrorCode.fromValue(codeValue);
    }

    /** The numeric error code. */
    public int codeValue() {
        return codeValue;
    }

    @Override
    public String toString() {
        ErrorCode code = code();
        return getClass().getName() + " [" + (code != null ? code.name() : String.valueOf(codeValue))
                + "]: " + getMessage();
    }
}
