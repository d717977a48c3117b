package org.resnext;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;
import static org.resnext.TestSupport.photo;
import static org.resnext.TestSupport.tiny;

import java.io.File;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** Every failure surfaces as the right exception and code, and the classifier stays usable. */
public class ErrorPathsTest {
    @Rule
    public TemporaryFolder temp = new TemporaryFolder();

    private static Classifier classifier;
    private static Classification reference;

    @BeforeClass
    public static void load() {
        classifier = new Classifier(tiny().build());
        reference = classifier.classify(photo("chelsea"));
    }

    @AfterClass
    public static void unload() {
        classifier.close();
    }

    interface Call {
        void run() throws Exception;
    }

    /** Runs {@code call}, expects a ResnextException with {@code code}, returns its message. */
    static String expect(ErrorCode code, Call call) {
        try {
            call.run();
        } catch (ResnextException e) {
            assertEquals(e.toString(), code, e.code());
            assertEquals(code.value(), e.codeValue());
            assertNotNull(e.getMessage());
            assertFalse(e.getMessage().isEmpty());
            return e.getMessage();
        } catch (Exception e) {
            throw new AssertionError("expected ResnextException " + code + ", got " + e, e);
        }
        fail("expected ResnextException " + code + ", nothing thrown");
        return null;
    }

    static <T extends Throwable> T expectThrown(Class<T> type, Call call) {
        try {
            call.run();
        } catch (Throwable e) {
            if (type.isInstance(e)) {
                return type.cast(e);
            }
            throw new AssertionError("expected " + type.getName() + ", got " + e, e);
        }
        fail("expected " + type.getName() + ", nothing thrown");
        return null;
    }

    /** After any failure, the shared classifier still gives the same result. */
    private static void stillWorks() {
        assertEquals(reference.predictions(), classifier.classify(photo("chelsea")).predictions());
    }

    // ---- codes ---------------------------------------------------------------------------

    /** ErrorCode mirrors src/error.rs, name for name and value for value. */
    @Test
    public void errorCodesMirrorTheRustEnum() throws Exception {
        Map<String, Integer> rust = rustEnum("src/error.rs", "pub enum ErrorCode");
        assertEquals(rust.size(), ErrorCode.values().length);
        for (Map.Entry<String, Integer> e : rust.entrySet()) {
            ErrorCode code = ErrorCode.valueOf(snake(e.getKey()));
            assertEquals(e.getKey(), (int) e.getValue(), code.value());
            assertEquals(code, ErrorCode.fromValue(e.getValue()));
        }
        assertEquals(null, ErrorCode.fromValue(rust.size()));
        assertEquals(null, ErrorCode.fromValue(-1));
        assertEquals(null, new ResnextException(99, "future").code());
    }

    /** PixelFormat ordinals are the native PixelFormat values. */
    @Test
    public void pixelFormatsMirrorTheRustEnum() throws Exception {
        Map<String, Integer> rust = rustEnum("src/preprocess/pixels.rs", "pub enum PixelFormat");
        assertEquals(rust.size(), PixelFormat.values().length);
        for (Map.Entry<String, Integer> e : rust.entrySet()) {
            assertEquals(e.getKey(), (int) e.getValue(),
                    PixelFormat.valueOf(e.getKey().toUpperCase()).value());
        }
    }

    /** CpuKernels mirrors src/options.rs (the C ABI's values), name for name and value for value. */
    @Test
    public void cpuKernelsMirrorTheRustEnum() throws Exception {
        Map<String, Integer> rust = rustEnum("src/options.rs", "pub enum CpuKernels");
        assertEquals(rust.size(), CpuKernels.values().length);
        for (Map.Entry<String, Integer> e : rust.entrySet()) {
            assertEquals(e.getKey(), (int) e.getValue(), CpuKernels.valueOf(snake(e.getKey())).value());
        }
    }

