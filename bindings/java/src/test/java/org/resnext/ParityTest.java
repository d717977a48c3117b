package org.resnext;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.resnext.TestSupport.PHOTOS;
import static org.resnext.TestSupport.R50;
import static org.resnext.TestSupport.TINY;
import static org.resnext.TestSupport.TINY_FLAGS;
import static org.resnext.TestSupport.assertSamePredictions;
import static org.resnext.TestSupport.cliClassify;
import static org.resnext.TestSupport.photo;

import java.io.File;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * The Java API gives the same predictions, bit for bit, as the Rust API (through the CLI) for
 * the same inputs: files, encoded bytes, every raw pixel format through {@code byte[]}, direct
 * and heap {@code ByteBuffer}s, every rotation, and batches.
 */
public class ParityTest {
    private static final String[] NO_FLAGS = {};

    @Rule
    public TemporaryFolder temp = new TemporaryFolder();

    private static Classifier r50;
    private static Classifier tiny;

    @BeforeClass
    public static void load() {
        r50 = new Classifier(TestSupport.r50().build());
        tiny = new Classifier(TestSupport.tiny().build());
    }

    @AfterClass
    public static void unload() {
        if (r50 != null) {
            r50.close();
        }
        if (tiny != null) {
            tiny.close();
        }
    }

    private static String[] photoPaths() {
        String[] paths = new String[PHOTOS.length];
        for (int i = 0; i < PHOTOS.length; i++) {
            paths[i] = photo(PHOTOS[i]);
        }
        return paths;
    }

    @Test
    public void r50FilesAndBytesMatchTheRustApi() throws Exception {
        List<List<Prediction>> expected = cliClassify(R50, NO_FLAGS, photoPaths());
        for (int i = 0; i < PHOTOS.length; i++) {
            String p = photo(PHOTOS[i]);
            assertSamePredictions(p, expected.get(i), r50.classify(p));
            assertSamePredictions(p + " bytes", expected.get(i),
                    r50.classify(Files.readAllBytes(new File(p).toPath())));
        }
        // The real-photograph sanity check the CLI shows too: ImageNet labels are attached.
        assertEquals(5, expected.get(0).size());
        assertTrue(r50.classify(photo("chelsea")).top().label().length() > 0);
    }

    @Test
    public void tinyFilesMatchTheRustApi() {
        List<List<Prediction>> expected = cliClassify(TINY, TINY_FLAGS, photoPaths());
        for (int i = 0; i < PHOTOS.length; i++) {
            assertSamePredictions(PHOTOS[i], expected.get(i), tiny.classify(photo(PHOTOS[i])));
        }
    }

    /**
     * Every raw fixture (RGB8, BGR8, RGBA8, BGRA8 with padded rows; NV21, NV12) at every
     * rotation, through byte[], a direct ByteBuffer and a heap ByteBuffer slice, against the CLI
     * on a PNG of the same RGB pixels (rotated in Java, converted from YUV with the same
     * fixed-point formula).
     */
    @Test
    public void tinyPixelsMatchTheRustApiForEveryFormatAndRotation() throws Exception {
        File dir = temp.newFolder();
        List<String> pngs = new ArrayList<String>();
        List<Object[]> cases = new ArrayList<Object[]>();
        int[] rotations = {0, 90, 180, 270};
        for (String name : new String[] {"chelsea", "coffee"}) {
            for (PixelFormat format : PixelFormat.values()) {
                TestSupport.Raw raw = new TestSupport.Raw(name, format);
                byte[] rgb = raw.toRgb();
                for (int rotation : rotations) {
                    Object[] turned = rotation == 0 ? new Object[] {raw.width, raw.height, rgb}
                            : TestSupport.rotate(rgb, raw.width, raw.height, rotation);
                    String tag = name + "_" + format + "_r" + rotation;
                    pngs.add(TestSupport.writePng(dir, tag, (byte[]) turned[2],
                            (Integer) turned[0], (Integer) turned[1]).getPath());
                    cases.add(new Object[] {tag, raw, rotation});
                }
            }
        }
        List<List<Prediction>> expected = cliClassify(TINY, TINY_FLAGS, pngs.toArray(new String[0]));
        for (int i = 0; i < cases.size(); i++) {
            String tag = (String) cases.get(i)[0];
            TestSupport.Raw raw = (TestSupport.Raw) cases.get(i)[1];
            int rotation = (Integer) cases.get(i)[2];
            List<Prediction> want = expected.get(i);
            assertSamePredictions(tag + " byte[]", want, tiny.classifyPixels(raw.data, raw.width,
                    raw.height, raw.stride, raw.format, rotation));
            ByteBuffer direct = ByteBuffer.allocateDirect(raw.data.length + 7);
            direct.position(7);
            direct.put(raw.data);
            direct.position(7);
            assertSamePredictions(tag + " direct", want, tiny.classifyPixels(direct, raw.width,
                    raw.height, raw.stride, raw.format, rotation));
            assertEquals("position unchanged", 7, direct.position());
            byte[] padded = new byte[raw.data.length + 5];
            System.arraycopy(raw.data, 0, padded, 3, raw.data.length);
            ByteBuffer heap = ByteBuffer.wrap(padded, 1, padded.length - 1).slice();
            heap.position(2);
            heap.limit(2 + raw.data.length);
            assertSamePredictions(tag + " heap", want, tiny.classifyPixels(heap, raw.width,
                    raw.height, raw.stride, raw.format, rotation));
        }
    }

