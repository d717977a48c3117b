import java.io.BufferedReader;
import java.io.FileReader;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.resnext.Classification;
import org.resnext.Classifier;
import org.resnext.ClassifierOptions;
import org.resnext.ResnextImage;
import org.resnext.PixelFormat;
import org.resnext.Prediction;
import org.resnext.ResnextException;

/**
 * Hardening programs for the Java API (issue #8), run by scripts/hardening.sh; the Java twin
 * of tests/c/stress.c.
 *
 * <pre>
 *   java Stress stress MODEL SIDE THREADS TOTAL IMAGE...
 *   java Stress leak MODEL SIDE CYCLES IMAGE
 * </pre>
 *
 * {@code stress}: one classifier shared by THREADS threads doing TOTAL classifications (files,
 * encoded bytes, byte[] and direct ByteBuffer raw frames in every pixel format and rotation,
 * every 8th call a batch of two), each compared with the serial result (class, label and score
 * bit for bit); prints throughput and divergences, exits 1 on any. {@code leak}: CYCLES x
 * (build options, create, classify a file, bytes and a frame, fail once, close); prints VmRSS
 * after a warm-up, at the middle and at the end; exits 1 on more than 30 MB of growth.
 */
public final class Stress {
    private static final int K = 5;

    private interface Input {
        List<Prediction> classify(Classifier c);
    }

    private static ClassifierOptions options(String model, int side, boolean bytes) throws IOException {
        ClassifierOptions.Builder b = ClassifierOptions.builder();
        if (bytes) {
            b.modelBytes(Files.readAllBytes(Paths.get(model)));
        } else {
            b.modelPath(model);
        }
        return b.resizeShort(side + side / 8).crop(side).topK(K).threads(1).noLabels().build();
    }

    /** A deterministic frame (gradient and blocks) of {@code rows} rows of {@code stride} bytes. */
    private static byte[] synthetic(int rows, int stride, int seed) {
        byte[] p = new byte[rows * stride];
        for (int y = 0; y < rows; y++) {
            for (int x = 0; x < stride; x++) {
                p[y * stride + x] = (byte) (x * 7 + y * 13 + seed * 31 + ((x / 16 + y / 16) % 2) * 90);
            }
        }
        return p;
    }

    private static List<Input> inputs(String[] paths) throws IOException {
        List<Input> inputs = new ArrayList<Input>();
        for (final String path : paths) {
            final byte[] bytes = Files.readAllBytes(Paths.get(path));
            inputs.add(c -> c.classify(path).predictions());
            inputs.add(c -> c.classify(bytes).predictions());
        }
        for (final PixelFormat f : PixelFormat.values()) {
            for (int r = 0; r < 4; r++) {
                final int rotation = r * 90;
                final int w = 96;
                final int h = 80;
                final boolean yuv = f == PixelFormat.NV21 || f == PixelFormat.NV12;
                final int bpp = yuv ? 1 : (f == PixelFormat.RGB8 || f == PixelFormat.BGR8) ? 3 : 4;
                final int stride = w * bpp + r * 4;
                final byte[] data = synthetic(yuv ? h + h / 2 : h, stride, f.ordinal() * 4 + r);
                if (r % 2 == 0) {
                    inputs.add(c -> c.classifyPixels(data, w, h, stride, f, rotation).predictions());
                } else {
                    final ByteBuffer direct = ByteBuffer.allocateDirect(data.length);
                    direct.put(data).flip();
                    inputs.add(c -> c.classifyPixels(direct.duplicate(), w, h, stride, f, rotation)
                            .predictions());
                }
            }
        }
        return inputs;
    }

    private static List<List<Prediction>> pair(Classifier c, String[] paths, int k) {
        // A batch of two: a file by path and a frame.
        String path = paths[k % paths.length];
        byte[] frame = synthetic(80 + 40, 96, k);
        List<Classification> r = c.classifyBatch(Arrays.asList(ResnextImage.file(path),
                ResnextImage.pixels(frame, 96, 80, 96, PixelFormat.NV21, (k % 4) * 90)));
        return Arrays.asList(r.get(0).predictions(), r.get(1).predictions());
    }

