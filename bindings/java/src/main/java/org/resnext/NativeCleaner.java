package org.resnext;

import java.lang.ref.PhantomReference;
import java.lang.ref.ReferenceQueue;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.Collections;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Runs a cleanup action once its owner is unreachable, or earlier when {@link Cleanable#clean()}
 * is called; the action runs at most once either way.
 *
 * <p>On Java 9+ (and Android API 33+) it uses {@code java.lang.ref.Cleaner}, found reflectively
 * so that the sources stay Java 8; elsewhere (Java 8, older Android) a PhantomReference queue
 * drained by one daemon thread of its own, {@code resnext-cleaner}. The action must not refer to
 * the owner, or the owner never becomes unreachable.
 */
final class NativeCleaner {
    /** A registration. */
    interface Cleanable {
        /** Runs the action now if it has not run yet, and unregisters it. */
        void clean();
    }

    /** A way of registering cleanup actions. */
    interface Backend {
        Cleanable register(Object owner, Runnable action);

        String name();
    }

    private static final Backend DEFAULT = create();

    private NativeCleaner() {
    }

    /** Registers {@code action} to run when {@code owner} becomes phantom reachable. */
    static Cleanable register(Object owner, Runnable action) {
        return DEFAULT.register(owner, action);
    }

    /** {@code java.lang.ref.Cleaner} or {@code phantom-thread}. */
    static String backendName() {
        return DEFAULT.name();
    }

    private static Backend create() {
        Backend jdk = JdkCleaner.create();
        return jdk != null ? jdk : new PhantomCleaner();
    }

    /** {@code java.lang.ref.Cleaner}, through reflection; {@code null} when absent. */
    static final class JdkCleaner implements Backend {
        private final Object cleaner;
        private final Method register;
        private final Method clean;

        private JdkCleaner(Object cleaner, Method register, Method clean) {
            this.cleaner = cleaner;
            this.register = register;
            this.clean = clean;
        }

        static JdkCleaner create() {
            try {
                Class<?> type = Class.forName("java.lang.ref.Cleaner");
                Class<?> cleanable = Class.forName("java.lang.ref.Cleaner$Cleanable");
                Object cleaner = type.getMethod("create").invoke(null);
                return new JdkCleaner(cleaner,
                        type.getMethod("register", Object.class, Runnable.class),
                        cleanable.getMethod("clean"));
            } catch (Throwable e) {
                // Java 8, Android before API 33, or a restricted runtime: use our own thread.
                return null;
            }
        }

        @Override
        public Cleanable register(Object owner, Runnable action) {
            final Object registration;
            try {
                registration = register.invoke(cleaner, owner, action);
            } catch (IllegalAccessException e) {
                throw new IllegalStateException(e);
            } catch (InvocationTargetException e) {
                throw rethrow(e.getCause());
            }
            return new Cleanable() {
                @Override
                public void clean() {
                    try {
                        clean.invoke(registration);
                    } catch (IllegalAccessException e) {
                        throw new IllegalStateException(e);
                    } catch (InvocationTargetException e) {
                        throw rethrow(e.getCause());
                    }
                }
            };
        }

        @Override
        public String name() {
            return "java.lang.ref.Cleaner";
        }

        private static RuntimeException rethrow(Throwable cause) {
            if (cause instanceof RuntimeException) {
                throw (RuntimeException) cause;
            }
            if (cause instanceof Error) {
                throw (Error) cause;
            }
            throw new IllegalStateException(cause);
        }
    }

    /** A PhantomReference queue drained by one daemon thread, started on first use. */
    static final class PhantomCleaner implements Backend {
        private final ReferenceQueue<Object> queue = new ReferenceQueue<Object>();
        /** Keeps the references themselves reachable until they are enqueued or cleaned. */
        private final Set<Ref> live = Collections.newSetFromMap(new ConcurrentHashMap<Ref, Boolean>());
        private Thread thread;

        final class Ref extends PhantomReference<Object> implements Cleanable {
            private final AtomicReference<Runnable> action;

            Ref(Object owner, Runnable action) {
                super(owner, queue);
                this.action = new AtomicReference<Runnable>(action);
            }

            @Override
            public void clean() {
                Runnable run = action.getAndSet(null);
                if (run != null) {
                    live.remove(this);
                    clear();
                    run.run();
                }
            }
        }

        @Override
        public Cleanable register(Object owner, Runnable action) {
            if (owner == null || action == null) {
                throw new NullPointerException();
            }
            Ref ref = new Ref(owner, action);
            live.add(ref);
            startThread();
            return ref;
        }

        @Override
        public String name() {
            return "phantom-thread";
        }

        int pending() {
            return live.size();
        }

        private synchronized void startThread() {
            if (thread != null) {
                return;
            }
            thread = new Thread(new Runnable() {
                @Override
                public void run() {
                    drain();
                }
            }, "resnext-cleaner");
            thread.setDaemon(true);
            thread.start();
        }

        private void drain() {
            while (true) {
                try {
                    ((Ref) queue.remove()).clean();
                } catch (InterruptedException e) {
                    // Keep serving: the thread lives as long as the process.
                } catch (Throwable e) {
                    // An action failed: nothing to report it to; go on with the next one.
                }
            }
        }
    }
}
