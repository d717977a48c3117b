package org.resnext;

import java.io.FileDescriptor;
import java.nio.ByteBuffer;
import org.jspecify.annotations.Nullable;

import java.util.List;

/**
 * Everything a {@link Classifier} is built from; immutable. Start with {@link #builder()}:
 *
 * <pre>{@code
 * ClassifierOptions options = ClassifierOptions.builder()
 *         .modelPath("resnext101_32x8d_wsl.onnx")
 *         .preset(Preset.WSL_224)
 *         .topK(5)
 *         .threads(2)
 *         .build();
 * }</pre>
 *
 * Values are checked by the native library when the classifier is created (a
 * {@link ResnextException} with {@link ErrorCode#INVALID_ARGUMENT}, {@link ErrorCode#NULL_ARGUMENT}
 * and so on), so the rules are the same as the Rust API's and the C ABI's.
 */
public final class ClassifierOptions {
    /** Default largest image, in pixels (width x height): 100 M. */
    public static final long DEFAULT_MAX_PIXELS = 100000000L;
    /** Default largest model, in bytes: 4 GiB. */
    public static final long DEFAULT_MAX_MODEL_BYTES = 4L << 30;
    /** ImageNet mean, RGB, in [0, 1] units. */
    static final float[] IMAGENET_MEAN = {0.485f, 0.456f, 0.406f};
    /** ImageNet standard deviation, RGB, in [0, 1] units. */
    static final float[] IMAGENET_STD = {0.229f, 0.224f, 0.225f};

    final String modelPath;
    /** How {@link #model} is read: one of {@code Native.MODEL_*}. */
    final int modelKind;
    /** The model: a String path, a byte[], a direct ByteBuffer, a FileDescriptor, or null. */
    final Object model;
    /** The descriptor number for {@code Native.MODEL_FD} (-1 otherwise). */
    final int modelFd;
    /** Offset of the model in its buffer or file. */
    final long modelOffset;
    /** Length of the model in its buffer or file. */
    final long modelLength;
    final int resizeShort;
    final int crop;
    final float[] mean;
    final float[] std;
    final int topK;
    final float scoreThreshold;
    final int threads;
    final int labelMode;
    final String labelsFile;
    final String[] labels;
    final boolean allowLabelMismatch;
    final long maxPixels;
    final boolean allowTruncatedImages;
    final long maxModelBytes;
    final Backend backend;
    final CpuKernels cpuKernels;
    final boolean bf16Matmul;
    final boolean widenFp16;
    final ExecutionProvider provider;
    final int deviceId;
    final FallbackPolicy fallback;
    final String ortLibrary;
    final TensorRtOptions tensorRt;

    private ClassifierOptions(Builder b) {
        modelPath = b.modelKind == Native.MODEL_PATH ? (String) b.model : null;
        modelKind = b.modelKind;
        model = b.model;
        modelFd = b.modelFd;
        modelOffset = b.modelOffset;
        modelLength = b.modelLength;
        resizeShort = b.resizeShort;
        crop = b.crop;
        mean = b.mean.clone();
        std = b.std.clone();
        topK = b.topK;
        scoreThreshold = b.scoreThreshold;
        threads = b.threads;
        labelMode = b.labelMode;
        labelsFile = b.labelsFile;
        labels = b.labels != null ? b.labels.clone() : null;
        allowLabelMismatch = b.allowLabelMismatch;
        maxPixels = b.maxPixels;
        allowTruncatedImages = b.allowTruncatedImages;
        maxModelBytes = b.maxModelBytes;
        backend = b.backend;
        cpuKernels = b.cpuKernels;
        bf16Matmul = b.bf16Matmul;
        widenFp16 = b.widenFp16;
        provider = b.provider;
        deviceId = b.deviceId;
        fallback = b.fallback;
        ortLibrary = b.ortLibrary;
        tensorRt = b.tensorRt;
    }

