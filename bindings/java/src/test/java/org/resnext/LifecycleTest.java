package org.resnext;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.resnext.TestSupport.photo;
import static org.resnext.TestSupport.tiny;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.Test;

/** Native memory: cleaners free forgotten classifiers; create/classify/close cycles do not leak. */
public class LifecycleTest {
    private static final long MB = 1024;
    /** Keeps an owner strongly reachable across a GC. */
    private static Object keep;

    /**
     * Natives that loop over Java objects keep their local references bounded: a 1,000-label
     * list and a 64-image batch (files, arrays, direct buffers). Under -Xcheck:jni an unbounded
     * loop prints "JNI local refs: N, exceeds capacity" warnings, which scripts/java_checks.sh
     * fails on.
     */
    @Test
    public void longLabelListsAndBatchesKeepLocalReferencesBounded() {
        List<String> labels = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            labels.add("label " + i);
        }
        try (Classifier c = new Classifier(tiny().labels(labels).build())) {
            List<ResnextImage> batch = new ArrayList<>();
            byte[] encoded = TestSupport.read("preprocess/chelsea.png");
            byte[] rgb = new byte[16 * 16 * 3];
            ByteBuffer direct = ByteBuffer.allocateDirect(rgb.length);
            for (int i = 0; i < 64; i++) {
                switch (i % 4) {
                    case 0: batch.add(ResnextImage.file(photo("chelsea"))); break;
                    case 1: batch.add(ResnextImage.encoded(encoded)); break;
                    case 2: batch.add(ResnextImage.pixels(rgb, 16, 16, 0, PixelFormat.RGB8, 0)); break;
                    default: batch.add(ResnextImage.pixels(direct, 16, 16, 0, PixelFormat.RGB8, 0)); break;
                }
            }
            List<Classification> results = c.classifyBatch(batch);
            assertEquals(64, results.size());
            assertTrue(results.get(0).predictions().get(0).label().startsWith("label "));
        }
    }

    @Test
    public void libraryLoadsAndReportsItsVersion() {
        NativeLibrary.load();
        NativeLibrary.load();
        assertTrue(NativeLibrary.version().matches("\\d+\\.\\d+\\.\\d+.*"));
        System.out.println("native library " + NativeLibrary.version() + ", cleaner: "
                + NativeCleaner.backendName());
    }

    @Test
    public void theCleanerFreesClassifiersThatWereNeverClosed() throws Exception {
        long before = Classifier.liveNativeClassifiers();
        createAndForget(5);
        assertEquals(before + 5, Classifier.liveNativeClassifiers());
        assertTrue("the cleaner freed all five", waitFor(() -> Classifier.liveNativeClassifiers() == before));
    }

    private static void createAndForget(int n) {
        for (int i = 0; i < n; i++) {
            Classifier c = new Classifier(tiny().build());
            c.classify(photo("chelsea"));
        }
    }

    /** The Java 8 fallback: a PhantomReference queue and a daemon thread. */
    @Test
    public void thePhantomCleanerRunsActionsOnceEitherWay() throws Exception {
        NativeCleaner.PhantomCleaner cleaner = new NativeCleaner.PhantomCleaner();
        final AtomicInteger runs = new AtomicInteger();
        // Explicit clean: runs once, however often it is called.
        NativeCleaner.Cleanable explicit = cleaner.register(new Object(), runs::incrementAndGet);
        explicit.clean();
        explicit.clean();
        assertEquals(1, runs.get());
        // Unreachable owners: run by the thread.
        for (int i = 0; i < 10; i++) {
            cleaner.register(new Object(), runs::incrementAndGet);
        }
        assertTrue(waitFor(() -> runs.get() == 11));
        assertEquals(0, cleaner.pending());
        // A reachable owner is left alone.
        keep = new Object();
        cleaner.register(keep, runs::incrementAndGet);
        System.gc();
        Thread.sleep(100);
        assertEquals(11, runs.get());
        assertEquals(1, cleaner.pending());
        keep = null;
        // The JDK backend exists on this (9+) runtime, and behaves the same.
        NativeCleaner.JdkCleaner jdk = NativeCleaner.JdkCleaner.create();
        if (jdk != null) {
            final AtomicInteger jdkRuns = new AtomicInteger();
            NativeCleaner.Cleanable c = jdk.register(new Object(), jdkRuns::incrementAndGet);
            c.clean();
            c.clean();
            assertEquals(1, jdkRuns.get());
            jdk.register(new Object(), jdkRuns::incrementAndGet);
            assertTrue(waitFor(() -> jdkRuns.get() == 2));
        }
    }

    /** 2000 create/classify/close cycles on the tiny model: resident memory stays flat. */
    @Test
    public void createClassifyCloseCyclesDoNotLeak() {
        byte[] model = TestSupport.read(TestSupport.TINY);
        String image = photo("chelsea");
        List<Prediction> expected;
        try (Classifier c = new Classifier(tiny().build())) {
            expected = c.classify(image).predictions();
        }
        long live = Classifier.liveNativeClassifiers();
        for (int i = 0; i < 50; i++) {
            cycle(i, model, image, expected);
        }
        settle();
        long before = TestSupport.rssKb();
        long after500 = 0;
        long began = System.nanoTime();
        for (int i = 0; i < 2000; i++) {
            cycle(i, model, image, expected);
            if (i == 499) {
                settle();
                after500 = TestSupport.rssKb();
            }
        }
        settle();
        long after2000 = TestSupport.rssKb();
        System.out.printf("RSS: before %d MB, after 500 cycles %d MB, after 2000 cycles %d MB "
                + "(growth %+d kB; 2000 cycles in %.1f s)%n", before / MB, after500 / MB,
                after2000 / MB, after2000 - before, (System.nanoTime() - began) / 1e9);
        assertEquals("every classifier was freed", live, Classifier.liveNativeClassifiers());
        assertTrue("RSS grew by " + (after2000 - before) / MB + " MB",
                after2000 - before < 30 * MB);
    }

    private static void cycle(int i, byte[] model, String image, List<Prediction> expected) {
        // Alternate the model source (path, bytes) and the input kind.
        ClassifierOptions.Builder options = i % 2 == 0 ? tiny() : tiny().modelBytes(model);
        try (Classifier c = new Classifier(options.build())) {
            assertEquals(expected, c.classify(image).predictions());
        }
    }

    private static void settle() {
        System.gc();
        try {
            Thread.sleep(50);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private interface Condition {
        boolean holds();
    }

    private static boolean waitFor(Condition condition) throws InterruptedException {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (System.nanoTime() < deadline) {
            if (condition.holds()) {
                return true;
            }
            System.gc();
            Thread.sleep(20);
        }
        return condition.holds();
    }
}
