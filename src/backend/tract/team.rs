//! A classifier's team: `threads - 1` helper threads that share the kernel layer's parallel
//! sections with the thread running a single image's plan, the way an OpenMP team or ONNX
//! Runtime's spinning thread pool does.
//!
//! A batch-1 ResNeXt101 plan opens about 150 parallel sections (each convolution's GEMM, its
//! padded copy, its bf16 conversion), most of them 50 to 500 µs long. Handed to a rayon pool,
//! every section wakes a sleeping worker and puts the caller to sleep on a latch: under a
//! hypervisor each such wake-up costs tens of microseconds. The team's helpers instead spin for
//! [`SPIN`] after each section, watching for the next one, and only then park: consecutive
//! sections start on them at once. ResNeXt101_32x8d batch 1 on 2 threads (`resnext bench
//! --batch 1 --threads 2 --iters 20`, an AMD EPYC Zen 5, 5 rounds alternating the builds,
//! fastest round): FP32 75.6 -> 72.5 ms, bf16 45.2 -> 39.9 ms, INT8 21.1 -> 20.1 ms.
//!
//! [`Team::run`] gives the team to one plan run at a time: its sections
//! ([`run_section`]) go to the team; the sections of concurrent runs, of runs on other threads
//! and of nested sections go wherever the caller sends them when `run_section` declines
//! (the classifier's rayon pool). Threads: a `Team` is `Sync`; its helpers are joined on drop.

use std::any::Any;
use std::cell::Cell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a helper watches for the next section after one ends before it parks: longer
/// than the gaps between a plan's sections (tract's work between two operators), short enough
/// that an idle classifier's helpers stop using the CPU at once.
const SPIN: Duration = Duration::from_micros(200);

/// How long a waiting thread spins on the CPU before it yields between looks (and lets a
/// thread that shares its core run: a helper that took a band, when the machine has more
/// runnable threads than cores).
const SPIN_HOT: Duration = Duration::from_micros(20);

/// [`Shared::slot`]: the number of helpers inside the current section (low bits), whether the
/// section is closed to newcomers, whether its opener sleeps until they leave, and the
/// section's sequence number (high bits).
const USERS: u64 = (1 << 16) - 1;
const CLOSED: u64 = 1 << 16;
const OPENER_PARKED: u64 = 1 << 17;
const EPOCH_SHIFT: u32 = 18;

/// A waiting thread's pauses between looks: spinning on the CPU for [`SPIN_HOT`], then
/// yielding it until [`SPIN`] has passed; the clock is read every 64th pause.
struct Backoff {
    started: Instant,
    pauses: u32,
}

impl Backoff {
    fn new() -> Backoff {
        Backoff { started: Instant::now(), pauses: 0 }
    }

    /// Pauses once; false (without pausing) once [`SPIN`] has passed: time to sleep.
    fn pause(&mut self) -> bool {
        self.pauses = self.pauses.wrapping_add(1);
        if !self.pauses.is_multiple_of(64) {
            std::hint::spin_loop();
            return true;
        }
        let waited = self.started.elapsed();
        if waited >= SPIN {
            return false;
        }
        if waited >= SPIN_HOT {
            std::thread::yield_now();
        }
        true
    }
}

/// One parallel section, on the stack of the thread that opened it.
struct Section<'a> {
    f: &'a (dyn Fn(usize) + Sync),
    bands: usize,
    /// The next band to hand out.
    next: AtomicUsize,
    /// The first panic of a band, resumed on the opening thread.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

impl Section<'_> {
    /// Runs bands until none is left (or one has panicked).
    fn work(&self) {
        loop {
            let band = self.next.fetch_add(1, Ordering::Relaxed);
            if band >= self.bands {
                return;
            }
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| (self.f)(band))) {
                self.next.store(self.bands, Ordering::Relaxed);
                let mut first = self.panic.lock().unwrap_or_else(|p| p.into_inner());
                first.get_or_insert(payload);
            }
        }
    }
}

