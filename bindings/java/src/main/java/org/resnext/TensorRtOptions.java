package org.resnext;

import org.jspecify.annotations.Nullable;

/**
 * TensorRT engine options; immutable. Start with {@link #builder()}. Used when the execution
 * provider is {@link ExecutionProvider#TENSORRT}.
 */
public final class TensorRtOptions {
    final boolean fp16;
    final boolean int8;
    final String calibrationTable;
    final long workspaceBytes;
    final String engineCacheDir;
    final String timingCacheDir;
    final int dlaCore;
    final int batchMin;
    final int batchOpt;
    final int batchMax;

    private TensorRtOptions(Builder b) {
        fp16 = b.fp16;
        int8 = b.int8;
        calibrationTable = b.calibrationTable;
        workspaceBytes = b.workspaceBytes;
        engineCacheDir = b.engineCacheDir;
        timingCacheDir = b.timingCacheDir;
        dlaCore = b.dlaCore;
        batchMin = b.batchMin;
        batchOpt = b.batchOpt;
        batchMax = b.batchMax;
    }

    /** FP32 kernels, no caches, the GPU, batch profile 1/4/8. */
    public static Builder builder() {
        return new Builder();
    }

    /** Builds {@link TensorRtOptions}. Not thread-safe; setters return the builder. */
    public static final class Builder {
        private boolean fp16;
        private boolean int8;
        private String calibrationTable;
        private long workspaceBytes;
        private String engineCacheDir;
        private String timingCacheDir;
        private int dlaCore = -1;
        private int batchMin = 1;
        private int batchOpt = 4;
        private int batchMax = 8;

        private Builder() {
        }

        /** Build FP16 kernels where TensorRT finds them faster. */
        public Builder fp16(boolean enable) {
            this.fp16 = enable;
            return this;
        }

        /**
         * Build INT8 kernels. A QDQ model carries its scales; a float model needs
         * {@code calibrationTable} (a file name inside the engine cache directory), else null.
         */
        public Builder int8(boolean enable, @Nullable String calibrationTable) {
            this.int8 = enable;
            this.calibrationTable = calibrationTable;
            return this;
        }

        /** The builder's workspace limit in bytes (0: ONNX Runtime's default). */
        public Builder workspaceBytes(long bytes) {
            this.workspaceBytes = bytes;
            return this;
        }

        /**
         * Cache built engines under {@code dir}, in subdirectories keyed on the model's SHA-256, the
         * ONNX Runtime and TensorRT versions, the GPU and these precision options; a stale or
         * corrupt engine is rebuilt with a warning. Null: no cache.
         */
        public Builder engineCacheDir(@Nullable String dir) {
            this.engineCacheDir = dir;
            return this;
        }

        /** Keep TensorRT's timing cache under {@code dir} (null: none). */
        public Builder timingCacheDir(@Nullable String dir) {
            this.timingCacheDir = dir;
            return this;
        }

        /**
         * Run on a Jetson DLA core (0 or 1); -1 (the default) runs on the GPU. Any other value is
         * refused with {@link ErrorCode#INVALID_ARGUMENT} when the classifier is created.
         */
        public Builder dlaCore(int core) {
            this.dlaCore = core;
            return this;
        }

        /** Optimization profile: batches {@code min..max}, tuned for {@code opt}. */
        public Builder batchProfile(int min, int opt, int max) {
            this.batchMin = min;
            this.batchOpt = opt;
            this.batchMax = max;
            return this;
        }

        public TensorRtOptions build() {
            return new TensorRtOptions(this);
        }
    }
}
