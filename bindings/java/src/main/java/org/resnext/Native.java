package org.resnext;

import java.nio.ByteBuffer;

/**
 * The native methods ({@code src/jni/natives.rs}). Package-private: the public classes validate
 * and guard every call. Any method may throw {@link ResnextException}; a 0 handle throws
 * {@link IllegalStateException}.
 */
final class Native {
    static final int LABELS_IMAGENET = 0;
    static final int LABELS_FILE = 1;
    static final int LABELS_NONE = 2;
    static final int LABELS_LIST = 3;

    private Native() {
    }

    static final int MODEL_PATH = 0;
    static final int MODEL_BYTES = 1;
    static final int MODEL_BUFFER = 2;
    static final int MODEL_FD = 3;
    static final int MODEL_FILE_DESCRIPTOR = 4;

    static native long classifierNew(int modelKind, Object model, int modelFd, long modelOffset,
            long modelLength, int resizeShort, int crop, float[] mean, float[] std, int topK,
            float scoreThreshold, int threads, int labelMode, String labelsFile, String[] labels,
            boolean allowLabelMismatch, long maxPixels, boolean allowTruncatedImages,
            long maxModelBytes, int[] engineInts, long trtWorkspaceBytes, String[] engineStrings);

    static native void classifierFree(long handle);

    static native ModelInfo classifierInfo(long handle);

    static native String classifierLabel(long handle, int classId);

    static native Classification classifyPath(long handle, String path);

    static native Classification classifyEncoded(long handle, byte[] data);

    static native Classification classifyPixels(long handle, byte[] array, ByteBuffer direct,
            int offset, int length, int width, int height, int rowStride, int format,
            int rotation);

    static native Classification[] classifyBatch(long handle, int[] kinds, Object[] payloads,
            int[] params);

    static native String version();

    /** Panics inside the native boundary (tests check it becomes a PANIC exception). */
    static native void panicForTest(String message);
}