    /** r50 on camera-like frames: NV21 rotated 90 and BGRA8, against the CLI. */
    @Test
    public void r50PixelsMatchTheRustApi() throws Exception {
        File dir = temp.newFolder();
        TestSupport.Raw nv21 = new TestSupport.Raw("chelsea", PixelFormat.NV21);
        Object[] turned = TestSupport.rotate(nv21.toRgb(), nv21.width, nv21.height, 90);
        TestSupport.Raw bgra = new TestSupport.Raw("coffee", PixelFormat.BGRA8);
        List<List<Prediction>> expected = cliClassify(R50, NO_FLAGS,
                TestSupport.writePng(dir, "nv21_r90", (byte[]) turned[2], (Integer) turned[0],
                        (Integer) turned[1]).getPath(),
                TestSupport.writePng(dir, "bgra", bgra.toRgb(), bgra.width, bgra.height).getPath());
        ByteBuffer frame = ByteBuffer.allocateDirect(nv21.data.length);
        frame.put(nv21.data).flip();
        assertSamePredictions("nv21 r90", expected.get(0), r50.classifyPixels(frame, nv21.width,
                nv21.height, nv21.stride, PixelFormat.NV21, 90));
        assertSamePredictions("bgra8", expected.get(1), r50.classifyPixels(bgra.data, bgra.width,
                bgra.height, bgra.stride, PixelFormat.BGRA8, 0));
    }

    /** One batched run of mixed inputs equals the CLI's batched run of the same images. */
    @Test
    public void batchesMatchTheRustApi() throws Exception {
        File dir = temp.newFolder();
        TestSupport.Raw rgb = new TestSupport.Raw("chelsea", PixelFormat.RGB8);
        TestSupport.Raw nv21 = new TestSupport.Raw("coffee", PixelFormat.NV21);
        Object[] turned = TestSupport.rotate(nv21.toRgb(), nv21.width, nv21.height, 270);
        String[] files = {photo("chelsea"), photo("coffee"),
            TestSupport.writePng(dir, "rgb", rgb.toRgb(), rgb.width, rgb.height).getPath(),
            TestSupport.writePng(dir, "nv21", (byte[]) turned[2], (Integer) turned[0],
                    (Integer) turned[1]).getPath(),
            photo("astronaut")};
        ByteBuffer frame = ByteBuffer.allocateDirect(nv21.data.length);
        frame.put(nv21.data).flip();
        List<ResnextImage> images = Arrays.asList(
                ResnextImage.file(photo("chelsea")),
                ResnextImage.encoded(Files.readAllBytes(new File(photo("coffee")).toPath())),
                ResnextImage.pixels(rgb.data, rgb.width, rgb.height, rgb.stride, PixelFormat.RGB8, 0),
                ResnextImage.pixels(frame, nv21.width, nv21.height, nv21.stride, PixelFormat.NV21, 270),
                ResnextImage.file(photo("astronaut")));
        for (Classifier classifier : new Classifier[] {tiny, r50}) {
            boolean isTiny = classifier == tiny;
            String[] flags = isTiny ? concat(TINY_FLAGS, "--batch") : new String[] {"--batch"};
            List<List<Prediction>> expected = cliClassify(isTiny ? TINY : R50, flags, files);
            List<Classification> results = classifier.classifyBatch(images);
            assertEquals(files.length, results.size());
            for (int i = 0; i < files.length; i++) {
                assertSamePredictions((isTiny ? "tiny" : "r50") + " batch " + i, expected.get(i),
                        results.get(i));
            }
            // One batched run: every image reports the same inference time.
            assertEquals(results.get(0).timings().inferenceMs(),
                    results.get(files.length - 1).timings().inferenceMs(), 0.0);
        }
    }

