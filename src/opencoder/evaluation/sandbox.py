"""Run untrusted, model-written programs in a bubblewrap sandbox and say whether they passed.

Each program runs in a fresh sandbox:

- namespaces: `bwrap --unshare-all` (user, pid, net, ipc, uts, cgroup): no network but a private
  loopback, its own pid 1 (every process dies with it), `--new-session` (no terminal injection),
  `--die-with-parent`, all capabilities dropped;
- filesystem: only the system directories (`/usr`, `/etc`, the interpreter's prefix), read-only;
  a private, size-capped tmpfs `/tmp` as working directory; the program itself arrives through a
  file descriptor, so nothing on the host is written or shared;
- identity: when started by root, the sandbox runs as an unprivileged uid (`setpriv`, default
  65534 "nobody"), so that RLIMIT_NPROC applies at all (the kernel exempts root from it);
- limits, set inside the sandbox by `prlimit`: address space (memory), CPU seconds, processes
  (counted per sandbox, because the sandbox has its own user namespace), file size, open files;
- a host-side wall-clock timeout that kills the whole sandbox (its pid namespace).

Inside, a trusted judge (`harness/judge.py`) runs the tests and the completion runs in a child
process of its own (`harness/candidate.py`); the tests call the completion's functions across the
process boundary and get plain data back, so a completion cannot fool them (objects that lie about
equality, exiting early, patched builtins, a printed success line): a program passes only on the
judge's verdict, read from a descriptor the completion cannot reach and prefixed by a per-run
random nonce. Every run gets a status, whatever the completion does.
"""

from __future__ import annotations

import logging
import os
import json
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from opencoder.core.errors import OpencoderError

log = logging.getLogger(__name__)

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc")
HARNESS = Path(__file__).with_name("harness")
JUDGE, CANDIDATE = "/sandbox/judge.py", "/sandbox/candidate.py"
OUTPUT_TAIL_BYTES = 8192
# exit status of a program stopped by SIGXCPU at the RLIMIT_CPU soft limit, as bwrap reports it
# (128 + signal); the hard limit, a second later, SIGKILLs a program that ignores SIGXCPU
CPU_LIMIT_EXIT = 128 + signal.SIGXCPU
INSTALL_HINT = (
    "bubblewrap (`bwrap`) is needed to run generated code safely; install it with `make setup` "
    "(Debian package `bubblewrap`) or `apt-get install bubblewrap`"
)


class SandboxError(OpencoderError, RuntimeError):
    """The sandbox cannot be set up on this machine (missing tool, namespaces not permitted)."""


@dataclass(frozen=True)
class Limits:
    """Per-program limits; `file_size_mb` caps each written file and the whole private /tmp."""

    timeout_s: float = 10.0
    memory_mb: int = 2048
    nproc: int = 64
    file_size_mb: int = 16
    nofile: int = 64

    @classmethod
    def from_config(cls, cfg: Mapping) -> "Limits":
        return cls(**{k: cfg[k] for k in ("timeout_s", "memory_mb", "nproc", "file_size_mb", "nofile") if k in cfg})


@dataclass(frozen=True)
class Program:
    """One judged run: `context` (the prompt) + `completion` run in the candidate's process; `support`
    (trusted code the tests use, e.g. the prompt's helper functions) then `tests` run in the judge,
    where each of `entry_points` calls into the candidate."""

    completion: str
    tests: str
    entry_points: tuple[str, ...] = ()
    context: str = ""
    support: str = ""
    timeout_s: float | None = None  # this run's wall-clock limit (None: the sandbox's)


@dataclass(frozen=True)
class Outcome:
    """What happened to one program: `status` is "passed", "timed out", "failed: <reason>" or
    "not evaluated: <reason>" (the tests needed something the judge cannot pass across)."""

    status: str
    returncode: int | None
    seconds: float
    output: str

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def _world_executable(path: Path) -> bool:
    """True if any user can reach and run `path` (each parent searchable, the file r+x for others)."""
    path = path.resolve()
    for parent in path.parents:
        if not parent.stat().st_mode & stat.S_IXOTH:
            return False
    mode = path.stat().st_mode
    return bool(mode & stat.S_IXOTH and mode & stat.S_IROTH)


