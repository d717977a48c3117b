package org.resnext;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Owns one native classifier pointer (in the style of libsignal's {@code NativeHandleGuard}):
 * calls hold the read lock while they use the pointer, so any number run at once; freeing takes
 * the write lock, so it waits for calls in progress and happens exactly once. After that every
 * {@link #acquire()} throws {@link IllegalStateException}.
 *
 * <p>It is the cleanup action registered with {@link NativeCleaner}; it does not refer to the
 * {@link Classifier} that owns it.
 */
final class NativeHandle implements Runnable {
    private static final AtomicLong LIVE = new AtomicLong();

    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    /** Written under the write lock; volatile so that {@link #isClosed()} needs no lock. */
    private volatile long pointer;

    NativeHandle(long pointer) {
        if (pointer == 0) {
            throw new IllegalArgumentException("null native handle");
        }
        this.pointer = pointer;
        LIVE.incrementAndGet();
    }

    /**
     * Takes the read lock and returns the pointer; the caller must call {@link #release()} in a
     * {@code finally} block.
     *
     * @throws IllegalStateException if the handle is closed (the lock is then not held)
     */
    long acquire() {
        ReentrantReadWriteLock.ReadLock read = lock.readLock();
        read.lock();
        long p = pointer;
        if (p == 0) {
            read.unlock();
            throw new IllegalStateException("closed");
        }
        return p;
    }

    /** Releases the read lock taken by {@link #acquire()}. */
    void release() {
        lock.readLock().unlock();
    }

    boolean isClosed() {
        return pointer == 0;
    }

    /** Frees the native object once, after calls in progress have returned. */
    @Override
    public void run() {
        ReentrantReadWriteLock.WriteLock write = lock.writeLock();
        write.lock();
        try {
            long p = pointer;
            if (p != 0) {
                pointer = 0;
                LIVE.decrementAndGet();
                Native.classifierFree(p);
            }
        } finally {
            write.unlock();
        }
    }

    /** Native classifiers created and not yet freed, process-wide (for tests and diagnostics). */
    static long liveCount() {
        return LIVE.get();
    }
}
