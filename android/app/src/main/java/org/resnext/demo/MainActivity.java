package org.resnext.demo;

import android.Manifest;
import android.content.res.AssetFileDescriptor;
import android.content.pm.PackageManager;
import android.os.Bundle;
import android.os.SystemClock;
import android.util.Log;
import android.util.Size;
import android.widget.TextView;
import androidx.annotation.NonNull;
import androidx.appcompat.app.AppCompatActivity;
import androidx.camera.core.CameraSelector;
import androidx.camera.core.ImageAnalysis;
import androidx.camera.core.ImageProxy;
import androidx.camera.core.Preview;
import androidx.camera.core.resolutionselector.ResolutionSelector;
import androidx.camera.core.resolutionselector.ResolutionStrategy;
import androidx.camera.lifecycle.ProcessCameraProvider;
import androidx.camera.view.PreviewView;
import androidx.core.app.ActivityCompat;
import androidx.core.content.ContextCompat;
import com.google.common.util.concurrent.ListenableFuture;
import java.io.File;
import java.io.IOException;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.resnext.Classification;
import org.resnext.Classifier;
import org.resnext.ClassifierOptions;
import org.resnext.ModelInfo;
import org.resnext.Prediction;
import org.resnext.Preset;
import org.resnext.ResnextException;
import org.resnext.ResnextImage;

/**
 * One screen: the back camera's preview, with the top-5 classes of the latest frame and the
 * latency overlaid. Frames are classified on one background thread (which also loads the
 * model); the UI thread only draws.
 */
public class MainActivity extends AppCompatActivity {
    private static final String TAG = "resnext-demo";
    private static final int CAMERA_REQUEST = 1;
    private static final String MODEL_FILE = "model.onnx";
    /** The preprocessing the model was exported for: WSL_224, or FIX_320 for Fix 32x48d. */
    private static final Preset PRESET = Preset.WSL_224;

    private PreviewView preview;
    private ImageAnalysis analysis;
    private TextView overlay;
    /** Loads the model, then runs the analyzer: every native call happens on this thread. */
    private ExecutorService worker;
    /** Written and closed on {@link #worker}; read by the analyzer on the same thread. */
    private Classifier classifier;
    private String modelSummary = "";

    @Override
    protected void onCreate(Bundle savedInstanceState) {
        super.onCreate(savedInstanceState);
        setContentView(R.layout.activity_main);
        preview = findViewById(R.id.preview);
        overlay = findViewById(R.id.overlay);
        worker = Executors.newSingleThreadExecutor();
        worker.execute(this::loadModel);
        if (ContextCompat.checkSelfPermission(this, Manifest.permission.CAMERA)
                == PackageManager.PERMISSION_GRANTED) {
            startCamera();
        } else {
            ActivityCompat.requestPermissions(this, new String[] {Manifest.permission.CAMERA},
                    CAMERA_REQUEST);
        }
    }

    @Override
    public void onRequestPermissionsResult(int requestCode, @NonNull String[] permissions,
            @NonNull int[] grantResults) {
        super.onRequestPermissionsResult(requestCode, permissions, grantResults);
        if (requestCode == CAMERA_REQUEST) {
            if (grantResults.length > 0 && grantResults[0] == PackageManager.PERMISSION_GRANTED) {
                startCamera();
            } else {
                overlay.setText(R.string.no_camera);
            }
        }
    }

    @Override
    protected void onDestroy() {
        super.onDestroy();
        if (analysis != null) {
            analysis.clearAnalyzer();
        }
        // Close on the worker, after any frame in progress (close() would wait for it anyway).
        worker.execute(() -> {
            if (classifier != null) {
                classifier.close();
                classifier = null;
            }
        });
        worker.shutdown();
    }

    // ---- model ---------------------------------------------------------------------------

    private void loadModel() {
        ClassifierOptions.Builder options = ClassifierOptions.builder()
                .preset(PRESET)
                .topK(5)
                .threads(0); // all cores
        try {
            long started = SystemClock.elapsedRealtime();
            File pushed = pushedModel();
            String name;
            Classifier loaded;
            if (pushed != null) {
                name = pushed.getName();
                loaded = new Classifier(options.modelPath(pushed.getAbsolutePath()).build());
            } else {
                // The asset is stored uncompressed (noCompress 'onnx'), so the SDK reads it in
                // place from the APK: no copy into the app's files, no model-sized byte[]. The
                // descriptor stays ours; the SDK duplicates it and reads with pread.
                try (AssetFileDescriptor afd = getAssets().openFd(MODEL_FILE)) {
                    name = "assets/" + MODEL_FILE;
                    loaded = new Classifier(options.modelFileDescriptor(afd.getFileDescriptor(),
                            afd.getStartOffset(), afd.getLength()).build());
                }
            }
            ModelInfo info = loaded.info();
            modelSummary = String.format(Locale.ROOT, "%s, %s %dx%d, %d classes, loaded in %d ms",
                    name, info.precision(), info.width(), info.height(), info.classes(),
                    SystemClock.elapsedRealtime() - started);
            classifier = loaded;
            Log.i(TAG, "model: " + info);
            show(modelSummary + "\nwaiting for frames…");
        } catch (ResnextException e) {
            Log.e(TAG, "cannot load the model", e);
            show("Cannot load the model [" + e.code() + "]:\n" + e.getMessage());
        } catch (IOException e) {
            Log.e(TAG, "no model", e);
            File external = getExternalFilesDir(null);
            show("No model: push one with\n  adb push model.onnx "
                    + (external != null ? external : getFilesDir()) + "/" + MODEL_FILE
                    + "\nor put it in app/src/main/assets/" + MODEL_FILE);
        }
    }