def describe_exit(returncode: int) -> str:
    """'exit status N' or 'killed by SIGNAME' for any status, signal number or not (bwrap reports a
    signal as 128 + its number; a program may also exit with any status up to 255 itself)."""
    number = -returncode if returncode < 0 else returncode - 128 if returncode > 128 else 0
    if number:
        try:
            return f"killed by {signal.Signals(number).name}"
        except ValueError:
            pass
    return f"exit status {returncode}"


def _memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(name)  # close-on-exec: only the run it is passed to gets it
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


class Sandbox:
    """A reusable sandbox configuration; `judge(program)` runs one program, `judge_many` several.

    `python` is the interpreter inside the sandbox (stdlib only is needed). By default the running
    interpreter is used when the sandbox user can execute it, otherwise the system `python3`.
    Construction runs a probe program, so a machine that cannot sandbox fails here, clearly.
    """

    def __init__(self, limits: Limits = Limits(), python: str | None = None, uid: int = 65534):
        self.limits = limits
        self.bwrap = shutil.which("bwrap")
        if self.bwrap is None:
            raise SandboxError(f"`bwrap` not found on PATH: {INSTALL_HINT}")
        self.prlimit = shutil.which("prlimit")
        if self.prlimit is None:
            raise SandboxError("`prlimit` (util-linux) not found on PATH; it sets the sandbox's limits")
        self.drop_to = uid if os.geteuid() == 0 else None
        if self.drop_to is not None and shutil.which("setpriv") is None:
            raise SandboxError("running as root needs `setpriv` (util-linux) to drop to an unprivileged uid")
        self.scripts = {JUDGE: (HARNESS / "judge.py").read_bytes(), CANDIDATE: (HARNESS / "candidate.py").read_bytes()}
        self.python = self._pick_python(python)
        log.info("sandbox: %s, python %s, uid %s, %s", self.bwrap, self.python,
                 self.drop_to if self.drop_to is not None else os.geteuid(), limits)

    def _pick_python(self, python: str | None) -> str:
        if python:
            candidates = [python]
        else:
            candidates = [sys.executable, "/usr/bin/python3", "/usr/local/bin/python3"]
        tried = []
        for cand in candidates:
            path = Path(shutil.which(cand) or cand)
            if not path.exists():
                tried.append(f"{cand}: not found")
                continue
            if self.drop_to is not None and not _world_executable(path):
                tried.append(f"{cand}: not executable by uid {self.drop_to}")
                continue
            resolved = str(path.resolve())
            returncode, _, output, _ = self._run(resolved, ["-c", "import sys; print(sys.version.split()[0])"])
            if returncode == 0 and output.strip().startswith("3."):
                self.python_version = output.strip()
                return resolved
            tried.append(f"{cand}: probe failed ({describe_exit(returncode)}): {output.strip()[-500:]}")
        raise SandboxError("no Python 3 interpreter runs in the sandbox; tried " + "; ".join(tried))

    def _command(self, python: str, files: Mapping[str, int], args: Sequence[str], timeout_s: float) -> list[str]:
        lim = self.limits
        cmd: list[str] = []
        if self.drop_to is not None:
            cmd += ["setpriv", f"--reuid={self.drop_to}", f"--regid={self.drop_to}", "--clear-groups", "--no-new-privs"]
        cmd += [self.bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
        prefix = str(Path(python).resolve().parents[1])  # <prefix>/bin/python3 -> <prefix>
        extra = [] if any(prefix == d or prefix.startswith(d + "/") for d in SYSTEM_DIRS) else [prefix]
        for d in [*SYSTEM_DIRS, *extra]:
            p = Path(d)
            if p.is_symlink():
                cmd += ["--symlink", os.readlink(p), d]
            elif p.exists():
                cmd += ["--ro-bind", d, d]
        fsize = lim.file_size_mb * 2**20
        cmd += ["--proc", "/proc", "--dev", "/dev", "--size", str(fsize), "--tmpfs", "/tmp"]
        for path, fd in files.items():
            cmd += ["--ro-bind-data", str(fd), path]
        cmd += [
            "--chdir", "/tmp", "--clearenv",
            "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp",
            "--setenv", "PYTHONHASHSEED", "0", "--setenv", "LANG", "C.UTF-8",
            "--",
            self.prlimit,
            f"--as={lim.memory_mb * 2**20}", f"--cpu={int(timeout_s) + 1}:{int(timeout_s) + 2}", f"--nproc={lim.nproc}",
            f"--fsize={fsize}", f"--nofile={lim.nofile}", "--core=0",
            "--", python, "-I", "-S", "-B", *args,
        ]
        return cmd

    def _run(self, python: str, args: Sequence[str], files: Mapping[str, bytes] = {},
             fds: Sequence[int] = (), timeout_s: float | None = None) -> tuple[int, bool, str, float]:
        """Run `python args` in a fresh sandbox with `files` (path -> content, read-only) and the host
        descriptors `fds` (same numbers inside); (returncode, timed out, output tail, seconds)."""
        timeout_s = timeout_s or self.limits.timeout_s
        start = time.monotonic()
        opened = [_memfd(Path(path).name, data) for path, data in files.items()]
        with tempfile.TemporaryFile() as out:
            try:
                # stdout and stderr go to a regular file, so RLIMIT_FSIZE bounds them too
                cmd = self._command(python, dict(zip(files, opened)), args, timeout_s)
                proc = subprocess.Popen(
                    cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
                    pass_fds=(*opened, *fds),
                )
            finally:
                for fd in opened:
                    os.close(fd)
            timed_out = False
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)  # the sandbox's pid 1 dies, and with it every process inside
                proc.wait()
            size = out.seek(0, os.SEEK_END)
            out.seek(max(0, size - OUTPUT_TAIL_BYTES))
            output = out.read().decode("utf-8", "replace")
        return proc.returncode, timed_out, output, time.monotonic() - start

    def versions(self) -> dict[str, str]:
        """What runs the programs: bubblewrap's and the sandbox interpreter's versions."""
        bwrap = subprocess.run([self.bwrap, "--version"], capture_output=True, text=True).stdout.strip()
        return {"bwrap": bwrap, "python": self.python_version, "python_path": self.python}

    def judge(self, program: Program) -> Outcome:
        """Run `program`'s tests against its completion; passed only on the judge's own verdict."""
        nonce = secrets.token_hex(16)
        job = json.dumps({"nonce": nonce, "context": program.context, "completion": program.completion,
                          "support": program.support, "tests": program.tests, "entry_points": list(program.entry_points)}).encode()
        job_fd = _memfd("job", job)
        verdict_r, verdict_w = os.pipe()
        try:
            returncode, timed_out, output, seconds = self._run(
                self.python, [JUDGE, str(job_fd), str(verdict_w), CANDIDATE], self.scripts, (job_fd, verdict_w),
                program.timeout_s,
            )
        finally:
            os.close(job_fd)
            os.close(verdict_w)
        with open(verdict_r, "rb") as f:
            os.set_blocking(verdict_r, False)
            try:
                verdict = (f.read(4096) or b"").decode("utf-8", "replace")
            except BlockingIOError:
                verdict = ""
        if timed_out:
            status = "timed out"
        else:
            status = _verdict_status(verdict, nonce) or _harness_failure(returncode)
        return Outcome(status=status, returncode=returncode, seconds=seconds, output=output.replace(nonce, "<nonce>"))

    def judge_many(self, programs: Sequence[Program], threads: int = 1, desc: str = "sandbox") -> list[Outcome]:
        """`judge` each program, `threads` at a time; results in input order."""
        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            return list(tqdm(pool.map(self.judge, programs), total=len(programs), desc=desc, unit="program"))


def _verdict_status(verdict: str, nonce: str) -> str | None:
    """The judge's status from its verdict line, or None unless it is exactly one line with the nonce."""
    lines = verdict.splitlines()
    if len(lines) != 1 or not lines[0].startswith(nonce + " "):
        return None
    try:
        found = json.loads(lines[0][len(nonce) + 1 :])
    except json.JSONDecodeError:
        return None
    status = found.get("status") if isinstance(found, dict) else None
    if status in ("passed", "timed out"):
        return status
    if status in ("failed", "not evaluated") and isinstance(found.get("reason"), str):
        return f"{status}: {found['reason']}"
    return None


def _harness_failure(returncode: int) -> str:
    """Status of a run whose judge gave no verdict (killed by the completion, or by a limit)."""
    if returncode == CPU_LIMIT_EXIT:
        return "timed out"
    return f"failed: no verdict (judge {describe_exit(returncode)})"
