package org.resnext;

import java.nio.ByteBuffer;

/**
 * One image of a {@link Classifier#classifyBatch batch}: a file, encoded bytes or raw pixels.
 *
 * <p>An {@code Image} refers to the caller's array or buffer without copying it: do not modify
 * the data while a call that uses the image is running. A {@code ByteBuffer}'s bytes are those
 * between its position and its limit, read when the call is made.
 */
public final class Image {
    static final int KIND_FILE = 0;
    static final int KIND_ENCODED = 1;
    static final int KIND_PIXELS_ARRAY = 2;
    static final int KIND_PIXELS_DIRECT = 3;

    final int kind;
    final String path;
    final byte[] array;
    final ByteBuffer buffer;
    final int width;
    final int height;
    final int rowStride;
    final PixelFormat format;
    final int rotation;

    private Image(int kind, String path, byte[] array, ByteBuffer buffer, int width, int height,
            int rowStride, PixelFormat format, int rotation) {
        this.kind = kind;
        this.path = path;
        this.array = array;
        this.buffer = buffer;
        this.width = width;
        this.height = height;
        this.rowStride = rowStride;
        this.format = format;
        this.rotation = rotation;
    }

    /** An encoded image file (JPEG, PNG, BMP, WebP). */
    public static Image file(String path) {
        return new Image(KIND_FILE, path, null, null, 0, 0, 0, null, 0);
    }

    /** Encoded image bytes (JPEG, PNG, BMP, WebP). */
    public static Image encoded(byte[] bytes) {
        return new Image(KIND_ENCODED, null, bytes, null, 0, 0, 0, null, 0);
    }

    /**
     * Raw pixels in an array.
     *
     * @param rowStride bytes between row starts, 0 for tightly packed
     * @param rotation clockwise rotation applied before preprocessing: 0, 90, 180 or 270
     */
    public static Image pixels(byte[] data, int width, int height, int rowStride,
            PixelFormat format, int rotation) {
        return new Image(KIND_PIXELS_ARRAY, null, data, null, width, height, rowStride, format,
                rotation);
    }

    /**
     * Raw pixels in a {@code ByteBuffer} (direct, read in place; or backed by an accessible
     * array), from its position to its limit.
     */
    public static Image pixels(ByteBuffer data, int width, int height, int rowStride,
            PixelFormat format, int rotation) {
        return new Image(KIND_PIXELS_DIRECT, null, null, data, width, height, rowStride, format,
                rotation);
    }
}
