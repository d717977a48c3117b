package org.resnext;

/** One predicted class: immutable. */
public final class Prediction {
    private final int classId;
    private final String label;
    private final float score;

    public Prediction(int classId, String label, float score) {
        this.classId = classId;
        this.label = label != null ? label : "";
        this.score = score;
    }

    /** Index of the class in the model's output. */
    public int classId() {
        return classId;
    }

    /** The class's label, or {@code ""} when the classifier has none for it. */
    public String label() {
        return label;
    }

    /** Probability in [0, 1] (softmax applied when the model outputs logits). */
    public float score() {
        return score;
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof Prediction)) {
            return false;
        }
        Prediction p = (Prediction) o;
        return classId == p.classId && Float.floatToIntBits(score) == Float.floatToIntBits(p.score)
                && label.equals(p.label);
    }

    @Override
    public int hashCode() {
        return (classId * 31 + label.hashCode()) * 31 + Float.floatToIntBits(score);
    }

    @Override
    public String toString() {
        return classId + " " + label + " " + score;
    }
}