    private static Map<String, Integer> rustEnum(String file, String header) throws Exception {
        String text = new String(Files.readAllBytes(new File(TestSupport.ROOT, file).toPath()),
                StandardCharsets.UTF_8);
        int start = text.indexOf(header);
        assertTrue(header + " in " + file, start >= 0);
        String body = text.substring(start, text.indexOf("\n}", start));
        Map<String, Integer> out = new LinkedHashMap<String, Integer>();
        Matcher m = Pattern.compile("\\n\\s+(\\w+) = (\\d+),").matcher(body);
        while (m.find()) {
            out.put(m.group(1), Integer.parseInt(m.group(2)));
        }
        assertTrue(out.size() >= 6);
        return out;
    }

    private static String snake(String camel) {
        return camel.replaceAll("([a-z0-9])([A-Z])", "$1_$2").toUpperCase();
    }

    // ---- creating a classifier -----------------------------------------------------------

    @Test
    public void badModels() throws Exception {
        expect(ErrorCode.IO, () -> new Classifier(tiny().modelPath("/no/such/model.onnx").build()));
        expect(ErrorCode.MODEL_DECODE,
                () -> new Classifier(tiny().modelPath(TestSupport.path("models/random.onnx")).build()));
        expect(ErrorCode.MODEL_DECODE,
                () -> new Classifier(tiny().modelBytes(TestSupport.read("models/random.onnx")).build()));
        expect(ErrorCode.MODEL_DECODE,
                () -> new Classifier(tiny().modelBytes(TestSupport.read("models/truncated.onnx")).build()));
        expect(ErrorCode.MODEL_DECODE, () -> new Classifier(tiny().modelBytes(new byte[0]).build()));
        byte[] junk = new byte[5000];
        new java.util.Random(7).nextBytes(junk);
        expect(ErrorCode.MODEL_DECODE, () -> new Classifier(tiny().modelBytes(junk).build()));
        expect(ErrorCode.MODEL_UNSUPPORTED, () -> new Classifier(
                tiny().modelPath(TestSupport.path("models/not_classifier.onnx")).build()));
        expect(ErrorCode.MODEL_UNSUPPORTED, () -> new Classifier(
                tiny().modelPath(TestSupport.path("models/bad_input_rank.onnx")).build()));
        expect(ErrorCode.MODEL_UNSUPPORTED, () -> new Classifier(
                tiny().modelPath(TestSupport.path("models/unsupported_op.onnx")).build()));
        expect(ErrorCode.LIMIT_EXCEEDED, () -> new Classifier(tiny().maxModelBytes(1000).build()));
        expect(ErrorCode.LIMIT_EXCEEDED, () -> new Classifier(
                tiny().modelBytes(TestSupport.read(TestSupport.TINY)).maxModelBytes(1000).build()));
        File dir = temp.newFolder();
        expect(ErrorCode.IO, () -> new Classifier(tiny().modelPath(dir.getPath()).build()));
    }

