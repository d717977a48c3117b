package org.resnext;

import java.io.File;

/**
 * Loads the native library ({@code libresnext.so}) once. Tried in order:
 * <ol>
 *   <li>the system property {@code resnext.library.path};</li>
 *   <li>the environment variable {@code RESNEXT_LIBRARY_PATH};</li>
 *   <li>{@code System.loadLibrary("resnext")} ({@code java.library.path}; on Android the APK's
 *       {@code jniLibs}).</li>
 * </ol>
 * A path may name the library file itself or the directory holding it.
 */
public final class NativeLibrary {
    /** The system property naming the library file or its directory. */
    public static final String PROPERTY = "resnext.library.path";
    /** The environment variable naming the library file or its directory. */
    public static final String ENVIRONMENT = "RESNEXT_LIBRARY_PATH";

    private static final Object LOCK = new Object();
    private static volatile boolean loaded;

    private NativeLibrary() {
    }

    /**
     * Loads the library if it is not loaded yet. Thread-safe; cheap after the first success.
     *
     * @throws UnsatisfiedLinkError if the library cannot be found or loaded (the message says
     *     where it looked); a later call tries again
     */
    public static void load() {
        if (loaded) {
            return;
        }
        synchronized (LOCK) {
            if (loaded) {
                return;
            }
            String explicit = System.getProperty(PROPERTY);
            String source = "system property " + PROPERTY;
            if (explicit == null || explicit.isEmpty()) {
                explicit = System.getenv(ENVIRONMENT);
                source = "environment variable " + ENVIRONMENT;
            }
            if (explicit != null && !explicit.isEmpty()) {
                File file = new File(explicit);
                if (file.isDirectory()) {
                    file = new File(file, System.mapLibraryName("resnext"));
                }
                try {
                    System.load(file.getAbsolutePath());
                } catch (UnsatisfiedLinkError e) {
                    UnsatisfiedLinkError error = new UnsatisfiedLinkError(
                            "cannot load " + file.getAbsolutePath() + " (from " + source + "): "
                                    + e.getMessage());
                    error.initCause(e);
                    throw error;
                }
            } else {
                try {
                    System.loadLibrary("resnext");
                } catch (UnsatisfiedLinkError e) {
                    UnsatisfiedLinkError error = new UnsatisfiedLinkError(
                            "cannot load the resnext native library: set -D" + PROPERTY + " or "
                                    + ENVIRONMENT + " to libresnext.so or its directory, or add "
                                    + "its directory to java.library.path (" + e.getMessage() + ")");
                    error.initCause(e);
                    throw error;
                }
            }
            loaded = true;
        }
    }

    /** The native library's version (loads it first). */
    public static String version() {
        load();
        return Native.version();
    }
}
