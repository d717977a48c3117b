package org.resnext;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.resnext.TestSupport.photo;
import static org.resnext.TestSupport.tiny;

import java.io.File;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.Test;

/** One classifier shared by many threads; close() racing with calls and with itself. */
public class ConcurrencyTest {
    private static final int THREADS = 8;
    private static final int PER_THREAD = 40;

    /** An input and a way to classify it. */
    private interface Input {
        Classification classify(Classifier c);
    }

    private static List<Input> inputs() throws Exception {
        List<Input> inputs = new ArrayList<Input>();
        for (final String name : TestSupport.PHOTOS) {
            final String path = photo(name);
            final byte[] bytes = Files.readAllBytes(new File(path).toPath());
            inputs.add(c -> c.classify(path));
            inputs.add(c -> c.classify(bytes));
        }
        for (final PixelFormat format : PixelFormat.values()) {
            final TestSupport.Raw raw = new TestSupport.Raw("chelsea", format);
            final ByteBuffer direct = ByteBuffer.allocateDirect(raw.data.length);
            direct.put(raw.data).flip();
            inputs.add(c -> c.classifyPixels(raw.data, raw.width, raw.height, raw.stride, format, 90));
            // Each call reads the shared buffer's position without changing it: safe to share.
            inputs.add(c -> c.classifyPixels(direct.duplicate(), raw.width, raw.height, raw.stride,
                    format, 0));
        }
        final TestSupport.Raw nv21 = new TestSupport.Raw("coffee", PixelFormat.NV21);
        inputs.add(c -> c.classifyBatch(Arrays.asList(ResnextImage.file(photo("coffee")),
                ResnextImage.pixels(nv21.data, nv21.width, nv21.height, nv21.stride, PixelFormat.NV21, 270)))
                .get(1));
        return inputs;
    }

    @Test
    public void eightThreadsShareOneClassifierWithIdenticalResults() throws Exception {
        final List<Input> inputs = inputs();
        try (final Classifier classifier = new Classifier(tiny().threads(1).build())) {
            final List<List<Prediction>> serial = new ArrayList<List<Prediction>>();
            for (Input input : inputs) {
                serial.add(input.classify(classifier).predictions());
            }
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            final CountDownLatch start = new CountDownLatch(1);
            final AtomicInteger done = new AtomicInteger();
            List<Future<Void>> futures = new ArrayList<Future<Void>>();
            long began = System.nanoTime();
            for (int t = 0; t < THREADS; t++) {
                final int thread = t;
                futures.add(pool.submit(new Callable<Void>() {
                    @Override
                    public Void call() throws Exception {
                        start.await();
                        for (int i = 0; i < PER_THREAD; i++) {
                            int k = (thread * 7 + i) % inputs.size();
                            assertEquals("thread " + thread + " input " + k, serial.get(k),
                                    inputs.get(k).classify(classifier).predictions());
                            done.incrementAndGet();
                        }
                        return null;
                    }
                }));
            }
            start.countDown();
            for (Future<Void> f : futures) {
                f.get(300, TimeUnit.SECONDS);
            }
            pool.shutdown();
            assertEquals(THREADS * PER_THREAD, done.get());
            System.out.printf("concurrency: %d threads x %d classifications (%d inputs) in %.1f s, "
                    + "all identical to serial%n", THREADS, PER_THREAD, inputs.size(),
                    (System.nanoTime() - began) / 1e9);
        }
    }

    /**
     * close() while 8 threads classify: it waits for calls in progress, every call either
     * succeeds with the right result or throws IllegalStateException("closed"), and none
     * succeeds after close() returned.
     */
    @Test
    public void closeWaitsForCallsInProgress() throws Exception {
        final String path = photo("chelsea");
        for (int round = 0; round < 5; round++) {
            final Classifier classifier = new Classifier(tiny().threads(1).build());
            final List<Prediction> expected = classifier.classify(path).predictions();
            final AtomicLong closedAt = new AtomicLong(Long.MAX_VALUE);
            final AtomicInteger successes = new AtomicInteger();
            final AtomicInteger late = new AtomicInteger();
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            final CountDownLatch started = new CountDownLatch(THREADS);
            // close() comes after a fixed amount of completed work (more each round), not after
            // a sleep: the calls in progress at close() then exist on any machine, at any load.
            final CountDownLatch progress = new CountDownLatch(THREADS * (round + 1));
            List<Future<Void>> futures = new ArrayList<Future<Void>>();
            for (int t = 0; t < THREADS; t++) {
                futures.add(pool.submit(new Callable<Void>() {
                    @Override
                    public Void call() {
                        started.countDown();
                        while (true) {
                            long before = System.nanoTime();
                            try {
                                List<Prediction> got = classifier.classify(path).predictions();
                                assertEquals(expected, got);
                                successes.incrementAndGet();
                                progress.countDown();
                                if (before > closedAt.get()) {
                                    late.incrementAndGet();
                                }
                            } catch (IllegalStateException e) {
                                assertEquals("closed", e.getMessage());
                                return null;
                            }
                        }
                    }
                }));
            }
            started.await();
            // A worker that failed an assertion stops counting: then close at once and let
            // f.get() below report its failure instead of waiting for progress forever.
            while (!progress.await(100, TimeUnit.MILLISECONDS) && !anyDone(futures)) {
                // waiting for the work, not for time: the loop only re-checks the workers
            }
            classifier.close();
            closedAt.set(System.nanoTime());
            for (Future<Void> f : futures) {
                f.get(60, TimeUnit.SECONDS);
            }
            pool.shutdown();
            assertTrue(classifier.isClosed());
            assertTrue("the calls counted before close", successes.get() >= THREADS * (round + 1));
            assertEquals("calls started after close() returned and succeeded", 0, late.get());
        }
    }

    private static boolean anyDone(List<Future<Void>> futures) {
        for (Future<Void> f : futures) {
            if (f.isDone()) {
                return true;
            }
        }
        return false;
    }

    @Test
    public void concurrentCloseFreesOnce() throws Exception {
        for (int round = 0; round < 20; round++) {
            long live = Classifier.liveNativeClassifiers();
            final Classifier classifier = new Classifier(tiny().build());
            assertEquals(live + 1, Classifier.liveNativeClassifiers());
            final CountDownLatch start = new CountDownLatch(1);
            List<Thread> threads = new ArrayList<Thread>();
            for (int t = 0; t < THREADS; t++) {
                Thread thread = new Thread(() -> {
                    try {
                        start.await();
                    } catch (InterruptedException e) {
                        return;
                    }
                    classifier.close();
                });
                thread.start();
                threads.add(thread);
            }
            start.countDown();
            for (Thread thread : threads) {
                thread.join(10000);
            }
            assertTrue(classifier.isClosed());
            assertEquals(live, Classifier.liveNativeClassifiers());
        }
    }
}
