package org.resnext;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/** What a loaded model is and how it runs: immutable. */
public final class ModelInfo {
    private final String inputName;
    private final List<String> inputShape;
    private final String inputDtype;
    private final String outputName;
    private final List<String> outputShape;
    private final String outputDtype;
    private final int height;
    private final int width;
    private final int classes;
    private final String precision;
    private final String outputKind;
    private final long parameters;
    private final long modelBytes;
    private final String producer;
    private final String backend;
    private final String compute;
    private final String provider;
    private final int threads;
    private final int topK;

    /** Built by the native library. */
    ModelInfo(String inputName, String[] inputShape, String inputDtype, String outputName,
            String[] outputShape, String outputDtype, int height, int width, int classes,
            String precision, String outputKind, long parameters, long modelBytes, String producer,
            String backend, String compute, String provider, int threads, int topK) {
        this.inputName = inputName;
        this.inputShape = Collections.unmodifiableList(Arrays.asList(inputShape.clone()));
        this.inputDtype = inputDtype;
        this.outputName = outputName;
        this.outputShape = Collections.unmodifiableList(Arrays.asList(outputShape.clone()));
        this.outputDtype = outputDtype;
        this.height = height;
        this.width = width;
        this.classes = classes;
        this.precision = precision;
        this.outputKind = outputKind;
        this.parameters = parameters;
        this.modelBytes = modelBytes;
        this.producer = producer;
        this.backend = backend;
        this.compute = compute;
        this.provider = provider;
        this.threads = threads;
        this.topK = topK;
    }

    /** The ONNX name of the image input. */
    public String inputName() {
        return inputName;
    }

    /** The input's declared dimensions (symbolic ones by name, e.g. {@code [batch, 3, 224, 224]}). */
    public List<String> inputShape() {
        return inputShape;
    }

    /** {@code float32} or {@code float16}. */
    public String inputDtype() {
        return inputDtype;
    }

    /** The ONNX name of the class-score output. */
    public String outputName() {
        return outputName;
    }

    /** The output's declared dimensions. */
    public List<String> outputShape() {
        return outputShape;
    }

    /** The output's element type. */
    public String outputDtype() {
        return outputDtype;
    }

    /** Input height in pixels. */
    public int height() {
        return height;
    }

    /** Input width in pixels. */
    public int width() {
        return width;
    }

    /** Number of classes. */
    public int classes() {
        return classes;
    }

    /** {@code fp32}, {@code fp16} or {@code int8}. */
    public String precision() {
        return precision;
    }

    /** {@code logits} or {@code probabilities}. */
    public String outputKind() {
        return outputKind;
    }

    /** Number of weight parameters. */
    public long parameters() {
        return parameters;
    }

    /** Size of the ONNX model in bytes. */
    public long modelBytes() {
        return modelBytes;
    }

    /** The exporter that wrote the file, when recorded. */
    public String producer() {
        return producer;
    }

    /**
     * Where the model runs: {@code cpu}, or {@code cuda:N} / {@code tensorrt:N} for an ONNX Runtime
     * GPU provider (the one actually in use after any fallback).
     */
    public String provider() {
        return provider;
    }

    /** The backend running the model ({@code tract} or {@code ort}). */
    public String backend() {
        return backend;
    }

    /** How the backend computes, e.g. {@code f32}. */
    public String compute() {
        return compute;
    }

    /** Worker threads of one inference. */
    public int threads() {
        return threads;
    }

    /** Predictions returned per image (the requested top-k clamped to the class count). */
    public int topK() {
        return topK;
    }

    @Override
    public String toString() {
        return "ModelInfo{input=" + inputName + inputShape + " " + inputDtype + ", output="
                + outputName + outputShape + ", classes=" + classes + ", " + precision + ", "
                + outputKind + ", parameters=" + parameters + ", backend=" + backend + " on "
                + provider + " (" + compute + "), threads=" + threads + ", topK=" + topK + "}";
    }
}