    @Test
    public void optionsMatchTheRustApi() throws Exception {
        File labels = temp.newFile("labels.txt");
        StringBuilder text = new StringBuilder();
        List<String> names = new ArrayList<String>();
        for (int i = 0; i < 10; i++) {
            text.append(i).append(" class number ").append(i).append('\n');
            names.add("class number " + i);
        }
        Files.write(labels.toPath(), text.toString().getBytes(StandardCharsets.UTF_8));
        List<List<Prediction>> expected = cliClassify(TINY, new String[] {"--resize-short", "80",
            "--crop", "64", "--mean", "0.5,0.5,0.5", "--std", "0.25,0.5,0.75", "--top-k", "3",
            "--threads", "1", "--labels", labels.getPath()}, photo("coffee"));
        ClassifierOptions.Builder builder = ClassifierOptions.builder()
                .modelPath(TestSupport.path(TINY)).resizeShort(80).crop(64).mean(0.5f, 0.5f, 0.5f)
                .std(0.25f, 0.5f, 0.75f).topK(3).threads(1);
        try (Classifier c = new Classifier(builder.labelsFile(labels.getPath()).build())) {
            assertEquals(3, c.info().topK());
            assertEquals(1, c.info().threads());
            assertSamePredictions("labels file", expected.get(0), c.classify(photo("coffee")));
        }
        byte[] model = TestSupport.read(TINY);
        try (Classifier c = new Classifier(builder.modelBytes(model).labels(names).build())) {
            assertSamePredictions("bytes + label list", expected.get(0), c.classify(photo("coffee")));
        }
        try (Classifier c = new Classifier(builder.noLabels().build())) {
            Classification r = c.classify(photo("coffee"));
            assertEquals(expected.get(0).get(0).classId(), r.top().classId());
            assertEquals(expected.get(0).get(0).score(), r.top().score(), 0f);
            assertEquals("", r.top().label());
        }
        // top-k is clamped to the class count.
        try (Classifier c = new Classifier(TestSupport.tiny().topK(50).build())) {
            assertEquals(10, c.classify(photo("coffee")).predictions().size());
        }
    }

    @Test
    public void infoMatchesTheRustApi() {
        for (Object[] pair : new Object[][] {{R50, r50}, {TINY, tiny}}) {
            Map<String, Object> want = TestSupport.cliInfo((String) pair[0]);
            ModelInfo info = ((Classifier) pair[1]).info();
            assertEquals(Long.parseLong(((TestSupport.Json.Number) want.get("classes")).text),
                    info.classes());
            assertEquals(Long.parseLong(((TestSupport.Json.Number) want.get("parameters")).text),
                    info.parameters());
            assertEquals(Long.parseLong(((TestSupport.Json.Number) want.get("model_bytes")).text),
                    info.modelBytes());
            assertEquals(Long.parseLong(((TestSupport.Json.Number) want.get("height")).text),
                    info.height());
            assertEquals(want.get("precision"), info.precision());
            assertEquals(want.get("output_kind"), info.outputKind());
            assertEquals(want.get("backend"), info.backend());
            assertEquals(want.get("producer"), info.producer());
            assertEquals(4, info.inputShape().size());
            assertEquals(2, info.outputShape().size());
            assertEquals("float32", info.inputDtype());
        }
        assertEquals(1000, r50.info().classes());
        assertEquals(224, r50.info().width());
        assertEquals(10, tiny.info().classes());
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
