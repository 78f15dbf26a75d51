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

A program passes only if it exits with 0 *and* prints a per-run random sentinel placed after the
tests, so a completion that calls `sys.exit(0)` before the checks run does not count as passing.
"""

from __future__ import annotations

import logging
import os
import re
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
PROGRAM = "/sandbox/program.py"
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
class Outcome:
    """What happened to one program: `status` is "passed", "timed out" or "failed: <reason>"."""

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


def _exception_name(output: str) -> str | None:
    """The exception a Python traceback ended with (`AssertionError`, `MemoryError`, ...)."""
    for line in reversed(output.splitlines()):
        m = re.match(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning))\b", line)
        if m:
            return m.group(1).rsplit(".", 1)[-1]
    return None


class Sandbox:
    """A reusable sandbox configuration; `check(program)` runs one program, `check_many` several.

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
            probe = self._run("import sys; print(sys.version_info[0])", str(path.resolve()))
            if probe.returncode == 0 and probe.output.strip() == "3":
                return str(path.resolve())
            tried.append(f"{cand}: probe failed (exit {probe.returncode}): {probe.output.strip()[-500:]}")
        raise SandboxError("no Python 3 interpreter runs in the sandbox; tried " + "; ".join(tried))

    def _command(self, python: str, program_fd: int) -> list[str]:
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
        cmd += [
            "--proc", "/proc", "--dev", "/dev",
            "--size", str(fsize), "--tmpfs", "/tmp",
            "--ro-bind-data", str(program_fd), PROGRAM,
            "--chdir", "/tmp", "--clearenv",
            "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp",
            "--setenv", "PYTHONHASHSEED", "0", "--setenv", "LANG", "C.UTF-8",
            "--",
            self.prlimit,
            f"--as={lim.memory_mb * 2**20}", f"--cpu={int(lim.timeout_s) + 1}:{int(lim.timeout_s) + 2}", f"--nproc={lim.nproc}",
            f"--fsize={fsize}", f"--nofile={lim.nofile}", "--core=0",
            "--", python, "-I", "-B", PROGRAM,
        ]
        return cmd

    def _run(self, program: str, python: str) -> Outcome:
        start = time.monotonic()
        with tempfile.TemporaryFile() as out:
            fd = os.memfd_create("program")  # bwrap copies it into the sandbox: nothing written on the host
            try:
                with open(fd, "wb", closefd=False) as f:
                    f.write(program.encode())
                os.lseek(fd, 0, os.SEEK_SET)
                # stdout and stderr go to a regular file, so RLIMIT_FSIZE bounds them too
                proc = subprocess.Popen(
                    self._command(python, fd), stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                    pass_fds=(fd,), start_new_session=True,
                )
            finally:
                os.close(fd)
            timed_out = False
            try:
                proc.wait(timeout=self.limits.timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)  # the sandbox's pid 1 dies, and with it every process inside
                proc.wait()
            size = out.seek(0, os.SEEK_END)
            out.seek(max(0, size - OUTPUT_TAIL_BYTES))
            output = out.read().decode("utf-8", "replace")
        seconds = time.monotonic() - start
        return Outcome(status="timed out" if timed_out else "", returncode=proc.returncode, seconds=seconds, output=output)

    def check(self, program: str) -> Outcome:
        """Run `program`; it passes if it exits with 0 after reaching its last line."""
        sentinel = f"sandbox-ok-{secrets.token_hex(16)}"
        run = self._run(f"{program}\n\nprint({sentinel!r}, flush=True)\n", self.python)
        if run.status == "timed out":
            status = "timed out"
        elif run.returncode == 0 and sentinel in run.output.splitlines():
            status = "passed"
        elif run.returncode == 0:
            status = "failed: exited before the end of the tests"
        elif run.returncode == CPU_LIMIT_EXIT:
            status = "timed out"
        elif run.returncode > 128:
            status = f"failed: killed by {signal.Signals(run.returncode - 128).name}"
        else:
            status = f"failed: {_exception_name(run.output) or f'exit status {run.returncode}'}"
        output = run.output.replace(sentinel, "<sentinel>")
        return Outcome(status=status, returncode=run.returncode, seconds=run.seconds, output=output)

    def check_many(self, programs: Sequence[str], threads: int = 1, desc: str = "sandbox") -> list[Outcome]:
        """`check` each program, `threads` at a time; results in input order."""
        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            return list(tqdm(pool.map(self.check, programs), total=len(programs), desc=desc, unit="program"))
