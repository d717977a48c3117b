package org.resnext;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;

/** Fixtures, the CLI as the Rust reference, a small JSON reader and pixel helpers. */
final class TestSupport {
    private TestSupport() {
    }

    /**
     * Whether {@code RESNEXT_REQUIRE_CPU_KERNELS=1} (CI) makes the kernel family of the CPU flag
     * {@code flag} ({@code avx512_vnni}, {@code amx_int8}, {@code amx_bf16}) mandatory: it does
     * where Linux lists the flag in /proc/cpuinfo, so a build or a detection that lost a family
     * fails there, and a CPU without the instructions skips it.
     */
    static boolean cpuKernelRequired(String flag) {
        if (!"1".equals(System.getenv("RESNEXT_REQUIRE_CPU_KERNELS"))) {
            return false;
        }
        try {
            for (String line : Files.readAllLines(new File("/proc/cpuinfo").toPath())) {
                if (line.startsWith("flags")
                        && Arrays.asList(line.split("\\s+")).contains(flag)) {
                    return true;
                }
            }
        } catch (IOException e) {
            return false;
        }
        return false;
    }

    /** The repository root: {@code -Dresnext.root}, else the working directory. */
    static final File ROOT = new File(System.getProperty("resnext.root", ".")).getAbsoluteFile();
    /** The CLI built from the same sources: {@code -Dresnext.cli}. */
    static final File CLI = new File(System.getProperty("resnext.cli",
            new File(ROOT, "target/release/resnext").getPath()));

    static final String R50 = "models/r50_torch.onnx";
    static final String TINY = "models/tiny_torch.onnx";
    static final String[] PHOTOS = {"chelsea", "coffee", "astronaut"};

    /** The generated test data: {@code -Dresnext.testdata}, else {@code <root>/testdata}. */
    static final File TESTDATA = new File(System.getProperty("resnext.testdata",
            new File(ROOT, "testdata").getPath())).getAbsoluteFile();

    static File testdata(String relative) {
        return new File(TESTDATA, relative);
    }

    static String path(String relative) {
        return testdata(relative).getPath();
    }

    static String photo(String name) {
        return path("preprocess/" + name + ".png");
    }