    /** A builder with every option at its default (preset WSL_224, top 5, all cores, ImageNet labels). */
    public static Builder builder() {
        return new Builder();
    }

    /** Options for the ONNX file at {@code path}, everything else at its default. */
    public static ClassifierOptions fromPath(String path) {
        return builder().modelPath(path).build();
    }

    /** A builder holding these options. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.modelKind = modelKind;
        b.model = model;
        b.modelFd = modelFd;
        b.modelOffset = modelOffset;
        b.modelLength = modelLength;
        b.resizeShort = resizeShort;
        b.crop = crop;
        b.mean = mean.clone();
        b.std = std.clone();
        b.topK = topK;
        b.scoreThreshold = scoreThreshold;
        b.threads = threads;
        b.labelMode = labelMode;
        b.labelsFile = labelsFile;
        b.labels = labels != null ? labels.clone() : null;
        b.allowLabelMismatch = allowLabelMismatch;
        b.maxPixels = maxPixels;
        b.allowTruncatedImages = allowTruncatedImages;
        b.maxModelBytes = maxModelBytes;
        b.backend = backend;
        b.cpuKernels = cpuKernels;
        b.bf16Matmul = bf16Matmul;
        b.widenFp16 = widenFp16;
        b.provider = provider;
        b.deviceId = deviceId;
        b.fallback = fallback;
        b.ortLibrary = ortLibrary;
        b.tensorRt = tensorRt;
        return b;
    }

    /** The model file, or {@code null} when the model was given as bytes. */
    public @Nullable String modelPath() {
        return modelPath;
    }

    public int resizeShort() {
        return resizeShort;
    }

    public int crop() {
        return crop;
    }

    public float[] mean() {
        return mean.clone();
    }

    public float[] std() {
        return std.clone();
    }

    public int topK() {
        return topK;
    }

    /** Predictions scoring below this are dropped (0: none are). */
    public float scoreThreshold() {
        return scoreThreshold;
    }

    public int threads() {
        return threads;
    }

    public long maxPixels() {
        return maxPixels;
    }

    public long maxModelBytes() {
        return maxModelBytes;
    }

    /** Whether truncated images are classified as partial frames (see {@link Builder#allowTruncatedImages}). */
    public boolean allowTruncatedImages() {
        return allowTruncatedImages;
    }

    public boolean allowLabelMismatch() {
        return allowLabelMismatch;
    }

    public Backend backend() {
        return backend;
    }

    /** The CPU kernels for INT8 convolutions on the tract backend. */
    public CpuKernels cpuKernels() {
        return cpuKernels;
    }

    public ExecutionProvider executionProvider() {
        return provider;
    }

    public int deviceId() {
        return deviceId;
    }

    public FallbackPolicy fallback() {
        return fallback;
    }

    /** Whether the tract backend runs a float model's convolutions in bf16 on Intel AMX or
     * AVX512-BF16 (opt-in). */
    public boolean bf16Matmul() {
        return bf16Matmul;
    }

    /** Whether the tract backend widens float16 weights to float32 at load. */
    public boolean widenFp16() {
        return widenFp16;
    }

    /** Engine settings packed for the native call: backend, provider, device, fallback, fp16,
     * int8, DLA core, batch min, opt, max, CPU kernels, bf16 products, float16 widening. */
    int[] engineInts() {
        TensorRtOptions t = tensorRt;
        return new int[] {backend.value(), provider.value(), deviceId, fallback.value(),
            t.fp16 ? 1 : 0, t.int8 ? 1 : 0, t.dlaCore, t.batchMin, t.batchOpt, t.batchMax,
            cpuKernels.value(), bf16Matmul ? 1 : 0, widenFp16 ? 1 : 0};
    }

    /** Engine strings for the native call: ORT library, calibration table, engine cache dir,
     * timing cache dir (each may be null). */
    String[] engineStrings() {
        TensorRtOptions t = tensorRt;
        return new String[] {ortLibrary, t.calibrationTable, t.engineCacheDir, t.timingCacheDir};
    }

