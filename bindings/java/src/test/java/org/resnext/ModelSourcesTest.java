package org.resnext;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.resnext.ErrorPathsTest.expect;
import static org.resnext.TestSupport.photo;
import static org.resnext.TestSupport.tiny;

import java.io.File;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.util.List;
import org.junit.BeforeClass;
import org.junit.ClassRule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * Models from where apps keep them (a file descriptor range, as an uncompressed asset's
 * AssetFileDescriptor gives it; a direct or mapped ByteBuffer) give the same results as the
 * model's path; bad ranges are refused. Also the score threshold and label lookup by class id.
 */
public class ModelSourcesTest {
    @ClassRule
    public static TemporaryFolder temp = new TemporaryFolder();

    /** Bytes in front of the model in the packed file (an APK holds other entries there). */
    private static final int HEAD = 100;

    private static byte[] model;
    private static File packed;
    private static List<Prediction> byPath;

    @BeforeClass
    public static void setUp() throws Exception {
        model = TestSupport.read(TestSupport.TINY);
        packed = temp.newFile("packed.bin");
        try (FileOutputStream out = new FileOutputStream(packed)) {
            out.write(new byte[HEAD]);
            out.write(model);
        }
        try (Classifier c = new Classifier(tiny().build())) {
            byPath = c.classify(photo("chelsea")).predictions();
        }
    }

    private static List<Prediction> classify(ClassifierOptions.Builder options) {
        try (Classifier c = new Classifier(options.build())) {
            return c.classify(photo("chelsea")).predictions();
        }
    }

    @Test
    public void fileDescriptorRangeEqualsPath() throws Exception {
        try (FileInputStream in = new FileInputStream(packed)) {
            FileDescriptor fd = in.getFD();
            assertEquals(byPath, classify(tiny().modelFileDescriptor(fd, HEAD, model.length)));
            // pread: the stream's position is unchanged, and the descriptor is still open.
            assertEquals(0L, in.getChannel().position());
            assertTrue(fd.valid());
            assertEquals(0, in.read());
        }
    }

    @Test
    public void badDescriptorsAndRangesAreRefused() throws Exception {
        try (FileInputStream in = new FileInputStream(packed)) {
            FileDescriptor fd = in.getFD();
            long n = model.length;
            expect(ErrorCode.INVALID_ARGUMENT, () -> classify(tiny().modelFileDescriptor(fd, HEAD, n + 1)));
            expect(ErrorCode.INVALID_ARGUMENT, () -> classify(tiny().modelFileDescriptor(fd, -1, n)));
            expect(ErrorCode.INVALID_ARGUMENT, () -> classify(tiny().modelFileDescriptor(fd, HEAD, -1)));
            expect(ErrorCode.INVALID_ARGUMENT, () -> classify(tiny().modelFileDescriptor(fd, HEAD, 0)));
            expect(ErrorCode.INVALID_ARGUMENT, () -> classify(tiny().modelFileDescriptor(-1, 0, n)));
            expect(ErrorCode.LIMIT_EXCEEDED,
                    () -> classify(tiny().modelFileDescriptor(fd, HEAD, n).maxModelBytes(n - 1)));
            // One byte of the header in front: not an ONNX model.
            expect(ErrorCode.MODEL_DECODE, () -> classify(tiny().modelFileDescriptor(fd, HEAD - 1, n)));
            expect(ErrorCode.NULL_ARGUMENT, () -> classify(tiny().modelFileDescriptor(null, 0, n)));
        }
        // A closed descriptor.
        FileInputStream closed = new FileInputStream(packed);
        FileDescriptor fd = closed.getFD();
        closed.close();
        expect(ErrorCode.INVALID_ARGUMENT, () -> classify(tiny().modelFileDescriptor(fd, HEAD, model.length)));
    }

    @Test
    public void buffersEqualPath() throws Exception {
        ByteBuffer direct = ByteBuffer.allocateDirect(model.length + 7);
        direct.put(new byte[7]).put(model);
        direct.position(7);
        assertEquals(byPath, classify(tiny().modelBuffer(direct)));
        assertEquals(7, direct.position());  // the caller's buffer is not moved
        ByteBuffer heap = ByteBuffer.wrap(model);
        assertEquals(byPath, classify(tiny().modelBuffer(heap)));
        try (RandomAccessFile file = new RandomAccessFile(packed, "r")) {
            MappedByteBuffer mapped =
                    file.getChannel().map(FileChannel.MapMode.READ_ONLY, HEAD, model.length);
            assertEquals(byPath, classify(tiny().modelBuffer(mapped)));
        }
        expect(ErrorCode.NULL_ARGUMENT, () -> classify(tiny().modelBuffer(null)));
        expect(ErrorCode.LIMIT_EXCEEDED,
                () -> classify(tiny().modelBuffer(direct).maxModelBytes(model.length - 1)));
        ByteBuffer empty = ByteBuffer.allocateDirect(4);
        empty.position(4);
        expect(ErrorCode.MODEL_DECODE, () -> classify(tiny().modelBuffer(empty)));
    }

    @Test
    public void scoreThresholdDropsPredictions() {
        assertEquals(5, byPath.size());
        float cut = (byPath.get(1).score() + byPath.get(2).score()) / 2;
        assertTrue(byPath.get(1).score() > byPath.get(2).score());
        ClassifierOptions options = tiny().scoreThreshold(cut).build();
        assertEquals(cut, options.scoreThreshold(), 0f);
        assertEquals(byPath.subList(0, 2), classify(options.toBuilder()));
        assertTrue(byPath.get(0).score() < 1f);
        assertTrue(classify(tiny().scoreThreshold(1f)).isEmpty());
        try (Classifier c = new Classifier(tiny().scoreThreshold(1f).build())) {
            assertNull(c.classify(photo("chelsea")).top());
        }
        expect(ErrorCode.INVALID_ARGUMENT, () -> classify(tiny().scoreThreshold(-0.5f)));
        expect(ErrorCode.INVALID_ARGUMENT, () -> classify(tiny().scoreThreshold(1.5f)));
        expect(ErrorCode.INVALID_ARGUMENT, () -> classify(tiny().scoreThreshold(Float.NaN)));
    }

    @Test
    public void labelsByClassId() {
        try (Classifier c = new Classifier(tiny().build())) {
            assertEquals("tench, Tinca tinca", c.label(0));
            assertEquals(byPath.get(0).label(), c.label(byPath.get(0).classId()));
            expect(ErrorCode.INVALID_ARGUMENT, () -> c.label(10));
            expect(ErrorCode.INVALID_ARGUMENT, () -> c.label(-1));
        }
        try (Classifier c = new Classifier(tiny().noLabels().build())) {
            assertEquals("", c.label(9));
        }
    }
}
