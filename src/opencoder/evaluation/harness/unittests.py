"""The trusted runner of unittest programs (BigCodeBench's), run inside the sandbox by
`opencoder.evaluation.sandbox` (stdlib only).

A job is one problem: its solution and its test module (a unittest TestCase named `TestCases`)
as BigCodeBench runs them, one module (`__test__`), solution first, then the tests. Their objects
(DataFrames, figures, arrays) cannot cross a process boundary as plain data, so they run together,
in a child process of their own started by this runner; the child's one output is a small JSON
verdict on a pipe:

- {"status": "unavailable", "reason": "missing modules: a, b"}: a library the problem needs (its
  `libs`, the tests' imports) does not import here: not evaluated;
- {"status": "passed"}: no failure and no error (BigCodeBench's rule);
- {"status": "failed", "reason": "<test>: <exception line>"}: the first test, in run order, that
  failed ("error in <test>: ..." for an error other than a failed assertion), or the module that did
  not load;
- no verdict within the job's time limit: {"status": "timed out"}; the child ending without one:
  failed, with its exit status.

The child adds the bound site-packages to its path (`site.addsitedir`), works in an empty
/tmp/job, with BigCodeBench's stack limit (10 MiB) and its environment (one BLAS/OpenMP thread,
matplotlib's Agg backend). Between jobs every other process of the sandbox is killed and /tmp
emptied (`judge.clear`). The solution runs in the child with the tests, as in BigCodeBench: it can
fool its own tests, not reach the host, this runner or another job.

    unittests.py INPUT_FD VERDICT_FD
"""

import json
import os
import select
import sys
import time

WORK = "/tmp/job"
TAIL = 8192
STACK_BYTES = 10 * 2**20  # BigCodeBench's max_stack_limit (10 MB)
MAX_VERDICT = 2**16
ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg",
       "MPLCONFIGDIR": "/tmp/job/.matplotlib", "TF_CPP_MIN_LOG_LEVEL": "3"}


def exception_line(exc_type, exc):
    import traceback

    text = "".join(traceback.format_exception_only(exc_type, exc)) or exc_type.__name__
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith("Traceback"):
        lines = lines[1:]
    if exc_type is SyntaxError or (isinstance(exc_type, type) and issubclass(exc_type, SyntaxError)):
        lines = lines[-1:]  # the SyntaxError line itself, not the source it quotes
    # one line: the message's first, and its last (unittest's own message after a diff)
    line = lines[0] + (" ... " + lines[-1] if len(lines) > 1 else "") if lines else exc_type.__name__
    return line[:500]


def importable(name):
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def child(verdict_fd):
    """One problem, in this process: the job on standard input, the verdict to `verdict_fd`."""
    job = json.loads(sys.stdin.read())
    out = os.fdopen(verdict_fd, "w")
    sys.stdin.close()

    def verdict(**found):
        out.write(json.dumps(found))
        out.flush()

    import site

    for path in job["site_dirs"]:
        site.addsitedir(path)
    missing = sorted({m for m in job["modules"] if not importable(m)})
    if missing:
        return verdict(status="unavailable", reason="missing modules " + ", ".join(missing))
    import types
    import unittest

    module = types.ModuleType("__test__")
    module.__dict__.update(__file__="__test__.py", __builtins__=__builtins__)
    try:
        code = compile(job["code"] + "\n" + job["tests"], "__test__.py", "exec")
        sys.modules["__test__"] = module
        exec(code, module.__dict__)
    except BaseException as exc:  # SystemExit too: the module did not load
        return verdict(status="failed", reason="error while loading: " + exception_line(type(exc), exc))
    cases = module.__dict__.get("TestCases")
    if not (isinstance(cases, type) and issubclass(cases, unittest.TestCase)):
        return verdict(status="failed", reason="the module defines no unittest TestCase `TestCases`")
    issues = []

    class Result(unittest.TestResult):  # failures and errors in the order the tests ran
        def addFailure(self, test, err):
            super().addFailure(test, err)
            issues.append(f"{test.id().split('.')[-1]}: {exception_line(err[0], err[1])}")

        def addError(self, test, err):
            super().addError(test, err)
            issues.append(f"error in {test.id().split('.')[-1]}: {exception_line(err[0], err[1])}")

    suite = unittest.TestLoader().loadTestsFromTestCase(cases)
    try:
        suite.run(Result())
    except BaseException as exc:  # SystemExit, KeyboardInterrupt: unittest lets them through
        issues.append("error: " + exception_line(type(exc), exc))
    if issues:
        return verdict(status="failed", reason=issues[0])
    return verdict(status="passed")


def run_job(job, env):
    import resource
    import subprocess

    os.makedirs(WORK)
    deadline = time.monotonic() + job["timeout_s"]
    cpu = int(job["timeout_s"]) + 1

    def limit():
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_STACK, (STACK_BYTES, STACK_BYTES))

    verdict_r, verdict_w = os.pipe()
    out_r, out_w = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-I", "-S", "-B", os.path.abspath(__file__), "--child", str(verdict_w)],
        cwd=WORK, env={**env, **ENV, "HOME": WORK}, stdin=subprocess.PIPE, stdout=out_w, stderr=out_w,
        pass_fds=(verdict_w,), start_new_session=True, preexec_fn=limit,
    )
    os.close(verdict_w)
    os.close(out_w)
    try:
        proc.stdin.write(json.dumps(job).encode())
        proc.stdin.close()
    except OSError:
        pass
    open_fds, verdict, tail, timed_out = {verdict_r, out_r}, b"", b"", False
    while open_fds:
        left = deadline - time.monotonic()
        ready = select.select(list(open_fds), [], [], max(0.0, left))[0] if left > 0 else []
        if not ready:
            timed_out = True
            break
        for fd in ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                open_fds.discard(fd)
            elif fd == verdict_r:
                verdict = (verdict + chunk)[:MAX_VERDICT]
            else:
                tail = (tail + chunk)[-TAIL:]
    os.close(verdict_r)
    os.close(out_r)
    try:
        os.killpg(proc.pid, 9)
    except ProcessLookupError:
        pass
    code = proc.wait()
    sys.stderr.write(tail.decode("utf-8", "replace"))
    if timed_out or code == -24:  # the wall-clock limit, or SIGXCPU: the CPU-time limit
        return {"status": "timed out"}
    try:
        found = json.loads(verdict)
    except ValueError:
        found = None
    if not isinstance(found, dict) or found.get("status") not in ("passed", "failed", "unavailable"):
        return {"status": "failed", "reason": f"no verdict (the program ended: {describe_exit(code)})"}
    if found["status"] == "passed":
        return {"status": "passed"}
    print(f"unittests: {found['status']}: {found.get('reason')}", file=sys.stderr)
    return {"status": found["status"], "reason": str(found.get("reason"))[:600]}


def main():
    serve_guarded("unittests", run_job)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(int(sys.argv[2]))
    else:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I leaves the script's folder off
        from judge import describe_exit, serve_guarded  # noqa: E402
        del sys.path[0]
        main()