    /** Builds {@link ClassifierOptions}. Not thread-safe; setters return the builder. */
    public static final class Builder {
        private int modelKind = Native.MODEL_PATH;
        private Object model;
        private int modelFd = -1;
        private long modelOffset;
        private long modelLength;
        private int resizeShort = Preset.WSL_224.resizeShort();
        private int crop = Preset.WSL_224.crop();
        private float[] mean = IMAGENET_MEAN.clone();
        private float[] std = IMAGENET_STD.clone();
        private int topK = 5;
        private float scoreThreshold = 0f;
        private int threads = 0;
        private int labelMode = Native.LABELS_IMAGENET;
        private String labelsFile;
        private String[] labels;
        private boolean allowLabelMismatch;
        private long maxPixels = DEFAULT_MAX_PIXELS;
        private boolean allowTruncatedImages;
        private long maxModelBytes = DEFAULT_MAX_MODEL_BYTES;
        private Backend backend = Backend.TRACT;
        private CpuKernels cpuKernels = CpuKernels.AUTO;
        private boolean bf16Matmul = false;
        private boolean widenFp16 = true;
        private ExecutionProvider provider = ExecutionProvider.CPU;
        private int deviceId;
        private FallbackPolicy fallback = FallbackPolicy.FAIL;
        private String ortLibrary;
        private TensorRtOptions tensorRt = TensorRtOptions.builder().build();

        private Builder() {
        }

        private Builder model(int kind, Object value, int fd, long offset, long length) {
            this.modelKind = kind;
            this.model = value;
            this.modelFd = fd;
            this.modelOffset = offset;
            this.modelLength = length;
            return this;
        }

        /** The ONNX model file (replaces any model set before). */
        public Builder modelPath(String path) {
            return model(Native.MODEL_PATH, path, -1, 0, 0);
        }

        /**
         * The ONNX model's bytes (replaces any model set before). The array is not copied here
         * and must not change until the classifier is created; the classifier does not keep it.
         */
        public Builder modelBytes(byte[] bytes) {
            return model(Native.MODEL_BYTES, bytes, -1, 0, 0);
        }

        /**
         * The ONNX model in a {@link ByteBuffer}, from its position to its limit (replaces any
         * model set before): a direct buffer, such as the {@code MappedByteBuffer} of
         * {@code FileChannel.map}, is read by the native library without a copy on the Java
         * heap (one native copy while the classifier is created, freed after loading); a heap
         * buffer's bytes are copied out of it. The buffer's position and limit are read here;
         * its contents must not change until the classifier is created, which does not keep it.
         */
        public Builder modelBuffer(ByteBuffer buffer) {
            if (buffer == null) {
                return model(Native.MODEL_BUFFER, null, -1, 0, 0);
            }
            if (!buffer.isDirect()) {
                byte[] bytes = new byte[buffer.remaining()];
                buffer.duplicate().get(bytes);
                return modelBytes(bytes);
            }
            return model(Native.MODEL_BUFFER, buffer, -1, buffer.position(), buffer.remaining());
        }

        /**
         * The ONNX model as {@code length} bytes of an open file from {@code offset} (replaces
         * any model set before): an uncompressed asset's
         * {@code AssetFileDescriptor.getFileDescriptor()}, {@code getStartOffset()} and
         * {@code getLength()}, so the model needs neither a copy in the app's files nor a
         * {@code byte[]}. The descriptor stays the caller's: the library duplicates it when the
         * classifier is created, never closes it, and reads with {@code pread}, so its file
         * offset is unchanged. Keep it open until the {@code Classifier} constructor returns.
         * A negative offset or length, a length of 0, a range past the end of the file or a
         * descriptor that is not an open regular file make the constructor throw
         * {@code INVALID_ARGUMENT}; a length over {@link #maxModelBytes} {@code LIMIT_EXCEEDED}.
         */
        public Builder modelFileDescriptor(FileDescriptor fd, long offset, long length) {
            return model(Native.MODEL_FILE_DESCRIPTOR, fd, -1, offset, length);
        }

