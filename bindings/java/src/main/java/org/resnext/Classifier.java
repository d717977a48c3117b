package org.resnext;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * An image classifier backed by a native {@code resnext} classifier.
 *
 * <pre>{@code
 * try (Classifier classifier = new Classifier(ClassifierOptions.builder()
 *         .modelPath("resnext101_32x8d_wsl.onnx").preset(Preset.WSL_224).build())) {
 *     for (Prediction p : classifier.classify("cat.jpg").predictions()) {
 *         System.out.println(p.classId() + " " + p.label() + " " + p.score());
 *     }
 * }
 * }</pre>
 *
 * <p><b>Threads.</b> A classifier may be shared by any number of threads: calls run
 * concurrently, each with its own native state. {@link #close()} is thread-safe and idempotent;
 * it waits for calls in progress before freeing the native classifier, and every call after it
 * throws {@link IllegalStateException}.
 *
 * <p><b>Memory.</b> Close classifiers (try-with-resources). One that is never closed is freed
 * after it becomes unreachable, by {@code java.lang.ref.Cleaner} on Java 9+ / Android 13+ or by
 * a daemon thread of this library elsewhere, but a model can hold hundreds of megabytes of
 * native memory the garbage collector does not see, so do not rely on it.
 *
 * <p><b>Errors.</b> Failures of the SDK throw {@link ResnextException} with a stable
 * {@link ErrorCode}: a null argument gives {@code NULL_ARGUMENT}; a negative size, unknown
 * rotation and the like {@code INVALID_ARGUMENT}; a short buffer {@code BUFFER_SIZE}.
 */
public final class Classifier implements AutoCloseable {
    private final NativeHandle handle;
    private final NativeCleaner.Cleanable cleanable;
    private final ModelInfo info;

    /**
     * Loads the model the options name (loading the native library first if needed).
     *
     * @throws ResnextException if the model is missing, corrupt or not a supported classifier,
     *     the preprocessing does not fit it, or the labels do not match it
     * @throws UnsatisfiedLinkError if the native library cannot be loaded
     */
    public Classifier(ClassifierOptions options) {
        if (options == null) {
            throw nullArgument("options");
        }
        NativeLibrary.load();
        long pointer = Native.classifierNew(options.modelKind, options.model, options.modelFd,
                options.modelOffset, options.modelLength,
                options.resizeShort, options.crop, options.mean, options.std, options.topK,
                options.scoreThreshold, options.threads, options.labelMode, options.labelsFile, options.labels,
                options.allowLabelMismatch, options.maxPixels, options.allowTruncatedImages,
                options.maxModelBytes,
                options.engineInts(), options.tensorRt.workspaceBytes, options.engineStrings());
        NativeHandle h = new NativeHandle(pointer);
        NativeCleaner.Cleanable c = NativeCleaner.register(this, h);
        ModelInfo i;
        try {
            i = Native.classifierInfo(pointer);
        } catch (RuntimeException e) {
            c.clean();
            throw e;
        }
        this.handle = h;
        this.cleanable = c;
        this.info = i;
    }

    /** Same as {@code new Classifier(options)}. */
    public static Classifier create(ClassifierOptions options) {
        return new Classifier(options);
    }

    /** What the model is and how it runs. */
    public ModelInfo info() {
        handle.acquire();
        handle.release();
        return info;
    }

    /**
     * The label of class {@code classId}: {@code ""} when the classifier has none for it (no
     * labels, or a shorter list allowed by {@code allowLabelMismatch}).
     *
     * @throws ResnextException {@code INVALID_ARGUMENT} for a class id outside
     *     {@code [0, info().classes())}
     */
    public String label(int classId) {
        long p = handle.acquire();
        try {
            return Native.classifierLabel(p, classId);
        } finally {
            handle.release();
        }
    }

    /** Classifies an encoded image file (JPEG, PNG, BMP, WebP; EXIF orientation applied). */
    public Classification classify(String path) {
        long p = handle.acquire();
        try {
            return Native.classifyPath(p, path);
        } finally {
            handle.release();
        }
    }

    /** Classifies encoded image bytes (JPEG, PNG, BMP, WebP). */
    public Classification classify(byte[] encoded) {
        long p = handle.acquire();
        try {
            return Native.classifyEncoded(p, encoded);
        } finally {
            handle.release();
        }
    }

    /**
     * Classifies raw pixels held in an array.
     *
     * @param data the pixels: packed RGB8/BGR8/RGBA8/BGRA8 rows, or an NV21/NV12 frame (the Y
     *     plane, then the interleaved chroma plane starting at {@code rowStride * height})
     * @param rowStride bytes between row starts (for NV21/NV12, of both planes); 0 for tightly
     *     packed
     * @param rotation clockwise rotation applied before preprocessing: 0, 90, 180 or 270 (the
     *     camera sensor's orientation relative to the display)
     * @throws ResnextException {@code BUFFER_SIZE} when {@code data} is shorter than the
     *     dimensions need, {@code INVALID_ARGUMENT} for negative sizes or another rotation
     */
    public Classification classifyPixels(byte[] data, int width, int height, int rowStride,
            PixelFormat format, int rotation) {
        if (format == null) {
            throw nullArgument("format");
        }
        long p = handle.acquire();
        try {
            return Native.classifyPixels(p, data, null, 0, data != null ? data.length : 0, width,
                    height, rowStride, format.value(), rotation);
        } finally {
            handle.release();
        }
    }

    /**
     * Classifies raw pixels in a {@code ByteBuffer}, from its position to its limit (neither is
     * changed). A direct buffer is read in place, without a copy (a CameraX / Camera2 plane, for
     * example); a heap buffer through its array.
     *
     * @throws IllegalArgumentException if the buffer is neither direct nor backed by an
     *     accessible array (a read-only heap buffer)
     * @see #classifyPixels(byte[], int, int, int, PixelFormat, int)
     */
    public Classification classifyPixels(ByteBuffer data, int width, int height, int rowStride,
            PixelFormat format, int rotation) {
        if (data == null) {
            throw nullArgument("data");
        }
        if (format == null) {
            throw nullArgument("format");
        }
        int position = data.position();
        int remaining = data.remaining();
        byte[] array = null;
        ByteBuffer direct = null;
        int offset;
        if (data.isDirect()) {
            direct = data;
            offset = position;
        } else if (data.hasArray()) {
            array = data.array();
            offset = data.arrayOffset() + position;
        } else {
            throw notAccessible();
        }
        long p = handle.acquire();
        try {
            return Native.classifyPixels(p, array, direct, offset, remaining, width, height,
                    rowStride, format.value(), rotation);
        } finally {
            handle.release();
        }
    }

    /**
     * Classifies one image of any kind: a file, encoded bytes, raw pixels or a YUV 4:2:0 camera
     * frame, optionally limited to a {@linkplain ResnextImage#withRoi region of interest}.
     *
     * @throws ResnextException {@code INVALID_ARGUMENT} for a bad stride, rotation or region,
     *     {@code BUFFER_SIZE} when a buffer or plane is shorter than the dimensions need
     * @throws IllegalArgumentException when a YUV plane is not a direct {@code ByteBuffer}
     */
    public Classification classify(ResnextImage image) {
        if (image == null) {
            throw nullArgument("image");
        }
        return classifyBatch(Collections.singletonList(image)).get(0);
    }

    /** Integers per image in {@code Native.classifyBatch}'s params (src/jni/convert.rs). */
    private static final int PARAMS_PER_IMAGE = 18;

    /**
     * Classifies several images in one batched run. Fails as a whole if any image fails (the
     * message names its index).
     *
     * @return one result per image, in order (unmodifiable)
     */
    public List<Classification> classifyBatch(List<ResnextImage> images) {
        if (images == null) {
            throw nullArgument("images");
        }
        int n = images.size();
        int[] kinds = new int[n];
        Object[] payloads = new Object[n];
        int[] params = new int[n * PARAMS_PER_IMAGE];
        for (int i = 0; i < n; i++) {
            ResnextImage image = images.get(i);
            if (image == null) {
                throw nullArgument("images[" + i + "]");
            }
            int at = i * PARAMS_PER_IMAGE;
            kinds[i] = image.kind;
            switch (image.kind) {
                case ResnextImage.KIND_FILE:
                    payloads[i] = image.path;
                    break;
                case ResnextImage.KIND_ENCODED:
                    payloads[i] = image.array;
                    break;
                case ResnextImage.KIND_PIXELS_ARRAY:
                    payloads[i] = image.array;
                    params[at + 1] = image.array != null ? image.array.length : 0;
                    break;
                case ResnextImage.KIND_YUV420:
                    ByteBuffer[] planes = {image.buffer, image.u, image.v};
                    for (int k = 0; k < 3; k++) {
                        ByteBuffer plane = planes[k];
                        if (plane != null && !plane.isDirect()) {
                            throw new IllegalArgumentException("images[" + i + "]."
                                    + "yuv".charAt(k) + ": a YUV 4:2:0 plane must be a direct "
                                    + "ByteBuffer (read in place; camera planes are): copy a heap "
                                    + "buffer into ByteBuffer.allocateDirect first");
                        }
                        if (plane != null) {
                            int slot = k == 0 ? at : at + 10 + 2 * k;
                            params[slot] = plane.position();
                            params[slot + 1] = plane.remaining();
                        }
                    }
                    payloads[i] = planes;
                    params[at + 2] = image.width;
                    params[at + 3] = image.height;
                    params[at + 4] = image.rowStride;
                    params[at + 6] = image.rotation;
                    params[at + 16] = image.uvRowStride;
                    params[at + 17] = image.uvPixelStride;
                    break;
                default:
                    ByteBuffer buffer = image.buffer;
                    if (buffer == null) {
                        payloads[i] = null;
                    } else if (buffer.isDirect()) {
                        payloads[i] = buffer;
                        params[at] = buffer.position();
                        params[at + 1] = buffer.remaining();
                    } else if (buffer.hasArray()) {
                        kinds[i] = ResnextImage.KIND_PIXELS_ARRAY;
                        payloads[i] = buffer.array();
                        params[at] = buffer.arrayOffset() + buffer.position();
                        params[at + 1] = buffer.remaining();
                    } else {
                        throw notAccessible();
                    }
                    break;
            }
            if (image.kind == ResnextImage.KIND_PIXELS_ARRAY
                    || image.kind == ResnextImage.KIND_PIXELS_DIRECT) {
                if (image.format == null) {
                    throw nullArgument("images[" + i + "].format");
                }
                params[at + 2] = image.width;
                params[at + 3] = image.height;
                params[at + 4] = image.rowStride;
                params[at + 5] = image.format.value();
                params[at + 6] = image.rotation;
            }
            if (image.hasRoi) {
                params[at + 7] = 1;
                params[at + 8] = image.roiX;
                params[at + 9] = image.roiY;
                params[at + 10] = image.roiWidth;
                params[at + 11] = image.roiHeight;
            }
        }
        Classification[] results;
        long p = handle.acquire();
        try {
            results = Native.classifyBatch(p, kinds, payloads, params);
        } finally {
            handle.release();
        }
        return Collections.unmodifiableList(Arrays.asList(results));
    }

    /** True once {@link #close()} has run (or the cleaner freed the classifier). */
    public boolean isClosed() {
        return handle.isClosed();
    }

    /**
     * Frees the native classifier, after any call in progress on other threads has returned.
     * Idempotent and thread-safe; later calls throw {@link IllegalStateException}.
     */
    @Override
    public void close() {
        cleanable.clean();
    }

    @Override
    public String toString() {
        return "Classifier{" + (isClosed() ? "closed" : info.toString()) + "}";
    }

    /** Native classifiers not yet freed in this process (diagnostics, tests). */
    static long liveNativeClassifiers() {
        return NativeHandle.liveCount();
    }

    private static ResnextException nullArgument(String name) {
        return new ResnextException(ErrorCode.NULL_ARGUMENT.value(),
                "a required argument was null or empty: `" + name + "` is null");
    }

    private static IllegalArgumentException notAccessible() {
        return new IllegalArgumentException(
                "the ByteBuffer is neither direct nor backed by an accessible array "
                        + "(a read-only heap buffer?): use a direct buffer or a byte[]");
    }
}