    static int stress(String model, int side, int threads, int total, final String[] paths) throws Exception {
        final List<Input> inputs = inputs(paths);
        final int n = inputs.size();
        try (final Classifier c = new Classifier(options(model, side, false))) {
            final List<List<Prediction>> serial = new ArrayList<List<Prediction>>();
            final List<List<List<Prediction>>> serialPairs = new ArrayList<List<List<Prediction>>>();
            for (int i = 0; i < n; i++) {
                serial.add(inputs.get(i).classify(c));
                serialPairs.add(pair(c, paths, i));
            }
            final int perThread = (total + threads - 1) / threads;
            final AtomicLong divergent = new AtomicLong();
            final AtomicLong failed = new AtomicLong();
            final AtomicLong classifications = new AtomicLong();
            final CountDownLatch start = new CountDownLatch(1);
            List<Thread> pool = new ArrayList<Thread>();
            for (int t = 0; t < threads; t++) {
                final int thread = t;
                Thread th = new Thread(() -> {
                    try {
                        start.await();
                    } catch (InterruptedException e) {
                        return;
                    }
                    for (int i = 0; i < perThread; i++) {
                        int k = (thread * 7 + i) % n;
                        try {
                            if (i % 8 == 7) {
                                if (!pair(c, paths, k).equals(serialPairs.get(k))) {
                                    divergent.incrementAndGet();
                                }
                                classifications.addAndGet(2);
                            } else {
                                if (!inputs.get(k).classify(c).equals(serial.get(k))) {
                                    divergent.incrementAndGet();
                                }
                                classifications.incrementAndGet();
                            }
                        } catch (ResnextException e) {
                            failed.incrementAndGet();
                            System.err.println("thread " + thread + " input " + k + ": " + e);
                        }
                    }
                });
                pool.add(th);
                th.start();
            }
            long began = System.nanoTime();
            start.countDown();
            for (Thread th : pool) {
                th.join();
            }
            double secs = (System.nanoTime() - began) / 1e9;
            System.out.printf("Java stress: %d threads x %d calls = %d calls (%d classifications, %d "
                    + "inputs) in %.2f s: %.0f classifications/s, %d divergent from serial, %d failed%n",
                    threads, perThread, threads * perThread, classifications.get(), n, secs,
                    classifications.get() / secs, divergent.get(), failed.get());
            return divergent.get() == 0 && failed.get() == 0 ? 0 : 1;
        }
    }

    private static void cycle(String model, int side, int i, String image, byte[] bytes) throws IOException {
        try (Classifier c = new Classifier(options(model, side, i % 2 == 1))) {
            c.classify(image);
            c.classify(bytes);
            c.classifyPixels(synthetic(48 + 24, 64, i), 64, 48, 64, PixelFormat.NV21, 90);
            try {
                c.classify(Arrays.copyOf(bytes, bytes.length / 2));
                throw new AssertionError("a truncated image was accepted");
            } catch (ResnextException expected) {
                // the exception and its message must not leak either
            }
        }
    }

    private static long rssKb() throws IOException {
        try (BufferedReader r = new BufferedReader(new FileReader("/proc/self/status"))) {
            for (String line; (line = r.readLine()) != null; ) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        }
        return -1;
    }

    private static void settle() throws InterruptedException {
        System.gc();
        Thread.sleep(100);
        System.gc();
    }

    static int leak(String model, int side, int cycles, String image) throws Exception {
        byte[] bytes = Files.readAllBytes(Paths.get(image));
        int warmup = Math.min(50, cycles / 5);
        for (int i = 0; i < warmup; i++) {
            cycle(model, side, i, image, bytes);
        }
        settle();
        long before = rssKb();
        long middle = 0;
        long began = System.nanoTime();
        for (int i = 0; i < cycles; i++) {
            cycle(model, side, i, image, bytes);
            if (i == cycles / 2) {
                settle();
                middle = rssKb();
            }
        }
        settle();
        long after = rssKb();
        System.out.printf("Java leak loop: %d create/classify/close cycles in %.1f s; RSS after "
                + "warm-up %.1f MB, after %d cycles %.1f MB, after %d cycles %.1f MB (growth %+d kB)%n",
                cycles, (System.nanoTime() - began) / 1e9, before / 1024.0, cycles / 2 + 1,
                middle / 1024.0, cycles, after / 1024.0, after - before);
        return after - before > 30 * 1024 ? 1 : 0;
    }

    public static void main(String[] args) throws Exception {
        int rc;
        if (args.length >= 6 && args[0].equals("stress")) {
            rc = stress(args[1], Integer.parseInt(args[2]), Integer.parseInt(args[3]),
                    Integer.parseInt(args[4]), Arrays.copyOfRange(args, 5, args.length));
        } else if (args.length == 5 && args[0].equals("leak")) {
            rc = leak(args[1], Integer.parseInt(args[2]), Integer.parseInt(args[3]), args[4]);
        } else {
            System.err.println("usage: Stress stress MODEL SIDE THREADS TOTAL IMAGE...\n"
                    + "       Stress leak MODEL SIDE CYCLES IMAGE");
            rc = 2;
        }
        System.exit(rc);
    }
}