        /**
         * As {@link #modelFileDescriptor(FileDescriptor, long, long)}, for a raw descriptor
         * number (such as {@code ParcelFileDescriptor.getFd()}).
         */
        public Builder modelFileDescriptor(int fd, long offset, long length) {
            return model(Native.MODEL_FD, null, fd, offset, length);
        }

        /** A preset's resize and crop; mean and std are set to ImageNet's. */
        public Builder preset(Preset preset) {
            if (preset == null) {
                throw new ResnextException(ErrorCode.NULL_ARGUMENT.value(), "a required argument was null or empty: `preset` is null");
            }
            this.resizeShort = preset.resizeShort();
            this.crop = preset.crop();
            this.mean = IMAGENET_MEAN.clone();
            this.std = IMAGENET_STD.clone();
            return this;
        }

        /** Resize the short side to {@code pixels} (custom preprocessing). */
        public Builder resizeShort(int pixels) {
            this.resizeShort = pixels;
            return this;
        }

        /** Centre crop {@code pixels} x {@code pixels}; must equal the model's input size. */
        public Builder crop(int pixels) {
            this.crop = pixels;
            return this;
        }

        /** Per-channel mean, RGB, in [0, 1] units. */
        public Builder mean(float r, float g, float b) {
            this.mean = new float[] {r, g, b};
            return this;
        }

        /** Per-channel standard deviation, RGB, in [0, 1] units; non-zero. */
        public Builder std(float r, float g, float b) {
            this.std = new float[] {r, g, b};
            return this;
        }

        /** Predictions per image (default 5; at least 1; clamped to the class count). */
        public Builder topK(int k) {
            this.topK = k;
            return this;
        }

        /**
         * Drops predictions scoring below {@code threshold} (a probability in [0, 1]; default 0:
         * none are), so a result may hold fewer than {@code topK} predictions, or none. NaN or a
         * value outside [0, 1] makes the constructor throw {@code INVALID_ARGUMENT}.
         */
        public Builder scoreThreshold(float threshold) {
            this.scoreThreshold = threshold;
            return this;
        }

        /** Worker threads of one inference; 0 (the default) uses every core. */
        public Builder threads(int threads) {
            this.threads = threads;
            return this;
        }

        /** The built-in ImageNet-1k labels (the default). */
        public Builder imagenetLabels() {
            this.labelMode = Native.LABELS_IMAGENET;
            this.labelsFile = null;
            this.labels = null;
            return this;
        }

        /** A UTF-8 label file: one {@code name} per line, or PaddleClas's {@code <id> <name>}. */
        public Builder labelsFile(String path) {
            this.labelMode = Native.LABELS_FILE;
            this.labelsFile = path;
            this.labels = null;
            return this;
        }

        /** Labels in class order. */
        public Builder labels(List<String> labels) {
            this.labelMode = Native.LABELS_LIST;
            this.labels = labels != null ? labels.toArray(new String[0]) : null;
            this.labelsFile = null;
            return this;
        }

        /** No labels: predictions carry an empty label. */
        public Builder noLabels() {
            this.labelMode = Native.LABELS_NONE;
            this.labelsFile = null;
            this.labels = null;
            return this;
        }

        /**
         * The SDK's own CPU kernels for the convolutions on the tract backend (default
         * {@link CpuKernels#AUTO}; float models run on the AVX-512 f32 kernels, or the AVX2 ones
         * on a CPU without AVX-512, for every value but OFF, SCALAR and AVX2). A family this CPU
         * cannot run makes the {@code Classifier} constructor throw BACKEND_UNAVAILABLE.
         */
        public Builder cpuKernels(CpuKernels kernels) {
            if (kernels == null) {
                throw new ResnextException(ErrorCode.NULL_ARGUMENT.value(), "a required argument was null or empty: `kernels` is null");
            }
            this.cpuKernels = kernels;
            return this;
        }

