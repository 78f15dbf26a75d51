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

from opencoder.evaluation.sandbox import Limits, Sandbox, SandboxError

REPO = Path(__file__).resolve().parents[1]
LIMITS = Limits(timeout_s=3, memory_mb=1024, nproc=32, file_size_mb=8)


@pytest.fixture(scope="module")
def sandbox():
    return Sandbox(LIMITS)


def _children() -> set[int]:
    """Processes descended from this test process (other tests may leave their own running)."""
    return {c.pid for c in psutil.Process().children(recursive=True)}


def test_correct_program_passes_and_wrong_one_fails(sandbox):
    assert sandbox.check("def f(x):\n    return x + 1\n\nassert f(1) == 2").status == "passed"
    wrong = sandbox.check("def f(x):\n    return x - 1\n\nassert f(1) == 2")
    assert wrong.status == "failed: AssertionError" and not wrong.passed
    assert sandbox.check("def f(:\n").status == "failed: SyntaxError"
    assert sandbox.check("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)").status == "failed: killed by SIGKILL"


def test_exiting_early_with_success_is_not_a_pass(sandbox):
    out = sandbox.check("import sys\nsys.exit(0)\nassert False")
    assert not out.passed and out.returncode == 0


def test_fork_bomb_is_contained(sandbox):
    before = _children()
    out = sandbox.check("import os\nwhile True:\n    os.fork()")
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
    out = sandbox.check(probe)
    assert out.status == "failed: ConnectionRefusedError"  # the sandbox's own, empty loopback
    assert sandbox.check("import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=2)").status == "failed: OSError"
    assert sandbox.check("import socket\nsocket.getaddrinfo('pypi.org', 443)").status.startswith("failed")
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
            out = sandbox.check(f"open({str(target)!r}, 'w').write('x')")
            assert out.status.startswith("failed: ") and "Error" in out.status, (target, out)
            assert not target.exists()
        assert list(host_dir.iterdir()) == []
    finally:
        host_dir.rmdir()
    # the private /tmp is writable, and private: nothing appears in the host's /tmp
    marker = f"sandbox-probe-{os.getpid()}"
    assert sandbox.check(f"open('/tmp/{marker}', 'w').write('x')\nassert open('/tmp/{marker}').read() == 'x'").passed
    assert not Path("/tmp", marker).exists()


def test_host_files_are_not_visible(sandbox, tmp_path):
    secret = REPO / "pyproject.toml"  # a host file outside the system directories
    assert secret.exists()
    assert sandbox.check(f"open({str(secret)!r}).read()").status == "failed: FileNotFoundError"


def test_infinite_loop_and_sleep_time_out(sandbox):
    before = _children()
    for program in ["while True:\n    pass", "import time\ntime.sleep(60)"]:
        start = time.monotonic()
        out = sandbox.check(program)
        assert out.status == "timed out"
        assert time.monotonic() - start < LIMITS.timeout_s + 2
    assert _children() <= before
    # a process still running inside at the timeout is killed too (looked for on the whole host)
    marker = f"{60 + os.getpid() % 1000 / 1000:.3f}"
    assert sandbox.check(f"import os\nos.execv('/bin/sleep', ['sleep', '{marker}'])").status == "timed out"
    time.sleep(0.2)
    assert [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", marker]] == []


def test_orphaned_background_processes_die_with_the_sandbox(sandbox):
    # a detached child that would outlive the program by a minute; it must not survive the run
    program = "import os\nif os.fork() == 0:\n    os.setsid()\n    os.execv('/bin/sleep', ['sleep', '61.25'])\n"
    assert sandbox.check(program).passed
    time.sleep(0.2)
    assert [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", "61.25"]] == []


def test_huge_allocation_fails_with_memory_error(sandbox):
    out = sandbox.check("x = bytearray(8 * 2**30)")
    assert out.status == "failed: MemoryError"


def test_big_file_hits_the_file_size_limit(sandbox):
    out = sandbox.check(f"open('/tmp/big', 'wb').write(b'0' * {(LIMITS.file_size_mb + 1) * 2**20})")
    assert out.status == "failed: OSError" and "File too large" in out.output


def test_runs_unprivileged_without_capabilities(sandbox):
    program = (
        "import os\n"
        "assert os.getuid() != 0 or os.geteuid() != 0\n"
        "caps = [l for l in open('/proc/self/status') if l.startswith('CapEff')][0]\n"
        "assert int(caps.split()[1], 16) == 0, caps\n"
        "assert os.getpid() < 10  # its own pid namespace\n"
    )
    assert sandbox.check(program).passed


def test_parallel_checks_keep_input_order(sandbox):
    programs = [f"assert {i} % 2 == 0" for i in range(8)]
    outcomes = sandbox.check_many(programs, threads=2)
    assert [o.passed for o in outcomes] == [i % 2 == 0 for i in range(8)]


def test_missing_bwrap_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SandboxError, match="make setup"):
        Sandbox(LIMITS)
