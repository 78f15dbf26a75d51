"""`opencoder batch`: the one-shard commands of a batch job, one forked process each.

A batch job (resources.shards_per_job, rules/common.smk `each_member`) runs one `opencoder` command per
member shard. As separate commands each paid for a Python start and the stage's imports (about a CPU
second), so a small build at 100 shards a job paid minutes for the empty pads of its last batch. Here
the stage is imported once; each member then runs in a child forked from that process: its own
process as before (nothing carries over from one member to the next), its stderr in its own log.

Input, on stdin: per member, NUL-terminated, its log path, its argument count, and its arguments (what
follows `opencoder`), as `printf '%s\\0' "$log" "${#args[@]}" "${args[@]}"` writes them. The members
run in order; the first that fails ends the batch with its exit status, as a shell loop under
`set -e` would.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shlex
import sys
import traceback

from opencoder import cli
from opencoder.core.errors import OpencoderError


def members(data: bytes) -> list[tuple[str, list[str]]]:
    """(log, arguments) of each member in `data` (the format above)."""
    fields = data.split(b"\0")
    if fields[-1]:
        raise OpencoderError("stdin: the last field is not NUL-terminated (a member was cut short)")
    fields.pop()
    out, i = [], 0
    while i < len(fields):
        if i + 1 >= len(fields) or not fields[i + 1].isdigit():
            raise OpencoderError(f"stdin: member {len(out) + 1} has no argument count after its log path")
        log, count = os.fsdecode(fields[i]), int(fields[i + 1])
        args = [os.fsdecode(f) for f in fields[i + 2 : i + 2 + count]]
        if len(args) != count:
            raise OpencoderError(f"stdin: member {len(out) + 1} has {len(args)} of its {count} arguments")
        out.append((log, args))
        i += 2 + count
    return out


def run_member(log: str, args: list[str]) -> int:
    """`opencoder <args>` in a forked child with stdin from /dev/null and stderr to `log`; its exit status."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child never returns: its exit status is the command's
        status = 1
        try:
            with open(log, "wb") as err, open(os.devnull, "rb") as null:
                os.dup2(err.fileno(), 2)
                os.dup2(null.fileno(), 0)
            status = cli.main(args)
        except SystemExit as exc:  # argparse's usage errors, as the command would exit
            status = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
            if isinstance(exc.code, str):
                print(exc.code, file=sys.stderr)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def main(argv: list[str]) -> int:
    argparse.ArgumentParser(prog="opencoder batch", description=__doc__.split("\n\n")[0],
                            epilog="stdin: per member, NUL-terminated: its log path, its argument count, its arguments"
                            ).parse_args(argv)
    batch = members(sys.stdin.buffer.read())
    stages = {args[0] for _, args in batch if args and args[0] in cli.STAGES}
    for stage in sorted(stages):  # imported once here, so no member pays for it
        importlib.import_module(cli.STAGES[stage])
    for n, (log, args) in enumerate(batch, 1):
        status = run_member(log, args)
        if status:
            print(f"opencoder batch: member {n} of {len(batch)} exited with {status}: "
                  f"opencoder {shlex.join(args)} (its log: {log})", file=sys.stderr)
            return status if status > 0 else 128 - status  # a signal, as the shell reports it
    return 0
