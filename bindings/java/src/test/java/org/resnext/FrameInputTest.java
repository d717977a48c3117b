package org.resnext;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.resnext.TestSupport.tiny;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.Test;

/**
 * Planar YUV 4:2:0 frames ({@link ResnextImage#yuv420}) and regions of interest ({@link
 * ResnextImage#withRoi}): every layout of a frame gives the result of its NV21 buffer, and a
 * region gives the result of the cropped image. Results are compared score for score (all ten
 * classes of the tiny model, exact float equality), which only identical tensors give.
 */
public class FrameInputTest {
    private static final int W = 96;
    private static final int H = 80;
    private static final int CW = W / 2;
    private static final int CH = H / 2;
    private static Classifier classifier;
    private static byte[] y;
    private static byte[] u;
    private static byte[] v;
    private static byte[] nv21;

    @BeforeClass
    public static void load() {
        classifier = new Classifier(tiny().topK(10).build());
        Random random = new Random(19);
        y = new byte[W * H];
        u = new byte[CW * CH];
        v = new byte[CW * CH];
        random.nextBytes(y);
        random.nextBytes(u);
        random.nextBytes(v);
        nv21 = Arrays.copyOf(y, W * H + 2 * CW * CH);
        for (int i = 0; i < CW * CH; i++) {
            nv21[W * H + 2 * i] = v[i];
            nv21[W * H + 2 * i + 1] = u[i];
        }
    }

    @AfterClass
    public static void unload() {
        classifier.close();
    }

    /** A direct buffer holding {@code rows} rows of {@code width} bytes at {@code stride}. */
    private static ByteBuffer direct(byte[] plane, int width, int rows, int stride, int tail) {
        ByteBuffer buffer = ByteBuffer.allocateDirect(stride * (rows - 1) + width + tail);
        for (int r = 0; r < rows; r++) {
            buffer.position(r * stride);
            buffer.put(plane, r * width, width);
        }
        buffer.clear();
        return buffer;
    }

    private static List<Prediction> predictions(ResnextImage image) {
        return classifier.classify(image).predictions();
    }

    private static List<Prediction> nv21Predictions(int rotation) {
        return classifier.classifyPixels(nv21, W, H, 0, PixelFormat.NV21, rotation).predictions();
    }

    @Test
    public void planarFramesMatchNv21AndNv12() {
        for (int rotation : new int[] {0, 90}) {
            List<Prediction> expected = nv21Predictions(rotation);
            assertEquals(10, expected.size());
            byte[] nv12 = nv21.clone();
            for (int i = W * H; i < nv12.length; i += 2) {
                nv12[i] = nv21[i + 1];
                nv12[i + 1] = nv21[i];
            }
            assertEquals(expected, classifier.classifyPixels(nv12, W, H, 0, PixelFormat.NV12,
                    rotation).predictions());
            // Pixel stride 1: tight, then padded rows.
            ResnextImage tight = ResnextImage.yuv420(direct(y, W, H, W, 0), direct(u, CW, CH, CW, 0),
                    direct(v, CW, CH, CW, 0), W, CW, 1, W, H, rotation);
            assertEquals(expected, predictions(tight));
            ResnextImage padded = ResnextImage.yuv420(direct(y, W, H, W + 32, 0),
                    direct(u, CW, CH, CW + 16, 3), direct(v, CW, CH, CW + 16, 0), W + 32, CW + 16,
                    1, W, H, rotation);
            assertEquals(expected, predictions(padded));
            // Pixel stride 2, as CameraX gives NV21 memory: V at 0, U at 1 of one buffer, each
            // plane ending at its last sample, chroma rows padded.
            int stride = W + 16;
            ByteBuffer vu = direct(Arrays.copyOfRange(nv21, W * H, nv21.length), 2 * CW, CH, stride, 0);
            ByteBuffer vPlane = vu.duplicate();
            vPlane.limit(vu.capacity() - 1);
            ByteBuffer uPlane = vu.duplicate();
            uPlane.position(1);
            ResnextImage semi = ResnextImage.yuv420(direct(y, W, H, stride, 0), uPlane, vPlane,
                    stride, stride, 2, W, H, rotation);
            assertEquals(expected, predictions(semi));
        }
    }

    /** The rows and columns of a packed or planar buffer inside a rectangle, tight. */
    private static byte[] crop(byte[] data, int stride, int x, int y0, int width, int height) {
        byte[] out = new byte[width * height];
        for (int r = 0; r < height; r++) {
            System.arraycopy(data, (y0 + r) * stride + x, out, r * width, width);
        }
        return out;
    }

