package org.resnext;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.List;
import org.junit.Test;

/** The CPU kernels option on an INT8 model: every family this CPU runs gives the same
 * predictions, {@code info().compute()} names it, and OFF is tract's float path. */
public class KernelLayerTest {
    private static final String INT8 = "models/tiny_int8.onnx";

    private static Classifier open(CpuKernels kernels) {
        return new Classifier(TestSupport.tiny().modelPath(TestSupport.path(INT8))
                .cpuKernels(kernels).threads(2).build());
    }

    @Test
    public void everyKernelFamilyGivesTheScalarReferencesPredictions() {
        List<Prediction> reference;
        try (Classifier c = open(CpuKernels.SCALAR)) {
            assertTrue(c.info().compute(), c.info().compute().startsWith("int8 on scalar"));
            reference = c.classify(TestSupport.photo("coffee")).predictions();
        }
        String[][] cases = {{"AVX512_VNNI", "int8 on AVX512-VNNI: ", "avx512_vnni"},
            {"AMX_INT8", "int8 on AMX: ", "amx_int8"}, {"AVX2", "int8 on AVX2: ", "avx2"},
            {"AUTO", "int8 on ", null}};
        for (String[] k : cases) {
            boolean required = k[2] != null && TestSupport.cpuKernelRequired(k[2]);
            CpuKernels kernels = CpuKernels.valueOf(k[0]);
            Classifier c;
            try {
                c = open(kernels);
            } catch (ResnextException e) {
                if (required || e.code() != ErrorCode.BACKEND_UNAVAILABLE) {
                    throw e;
                }
                System.out.println(kernels + " not available here: " + e.getMessage());
                continue;
            }
            try (Classifier owned = c) {
                String compute = owned.info().compute();
                if (kernels == CpuKernels.AUTO && compute.startsWith("f32 (QDQ graph")
                        && !TestSupport.cpuKernelRequired("avx2")) {
                    // No AVX2 either (no CPU CI runs on): AUTO is tract's float path, as OFF.
                    System.out.println("AUTO runs tract's float path here: " + compute);
                    assertEquals(reference.get(0).classId(),
                            owned.classify(TestSupport.photo("coffee")).predictions().get(0).classId());
                    continue;
                }
                assertTrue(compute, compute.startsWith(k[1]));
                List<Prediction> got = owned.classify(TestSupport.photo("coffee")).predictions();
                assertEquals(reference.size(), got.size());
                for (int i = 0; i < got.size(); i++) {
                    assertEquals(reference.get(i).classId(), got.get(i).classId());
                    assertEquals(reference.get(i).score(), got.get(i).score(), 0.0f);
                }
            }
        }
        try (Classifier c = open(CpuKernels.OFF)) {
            assertTrue(c.info().compute(), c.info().compute().startsWith("f32 (QDQ graph"));
            assertEquals(reference.get(0).classId(),
                    c.classify(TestSupport.photo("coffee")).predictions().get(0).classId());
        }
    }
}
