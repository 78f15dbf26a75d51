"""opencoder.core.snakemake_scheduler: one pending re-evaluation timer, and a real run with it finishes."""

import os
import subprocess
import sys
import threading
import time

from snakemake.scheduling.job_scheduler import JobScheduler

from opencoder.core import snakemake_scheduler

ORIGINAL = JobScheduler._schedule_reevalutation


class Loop:
    """What the timer method touches of a JobScheduler: the semaphore its scheduling loop waits on."""

    def __init__(self):
        self._open_jobs = threading.Semaphore(0)


def timers() -> int:
    return sum(isinstance(t, threading.Timer) and t.is_alive() for t in threading.enumerate())


def test_one_pending_timer_where_snakemake_starts_one_per_call():
    before = timers()
    plain = Loop()
    for _ in range(50):
        ORIGINAL(plain, 0.3)
    assert timers() - before == 50  # Snakemake's own: a timer per pass, each a thread
    fixed = Loop()
    for _ in range(50):
        snakemake_scheduler._schedule_reevaluation(fixed, 0.3)
    assert timers() - before == 51
    assert fixed._open_jobs.acquire(timeout=5)  # the pending one still wakes the loop
    assert not fixed._open_jobs.acquire(timeout=0.5)  # once
    snakemake_scheduler._schedule_reevaluation(fixed, 0.1)  # a pass after the wake-up starts the next
    assert fixed._open_jobs.acquire(timeout=5)
    assert sum(plain._open_jobs.acquire(timeout=5) for _ in range(50)) == 50


SNAKEFILE = """
from opencoder.core import snakemake_scheduler
snakemake_scheduler.install()

rule all:
    input: "hog", "big", expand("quick/{i}", i=range(60))

rule hog:  # holds one core while the rest run
    output: "hog"
    priority: 100
    shell: "sleep 8; touch {output}"

rule quick:
    output: "quick/{i}"
    priority: 50
    shell: "touch {output}"

rule big:  # waits for both cores the whole time: every pass leaves a job waiting
    output: "big"
    threads: 2
    shell: "touch {output}"
"""


def test_a_run_with_jobs_waiting_finishes_with_few_threads(tmp_path):
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    src = str(snakemake_scheduler.__file__).rsplit("/opencoder/", 1)[0]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-m", "snakemake", "all", "--cores", "2", "--quiet", "all"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    counts = []
    while proc.poll() is None:
        if (tmp_path / "quick" / "59").exists():  # every quick job done: big waits on hog
            try:
                counts.append(len(os.listdir(f"/proc/{proc.pid}/task")))
            except FileNotFoundError:
                break
        time.sleep(0.2)
    out = proc.communicate(timeout=120)[0]
    assert proc.returncode == 0, out
    assert (tmp_path / "big").exists()
    # Snakemake's main thread, its job threads and one timer: without the fix, 60 finished jobs left
    # dozens of timer threads at this point
    assert counts and max(counts) <= 10, counts