    @Test
    public void regionsMatchTheCroppedImage() {
        int x = 10;
        int top = 6;
        int w = 64;
        int h = 70;
        // RGB and BGR pixels.
        byte[] rgb = new byte[W * H * 3];
        new Random(5).nextBytes(rgb);
        for (PixelFormat format : new PixelFormat[] {PixelFormat.RGB8, PixelFormat.BGR8}) {
            byte[] cropped = crop(rgb, W * 3, x * 3, top, w * 3, h);
            List<Prediction> expected = classifier.classifyPixels(cropped, w, h, 0, format, 270)
                    .predictions();
            assertEquals(expected, predictions(
                    ResnextImage.pixels(rgb, W, H, 0, format, 270).withRoi(x, top, w, h)));
            ByteBuffer buffer = ByteBuffer.allocateDirect(rgb.length);
            buffer.put(rgb).clear();
            assertEquals(expected, predictions(
                    ResnextImage.pixels(buffer, W, H, 0, format, 270).withRoi(x, top, w, h)));
        }
        // NV21 and planar YUV: the cropped frame's planes.
        byte[] cy = crop(y, W, x, top, w, h);
        byte[] cu = crop(u, CW, x / 2, top / 2, w / 2, h / 2);
        byte[] cv = crop(v, CW, x / 2, top / 2, w / 2, h / 2);
        byte[] croppedNv21 = Arrays.copyOf(cy, w * h + w * h / 2);
        for (int i = 0; i < cu.length; i++) {
            croppedNv21[w * h + 2 * i] = cv[i];
            croppedNv21[w * h + 2 * i + 1] = cu[i];
        }
        List<Prediction> expected = classifier.classifyPixels(croppedNv21, w, h, 0,
                PixelFormat.NV21, 90).predictions();
        assertEquals(expected, predictions(ResnextImage.yuv420(direct(cy, w, h, w, 0),
                direct(cu, w / 2, h / 2, w / 2, 0), direct(cv, w / 2, h / 2, w / 2, 0), w, w / 2,
                1, w, h, 90)));
        assertEquals(expected, predictions(
                ResnextImage.pixels(nv21, W, H, 0, PixelFormat.NV21, 90).withRoi(x, top, w, h)));
        ResnextImage frame = ResnextImage.yuv420(direct(y, W, H, W, 0), direct(u, CW, CH, CW, 0),
                direct(v, CW, CH, CW, 0), W, CW, 1, W, H, 90);
        assertEquals(expected, predictions(frame.withRoi(x, top, w, h)));
        // In a batch, and without a region: the whole frame.
        List<Classification> batch = classifier.classifyBatch(
                Arrays.asList(frame.withRoi(x, top, w, h), frame));
        assertEquals(expected, batch.get(0).predictions());
        assertEquals(nv21Predictions(90), batch.get(1).predictions());
    }

    @Test
    public void badFramesAndRegionsAreRefused() {
        ByteBuffer dy = direct(y, W, H, W, 0);
        ByteBuffer du = direct(u, CW, CH, CW, 0);
        ByteBuffer dv = direct(v, CW, CH, CW, 0);
        String message = ErrorPathsTest.expect(ErrorCode.INVALID_ARGUMENT,
                () -> classifier.classify(ResnextImage.yuv420(dy, du, dv, W, CW, 3, W, H, 0)));
        assertTrue(message, message.contains("pixel stride"));
        ErrorPathsTest.expect(ErrorCode.INVALID_ARGUMENT,
                () -> classifier.classify(ResnextImage.yuv420(dy, du, dv, W - 1, CW, 1, W, H, 0)));
        ErrorPathsTest.expect(ErrorCode.INVALID_ARGUMENT,
                () -> classifier.classify(ResnextImage.yuv420(dy, du, dv, W, CW, 1, W, H, 45)));
        ByteBuffer shortU = du.duplicate();
        shortU.limit(du.capacity() - 1);
        message = ErrorPathsTest.expect(ErrorCode.BUFFER_SIZE,
                () -> classifier.classify(ResnextImage.yuv420(dy, shortU, dv, W, CW, 1, W, H, 0)));
        assertTrue(message, message.contains("U plane"));
        ErrorPathsTest.expect(ErrorCode.BUFFER_SIZE,
                () -> classifier.classify(ResnextImage.yuv420(dy, du, dv, W, W, 2, W, H, 0)));
        ErrorPathsTest.expect(ErrorCode.NULL_ARGUMENT,
                () -> classifier.classify(ResnextImage.yuv420(dy, du, null, W, CW, 1, W, H, 0)));
        IllegalArgumentException heap = ErrorPathsTest.expectThrown(IllegalArgumentException.class,
                () -> classifier.classify(ResnextImage.yuv420(ByteBuffer.wrap(y), du, dv, W, CW, 1,
                        W, H, 0)));
        assertTrue(heap.getMessage(), heap.getMessage().contains("direct"));
        ResnextImage frame = ResnextImage.yuv420(dy, du, dv, W, CW, 1, W, H, 0);
        message = ErrorPathsTest.expect(ErrorCode.INVALID_ARGUMENT,
                () -> classifier.classify(frame.withRoi(1, 0, 8, 8)));
        assertTrue(message, message.contains("even"));
        ErrorPathsTest.expect(ErrorCode.INVALID_ARGUMENT,
                () -> classifier.classify(frame.withRoi(0, 0, 0, 8)));
        ErrorPathsTest.expect(ErrorCode.INVALID_ARGUMENT,
                () -> classifier.classify(frame.withRoi(90, 0, 8, 8)));
        ErrorPathsTest.expect(ErrorCode.INVALID_ARGUMENT,
                () -> classifier.classify(frame.withRoi(-2, 0, 8, 8)));
        ErrorPathsTest.expect(ErrorCode.INVALID_ARGUMENT, () -> classifier.classify(
                ResnextImage.encoded(TestSupport.read("preprocess/chelsea.png"))
                        .withRoi(0, 0, 100000, 8)));
        // The classifier is unharmed.
        assertEquals(nv21Predictions(0), predictions(frame));
    }
}