    @Test
    public void badOptions() {
        expect(ErrorCode.NULL_ARGUMENT, () -> new Classifier(null));
        expect(ErrorCode.NULL_ARGUMENT, () -> new Classifier(ClassifierOptions.builder().build()));
        expect(ErrorCode.NULL_ARGUMENT, () -> new Classifier(tiny().modelPath(null).build()));
        expect(ErrorCode.NULL_ARGUMENT, () -> ClassifierOptions.builder().preset(null));
        // The default WSL-224 preprocessing does not fit the 64 px model.
        String m = expect(ErrorCode.INVALID_ARGUMENT,
                () -> new Classifier(tiny().preset(Preset.WSL_224).build()));
        assertTrue(m, m.contains("64x64"));
        expect(ErrorCode.INVALID_ARGUMENT, () -> new Classifier(tiny().resizeShort(-73).build()));
        expect(ErrorCode.INVALID_ARGUMENT, () -> new Classifier(tiny().crop(-64).build()));
        expect(ErrorCode.INVALID_ARGUMENT, () -> new Classifier(tiny().resizeShort(60).build()));
        expect(ErrorCode.INVALID_ARGUMENT, () -> new Classifier(tiny().std(0f, 1f, 1f).build()));
        expect(ErrorCode.INVALID_ARGUMENT, () -> new Classifier(tiny().mean(Float.NaN, 0f, 0f).build()));
        expect(ErrorCode.INVALID_ARGUMENT, () -> new Classifier(tiny().topK(0).build()));
        expect(ErrorCode.INVALID_ARGUMENT, () -> new Classifier(tiny().topK(-1).build()));
        expect(ErrorCode.INVALID_ARGUMENT, () -> new Classifier(tiny().threads(-2).build()));
        expect(ErrorCode.INVALID_ARGUMENT, () -> new Classifier(tiny().maxPixels(0).build()));
        expect(ErrorCode.INVALID_ARGUMENT, () -> new Classifier(tiny().maxModelBytes(-1).build()));
        // Labels: the ImageNet list does not match 10 classes unless the mismatch is allowed.
        expect(ErrorCode.LABELS, () -> new Classifier(tiny().allowLabelMismatch(false).build()));
        expect(ErrorCode.LABELS, () -> new Classifier(
                tiny().allowLabelMismatch(false).labels(Arrays.asList("a", "b")).build()));
        expect(ErrorCode.IO, () -> new Classifier(tiny().labelsFile("/no/such/labels.txt").build()));
        expect(ErrorCode.NULL_ARGUMENT, () -> new Classifier(tiny().labelsFile(null).build()));
        expect(ErrorCode.NULL_ARGUMENT, () -> new Classifier(tiny().labels(null).build()));
        expect(ErrorCode.NULL_ARGUMENT, () -> new Classifier(
                tiny().labels(Collections.<String>singletonList(null)).build()));
        // TensorRT's DLA cores are 0 and 1 (-1: the GPU), as the C header says.
        for (int core : new int[] {2, 1000, -2}) {
            m = expect(ErrorCode.INVALID_ARGUMENT, () -> new Classifier(
                    tiny().tensorRt(TensorRtOptions.builder().dlaCore(core).build()).build()));
            assertTrue(m, m.contains("DLA core " + core));
        }
        for (int core : new int[] {-1, 0, 1}) {
            new Classifier(tiny().tensorRt(TensorRtOptions.builder().dlaCore(core).build()).build()).close();
        }
        assertEquals("no classifier was leaked by the failures", 0, leakedBy(() -> {
            try {
                new Classifier(tiny().topK(0).build());
            } catch (ResnextException expected) {
                // fine
            }
        }));
    }

    private static long leakedBy(Runnable r) {
        long before = Classifier.liveNativeClassifiers();
        r.run();
        return Classifier.liveNativeClassifiers() - before;
    }

    // ---- classifying ---------------------------------------------------------------------

