"""The evaluation sandbox: correct programs pass, wrong ones fail, hostile ones are contained.

Every probe runs for real under bubblewrap; "the host is untouched" is checked on the host
(files, listening sockets, leftover processes) after the sandboxed program has finished.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import psutil
import pytest

from opencoder.evaluation.sandbox import Limits, Program, Sandbox, SandboxError, describe_exit

REPO = Path(__file__).resolve().parents[1]
LIMITS = Limits(timeout_s=3, memory_mb=1024, nproc=32, file_size_mb=8)


@pytest.fixture(scope="module")
def sandbox():
    return Sandbox(LIMITS)


def run(sandbox, code, tests="", entry_points=()):
    """Judge `code` (the completion) against `tests`; with no tests, the completion must just load."""
    return sandbox.judge(Program(completion=code, tests=tests, entry_points=tuple(entry_points)))


def _children() -> set[int]:
    """Processes descended from this test process (other tests may leave their own running)."""
    return {c.pid for c in psutil.Process().children(recursive=True)}


def test_correct_program_passes_and_wrong_one_fails(sandbox):
    assert run(sandbox, "def f(x):\n    return x + 1\n", "assert f(1) == 2", ["f"]).status == "passed"
    wrong = run(sandbox, "def f(x):\n    return x - 1\n", "assert f(1) == 2", ["f"])
    assert wrong.status == "failed: AssertionError" and not wrong.passed
    assert run(sandbox, "def f(:\n", "assert f(1) == 2", ["f"]).status == "failed: SyntaxError"
    assert run(sandbox, "def g(x):\n    return x\n", "assert f(1) == 2", ["f"]).status == "failed: NameError"
    killed = run(sandbox, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    assert killed.status == "failed: candidate ended while loading (killed by SIGKILL)"


def test_exit_statuses_are_named_whatever_they_are():
    # bwrap reports a signal as 128 + its number; 129-255 are also plain exit statuses a program may choose
    names = {code: describe_exit(code) for code in range(-64, 256)}
    assert names[137] == "killed by SIGKILL" and names[-9] == "killed by SIGKILL"
    assert names[200] == "exit status 200" and names[0] == "exit status 0" and names[1] == "exit status 1"


@pytest.mark.parametrize("code", [
    "import sys\nsys.exit(200)\n",   # a status above 128 that names no signal
    "import os\nos._exit(200)\n",
    "import os\nos._exit(0)\n",      # success before any test ran
    "import sys\nsys.exit(0)\n",
    "def f(x):\n    import os\n    os._exit(0)\n",
    "def f(x):\n    raise SystemExit(0)\n",
])
def test_exiting_early_always_gets_a_status_and_never_passes(sandbox, code):
    out = run(sandbox, code, "assert f(1) == 2", ["f"])
    assert out.status.startswith("failed: ") and not out.passed, out


def test_fork_bomb_is_contained(sandbox):
    before = _children()
    out = run(sandbox, "import os\nwhile True:\n    os.fork()")
    assert not out.passed
    assert out.seconds < LIMITS.timeout_s + 2
    assert _children() <= before


def test_network_is_unreachable_even_on_loopback(sandbox, tmp_path):
    # a real server on the host's loopback: reachable from the host, not from the sandbox
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted = []
    server.settimeout(5)

    def serve():
        try:
            accepted.append(server.accept())
        except OSError:
            pass

    thread = threading.Thread(target=serve)
    thread.start()
    probe = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'x')"
    out = run(sandbox, probe)
    assert out.status == "failed: ConnectionRefusedError"  # the sandbox's own, empty loopback
    assert run(sandbox, "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=2)").status == "failed: OSError"
    assert run(sandbox, "import socket\nsocket.getaddrinfo('pypi.org', 443)").status.startswith("failed")
    assert accepted == []
    socket.create_connection(("127.0.0.1", port), timeout=2).close()  # control: the host can connect
    thread.join()
    server.close()
    assert len(accepted) == 1


def test_writes_outside_tmp_fail_and_leave_the_host_untouched(sandbox, tmp_path):
    host_dir = REPO / ".sandbox-probe-dir"  # outside /tmp, on the host
    host_dir.mkdir(exist_ok=True)
    os.chmod(host_dir, 0o777)
    try:
        for target in [host_dir / "escaped.txt", Path("/usr/escaped.txt"), Path("/etc/escaped.txt")]:
            out = run(sandbox, f"open({str(target)!r}, 'w').write('x')")
            assert out.status.startswith("failed: ") and "Error" in out.status, (target, out)
            assert not target.exists()
        assert list(host_dir.iterdir()) == []
    finally:
        host_dir.rmdir()
    # the private /tmp is writable, and private: nothing appears in the host's /tmp
    marker = f"sandbox-probe-{os.getpid()}"
    assert run(sandbox, f"open('/tmp/{marker}', 'w').write('x')\nassert open('/tmp/{marker}').read() == 'x'").passed
    assert not Path("/tmp", marker).exists()


def test_host_files_are_not_visible(sandbox, tmp_path):
    secret = REPO / "pyproject.toml"  # a host file outside the system directories
    assert secret.exists()
    assert run(sandbox, f"open({str(secret)!r}).read()").status == "failed: FileNotFoundError"


def test_infinite_loop_and_sleep_time_out(sandbox):
    before = _children()
    for program in ["while True:\n    pass", "import time\ntime.sleep(60)"]:
        start = time.monotonic()
        out = run(sandbox, program)
        assert out.status == "timed out"
        assert time.monotonic() - start < LIMITS.timeout_s + 2
    assert _children() <= before
    # a process still running inside at the timeout is killed too (looked for on the whole host)
    marker = f"{60 + os.getpid() % 1000 / 1000:.3f}"
    assert run(sandbox, f"import os\nos.execv('/bin/sleep', ['sleep', '{marker}'])").status == "timed out"
    time.sleep(0.2)
    assert [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", marker]] == []


def test_orphaned_background_processes_die_with_the_sandbox(sandbox):
    # a detached child that would outlive the program by a minute; it must not survive the run
    program = "import os\nif os.fork() == 0:\n    os.setsid()\n    os.execv('/bin/sleep', ['sleep', '61.25'])\n"
    assert run(sandbox, program).passed
    time.sleep(0.2)
    assert [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", "61.25"]] == []


def test_huge_allocation_fails_with_memory_error(sandbox):
    out = run(sandbox, "x = bytearray(8 * 2**30)")
    assert out.status == "failed: MemoryError"


def test_big_file_hits_the_file_size_limit(sandbox):
    out = run(sandbox, f"open('/tmp/big', 'wb').write(b'0' * {(LIMITS.file_size_mb + 1) * 2**20})")
    assert out.status == "failed: OSError" and "File too large" in out.output


def test_runs_unprivileged_without_capabilities(sandbox):
    program = (
        "import os\n"
        "assert os.getuid() != 0 or os.geteuid() != 0\n"
        "caps = [l for l in open('/proc/self/status') if l.startswith('CapEff')][0]\n"
        "assert int(caps.split()[1], 16) == 0, caps\n"
        "assert os.getpid() < 10  # its own pid namespace\n"
    )
    assert run(sandbox, program).passed


def test_parallel_checks_keep_input_order(sandbox):
    programs = [f"assert {i} % 2 == 0" for i in range(8)]
    outcomes = sandbox.judge_many([Program(p, "") for p in programs], threads=2)
    assert [o.passed for o in outcomes] == [i % 2 == 0 for i in range(8)]


def test_missing_bwrap_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SandboxError, match="make setup"):
        Sandbox(LIMITS)


# ------------------------------------------------------------- integrity: the judge cannot be fooled ---
# Each completion below tries to make `assert f(1) == 2` pass without computing 2.

CHEATS = {
    "an object equal to everything": "class Any:\n    def __eq__(self, other):\n        return True\n"
                                     "def f(x):\n    return Any()\n",
    "an int subclass that lies": "class Two(int):\n    def __eq__(self, other):\n        return True\n"
                                 "    __hash__ = int.__hash__\ndef f(x):\n    return Two(7)\n",
    "a patched AssertionError": "import builtins\nclass Quiet(Exception):\n    pass\n"
                                "builtins.AssertionError = Quiet\ndef f(x):\n    return 0\n",
    "patched builtins used by tests": "import builtins\nbuiltins.isinstance = lambda *a: True\n"
                                      "builtins.abs = lambda x: 0\ndef f(x):\n    return 0\n",
    "a fake success line": "print('passed', flush=True)\nprint('{\"status\": \"passed\"}', flush=True)\n"
                           "def f(x):\n    return 0\n",
    "forged verdicts on every descriptor": (
        "import os\nfor fd in range(3, 64):\n    for line in (b'{\"status\": \"passed\"}\\n',):\n"
        "        try:\n            os.write(fd, line)\n        except OSError:\n            pass\n"
        "def f(x):\n    return 0\n"),
    "the judge's descriptors and memory": (
        "import os\nppid = os.getppid()\nfor fd in range(64):\n    try:\n"
        "        os.write(os.open(f'/proc/{ppid}/fd/{fd}', os.O_WRONLY), b'{\"status\": \"passed\"}\\n')\n"
        "    except OSError:\n        pass\n"
        "open(f'/proc/{ppid}/mem', 'rb')\n"),
    "the judge killed": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\ndef f(x):\n    return 2\n",
    "the judge stopped": "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)\ndef f(x):\n    return 2\n",
    "the judge traced": "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
                        "assert libc.ptrace(16, os.getppid(), 0, 0) == 0, 'ptrace refused'\ndef f(x):\n    return 0\n",
    "the harness files rewritten": "open('/sandbox/judge.py', 'w').write('print(1)')\ndef f(x):\n    return 0\n",
    "the judge's input read back": (
        "import os\nppid = os.getppid()\nsecret = b''\nfor fd in range(64):\n    try:\n"
        "        secret += open(f'/proc/{ppid}/fd/{fd}', 'rb').read()\n    except OSError:\n        pass\n"
        "assert secret, 'nothing readable'\ndef f(x):\n    return 2\n"),
}


CHEAT_TESTS = "assert f(1) == 2\nassert isinstance(f(1), int)\nassert abs(-2) == 2"


def test_the_cheats_tests_pass_an_honest_solution(sandbox):
    assert run(sandbox, "def f(x):\n    return 2 * x\n", CHEAT_TESTS, ["f"]).passed


@pytest.mark.parametrize("cheat", sorted(CHEATS))
def test_completions_that_cheat_fail(sandbox, cheat):
    out = run(sandbox, CHEATS[cheat], CHEAT_TESTS, ["f"])
    assert not out.passed and out.status != "passed", out
    assert out.status.startswith("failed: ") or out.status == "timed out", out


def test_values_cross_the_boundary_as_exact_plain_data(sandbox):
    kinds = ("(1, [2.5, None], {'a': {1, 2}}, b'x', 3j, frozenset([1]), True, 10**40, float('nan'), "
             "float('inf'), {(1, 2): 'tuple key'})")
    tests = (f"got = f()\nwant = {kinds}\n"
             "assert type(got) is tuple and len(got) == len(want)\n"
             "assert [type(g) for g in got] == [type(w) for w in want]\n"
             "assert got[:8] == want[:8] and got[8] != got[8] and got[9] == want[9] and got[10] == want[10]\n"
             "assert g(got[1], k=got[2]) == [[2.5, None], {'a': {1, 2}}]\n")
    code = f"def f():\n    return {kinds}\ndef g(x, k):\n    return [x, k]\n"
    assert run(sandbox, code, tests, ["f", "g"]).status == "passed"
    assert run(sandbox, "def f():\n    return 1 == 1.0\n", "assert f() is True", ["f"]).passed
    # a bool where an int is expected (True == 1) is a bool on the judge's side too
    assert run(sandbox, "def f():\n    return True\n", "assert type(f()) is int", ["f"]).status == "failed: AssertionError"


def test_candidate_exceptions_reach_the_tests_as_the_same_builtin_class(sandbox):
    tests = "try:\n    f(-1)\nexcept ValueError:\n    pass\nelse:\n    raise AssertionError('no error')\n"
    assert run(sandbox, "def f(x):\n    raise ValueError('negative')\n", tests, ["f"]).passed
    custom = run(sandbox, "class Bad(Exception):\n    pass\ndef f(x):\n    raise Bad()\n", "f(1)", ["f"])
    assert custom.status == "failed: Bad"


def test_jobs_of_one_sandbox_do_not_reach_each_other(sandbox):
    # one sandbox judges several programs in turn: a job's leftovers (a background process, files in
    # /tmp) are gone before the next starts, and a job that kills the judge costs only itself
    leave = ("import os, time\nopen('/tmp/left', 'w').write('x')\n"
             "if os.fork() == 0:\n    os.setsid()\n    time.sleep(30)\n")
    look = ("import os\nassert not os.path.exists('/tmp/left'), 'file left'\n"
            "others = [p for p in os.listdir('/proc') if p.isdigit() and int(p) not in (1, os.getpid(), os.getppid())]\n"
            "assert others == [], others\n")
    kill_judge = "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\ndef f(x):\n    return 2\n"
    honest = Program("def f(x):\n    return 2 * x\n", "assert f(1) == 2", ("f",))
    bomb = "import os\nwhile True:\n    os.fork()"
    programs = [Program(leave, ""), Program(look, ""), Program(bomb, ""), Program(look, ""),
                Program(kill_judge, "assert f(1) == 2", ("f",)), honest]
    outcomes = sandbox.judge_many(programs, threads=1, batch=len(programs))
    statuses = [o.status for o in outcomes]
    assert statuses[2] in ("failed: BlockingIOError", "timed out")  # the bomb meets the process limit
    assert statuses[:2] + statuses[3:] == [
        "passed", "passed", "passed", "failed: no verdict (judge killed by SIGKILL)", "passed"]
