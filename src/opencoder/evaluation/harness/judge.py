"""The trusted judge, run inside the sandbox by `opencoder.evaluation.sandbox` (stdlib only).

Why two processes: a test run in the same interpreter as the completion can be fooled by it (an
object whose `__eq__` always answers True, `sys.exit(0)` before the asserts, a patched builtin or
`AssertionError`, a forged success line). Here the completion runs in a separate child process
(`candidate.py`) and the tests run in this process, which never executes a line of the
completion: every call of an entry point is sent to the child, and its result comes back as
plain data (JSON with tags, decoded into exact builtin types), so whatever the completion
returns, the tests compare true `int`s, `str`s, `list`s ... with the expected values.

Before the child starts, this process reads its input (the nonce, the tests) from a descriptor
and closes it, and makes itself non-dumpable, so the child (same uid, no capabilities) can neither
read its memory or descriptors nor trace it. The verdict goes to a descriptor the child never
inherits, prefixed by the nonce; the host counts a run as passed only on that line.

The input is a batch of jobs, judged one after the other, each with a fresh candidate process and
its own time limit; between jobs every other process of the sandbox is killed and /tmp emptied,
so one sandbox's start-up serves many runs without one job reaching the next.

    judge.py INPUT_FD VERDICT_FD CANDIDATE_SCRIPT
"""

import builtins
import errno
import json
import os
import select
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I leaves the script's folder off the path
from wire import decode, encode, send  # noqa: E402
del sys.path[0]  # nothing else is imported from there: a job may leave files beside the scripts

MAX_MESSAGE = 64 * 2**20


class ChildGone(Exception):
    """The candidate's process ended or broke the protocol before answering."""


class TimedOut(Exception):
    """The candidate did not answer within the job's time limit."""


class Unjudgeable(Exception):
    """The tests passed the candidate something that cannot cross the process boundary."""


def read_exact(fd, n, deadline):
    chunks = []
    while n:
        if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
            raise TimedOut()
        chunk = os.read(fd, min(n, 2**20))
        if not chunk:
            raise ChildGone("end of stream")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


class Candidate:
    """The completion's process: `load` its code, then `call` its functions with plain data."""

    def __init__(self, script, deadline, call_timeout=None):
        self.deadline = deadline
        self.call_timeout = call_timeout  # each call's own limit within the job's (None: the job's only)
        req_r, self.req = os.pipe()
        self.resp, resp_w = os.pipe()
        for fd in (req_r, resp_w):
            os.set_inheritable(fd, True)
        # posix_spawn rather than subprocess: importing subprocess would cost more than the whole test
        self.pid = os.posix_spawn(
            sys.executable, [sys.executable, "-I", "-S", "-B", script, str(req_r), str(resp_w)], os.environ,
            file_actions=[(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0)],
        )
        self.status = None
        os.close(req_r)
        os.close(resp_w)

    def ask(self, message, call=False):
        deadline = self.deadline
        if call and self.call_timeout:
            deadline = min(deadline, time.monotonic() + self.call_timeout)
        try:
            send(self.req, message)
            size = int.from_bytes(read_exact(self.resp, 8, deadline), "big")
            if size > MAX_MESSAGE:
                raise ChildGone("oversized answer")
            answer = json.loads(read_exact(self.resp, size, deadline))
        except (OSError, ValueError, RecursionError) as exc:
            raise ChildGone(str(exc)) from None
        if type(answer) is not dict:
            raise ChildGone("malformed answer")
        if "error" in answer:
            raise remote_exception(answer["error"], answer.get("message"))
        if "value" not in answer:
            raise ChildGone("malformed answer")
        try:
            return decode(answer["value"])
        except (ValueError, RecursionError) as exc:
            raise ChildGone(str(exc)) from None

    def function(self, name):
        def call(*args, **kwargs):
            try:
                payload = {"op": "call", "name": name, "args": encode(list(args)),
                           "kwargs": {k: encode(v) for k, v in kwargs.items()}}
            except TypeError as exc:
                raise Unjudgeable(f"argument of {name}: {exc}") from None
            return self.ask(payload, call=True)
        call.__name__ = call.__qualname__ = name
        return call

    def run_program(self, text):
        """The loaded program's standard output when run on `text` as its standard input (a
        stdin/stdout program: the candidate runs it as a process of its own per call)."""
        if type(text) is not str:
            raise Unjudgeable("run_program takes the standard input as a string")
        output = self.ask({"op": "stdio", "input": text}, call=True)
        if type(output) is not str:
            raise ChildGone("malformed answer")
        return output

    def ended(self):
        """How the child ended, once it has: 'exit status N' or 'killed by SIGNAME'."""
        for _ in range(100):
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
                return describe_exit(os.waitstatus_to_exitcode(status))
            time.sleep(0.01)
        return "stopped answering"

    def stop(self):
        if self.status is None:
            os.kill(self.pid, 9)
            os.waitpid(self.pid, 0)
        os.close(self.req)
        os.close(self.resp)