    @Test
    public void badImages() throws Exception {
        expect(ErrorCode.IO, () -> classifier.classify("/no/such/image.png"));
        expect(ErrorCode.IO, () -> classifier.classify(temp.newFolder().getPath()));
        expect(ErrorCode.NULL_ARGUMENT, () -> classifier.classify((String) null));
        expect(ErrorCode.NULL_ARGUMENT, () -> classifier.classify((byte[]) null));
        expect(ErrorCode.IMAGE_DECODE, () -> classifier.classify(new byte[0]));
        expect(ErrorCode.IMAGE_DECODE,
                () -> classifier.classify("not an image".getBytes(StandardCharsets.US_ASCII)));
        byte[] png = Files.readAllBytes(new File(photo("coffee")).toPath());
        byte[] truncated = Arrays.copyOf(png, png.length / 3);
        expect(ErrorCode.IMAGE_DECODE, () -> classifier.classify(truncated));
        File corrupt = temp.newFile("corrupt.png");
        Files.write(corrupt.toPath(), truncated);
        String m = expect(ErrorCode.IMAGE_DECODE, () -> classifier.classify(corrupt.getPath()));
        assertTrue(m, m.contains("corrupt.png"));
        File garbage = temp.newFile("garbage.jpg");
        Files.write(garbage.toPath(), new byte[] {(byte) 0xFF, (byte) 0xD8, (byte) 0xFF, 0, 1, 2});
        expect(ErrorCode.IMAGE_DECODE, () -> classifier.classify(garbage.getPath()));
        // Over the pixel limit: refused from the header.
        try (Classifier small = new Classifier(tiny().maxPixels(1000).build())) {
            expect(ErrorCode.LIMIT_EXCEEDED, () -> small.classify(photo("coffee")));
            expect(ErrorCode.LIMIT_EXCEEDED,
                    () -> small.classifyPixels(new byte[40 * 40 * 3], 40, 40, 0, PixelFormat.RGB8, 0));
        }
        stillWorks();
    }

    /**
     * Prefixes of real photographs (the first 3,000 bytes, half, all but 2 bytes) fail with
     * IMAGE_DECODE saying "truncated", as bytes and as files; with allowTruncatedImages the cuts
     * past the headers classify.
     */
    @Test
    public void truncatedPhotographsAreRefusedUnlessAllowed() throws Exception {
        assertFalse(tiny().build().allowTruncatedImages());
        try (Classifier lenient = new Classifier(tiny().allowTruncatedImages(true).build())) {
            assertTrue(tiny().allowTruncatedImages(true).build().toBuilder().build().allowTruncatedImages());
            for (String name : new String[] {"preprocess/rocket.jpg", "preprocess/coffee.png"}) {
                byte[] whole = TestSupport.read(name);
                assertEquals(classifier.classify(whole).predictions(), lenient.classify(whole).predictions());
                for (int cut : new int[] {3000, whole.length / 2, whole.length - 2}) {
                    byte[] prefix = Arrays.copyOf(whole, cut);
                    String m = expect(ErrorCode.IMAGE_DECODE, () -> classifier.classify(prefix));
                    assertTrue(m, m.contains("truncated"));
                    File file = temp.newFile(cut + "-" + new File(name).getName());
                    Files.write(file.toPath(), prefix);
                    m = expect(ErrorCode.IMAGE_DECODE, () -> classifier.classify(file.getPath()));
                    assertTrue(m, m.contains("truncated"));
                    assertEquals(5, lenient.classify(prefix).predictions().size());
                    assertEquals(5, lenient.classify(file.getPath()).predictions().size());
                }
            }
        }
        stillWorks();
    }

    /** NV21/NV12 need an even width and height: requiredLength and the native library agree. */
    @Test
    public void oddYuvSizesAreRefusedByRequiredLengthToo() {
        for (PixelFormat format : new PixelFormat[] {PixelFormat.NV21, PixelFormat.NV12}) {
            assertEquals(8 * 8 * 3 / 2, format.requiredLength(8, 8, 0));
            for (int[] size : new int[][] {{7, 8}, {8, 7}, {7, 7}}) {
                byte[] frame = new byte[size[0] * size[1] * 2];
                String m = expect(ErrorCode.INVALID_ARGUMENT,
                        () -> classifier.classifyPixels(frame, size[0], size[1], 0, format, 0));
                assertTrue(m, m.contains("even width and height"));
                m = expect(ErrorCode.INVALID_ARGUMENT, () -> format.requiredLength(size[0], size[1], 0));
                assertTrue(m, m.contains("even width and height"));
            }
        }
        assertEquals(7 * 7 * 3, PixelFormat.RGB8.requiredLength(7, 7, 0));
        stillWorks();
    }

