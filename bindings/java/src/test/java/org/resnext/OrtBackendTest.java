package org.resnext;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.resnext.TestSupport.photo;
import static org.resnext.TestSupport.r50;

import org.junit.Test;

/**
 * The ONNX Runtime backend from Java on a CPU-only runtime: the same predictions as tract, the
 * GPU providers' typed error under the fail policy, and the CPU fallback. Needs ORT_DYLIB_PATH
 * (scripts/test.sh sets it to the pinned onnxruntime wheel's library).
 */
public class OrtBackendTest {
    private static String ortLibrary() {
        String lib = System.getenv("ORT_DYLIB_PATH");
        assertNotNull("ORT_DYLIB_PATH must name libonnxruntime.so", lib);
        return lib;
    }

    private static ClassifierOptions.Builder ort() {
        return r50().threads(2).backend(Backend.ORT).ortLibrary(ortLibrary());
    }

    @Test
    public void ortOnTheCpuMatchesTract() {
        try (Classifier tract = new Classifier(r50().threads(2).build());
                Classifier ort = new Classifier(ort().build())) {
            assertEquals("ort", ort.info().backend());
            assertEquals("cpu", ort.info().provider());
            assertEquals("tract", tract.info().backend());
            assertEquals("cpu", tract.info().provider());
            for (String name : TestSupport.PHOTOS) {
                Classification a = tract.classify(photo(name));
                Classification b = ort.classify(photo(name));
                for (int i = 0; i < a.predictions().size(); i++) {
                    Prediction x = a.predictions().get(i);
                    Prediction y = b.predictions().get(i);
                    assertEquals(name, x.classId(), y.classId());
                    assertEquals(name, x.score(), y.score(), 1e-4f);
                }
            }
        }
    }

    @Test
    public void cudaUnderTheFailPolicyIsProviderUnavailable() {
        final ClassifierOptions options =
                ort().executionProvider(ExecutionProvider.CUDA, 0).build();
        String message = ErrorPathsTest.expect(ErrorCode.PROVIDER_UNAVAILABLE,
                () -> new Classifier(options).close());
        assertTrue(message, message.contains("CUDA"));
    }

    @Test
    public void tensorRtUnderTheFallbackPolicyRunsOnTheCpu() {
        TensorRtOptions trt = TensorRtOptions.builder().fp16(true).batchProfile(1, 4, 8).build();
        try (Classifier c = new Classifier(ort().executionProvider(ExecutionProvider.TENSORRT, 0)
                .tensorRt(trt).fallback(FallbackPolicy.NEXT_PROVIDER).build())) {
            assertEquals("cpu", c.info().provider());
            assertTrue(c.classify(photo("coffee")).top().score() > 0f);
        }
    }

    /**
     * A model that loads and then fails while running (fails_at_run.onnx: a Gather index out of
     * range): ONNX Runtime refuses it with INFERENCE; on tract, whose Gather panics on it, the
     * native boundary turns the panic into PANIC. Both classifiers stay usable.
     */
    @Test
    public void aModelFailingWhileRunningIsInferenceOnOrtAndPanicOnTract() {
        ClassifierOptions.Builder failing = ClassifierOptions.builder()
                .modelPath(TestSupport.path("models/fails_at_run.onnx")).resizeShort(73).crop(64)
                .allowLabelMismatch(true).threads(1);
        try (Classifier ort = new Classifier(failing.backend(Backend.ORT).ortLibrary(ortLibrary())
                        .build());
                Classifier tract = new Classifier(failing.backend(Backend.TRACT).build())) {
            for (int round = 0; round < 2; round++) {
                String m = ErrorPathsTest.expect(ErrorCode.INFERENCE,
                        () -> ort.classify(photo("chelsea")));
                assertTrue(m, m.contains("Gather"));
                m = ErrorPathsTest.expect(ErrorCode.PANIC, () -> tract.classify(photo("chelsea")));
                assertTrue(m, m.contains("panic"));
            }
        }
    }

    @Test
    public void badEngineSettingsAreInvalidArguments() {
        final ClassifierOptions badProfile = ort().tensorRt(
                TensorRtOptions.builder().batchProfile(4, 2, 8).build()).build();
        ErrorPathsTest.expect(ErrorCode.INVALID_ARGUMENT, () -> new Classifier(badProfile).close());
        final ClassifierOptions badDevice =
                ort().executionProvider(ExecutionProvider.CUDA, -1).build();
        ErrorPathsTest.expect(ErrorCode.INVALID_ARGUMENT, () -> new Classifier(badDevice).close());
    }
}
