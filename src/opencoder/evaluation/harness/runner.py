"""The trusted runner of programs in other languages than Python, run inside the sandbox by
`opencoder.evaluation.sandbox` (stdlib only).

A MultiPL-E program is one source file (prompt + completion + tests) that the language's toolchain
builds (a compiler, if the language has one) and runs; as with MultiPL-E's own evaluators it passes
when the run exits with status 0 and its output holds none of the language's failure markers (mono
exits 0 after a failed `Debug.Assert`, having printed a trace-listener failure). The program cannot
be split from its tests as `judge.py` splits a Python completion, so it is judged by its exit status.

This process reads its input (the nonce and the jobs) from a descriptor and closes it, makes itself
non-dumpable, and runs each step (build, run) as a child whose output comes through a pipe the
runner reads as it arrives (so the program cannot rewrite it afterwards); the verdict goes to a
descriptor the children never inherit, prefixed by the nonce. Between jobs every other process of
the sandbox is killed and /tmp emptied (`judge.clear`).

    runner.py INPUT_FD VERDICT_FD
"""

import os
import select
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I leaves the script's folder off the path
from judge import describe_exit, serve_guarded  # noqa: E402
del sys.path[0]

WORK = "/tmp/job"
TAIL = 8192


def step(argv, env, timeout_s, markers):
    """Run one step in WORK; (status: 'exited' or 'timed out', exit code, markers seen, output tail)."""
    import resource

    cpu = int(timeout_s) + 1

    def limit():  # the CPU time of this step alone (the sandbox's own limit covers the whole batch)
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))

    read_end, write_end = os.pipe()
    try:
        proc = subprocess.Popen(argv, cwd=WORK, env=env, stdin=subprocess.DEVNULL, stdout=write_end,
                                stderr=write_end, start_new_session=True, preexec_fn=limit)
    except OSError as exc:
        os.close(read_end)
        os.close(write_end)
        return "exited", 127, set(), f"cannot start {argv[0]}: {exc}"
    os.close(write_end)
    deadline = time.monotonic() + timeout_s
    tail, seen, timed_out = b"", set(), False
    overlap = max((len(m) for m in markers), default=0)
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([read_end], [], [], left)[0]:
            timed_out = True
            break
        chunk = os.read(read_end, 65536)
        if not chunk:
            break
        window = (tail[-overlap:] if overlap else b"") + chunk
        seen.update(m for m in markers if m.encode() in window)
        tail = (tail + chunk)[-TAIL:]
    os.close(read_end)
    if not timed_out:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
    if timed_out:
        try:
            os.killpg(proc.pid, 9)
        except ProcessLookupError:
            pass
    proc.kill()
    code = proc.wait()
    if code == -24:  # SIGXCPU: the step's CPU-time limit
        timed_out = True
    return ("timed out" if timed_out else "exited"), code, seen, tail.decode("utf-8", "replace")


def run_job(job, env):
    os.makedirs(WORK)
    with open(os.path.join(WORK, job["file"]), "w", encoding="utf-8") as f:
        f.write(job["source"])
    env = {**env, **job["env"]}
    if job["build"]:
        how, code, _, output = step(job["build"], env, job["build_timeout_s"], [])
        sys.stderr.write(output)
        if how == "timed out":
            return {"status": "failed", "reason": "build timed out"}
        if code != 0:
            return {"status": "failed", "reason": f"build error ({describe_exit(code)})"}
    how, code, seen, output = step(job["run"], env, job["timeout_s"], job["markers"])
    sys.stderr.write(output)
    if how == "timed out":
        return {"status": "timed out"}
    if code != 0:
        return {"status": "failed", "reason": describe_exit(code)}
    if seen:
        return {"status": "failed", "reason": f"exit status 0 with failure marker {sorted(seen)[0]!r}"}
    return {"status": "passed"}


def main():
    serve_guarded("runner", run_job)


if __name__ == "__main__":
    main()