    @Test
    public void badPixelBuffers() {
        byte[] rgb = new byte[8 * 8 * 3];
        // Wrong buffer lengths.
        expect(ErrorCode.BUFFER_SIZE, () -> classifier.classifyPixels(new byte[10], 8, 8, 0, PixelFormat.RGB8, 0));
        expect(ErrorCode.BUFFER_SIZE, () -> classifier.classifyPixels(rgb, 8, 8, 0, PixelFormat.RGBA8, 0));
        expect(ErrorCode.BUFFER_SIZE, () -> classifier.classifyPixels(rgb, 8, 8, 40, PixelFormat.RGB8, 0));
        expect(ErrorCode.BUFFER_SIZE, () -> classifier.classifyPixels(new byte[8 * 8], 8, 8, 0, PixelFormat.NV21, 0));
        expect(ErrorCode.BUFFER_SIZE, () -> classifier.classifyPixels(
                ByteBuffer.allocateDirect(100), 8, 8, 0, PixelFormat.BGR8, 0));
        ByteBuffer window = ByteBuffer.allocateDirect(rgb.length);
        window.position(1);
        expect(ErrorCode.BUFFER_SIZE, () -> classifier.classifyPixels(window, 8, 8, 0, PixelFormat.RGB8, 0));
        expect(ErrorCode.BUFFER_SIZE, () -> classifier.classifyPixels(new byte[0], 8, 8, 0, PixelFormat.RGB8, 0));
        expect(ErrorCode.BUFFER_SIZE, () -> classifier.classifyPixels(
                ByteBuffer.allocateDirect(0), 8, 8, 0, PixelFormat.RGB8, 0));
        // Invalid arguments.
        for (int rotation : new int[] {45, -90, 360, 1, Integer.MIN_VALUE}) {
            String m = expect(ErrorCode.INVALID_ARGUMENT,
                    () -> classifier.classifyPixels(rgb, 8, 8, 0, PixelFormat.RGB8, rotation));
            assertTrue(m, m.contains("rotation"));
        }
        expect(ErrorCode.INVALID_ARGUMENT, () -> classifier.classifyPixels(rgb, -8, 8, 0, PixelFormat.RGB8, 0));
        expect(ErrorCode.INVALID_ARGUMENT, () -> classifier.classifyPixels(rgb, 8, -8, 0, PixelFormat.RGB8, 0));
        expect(ErrorCode.INVALID_ARGUMENT, () -> classifier.classifyPixels(rgb, 8, 8, -24, PixelFormat.RGB8, 0));
        expect(ErrorCode.INVALID_ARGUMENT, () -> classifier.classifyPixels(rgb, 8, 8, 20, PixelFormat.RGB8, 0));
        expect(ErrorCode.INVALID_ARGUMENT, () -> classifier.classifyPixels(rgb, 7, 8, 0, PixelFormat.NV12, 0));
        expect(ErrorCode.IMAGE_SIZE, () -> classifier.classifyPixels(rgb, 0, 8, 0, PixelFormat.RGB8, 0));
        expect(ErrorCode.IMAGE_SIZE, () -> classifier.classifyPixels(rgb, 8, 0, 0, PixelFormat.RGB8, 90));
        // Null arrays and buffers.
        expect(ErrorCode.NULL_ARGUMENT, () -> classifier.classifyPixels((byte[]) null, 8, 8, 0, PixelFormat.RGB8, 0));
        expect(ErrorCode.NULL_ARGUMENT, () -> classifier.classifyPixels((ByteBuffer) null, 8, 8, 0, PixelFormat.RGB8, 0));
        expect(ErrorCode.NULL_ARGUMENT, () -> classifier.classifyPixels(rgb, 8, 8, 0, null, 0));
        expect(ErrorCode.NULL_ARGUMENT, () -> classifier.classifyPixels(window, 8, 8, 0, null, 0));
        // A read-only heap buffer has no accessible array and is not direct.
        IllegalArgumentException e = expectThrown(IllegalArgumentException.class,
                () -> classifier.classifyPixels(ByteBuffer.wrap(rgb).asReadOnlyBuffer(), 8, 8, 0,
                        PixelFormat.RGB8, 0));
        assertTrue(e.getMessage(), e.getMessage().contains("direct"));
        // A read-only direct buffer is fine: it is only read.
        ByteBuffer readOnly = ByteBuffer.allocateDirect(rgb.length).asReadOnlyBuffer();
        assertEquals(5, classifier.classifyPixels(readOnly, 8, 8, 0, PixelFormat.RGB8, 0).predictions().size());
        stillWorks();
    }