    static byte[] read(String relative) {
        try {
            return Files.readAllBytes(testdata(relative).toPath());
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    /** Options for the tiny model: 64 px, 10 classes, ImageNet's first ten labels. */
    static ClassifierOptions.Builder tiny() {
        return ClassifierOptions.builder().modelPath(path(TINY)).resizeShort(73).crop(64)
                .allowLabelMismatch(true);
    }

    /** The CLI flags matching {@link #tiny()}. */
    static final String[] TINY_FLAGS = {"--resize-short", "73", "--crop", "64",
        "--allow-label-mismatch"};

    static ClassifierOptions.Builder r50() {
        return ClassifierOptions.builder().modelPath(path(R50)).preset(Preset.WSL_224);
    }

    // ---- the CLI -------------------------------------------------------------------------

    /**
     * Runs {@code resnext classify --model M --json [flags] images...} and returns each image's
     * predictions.
     */
    static List<List<Prediction>> cliClassify(String model, String[] flags, String... images) {
        List<String> command = new ArrayList<String>();
        command.addAll(Arrays.asList(CLI.getPath(), "classify", "--model", path(model), "--json"));
        command.addAll(Arrays.asList(flags));
        command.addAll(Arrays.asList(images));
        List<List<Prediction>> out = new ArrayList<List<Prediction>>();
        for (String line : run(command).split("\n")) {
            if (line.trim().isEmpty()) {
                continue;
            }
            out.add(predictions(asMap(Json.parse(line)).get("predictions")));
        }
        assertEquals("one JSON line per image: " + command, images.length, out.size());
        return out;
    }

    /** {@code resnext info --model M --json}. */
    static Map<String, Object> cliInfo(String model) {
        return asMap(Json.parse(run(Arrays.asList(CLI.getPath(), "info", "--model", path(model),
                "--json")).trim()));
    }

    private static String run(List<String> command) {
        assertTrue("the CLI is built: " + CLI, CLI.canExecute());
        try {
            ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(false);
            builder.redirectError(ProcessBuilder.Redirect.INHERIT);
            Process process = builder.start();
            byte[] stdout = readAll(process.getInputStream());
            if (!process.waitFor(300, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                fail("the CLI timed out: " + command);
            }
            assertEquals("exit status of " + command, 0, process.exitValue());
            return new String(stdout, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new AssertionError(e);
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    private static byte[] readAll(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buffer = new byte[65536];
        int n;
        while ((n = in.read(buffer)) > 0) {
            out.write(buffer, 0, n);
        }
        return out.toByteArray();
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> asMap(Object value) {
        return (Map<String, Object>) value;
    }

    @SuppressWarnings("unchecked")
    private static List<Prediction> predictions(Object value) {
        List<Prediction> out = new ArrayList<Prediction>();
        for (Object item : (List<Object>) value) {
            Map<String, Object> p = asMap(item);
            int classId = Integer.parseInt(((Json.Number) p.get("class_id")).text);
            // serde_json prints the f32 score widened to f64 exactly: narrowing is exact.
            float score = (float) Double.parseDouble(((Json.Number) p.get("score")).text);
            out.add(new Prediction(classId, (String) p.get("label"), score));
        }
        return out;
    }

    /** Asserts class ids, labels and scores (bit for bit) are the same. */
    static void assertSamePredictions(String what, List<Prediction> expected, Classification actual) {
        assertNotNull(what, actual);
        assertEquals(what, expected, actual.predictions());
        Timings t = actual.timings();
        assertTrue(what + ": timings " + t, t.decodeMs() >= 0 && t.preprocessMs() >= 0
                && t.inferenceMs() > 0 && t.postprocessMs() >= 0);
    }

    // ---- pixels --------------------------------------------------------------------------

    /** A raw fixture: {@code preprocess/<name>.<format>.bin} with its dimensions. */
    static final class Raw {
        final String name;
        final PixelFormat format;
        final byte[] data;
        final int width;
        final int height;
        final int stride;

        Raw(String name, PixelFormat format) {
            this.name = name;
            this.format = format;
            this.data = read("preprocess/" + name + "." + format.name().toLowerCase() + ".bin");
            this.width = name.equals("chelsea") ? 450 : 600;
            this.height = name.equals("chelsea") ? 300 : 400;
            int bpp = format.bytesPerPixel();
            this.stride = bpp == 0 ? width : width * bpp + 12;
            assertEquals(name + " " + format, format.requiredLength(width, height, stride)
                    + (bpp == 0 ? 0 : stride - width * bpp), data.length);
        }

        /** The upright RGB8 image (tightly packed) the native library converts this to. */
        byte[] toRgb() {
            return format.bytesPerPixel() == 0 ? yuvToRgb(data, width, height, stride,
                    format == PixelFormat.NV21) : packedToRgb(data, width, height, stride, format);
        }
    }

    static byte[] packedToRgb(byte[] data, int w, int h, int stride, PixelFormat format) {
        int bpp = format.bytesPerPixel();
        boolean bgr = format == PixelFormat.BGR8 || format == PixelFormat.BGRA8;
        byte[] out = new byte[w * h * 3];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int s = y * stride + x * bpp;
                int d = (y * w + x) * 3;
                out[d] = data[s + (bgr ? 2 : 0)];
                out[d + 1] = data[s + 1];
                out[d + 2] = data[s + (bgr ? 0 : 2)];
            }
        }
        return out;
    }

    /** NV21/NV12 to RGB with the native library's fixed-point BT.601 limited-range constants. */
    static byte[] yuvToRgb(byte[] data, int w, int h, int stride, boolean nv21) {
        final int shift = 20;
        final int cy = 1220542;
        final int cub = 2116026;
        final int cug = -409993;
        final int cvg = -852492;
        final int cvr = 1673527;
        final int half = 1 << (shift - 1);
        byte[] out = new byte[w * h * 3];
        int chroma = stride * h;
        for (int row = 0; row < h; row++) {
            for (int col = 0; col < w; col++) {
                int y = data[row * stride + col] & 0xff;
                int pair = chroma + (row / 2) * stride + (col / 2) * 2;
                int first = data[pair] & 0xff;
                int second = data[pair + 1] & 0xff;
                int u = (nv21 ? second : first) - 128;
                int v = (nv21 ? first : second) - 128;
                int yy = Math.max(y - 16, 0) * cy;
                int d = (row * w + col) * 3;
                out[d] = clamp((yy + half + cvr * v) >> shift);
                out[d + 1] = clamp((yy + half + cvg * v + cug * u) >> shift);
                out[d + 2] = clamp((yy + half + cub * u) >> shift);
            }
        }
        return out;
    }

    private static byte clamp(int x) {
        return (byte) Math.max(0, Math.min(255, x));
    }

    /** Rotates a tight RGB8 image clockwise by 90, 180 or 270 degrees; returns {w', h', data}. */
    static Object[] rotate(byte[] rgb, int w, int h, int degrees) {
        int nw = degrees == 180 ? w : h;
        int nh = degrees == 180 ? h : w;
        byte[] out = new byte[rgb.length];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int nx;
                int ny;
                if (degrees == 90) {
                    nx = h - 1 - y;
                    ny = x;
                } else if (degrees == 180) {
                    nx = w - 1 - x;
                    ny = h - 1 - y;
                } else {
                    nx = y;
                    ny = w - 1 - x;
                }
                System.arraycopy(rgb, (y * w + x) * 3, out, (ny * nw + nx) * 3, 3);
            }
        }
        return new Object[] {nw, nh, out};
    }

    /** Writes a tight RGB8 image as a (lossless) PNG. */
    static File writePng(File dir, String name, byte[] rgb, int w, int h) {
        BufferedImage image = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int i = (y * w + x) * 3;
                image.setRGB(x, y, (rgb[i] & 0xff) << 16 | (rgb[i + 1] & 0xff) << 8 | (rgb[i + 2] & 0xff));
            }
        }
        File file = new File(dir, name + ".png");
        try {
            assertTrue(ImageIO.write(image, "png", file));
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        return file;
    }

    // ---- /proc ---------------------------------------------------------------------------

    /** Resident memory of this process in kB ({@code VmRSS} of {@code /proc/self/status}). */
    static long rssKb() {
        try {
            for (String line : Files.readAllLines(new File("/proc/self/status").toPath(),
                    StandardCharsets.UTF_8)) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        throw new AssertionError("no VmRSS in /proc/self/status");
    }

    // ---- JSON ----------------------------------------------------------------------------

    /** A minimal JSON reader for the CLI's output (objects, arrays, strings, numbers, literals). */
    static final class Json {
        /** A number, kept as its text so that nothing is lost before the caller converts it. */
        static final class Number {
            final String text;

            Number(String text) {
                this.text = text;
            }

            double toDouble() {
                return Double.parseDouble(text);
            }
        }

        private final String s;
        private int i;

        private Json(String s) {
            this.s = s;
        }

        static Object parse(String text) {
            Json json = new Json(text);
            Object value = json.value();
            json.space();
            if (json.i != text.length()) {
                throw new IllegalArgumentException("trailing text at " + json.i + ": " + text);
            }
            return value;
        }

        private void space() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
        }

        private Object value() {
            space();
            char c = s.charAt(i);
            if (c == '{') {
                Map<String, Object> map = new LinkedHashMap<String, Object>();
                i++;
                space();
                if (s.charAt(i) == '}') {
                    i++;
                    return map;
                }
                while (true) {
                    space();
                    String key = string();
                    space();
                    expect(':');
                    map.put(key, value());
                    space();
                    if (s.charAt(i) == ',') {
                        i++;
                    } else {
                        expect('}');
                        return map;
                    }
                }
            }
            if (c == '[') {
                List<Object> list = new ArrayList<Object>();
                i++;
                space();
                if (s.charAt(i) == ']') {
                    i++;
                    return list;
                }
                while (true) {
                    list.add(value());
                    space();
                    if (s.charAt(i) == ',') {
                        i++;
                    } else {
                        expect(']');
                        return list;
                    }
                }
            }
            if (c == '"') {
                return string();
            }
            if (s.startsWith("true", i)) {
                i += 4;
                return Boolean.TRUE;
            }
            if (s.startsWith("false", i)) {
                i += 5;
                return Boolean.FALSE;
            }
            if (s.startsWith("null", i)) {
                i += 4;
                return null;
            }
            int start = i;
            while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) {
                i++;
            }
            if (start == i) {
                throw new IllegalArgumentException("unexpected '" + c + "' at " + i);
            }
            return new Number(s.substring(start, i));
        }

        private void expect(char c) {
            if (s.charAt(i) != c) {
                throw new IllegalArgumentException("expected '" + c + "' at " + i + ": " + s);
            }
            i++;
        }

        private String string() {
            expect('"');
            StringBuilder out = new StringBuilder();
            while (true) {
                char c = s.charAt(i++);
                if (c == '"') {
                    return out.toString();
                }
                if (c != '\\') {
                    out.append(c);
                    continue;
                }
                char e = s.charAt(i++);
                switch (e) {
                    case 'n': out.append('\n'); break;
                    case 't': out.append('\t'); break;
                    case 'r': out.append('\r'); break;
                    case 'b': out.append('\b'); break;
                    case 'f': out.append('\f'); break;
                    case 'u':
                        out.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                        i += 4;
                        break;
                    default: out.append(e);
                }
            }
        }
    }
}
