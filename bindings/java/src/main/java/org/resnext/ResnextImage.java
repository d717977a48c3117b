package org.resnext;

import java.nio.ByteBuffer;
import org.jspecify.annotations.Nullable;

/**
 * One image to classify ({@link Classifier#classify(ResnextImage)}, {@link
 * Classifier#classifyBatch}): a file, encoded bytes, raw pixels or a planar YUV 4:2:0 camera
 * frame, optionally limited to a {@linkplain #withRoi region of interest}.
 *
 * <p>Named {@code ResnextImage} so that it does not clash with {@code android.media.Image} (which
 * every CameraX analyzer imports through {@code ImageProxy.getImage()}) nor with ML Kit's {@code
 * InputImage}.
 *
 * <p>A {@code ResnextImage} refers to the caller's array or buffers without copying them: do not
 * modify the data while a call that uses the image is running. A {@code ByteBuffer}'s bytes are
 * those between its position and its limit, read when the call is made. Instances are immutable
 * and may be shared between threads.
 */
public final class ResnextImage {
    static final int KIND_FILE = 0;
    static final int KIND_ENCODED = 1;
    static final int KIND_PIXELS_ARRAY = 2;
    static final int KIND_PIXELS_DIRECT = 3;
    static final int KIND_YUV420 = 4;

    final int kind;
    final @Nullable String path;
    final byte @Nullable [] array;
    final @Nullable ByteBuffer buffer;
    final int width;
    final int height;
    final int rowStride;
    final @Nullable PixelFormat format;
    final int rotation;
    /** YUV420: the U and V planes (the Y plane is {@link #buffer}). */
    final @Nullable ByteBuffer u;
    final @Nullable ByteBuffer v;
    final int uvRowStride;
    final int uvPixelStride;
    /** The region of interest; {@code hasRoi} false for the whole image. */
    final boolean hasRoi;
    final int roiX;
    final int roiY;
    final int roiWidth;
    final int roiHeight;

    private ResnextImage(int kind, @Nullable String path, byte @Nullable [] array,
            @Nullable ByteBuffer buffer, int width, int height, int rowStride,
            @Nullable PixelFormat format, int rotation) {
        this(kind, path, array, buffer, width, height, rowStride, format, rotation, null, null, 0,
                0, false, 0, 0, 0, 0);
    }

    private ResnextImage(int kind, @Nullable String path, byte @Nullable [] array,
            @Nullable ByteBuffer buffer, int width, int height, int rowStride,
            @Nullable PixelFormat format, int rotation, @Nullable ByteBuffer u,
            @Nullable ByteBuffer v, int uvRowStride, int uvPixelStride, boolean hasRoi, int roiX,
            int roiY, int roiWidth, int roiHeight) {
        this.kind = kind;
        this.path = path;
        this.array = array;
        this.buffer = buffer;
        this.width = width;
        this.height = height;
        this.rowStride = rowStride;
        this.format = format;
        this.rotation = rotation;
        this.u = u;
        this.v = v;
        this.uvRowStride = uvRowStride;
        this.uvPixelStride = uvPixelStride;
        this.hasRoi = hasRoi;
        this.roiX = roiX;
        this.roiY = roiY;
        this.roiWidth = roiWidth;
        this.roiHeight = roiHeight;
    }

    /** An encoded image file (JPEG, PNG, BMP, WebP). */
    public static ResnextImage file(String path) {
        return new ResnextImage(KIND_FILE, path, null, null, 0, 0, 0, null, 0);
    }

    /** Encoded image bytes (JPEG, PNG, BMP, WebP). */
    public static ResnextImage encoded(byte[] bytes) {
        return new ResnextImage(KIND_ENCODED, null, bytes, null, 0, 0, 0, null, 0);
    }

    /**
     * Raw pixels in an array.
     *
     * @param rowStride bytes between row starts, 0 for tightly packed
     * @param rotation clockwise rotation applied before preprocessing: 0, 90, 180 or 270
     */
    public static ResnextImage pixels(byte[] data, int width, int height, int rowStride,
            PixelFormat format, int rotation) {
        return new ResnextImage(KIND_PIXELS_ARRAY, null, data, null, width, height, rowStride,
                format, rotation);
    }

    /**
     * Raw pixels in a {@code ByteBuffer} (direct, read in place; or backed by an accessible
     * array), from its position to its limit.
     */
    public static ResnextImage pixels(ByteBuffer data, int width, int height, int rowStride,
            PixelFormat format, int rotation) {
        return new ResnextImage(KIND_PIXELS_DIRECT, null, null, data, width, height, rowStride,
                format, rotation);
    }

    /**
     * A planar YUV 4:2:0 camera frame, as CameraX and Camera2 deliver {@code YUV_420_888}
     * ({@code ImageProxy.getPlanes()}: plane 0 is Y, 1 is U, 2 is V), read in place without a
     * copy. Converted with the same BT.601 formula as {@link PixelFormat#NV21}, so a frame gives
     * the same result whichever layout carries it.
     *
     * <p>The three buffers must be <b>direct</b> (camera planes are): a heap buffer fails the
     * classify call with {@link IllegalArgumentException} rather than being copied silently. Each
     * plane is read from its position to its limit and may end right after its last sample, as
     * Android's chroma planes with pixel stride 2 do; with pixel stride 2 the U and V buffers may
     * be views of the same memory.
     *
     * <pre>{@code
     * ImageProxy.PlaneProxy[] p = imageProxy.getPlanes();
     * ResnextImage frame = ResnextImage.yuv420(p[0].getBuffer(), p[1].getBuffer(),
     *         p[2].getBuffer(), p[0].getRowStride(), p[1].getRowStride(),
     *         p[1].getPixelStride(), imageProxy.getWidth(), imageProxy.getHeight(),
     *         imageProxy.getImageInfo().getRotationDegrees());
     * }</pre>
     *
     * @param yRowStride bytes between Y row starts (at least {@code width})
     * @param uvRowStride bytes between U (and V) row starts
     * @param uvPixelStride bytes between two U (and two V) samples of a row: 1 or 2
     * @param rotation clockwise rotation applied before preprocessing: 0, 90, 180 or 270
     */
    public static ResnextImage yuv420(ByteBuffer y, ByteBuffer u, ByteBuffer v, int yRowStride,
            int uvRowStride, int uvPixelStride, int width, int height, int rotation) {
        return new ResnextImage(KIND_YUV420, null, null, y, width, height, yRowStride, null,
                rotation, u, v, uvRowStride, uvPixelStride, false, 0, 0, 0, 0);
    }

    /**
     * This image limited to a region of interest, as TFLite's {@code setRoi}: the result equals
     * classifying the cropped image, without a copy for pixels and frames. The rectangle is in
     * the source's pixels, before rotation, resize and crop (for encoded images: after their
     * EXIF orientation). It must be non-empty and inside the image, and on NV21, NV12 and YUV
     * 4:2:0 frames start at an even {@code x} and {@code y}; otherwise the classify call fails
     * with {@code INVALID_ARGUMENT}. Replaces any region set before.
     *
     * @return a new image; this one is unchanged
     */
    public ResnextImage withRoi(int x, int y, int width, int height) {
        return new ResnextImage(kind, path, array, buffer, this.width, this.height, rowStride,
                format, rotation, u, v, uvRowStride, uvPixelStride, true, x, y, width, height);
    }
}