    @Test
    public void badBatches() {
        expect(ErrorCode.NULL_ARGUMENT, () -> classifier.classifyBatch(null));
        expect(ErrorCode.INVALID_ARGUMENT, () -> classifier.classifyBatch(new ArrayList<ResnextImage>()));
        expect(ErrorCode.NULL_ARGUMENT, () -> classifier.classifyBatch(
                Arrays.asList(ResnextImage.file(photo("chelsea")), null)));
        expect(ErrorCode.NULL_ARGUMENT, () -> classifier.classifyBatch(
                Arrays.asList(ResnextImage.file(null))));
        expect(ErrorCode.NULL_ARGUMENT, () -> classifier.classifyBatch(
                Arrays.asList(ResnextImage.encoded(null))));
        expect(ErrorCode.NULL_ARGUMENT, () -> classifier.classifyBatch(
                Arrays.asList(ResnextImage.pixels((byte[]) null, 8, 8, 0, PixelFormat.RGB8, 0))));
        expect(ErrorCode.NULL_ARGUMENT, () -> classifier.classifyBatch(
                Arrays.asList(ResnextImage.pixels((ByteBuffer) null, 8, 8, 0, PixelFormat.RGB8, 0))));
        expect(ErrorCode.NULL_ARGUMENT, () -> classifier.classifyBatch(
                Arrays.asList(ResnextImage.pixels(new byte[192], 8, 8, 0, null, 0))));
        String m = expect(ErrorCode.IMAGE_DECODE, () -> classifier.classifyBatch(Arrays.asList(
                ResnextImage.file(photo("chelsea")), ResnextImage.encoded(new byte[] {1, 2, 3}))));
        assertTrue(m, m.contains("image 1"));
        m = expect(ErrorCode.INVALID_ARGUMENT, () -> classifier.classifyBatch(Arrays.asList(
                ResnextImage.file(photo("chelsea")), ResnextImage.file(photo("coffee")),
                ResnextImage.pixels(new byte[192], 8, 8, 0, PixelFormat.RGB8, 45))));
        assertTrue(m, m.contains("rotation"));
        expect(ErrorCode.BUFFER_SIZE, () -> classifier.classifyBatch(Arrays.asList(
                ResnextImage.pixels(ByteBuffer.allocateDirect(10), 8, 8, 0, PixelFormat.RGB8, 0))));
        expectThrown(IllegalArgumentException.class, () -> classifier.classifyBatch(Arrays.asList(
                ResnextImage.pixels(ByteBuffer.allocate(192).asReadOnlyBuffer(), 8, 8, 0, PixelFormat.RGB8, 0))));
        stillWorks();
    }

    @Test
    public void panicsBecomeExceptionsAndTheJvmCarriesOn() {
        String m = expect(ErrorCode.PANIC, () -> Native.panicForTest("deliberate test panic"));
        assertTrue(m, m.contains("deliberate test panic"));
        expect(ErrorCode.PANIC, () -> Native.panicForTest(null));
        stillWorks();
    }

    // ---- lifecycle -----------------------------------------------------------------------