/// What the opening thread and the helpers share.
struct Shared {
    /// Helpers inside the current section, its closed flag and its sequence number.
    slot: AtomicU64,
    /// The current section (a `Section` on the opening thread's stack, lifetime erased). Only
    /// read by a helper that entered the section through `slot` while it was open: the opening
    /// thread keeps the section alive until every helper that entered has left.
    section: AtomicPtr<Section<'static>>,
    /// Helpers parked (or about to park) waiting for a section.
    parked: AtomicUsize,
    /// Set on drop: helpers exit.
    shutdown: AtomicBool,
    /// The helpers, to unpark.
    threads: Mutex<Vec<std::thread::Thread>>,
    /// Where the opener of a section sleeps until its last helper leaves (a condition
    /// variable, not a thread handle: the opener may be a thread that Rust did not start,
    /// whose `thread::current()` handle would be left allocated at its exit).
    opener_sleep: Mutex<()>,
    opener_wake: Condvar,
}

/// `threads - 1` helper threads, given to one plan run at a time ([`Team::run`]).
pub(super) struct Team {
    shared: Arc<Shared>,
    helpers: Vec<JoinHandle<()>>,
    /// Whether a run holds the team.
    claimed: AtomicBool,
}

thread_local! {
    /// The team of the run on this thread, while [`Team::run`] holds it; cleared inside a
    /// section (a band opening a section of its own runs it elsewhere).
    static CURRENT: Cell<*const Shared> = const { Cell::new(std::ptr::null()) };
}

impl Team {
    /// A team of `helpers` threads named `resnext-team-<i>` (none: every section runs
    /// elsewhere). Errors when a thread cannot be started; those that did are joined.
    pub(super) fn new(helpers: usize) -> std::io::Result<Team> {
        let shared = Arc::new(Shared {
            slot: AtomicU64::new(CLOSED),
            section: AtomicPtr::new(std::ptr::null_mut()),
            parked: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
            threads: Mutex::new(Vec::with_capacity(helpers)),
            opener_sleep: Mutex::new(()),
            opener_wake: Condvar::new(),
        });
        let mut team = Team { shared, helpers: Vec::with_capacity(helpers), claimed: false.into() };
        for i in 0..helpers {
            let shared = team.shared.clone();
            let handle = std::thread::Builder::new()
                .name(format!("resnext-team-{i}"))
                .spawn(move || helper(&shared))?;
            team.shared
                .threads
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(handle.thread().clone());
            team.helpers.push(handle);
        }
        Ok(team)
    }

    /// Runs `f` on this thread with the team taking part in its sections ([`run_section`]),
    /// when no other run holds it and it has helpers; else `f` runs as it is. A panic in `f`
    /// reaches the caller and frees the team.
    pub(super) fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        let free = !self.helpers.is_empty()
            && CURRENT.get().is_null()
            && self
                .claimed
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok();
        if !free {
            return f();
        }
        /// Clears this thread's team and frees it when the run ends or unwinds.
        struct Release<'a>(&'a AtomicBool);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                CURRENT.set(std::ptr::null());
                self.0.store(false, Ordering::Release);
            }
        }
        let _release = Release(&self.claimed);
        CURRENT.set(Arc::as_ptr(&self.shared));
        f()
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        for h in &self.helpers {
            h.thread().unpark();
        }
        for h in self.helpers.drain(..) {
            let _ = h.join();
        }
    }
}

