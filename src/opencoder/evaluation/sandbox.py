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

A program in another language (MultiPL-E's: `Program.language` names a `languages.Toolchain`) is one
source file, prompt + completion + tests, which a trusted runner (`harness/runner.py`) builds with the
language's compiler and runs, in the same sandbox with the same limits (the language's own address
space and process limits where its runtime needs more, a JVM's or mono's); it passes on exit status 0
without a failure marker in its output, MultiPL-E's rule. A language whose toolchain does not run in
the sandbox gets the status "unavailable" for every program: not evaluated, neither passed nor failed.

A unittest program (BigCodeBench's: `Program.unittest`) is a module, solution + a unittest
TestCase module, whose tests use third-party libraries and compare DataFrames or figures, objects
that cannot cross the judge's plain-data wire. A trusted runner (`harness/unittests.py`) runs each
in a child process of its own that imports the solution and tests together and runs the TestCase
with unittest, its one output a small JSON verdict; the same sandbox and limits, plus the project
environment's site-packages (`site_dirs`) bound read-only so that installed libraries import. A
problem whose libraries do not import there is "unavailable: missing modules ..." (not evaluated).
The tests and the solution share that child, as in BigCodeBench: the sandbox keeps a solution from
the host and from other problems, not from fooling its own tests.
"""

from __future__ import annotations

import logging
import os
import json
import re
import secrets
import shutil
import signal
import stat
import sysconfig
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
from opencoder.evaluation.languages import Toolchain

log = logging.getLogger(__name__)

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc")
HARNESS = Path(__file__).with_name("harness")
JUDGE, CANDIDATE, WIRE = "/sandbox/judge.py", "/sandbox/candidate.py", "/sandbox/wire.py"
RUNNER = "/sandbox/runner.py"  # programs in other languages (imports the judge's `clear`)
UNITTESTS = "/sandbox/unittests.py"  # unittest programs (BigCodeBench's), with site-packages
UNAVAILABLE = "unavailable"  # the status of a program whose language's toolchain does not run here
OUTPUT_TAIL_BYTES = 8192
JUDGE_GRACE_S = 5.0  # a batch's sandbox lives this much longer than the sum of its jobs' limits
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
    language: str = "python"  # another: the file context + completion + "\n" + tests, built and run
    stdio: bool = False  # a stdin/stdout program: not executed when loaded; the tests call `run_program(input)`
    call_timeout_s: float | None = None  # each call's (each test's) own limit within the run's
    unittest: bool = False  # completion + tests are one module whose unittest TestCase `TestCases` is run
    modules: tuple[str, ...] = ()  # unittest programs: the modules that must import, else "unavailable"
    memory_mb: int | None = None  # this run's address-space limit (None: the sandbox's)


@dataclass(frozen=True)
class Outcome:
    """What happened to one program: `status` is "passed", "timed out", "failed: <reason>",
    "not evaluated: <reason>" (the tests needed something the judge cannot pass across),
    "unavailable" (its language's toolchain does not run here; `output` says why) or
    "unavailable: missing modules <names>" (a unittest program's libraries are not installed)."""

    status: str
    returncode: int | None
    seconds: float
    output: str

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def evaluated(self) -> bool:
        return not (self.status == UNAVAILABLE or self.status.startswith(UNAVAILABLE + ":"))


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


def python_site_dirs() -> list[str]:
    """The running environment's site-packages (the project's virtual environment's, under it)."""
    paths = sysconfig.get_paths()
    return list(dict.fromkeys(str(Path(paths[k]).resolve()) for k in ("purelib", "platlib")
                              if Path(paths[k]).is_dir()))


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

    def __init__(self, limits: Limits = Limits(), python: str | None = None, uid: int = 65534, batch: int = 8,
                 toolchains: Mapping[str, Toolchain] = {}, site_dirs: Sequence[str] | None = None):
        self.limits = limits
        # bound read-only for unittest programs only (default: this environment's site-packages)
        self.site_dirs = list(python_site_dirs() if site_dirs is None else site_dirs)
        self.batch = batch
        self.toolchains = dict(toolchains)
        self._probed: dict[str, dict] = {}
        self.bwrap = shutil.which("bwrap")
        if self.bwrap is None:
            raise SandboxError(f"`bwrap` not found on PATH: {INSTALL_HINT}")
        self.prlimit = shutil.which("prlimit")
        if self.prlimit is None:
            raise SandboxError("`prlimit` (util-linux) not found on PATH; it sets the sandbox's limits")
        self.drop_to = uid if os.geteuid() == 0 else None
        if self.drop_to is not None and shutil.which("setpriv") is None:
            raise SandboxError("running as root needs `setpriv` (util-linux) to drop to an unprivileged uid")
        self.scripts = {path: (HARNESS / Path(path).name).read_bytes() for path in (JUDGE, CANDIDATE, WIRE, RUNNER, UNITTESTS)}
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

    def _command(self, python: str, files: Mapping[str, int], args: Sequence[str], timeout_s: float,
                 memory_mb: int | None = None, nproc: int | None = None, binds: Sequence[str] = ()) -> list[str]:
        lim = self.limits
        cmd: list[str] = []
        if self.drop_to is not None:
            cmd += ["setpriv", f"--reuid={self.drop_to}", f"--regid={self.drop_to}", "--clear-groups", "--no-new-privs"]
        cmd += [self.bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
        prefix = str(Path(python).resolve().parents[1])  # <prefix>/bin/python3 -> <prefix>
        extra = [] if any(prefix == d or prefix.startswith(d + "/") for d in SYSTEM_DIRS) else [prefix]
        fsize = lim.file_size_mb * 2**20
        # /tmp first: a bind below it (a checkout or virtual environment under /tmp) then stays visible
        cmd += ["--proc", "/proc", "--dev", "/dev", "--size", str(fsize), "--tmpfs", "/tmp"]
        for d in [*SYSTEM_DIRS, *extra, *binds]:
            p = Path(d)
            if p.is_symlink():
                cmd += ["--symlink", os.readlink(p), d]
            elif p.exists():
                cmd += ["--ro-bind", d, d]
        for path, fd in files.items():
            cmd += ["--ro-bind-data", str(fd), path]
        cmd += [
            "--chdir", "/tmp", "--clearenv",
            "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp",
            "--setenv", "PYTHONHASHSEED", "0", "--setenv", "LANG", "C.UTF-8",
            "--",
            self.prlimit,
            f"--as={(memory_mb or lim.memory_mb) * 2**20}", f"--cpu={int(timeout_s) + 1}:{int(timeout_s) + 2}",
            f"--nproc={nproc or lim.nproc}",
            f"--fsize={fsize}", f"--nofile={lim.nofile}", "--core=0",
            "--", python, "-I", "-S", "-B", *args,
        ]
        return cmd

    def _run(self, python: str, args: Sequence[str], files: Mapping[str, bytes] = {},
             fds: Sequence[int] = (), timeout_s: float | None = None,
             tail: int | None = OUTPUT_TAIL_BYTES, memory_mb: int | None = None,
             nproc: int | None = None, binds: Sequence[str] = ()) -> tuple[int, bool, str, float]:
        """Run `python args` in a fresh sandbox with `files` (path -> content, read-only) and the host
        descriptors `fds` (same numbers inside); (returncode, timed out, output tail, seconds).
        `memory_mb`, `nproc`: this run's limits instead of the sandbox's (a language's toolchain)."""
        timeout_s = timeout_s or self.limits.timeout_s
        start = time.monotonic()
        opened = [_memfd(Path(path).name, data) for path, data in files.items()]
        with tempfile.TemporaryFile() as out:
            try:
                # stdout and stderr go to a regular file, so RLIMIT_FSIZE bounds them too
                cmd = self._command(python, dict(zip(files, opened)), args, timeout_s, memory_mb, nproc, binds)
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
            out.seek(max(0, size - tail) if tail else 0)
            output = out.read().decode("utf-8", "replace")
        return proc.returncode, timed_out, output, time.monotonic() - start

    def versions(self) -> dict[str, str]:
        """What runs the programs: bubblewrap's and the sandbox interpreter's versions."""
        bwrap = subprocess.run([self.bwrap, "--version"], capture_output=True, text=True).stdout.strip()
        return {"bwrap": bwrap, "python": self.python_version, "python_path": self.python}

    def judge(self, program: Program) -> Outcome:
        """Run `program`'s tests against its completion; passed only on the judge's own verdict."""
        return self.judge_many([program], threads=1, batch=1, progress=False)[0]

    def _judge_batch(self, programs: Sequence[Program]) -> list[Outcome | None]:
        """One sandbox judging `programs` in turn; None for a program that got no verdict (the judge was
        killed, or the batch ran past its time): `judge_many` runs those again, alone."""
        if programs[0].language != "python":
            return self._run_batch(programs, self.toolchains[programs[0].language])
        if programs[0].unittest:
            return self._unittest_batch(programs)
        limits = [p.timeout_s or self.limits.timeout_s for p in programs]
        jobs = [{"context": p.context, "completion": p.completion, "support": p.support, "tests": p.tests,
                 "entry_points": list(p.entry_points), "timeout_s": t, "stdio": p.stdio,
                 "call_timeout_s": p.call_timeout_s} for p, t in zip(programs, limits)]
        return self._batch([JUDGE, "{input}", "{verdict}", CANDIDATE], jobs, sum(limits))

    def _unittest_batch(self, programs: Sequence[Program]) -> list[Outcome | None]:
        """`_judge_batch` for unittest programs: the unittest runner, site-packages bound read-only."""
        limits = [p.timeout_s or self.limits.timeout_s for p in programs]
        jobs = [{"code": p.completion, "tests": p.tests, "modules": list(p.modules), "timeout_s": t,
                 "site_dirs": self.site_dirs} for p, t in zip(programs, limits)]
        memory = max(p.memory_mb or self.limits.memory_mb for p in programs)
        return self._batch([UNITTESTS, "{input}", "{verdict}"], jobs, sum(limits), memory, binds=self.site_dirs)

    def _run_batch(self, programs: Sequence[Program], tool: Toolchain) -> list[Outcome | None]:
        """`_judge_batch` for programs in another language: the runner builds and runs each file."""
        limits = [p.timeout_s or self.limits.timeout_s for p in programs]
        jobs = [tool.job(p.context + p.completion + "\n" + p.tests, t) for p, t in zip(programs, limits)]
        total = sum(limits) + len(jobs) * (tool.build_timeout_s if tool.build else 0)
        return self._batch([RUNNER, "{input}", "{verdict}"], jobs, total, tool.memory_mb, tool.nproc)

    def _batch(self, args: Sequence[str], jobs: Sequence[dict], total_s: float, memory_mb: int | None = None,
               nproc: int | None = None, binds: Sequence[str] = ()) -> list[Outcome | None]:
        """Run a harness script over `jobs` in one sandbox; `args` name the input and verdict
        descriptors as {input} and {verdict}; one outcome per job, None for a job without a verdict."""
        nonce = secrets.token_hex(16)
        job_fd = _memfd("job", json.dumps({"nonce": nonce, "jobs": list(jobs)}).encode())
        verdict_r, verdict_w = os.pipe()
        try:
            # the harness enforces each job's limit; the sandbox's, a little later, catches a stuck harness
            argv = [a.format(input=job_fd, verdict=verdict_w) for a in args]
            returncode, timed_out, output, seconds = self._run(
                self.python, argv, self.scripts, (job_fd, verdict_w), total_s + JUDGE_GRACE_S, tail=None,
                memory_mb=memory_mb, nproc=nproc, binds=binds,
            )
        finally:
            os.close(job_fd)
            os.close(verdict_w)
        with open(verdict_r, "rb") as f:
            os.set_blocking(verdict_r, False)
            try:
                verdicts = (f.read(2**20) or b"").decode("utf-8", "replace")
            except BlockingIOError:
                verdicts = ""
        found = _verdicts(verdicts, nonce, len(jobs))
        parts = re.split(rf"^{nonce} job (\d+)$\n?", output, flags=re.M)  # markers only the judge can write
        outputs = {int(n): text[-OUTPUT_TAIL_BYTES:] for n, text in zip(parts[1::2], parts[2::2])}
        output = output.replace(nonce, "<nonce>")
        outcomes: list[Outcome | None] = []
        for number in range(len(jobs)):
            if number in found:
                status, took = found[number]
                outcomes.append(Outcome(status, returncode, took, outputs.get(number, "")))
            elif len(jobs) == 1:  # alone and still no verdict: the run's own end is its status
                status = "timed out" if timed_out else _harness_failure(returncode)
                outcomes.append(Outcome(status, returncode, seconds, output[-OUTPUT_TAIL_BYTES:]))
            else:
                outcomes.append(None)
        return outcomes

    def toolchain(self, language: str) -> dict:
        """Whether `language`'s toolchain runs in this sandbox, and its tools' versions (the first line of
        `<tool> --version`, run inside): {language, available, versions, reason}; probed once."""
        if language not in self._probed:
            versions, reason = self._probe(language)
            if reason:
                log.warning("%s: toolchain unavailable, its programs are not evaluated: %s", language, reason)
            self._probed[language] = {"language": language, "available": reason is None, "versions": versions,
                                      "reason": reason}
        return self._probed[language]

    def _probe(self, language: str) -> tuple[dict[str, str], str | None]:
        """(versions of the tools that answered, why the toolchain does not run here or None)."""
        if language not in self.toolchains:  # a McEval / MdEval language the suite has no toolchain for
            return {}, f"no toolchain configured for language {language!r} (eval.languages)"
        tool = self.toolchains[language]
        missing = [t for t in tool.tools() if not tool.findable(t)]
        if missing:
            return {}, f"{', '.join(missing)} not found (install: {tool.packages})"
        versions: dict[str, str] = {}
        probes = [Toolchain.probe(t) for t in tool.tools()]
        outcomes = self._batch([RUNNER, "{input}", "{verdict}"], probes, len(probes) * Toolchain.PROBE_S,
                               tool.memory_mb, tool.nproc)
        for name, outcome in zip(tool.tools(), outcomes):
            lines = [line for line in (outcome.output if outcome else "").splitlines() if line.strip()]
            if outcome is None or not outcome.passed:
                why = outcome.status if outcome else "no verdict"
                return versions, f"`{name} --version` fails in the sandbox ({why}): " + (lines[-1][:300] if lines else "")
            versions[name] = lines[0].strip() if lines else ""
        return versions, None

    def judge_many(self, programs: Sequence[Program], threads: int = 1, desc: str = "sandbox",
                   batch: int | None = None, progress: bool = True) -> list[Outcome]:
        """`judge` each program, `threads` sandboxes at a time, `batch` programs per sandbox (default:
        the sandbox's `batch`, one language per sandbox); results in input order. A program whose batch
        gave it no verdict is judged again alone; a program whose language's toolchain is unavailable
        gets the status "unavailable"."""
        size = max(1, batch or self.batch)
        outcomes: list[Outcome | None] = [None] * len(programs)
        by_language: dict[tuple[str, bool], list[int]] = {}
        for i, p in enumerate(programs):
            by_language.setdefault((p.language, p.unittest), []).append(i)
        chunks = []
        for (language, _), indices in by_language.items():
            if language != "python" and not (probe := self.toolchain(language))["available"]:
                for i in indices:
                    outcomes[i] = Outcome(UNAVAILABLE, None, 0.0, probe["reason"])
                continue
            chunks += [indices[i : i + size] for i in range(0, len(indices), size)]
        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool, \
                tqdm(total=sum(map(len, chunks)), desc=desc, unit="program", disable=not progress) as bar:
            for chunk, got in zip(chunks, pool.map(lambda c: self._judge_batch([programs[i] for i in c]), chunks)):
                for i, outcome in zip(chunk, got):
                    outcomes[i] = outcome
                bar.update(len(chunk))
            again = [i for i, o in enumerate(outcomes) if o is None]
            for i, (outcome,) in zip(again, pool.map(lambda i: self._judge_batch([programs[i]]), again)):
                outcomes[i] = outcome
        return outcomes  # type: ignore[return-value]


def _verdicts(text: str, nonce: str, count: int) -> dict[int, tuple[str, float]]:
    """{job number: (status, seconds)} from the judge's verdict lines; lines without the nonce, or
    malformed, count for nothing."""
    found: dict[int, tuple[str, float]] = {}
    for line in text.splitlines():
        head, _, rest = line.partition(" ")
        number, _, body = rest.partition(" ")
        if head != nonce or not number.isdigit() or not int(number) < count:
            continue
        status = _verdict_status(body)
        try:
            took = float(json.loads(body).get("seconds", 0.0))
        except (ValueError, AttributeError, TypeError):
            continue
        if status is not None:
            found.setdefault(int(number), (status, took))
    return found


def _verdict_status(body: str) -> str | None:
    """The status of one verdict's JSON body, or None if it is not a verdict."""
    try:
        found = json.loads(body)
    except json.JSONDecodeError:
        return None
    status = found.get("status") if isinstance(found, dict) else None
    if status in ("passed", "timed out"):
        return status
    if status in ("failed", "not evaluated", UNAVAILABLE) and isinstance(found.get("reason"), str):
        return f"{status}: {found['reason']}"
    return None


def _harness_failure(returncode: int) -> str:
    """Status of a run whose judge gave no verdict (killed by the completion, or by a limit)."""
    if returncode == CPU_LIMIT_EXIT:
        return "timed out"
    return f"failed: no verdict (judge {describe_exit(returncode)})"