    /**
     * A pushed model: {@code <external files>/model.onnx} (adb push), then
     * {@code <files>/model.onnx}; null when there is none (then {@code assets/model.onnx} is
     * read in place).
     */
    private File pushedModel() {
        File external = getExternalFilesDir(null);
        if (external != null && new File(external, MODEL_FILE).isFile()) {
            return new File(external, MODEL_FILE);
        }
        File internal = new File(getFilesDir(), MODEL_FILE);
        return internal.isFile() ? internal : null;
    }

    // ---- camera --------------------------------------------------------------------------

    private void startCamera() {
        ListenableFuture<ProcessCameraProvider> future = ProcessCameraProvider.getInstance(this);
        future.addListener(() -> {
            ProcessCameraProvider provider;
            try {
                provider = future.get();
            } catch (Exception e) {
                Log.e(TAG, "camera provider", e);
                show("Camera unavailable: " + e);
                return;
            }
            Preview previewUseCase = new Preview.Builder().build();
            previewUseCase.setSurfaceProvider(preview.getSurfaceProvider());
            analysis = new ImageAnalysis.Builder()
                    .setResolutionSelector(new ResolutionSelector.Builder()
                            .setResolutionStrategy(new ResolutionStrategy(new Size(640, 480),
                                    ResolutionStrategy.FALLBACK_RULE_CLOSEST_HIGHER_THEN_LOWER))
                            .build())
                    .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
                    .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_YUV_420_888)
                    .build();
            analysis.setAnalyzer(worker, this::analyze);
            provider.unbindAll();
            provider.bindToLifecycle(this, CameraSelector.DEFAULT_BACK_CAMERA, previewUseCase,
                    analysis);
        }, ContextCompat.getMainExecutor(this));
    }

    /** Runs on {@link #worker} for the latest frame; older frames are dropped meanwhile. */
    private void analyze(@NonNull ImageProxy image) {
        try {
            Classifier c = classifier;
            if (c == null) {
                return;
            }
            // The YUV_420_888 planes are read in place: no copy into an NV21 array. Android
            // guarantees U and V share their row and pixel strides (pixel stride 1 or 2).
            int width = image.getWidth();
            int height = image.getHeight();
            ImageProxy.PlaneProxy[] planes = image.getPlanes();
            // The sensor is mounted rotated: the SDK turns the frame upright before resizing.
            int rotation = image.getImageInfo().getRotationDegrees();
            long t0 = SystemClock.elapsedRealtimeNanos();
            ResnextImage frame = ResnextImage.yuv420(planes[0].getBuffer(),
                    planes[1].getBuffer(), planes[2].getBuffer(), planes[0].getRowStride(),
                    planes[1].getRowStride(), planes[1].getPixelStride(), width, height,
                    rotation);
            Classification result = c.classify(frame);
            long t1 = SystemClock.elapsedRealtimeNanos();
            StringBuilder text = new StringBuilder();
            for (Prediction p : result.predictions()) {
                text.append(String.format(Locale.ROOT, "%5.1f%%  %s%n", p.score() * 100,
                        shorten(p.label(), p.classId())));
            }
            text.append(String.format(Locale.ROOT,
                    "%dx%d YUV 4:2:0, rotation %d: inference %.0f ms, preprocess %.1f ms, "
                            + "total %.0f ms%n%s",
                    width, height, rotation, result.timings().inferenceMs(),
                    result.timings().decodeMs() + result.timings().preprocessMs(),
                    (t1 - t0) / 1e6, modelSummary));
            show(text.toString());
        } catch (ResnextException e) {
            Log.w(TAG, "frame failed", e);
            show("Frame failed [" + e.code() + "]: " + e.getMessage());
        } catch (IllegalStateException e) {
            // The classifier was closed while the activity goes away.
        } finally {
            image.close();
        }
    }

    private static String shorten(String label, int classId) {
        if (label.isEmpty()) {
            return "class " + classId;
        }
        int comma = label.indexOf(',');
        return comma > 0 ? label.substring(0, comma) : label;
    }

    private void show(String text) {
        runOnUiThread(() -> overlay.setText(text));
    }
}
