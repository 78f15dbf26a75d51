"""One pending re-evaluation timer in Snakemake's job scheduler, not one per finished job.

Why: Snakemake's scheduler loop (snakemake 9.27.1, `JobScheduler.schedule`) wakes on a semaphore that
every finished job releases, and whenever jobs are ready but cannot start (cores, memory or SLURM
`jobs` all taken) it ends the pass by starting a `threading.Timer` that releases the semaphore again
one rate-limit timespan (1 s) later. Each wake-up thus comes back a second later for as long as jobs
wait: after n jobs have finished beside waiting ones, n timers run the whole pass (job selection,
input sizes, resource bookkeeping) n times a second, each in its own thread. In the dedup-level grid
on the embedded default this was 125 timer threads and 1.3 of the machine's 2 cores spent in the
driver while the jobs waited (bench/RESULTS.md, "Scheduler").

One pending timer gives the loop the same wake-ups that matter: a finished job still releases the
semaphore at once, and a pass that leaves jobs waiting still gets a pass one timespan later.
`install()` is called from the Snakefile, so it holds for local and SLURM runs alike.
"""

from __future__ import annotations

import threading

from snakemake.scheduling.job_scheduler import JobScheduler

_LOCK = threading.Lock()


def _schedule_reevaluation(self: JobScheduler, delay: float) -> None:
    """Snakemake's `_schedule_reevalutation`, but a no-op while a timer of this scheduler is pending.
    A firing timer clears its mark before it wakes the loop, so the pass it wakes can start the next."""
    def fire():
        with _LOCK:
            self._opencoder_timer = None
        self._open_jobs.release()

    with _LOCK:
        if getattr(self, "_opencoder_timer", None) is not None:
            return
        self._opencoder_timer = threading.Timer(delay, fire)
        self._opencoder_timer.daemon = True  # a pending wake-up never keeps a finished run alive
        self._opencoder_timer.start()


def install() -> None:
    """Replace the scheduler's timer method (idempotent); an error if Snakemake no longer has it, so a
    Snakemake upgrade re-examines the fix instead of silently losing it."""
    if not hasattr(JobScheduler, "_schedule_reevalutation"):
        raise RuntimeError("snakemake's JobScheduler has no _schedule_reevalutation: re-check "
                           "opencoder.core.snakemake_scheduler against this Snakemake version")
    JobScheduler._schedule_reevalutation = _schedule_reevaluation
