"""The completion's process inside the sandbox, started by `judge.py` (stdlib only).

It executes the prompt plus the completion, then answers the judge's calls of its functions,
one message at a time (8-byte length, then JSON). A stdin/stdout program (LiveCodeBench's
AtCoder and Codeforces problems) is not executed when loaded: it is written to a file and run as a
process of its own for each test (`stdio`), its standard input given, its standard output sent back. Nothing it sends is trusted: the judge decodes
it into exact builtin types, so this file only needs to be right for honest completions.

    candidate.py REQUEST_FD RESPONSE_FD
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I leaves the script's folder off the path
from wire import decode, encode, send  # noqa: E402
del sys.path[0]  # nothing else is imported from there: a job may leave files beside the scripts


def read_exact(fd, n):
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 2**20))
        if not chunk:
            raise SystemExit(0)  # the judge is done
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def run_program(path, text):
    """Run the program at `path` with `text` as standard input; its standard output (stderr is
    left to the judge's log). A program that ends with a nonzero status raised an error."""
    import subprocess

    done = subprocess.run([sys.executable, "-I", "-S", "-B", path], input=text.encode(),
                          stdout=subprocess.PIPE, cwd=os.path.dirname(path))
    if done.returncode != 0:
        how = (f"killed by signal {-done.returncode}" if done.returncode < 0
               else f"exit status {done.returncode}")
        raise RuntimeError(f"the program ended with {how}")
    return done.stdout.decode("utf-8", "replace")


def main():
    req, resp = int(sys.argv[1]), int(sys.argv[2])
    scope = {"__name__": "__main__"}
    program = None
    while True:
        message = json.loads(read_exact(req, int.from_bytes(read_exact(req, 8), "big")))
        try:
            if message["op"] == "load" and message.get("program"):
                import tempfile

                program = os.path.join(tempfile.mkdtemp(), "program.py")
                with open(program, "w", encoding="utf-8") as f:
                    f.write(message["code"])
                value = None
            elif message["op"] == "load":
                exec(compile(message["code"], "<completion>", "exec"), scope)
                value = None
            elif message["op"] == "stdio":
                if program is None:
                    raise RuntimeError("no program loaded")
                value = run_program(program, message["input"])
            else:
                args = decode(message["args"])
                kwargs = {k: decode(v) for k, v in message["kwargs"].items()}
                if message["name"] not in scope:
                    raise NameError(f"name {message['name']!r} is not defined")
                value = encode(scope[message["name"]](*args, **kwargs))
            answer = {"value": value}
        except BaseException as exc:  # the completion's own exit or error is its answer
            try:
                text = str(exc)[:2000]
            except BaseException:
                text = ""
            answer = {"error": type(exc).__name__, "message": text}
        sys.stdout.flush()
        send(resp, answer)


if __name__ == "__main__":
    main()
