package org.resnext;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** The result for one image: the top-k predictions, highest score first, and the timings. */
public final class Classification {
    private final List<Prediction> predictions;
    private final Timings timings;

    public Classification(List<Prediction> predictions, Timings timings) {
        this.predictions = Collections.unmodifiableList(new ArrayList<Prediction>(predictions));
        this.timings = timings;
    }

    /** Built by the native library. */
    Classification(int[] classIds, String[] labels, float[] scores, double decodeMs,
            double preprocessMs, double inferenceMs, double postprocessMs) {
        List<Prediction> list = new ArrayList<Prediction>(classIds.length);
        for (int i = 0; i < classIds.length; i++) {
            list.add(new Prediction(classIds[i], labels[i], scores[i]));
        }
        this.predictions = Collections.unmodifiableList(list);
        this.timings = new Timings(decodeMs, preprocessMs, inferenceMs, postprocessMs);
    }

    /**
     * The top-k predictions, highest score first (unmodifiable); fewer, or none, when a score
     * threshold is set.
     */
    public List<Prediction> predictions() {
        return predictions;
    }

    /** The best prediction, or {@code null} when the score threshold dropped every prediction. */
    public Prediction top() {
        return predictions.isEmpty() ? null : predictions.get(0);
    }

    /** Per-stage timings. */
    public Timings timings() {
        return timings;
    }

    @Override
    public String toString() {
        return predictions + " (" + timings + ")";
    }
}