    @Test
    public void useAfterCloseAndDoubleClose() throws Exception {
        Classifier c = new Classifier(tiny().build());
        assertFalse(c.isClosed());
        assertEquals(reference.predictions(), c.classify(photo("chelsea")).predictions());
        c.close();
        assertTrue(c.isClosed());
        c.close();
        c.close();
        assertTrue(c.toString().contains("closed"));
        byte[] rgb = new byte[192];
        List<Call> calls = Arrays.<Call>asList(
                () -> c.classify(photo("chelsea")),
                () -> c.classify(new byte[] {1}),
                () -> c.classify((String) null),
                () -> c.classifyPixels(rgb, 8, 8, 0, PixelFormat.RGB8, 0),
                () -> c.classifyPixels(ByteBuffer.allocateDirect(192), 8, 8, 0, PixelFormat.RGB8, 0),
                () -> c.classifyBatch(Arrays.asList(ResnextImage.file(photo("chelsea")))),
                () -> c.info());
        for (Call call : calls) {
            IllegalStateException e = expectThrown(IllegalStateException.class, call);
            assertEquals("closed", e.getMessage());
        }
        // try-with-resources closing an already closed classifier is fine.
        Classifier d = new Classifier(tiny().build());
        try (Classifier same = d) {
            d.close();
            assertTrue(same.isClosed());
        }
    }

    @Test
    public void nativeHandlesAreCheckedToo() {
        IllegalStateException e = expectThrown(IllegalStateException.class,
                () -> Native.classifyPath(0, photo("chelsea")));
        assertEquals("closed", e.getMessage());
        expectThrown(IllegalStateException.class, () -> Native.classifierInfo(0));
        expectThrown(IllegalStateException.class,
                () -> Native.classifyBatch(0, new int[0], new Object[0], new int[0]));
        expectThrown(IllegalStateException.class, () -> Native.classifyPixels(0, new byte[3],
                null, 0, 3, 1, 1, 0, 0, 0));
        Native.classifierFree(0);
        // Inconsistent arguments the public API never passes.
        long h = classifierPointer();
        try {
            expectThrown(IllegalArgumentException.class, () -> Native.classifyPixels(h, new byte[3],
                    null, 2, 3, 1, 1, 0, 0, 0));
            expectThrown(IllegalArgumentException.class, () -> Native.classifyPixels(h, new byte[3],
                    ByteBuffer.allocateDirect(3), 0, 3, 1, 1, 0, 0, 0));
            expectThrown(IllegalArgumentException.class, () -> Native.classifyPixels(h, null,
                    ByteBuffer.allocate(3), 0, 3, 1, 1, 0, 0, 0));
            expectThrown(IllegalArgumentException.class, () -> Native.classifyBatch(h,
                    new int[] {0}, new Object[] {new byte[1]}, new int[18]));
            expectThrown(IllegalArgumentException.class, () -> Native.classifyBatch(h,
                    new int[] {0, 0}, new Object[] {"a"}, new int[36]));
            expect(ErrorCode.INVALID_ARGUMENT, () -> Native.classifyPixels(h, new byte[3], null, 0,
                    3, 1, 1, 0, 6, 0));
            expect(ErrorCode.INVALID_ARGUMENT, () -> Native.classifyBatch(h, new int[] {9},
                    new Object[] {"a"}, new int[18]));
            // A YUV 4:2:0 payload must be three planes.
            expectThrown(IllegalArgumentException.class, () -> Native.classifyBatch(h,
                    new int[] {4}, new Object[] {new ByteBuffer[2]}, new int[18]));
        } finally {
            handleGuard.release();
        }
        stillWorks();
    }

    private static NativeHandle handleGuard;

    /** Reads the shared classifier's native pointer (holding its read lock) via reflection. */
    private static long classifierPointer() {
        try {
            java.lang.reflect.Field f = Classifier.class.getDeclaredField("handle");
            f.setAccessible(true);
            handleGuard = (NativeHandle) f.get(classifier);
            return handleGuard.acquire();
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }
}