/// Runs `f(0) .. f(bands - 1)` on this thread and the helpers of the team this thread's run
/// holds ([`Team::run`]), returning when all are done; a band's panic is resumed here once
/// no helper is inside the section any more. Returns `false`, running nothing, when this
/// thread holds no team (or is inside one of its sections).
pub(crate) fn run_section(bands: usize, f: &(dyn Fn(usize) + Sync)) -> bool {
    let shared = CURRENT.get();
    if shared.is_null() {
        return false;
    }
    // SAFETY: CURRENT is set only while `Team::run` holds the team (its guard clears it), and
    // the team, which owns an Arc of `Shared`, outlives that call.
    let shared = unsafe { &*shared };
    let section = Section { f, bands, next: AtomicUsize::new(0), panic: Mutex::new(None) };
    // The previous section is closed with no helper inside (this function's end): publish.
    let epoch = (shared.slot.load(Ordering::Relaxed) >> EPOCH_SHIFT) + 1;
    shared.section.store(
        (&section as *const Section<'_>).cast::<Section<'static>>().cast_mut(),
        Ordering::Release,
    );
    shared.slot.store(epoch << EPOCH_SHIFT, Ordering::SeqCst);
    if shared.parked.load(Ordering::SeqCst) > 0 {
        wake_all(shared);
    }
    CURRENT.set(std::ptr::null());
    section.work();
    CURRENT.set(shared);
    // Close the section, then wait for the helpers inside to finish their bands and leave:
    // spinning, then yielding, then asleep (the last one to leave wakes this thread).
    let mut slot = shared.slot.fetch_or(CLOSED, Ordering::AcqRel) | CLOSED;
    let mut backoff = Backoff::new();
    while slot & USERS != 0 {
        if backoff.pause() {
            // Looked again below.
        } else if slot & OPENER_PARKED == 0 {
            // Announce the sleep only while a helper is inside (else it has nobody to wake).
            let _ = shared.slot.compare_exchange(
                slot,
                slot | OPENER_PARKED,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        } else {
            // The last helper to leave takes the lock before it notifies: it cannot notify
            // between this look and the wait.
            let asleep = shared.opener_sleep.lock().unwrap_or_else(|p| p.into_inner());
            if shared.slot.load(Ordering::Acquire) & USERS != 0 {
                drop(shared.opener_wake.wait(asleep).unwrap_or_else(|p| p.into_inner()));
            }
        }
        slot = shared.slot.load(Ordering::Acquire);
    }
    if let Some(payload) = section.panic.into_inner().unwrap_or_else(|p| p.into_inner()) {
        resume_unwind(payload);
    }
    true
}

/// Unparks every helper of the team.
fn wake_all(shared: &Shared) {
    for thread in shared.threads.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        thread.unpark();
    }
}

/// A helper's life: wait for a section (spinning for [`SPIN`], then parked), enter it while it
/// is open, run bands, leave; exit on shutdown.
fn helper(shared: &Shared) {
    // The epoch the team starts at (not the current one, which a helper that starts late
    // would take for seen while that section still waits for it).
    let mut seen = 0;
    while let Some(slot) = wait_for_section(shared, seen) {
        seen = slot >> EPOCH_SHIFT;
        if enter(shared, slot) {
            // SAFETY: this helper is counted inside the open section `seen`, whose opening
            // thread waits until the count is back to zero before the section goes away.
            let section = unsafe { &*shared.section.load(Ordering::Acquire) };
            section.work();
            // Leaving may free the section (not `shared`).
            let left = shared.slot.fetch_sub(1, Ordering::AcqRel);
            if left & USERS == 1 && left & OPENER_PARKED != 0 {
                let _asleep = shared.opener_sleep.lock().unwrap_or_else(|p| p.into_inner());
                shared.opener_wake.notify_one();
            }
        }
    }
}

/// Counts this helper into section `slot`'s epoch while it is open; false once it is closed.
fn enter(shared: &Shared, mut slot: u64) -> bool {
    let epoch = slot >> EPOCH_SHIFT;
    loop {
        if slot & CLOSED != 0 || slot >> EPOCH_SHIFT != epoch {
            return false;
        }
        match shared.slot.compare_exchange_weak(slot, slot + 1, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => return true,
            Err(now) => slot = now,
        }
    }
}

/// The slot of the first section after epoch `seen`, or None on shutdown.
fn wait_for_section(shared: &Shared, seen: u64) -> Option<u64> {
    let mut backoff = Backoff::new();
    loop {
        if shared.shutdown.load(Ordering::Acquire) {
            return None;
        }
        let slot = shared.slot.load(Ordering::Acquire);
        if slot >> EPOCH_SHIFT != seen {
            return Some(slot);
        }
        if backoff.pause() {
            continue;
        }
        // Park: announce it, then look again before each sleep (a section published before
        // the announcement is seen by that look; one published after it unparks this thread).
        shared.parked.fetch_add(1, Ordering::SeqCst);
        while shared.slot.load(Ordering::SeqCst) >> EPOCH_SHIFT == seen
            && !shared.shutdown.load(Ordering::SeqCst)
        {
            std::thread::park();
        }
        shared.parked.fetch_sub(1, Ordering::SeqCst);
        backoff = Backoff::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a section of `bands` and returns how often each band ran.
    fn counts(bands: usize) -> Vec<usize> {
        let hits: Vec<AtomicUsize> = (0..bands).map(|_| AtomicUsize::new(0)).collect();
        assert!(run_section(bands, &|b| {
            hits[b].fetch_add(1, Ordering::Relaxed);
        }));
        hits.into_iter().map(AtomicUsize::into_inner).collect()
    }

    #[test]
    fn every_band_runs_once_and_the_helpers_take_part() {
        for helpers in [1, 3] {
            let team = Team::new(helpers).unwrap();
            team.run(|| {
                for bands in [2, 3, 17, 1000] {
                    for _ in 0..200 {
                        assert_eq!(counts(bands), vec![1; bands]);
                    }
                }
                // Two bands that wait for each other can only end on two threads: a helper
                // joins every section, the first one included, parked or not.
                for round in 0..2000 {
                    let arrived = AtomicUsize::new(0);
                    assert!(run_section(2, &|_| {
                        arrived.fetch_add(1, Ordering::SeqCst);
                        let t = Instant::now();
                        while arrived.load(Ordering::SeqCst) < 2 {
                            assert!(t.elapsed() < Duration::from_secs(20), "round {round}: alone");
                            std::hint::spin_loop();
                        }
                    }));
                    if round % 100 == 0 {
                        std::thread::sleep(SPIN * 4); // the helpers park
                    }
                }
            });
        }
    }

    #[test]
    fn helpers_that_parked_wake_up_and_drop_joins_them() {
        let team = Team::new(2).unwrap();
        for _ in 0..3 {
            team.run(|| assert_eq!(counts(8), vec![1; 8]));
            // Idle helpers park after SPIN (later when other tests hold the cores).
            let idle = Instant::now();
            while team.shared.parked.load(Ordering::SeqCst) < 2 {
                assert!(idle.elapsed() < Duration::from_secs(20), "idle helpers park");
                std::thread::sleep(SPIN);
            }
        }
        drop(team);
    }

    #[test]
    fn sections_run_elsewhere_outside_a_run_inside_a_band_and_in_a_concurrent_run() {
        let team = Team::new(1).unwrap();
        assert!(!run_section(4, &|_| {}), "no run holds the team");
        team.run(|| {
            let nested = Mutex::new(Vec::new());
            assert!(run_section(2, &|_| {
                nested.lock().unwrap().push(run_section(2, &|_| {}));
            }));
            assert_eq!(nested.into_inner().unwrap(), vec![false, false], "inside a band");
            // A second run while this one holds the team gets none.
            let other = std::thread::scope(|s| {
                s.spawn(|| team.run(|| run_section(2, &|_| {}))).join().unwrap()
            });
            assert!(!other, "a concurrent run");
        });
        assert!(!Team::new(0).unwrap().run(|| run_section(2, &|_| {})), "no helpers");
    }

    #[test]
    fn a_band_that_panics_reaches_the_caller_after_the_others_and_frees_the_team() {
        let team = Team::new(2).unwrap();
        for panicking in [0, 5] {
            let done = AtomicUsize::new(0);
            let result = catch_unwind(AssertUnwindSafe(|| {
                team.run(|| {
                    run_section(6, &|b| {
                        if b == panicking {
                            panic!("band {b}");
                        }
                        done.fetch_add(1, Ordering::Relaxed);
                    })
                })
            }));
            let payload = result.expect_err("the panic reaches the caller");
            assert_eq!(payload.downcast_ref::<String>().unwrap(), &format!("band {panicking}"));
            assert!(done.into_inner() <= 5);
            assert!(CURRENT.get().is_null());
        }
        team.run(|| assert_eq!(counts(64), vec![1; 64]));
    }
}