def describe_exit(code):
    import signal

    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def remote_exception(name, message):
    """An exception of the builtin class the candidate raised, else a RuntimeError naming it."""
    name = name if type(name) is str else "Exception"
    cls = getattr(builtins, name, None)
    text = (message if type(message) is str else "")[:2000]
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            exc = cls(text)
        except Exception:
            exc = RuntimeError(text)
    else:
        exc = RuntimeError(text)
    exc.remote_name = name[:200]
    return exc


def ended(candidate, when):
    how = candidate.ended()
    if how == "killed by SIGXCPU":  # the CPU-time limit
        return {"status": "timed out"}
    return {"status": "failed", "reason": f"candidate ended {when} ({how})"}


def verdict_of(exc):
    name = getattr(exc, "remote_name", None) or type(exc).__name__
    print(f"judge: the tests failed with {name}: {str(exc)[:2000]}", file=sys.stderr)
    return {"status": "failed", "reason": name}


def judge(job, script):
    candidate = None
    try:
        candidate = Candidate(script, time.monotonic() + job["timeout_s"], job.get("call_timeout_s"))
        stdio = job.get("stdio", False)
        try:
            candidate.ask({"op": "load", "code": job["context"] + job["completion"], "program": stdio})
        except ChildGone:
            return ended(candidate, "while loading")
        scope = {"__name__": "__judge__", "__builtins__": builtins}
        exec(compile(job["support"], "<support>", "exec"), scope)
        for name in job["entry_points"]:
            scope[name] = candidate.function(name)
        if stdio:
            scope["run_program"] = candidate.run_program
        exec(compile(job["tests"], "<tests>", "exec"), scope)
        return {"status": "passed"}
    except TimedOut:
        return {"status": "timed out"}
    except ChildGone:
        return ended(candidate, "before the tests did")
    except Unjudgeable as exc:
        return {"status": "not evaluated", "reason": str(exc)}
    except Exception as exc:
        return verdict_of(exc)
    finally:
        if candidate is not None:
            candidate.stop()


def clear():
    """Leave nothing of a job for the next: every other process of the sandbox (its pid 1 excepted)
    is killed, and the private /tmp emptied."""
    me = os.getpid()
    for _ in range(200):  # again until none is left: a process may fork while the kill goes round
        try:
            os.kill(-1, 9)
        except ProcessLookupError:
            pass
        if not [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, me)]:
            break
        time.sleep(0.005)
    empty("/tmp", os.stat("/tmp").st_dev)


def empty(folder, device):
    """Remove what `folder` holds on `device`, leaving other mounts below it (read-only binds of
    site-packages under /tmp) and the folders that lead to them."""
    for entry in os.scandir(folder):
        if not entry.is_dir(follow_symlinks=False):
            os.unlink(entry.path)
        elif entry.stat(follow_symlinks=False).st_dev == device:
            empty(entry.path, device)
            try:
                os.rmdir(entry.path)
            except OSError as exc:  # still holds a mount
                if exc.errno != errno.ENOTEMPTY:
                    raise


def serve(name, run_one):
    """Run a batch: read it (the nonce, the jobs) from the descriptor argv[1] and close it, make this
    process non-dumpable, then judge each job with `run_one` and write its verdict, prefixed by the
    nonce, to the descriptor argv[2], which no child inherits; between jobs every other process of
    the sandbox is killed and /tmp emptied. The judge's and the runner's one loop."""
    input_fd, verdict_fd = int(sys.argv[1]), int(sys.argv[2])
    with open(input_fd, "rb") as f:
        batch = json.loads(f.read())
    import ctypes

    if ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE = 0
        raise SystemExit(f"{name}: cannot make itself non-dumpable")
    os.set_inheritable(verdict_fd, False)
    nonce = batch["nonce"]
    with open(verdict_fd, "w") as out:
        for number, job in enumerate(batch["jobs"]):
            print(f"{nonce} job {number}", file=sys.stderr, flush=True)  # splits the output by job
            sys.stdout.flush()
            start = time.monotonic()
            verdict = run_one(job)
            verdict["seconds"] = round(time.monotonic() - start, 4)
            sys.stderr.flush()
            clear()
            out.write(f"{nonce} {number} {json.dumps(verdict)}\n")
            out.flush()


def serve_guarded(name, run_job):
    """`serve` with `run_job(job, env)` over this process's environment, an OSError (a program that filled
    /tmp, or left it unusable) being the job's failure, not the batch's."""
    env = dict(os.environ)

    def run_one(job):
        try:
            return run_job(job, env)
        except OSError as exc:
            return {"status": "failed", "reason": f"{name}: {type(exc).__name__}"}

    serve(name, run_one)


def main():
    script = sys.argv[3]
    sys.setrecursionlimit(10000)
    serve("judge", lambda job: judge(job, script))


if __name__ == "__main__":
    main()