        /**
         * tract backend, opt-in (default false): a float model's convolutions whose groups
         * have 8, 16 or a multiple of 32 input channels (all of a ResNeXt's but the stem) run in bf16 on
         * Intel AMX (without AMX, those with 16 or a multiple of 32 on AVX512-BF16), faster with
         * bf16's rounding in the scores. Ignored with a warning on a CPU with neither, with
         * the CPU kernels off and for INT8 models;
         * {@code info().compute()} says how many convolutions run in bf16, or why not.
         */
        public Builder bf16Matmul(boolean enable) {
            this.bf16Matmul = enable;
            return this;
        }

        /**
         * tract backend (default true): widens float16 weights to float32 at load; false keeps
         * float16 arithmetic (for CPUs with native fp16). {@code info().compute()} says which.
         */
        public Builder widenFp16(boolean widen) {
            this.widenFp16 = widen;
            return this;
        }

        /** The inference engine (default {@link Backend#TRACT}). */
        public Builder backend(Backend backend) {
            if (backend == null) {
                throw new ResnextException(ErrorCode.NULL_ARGUMENT.value(), "a required argument was null or empty: `backend` is null");
            }
            this.backend = backend;
            return this;
        }

        /**
         * ONNX Runtime's execution provider and, for CUDA and TensorRT, the GPU ordinal (default
         * CPU). Only used with {@link Backend#ORT}.
         */
        public Builder executionProvider(ExecutionProvider provider, int deviceId) {
            if (provider == null) {
                throw new ResnextException(ErrorCode.NULL_ARGUMENT.value(), "a required argument was null or empty: `provider` is null");
            }
            this.provider = provider;
            this.deviceId = deviceId;
            return this;
        }

        /** What happens when the provider cannot be used (default {@link FallbackPolicy#FAIL}). */
        public Builder fallback(FallbackPolicy policy) {
            if (policy == null) {
                throw new ResnextException(ErrorCode.NULL_ARGUMENT.value(), "a required argument was null or empty: `policy` is null");
            }
            this.fallback = policy;
            return this;
        }

        /**
         * The ONNX Runtime shared library ({@code libonnxruntime.so}); null (the default) uses the
         * {@code ORT_DYLIB_PATH} environment variable. A process loads one ONNX Runtime library.
         */
        public Builder ortLibrary(@Nullable String path) {
            this.ortLibrary = path;
            return this;
        }

        /** TensorRT engine options (used with {@link ExecutionProvider#TENSORRT}). */
        public Builder tensorRt(TensorRtOptions options) {
            if (options == null) {
                throw new ResnextException(ErrorCode.NULL_ARGUMENT.value(), "a required argument was null or empty: `options` is null");
            }
            this.tensorRt = options;
            return this;
        }

        /** Accept a label count that differs from the model's class count. */
        public Builder allowLabelMismatch(boolean allow) {
            this.allowLabelMismatch = allow;
            return this;
        }

        /** Largest image accepted, in pixels (width x height), checked before decoding. */
        public Builder maxPixels(long pixels) {
            this.maxPixels = pixels;
            return this;
        }

        /**
         * Classify truncated image data (a JPEG without its end-of-image marker, a PNG cut before
         * its end) as a partial frame, the missing rows grey. By default (false) it is refused
         * with {@link ErrorCode#IMAGE_DECODE} and a message saying the data is truncated. Data cut
         * inside its headers is refused either way.
         */
        public Builder allowTruncatedImages(boolean allow) {
            this.allowTruncatedImages = allow;
            return this;
        }

        /** Largest model accepted, in bytes, checked before it is read. */
        public Builder maxModelBytes(long bytes) {
            this.maxModelBytes = bytes;
            return this;
        }

        public ClassifierOptions build() {
            return new ClassifierOptions(this);
        }
    }
}
