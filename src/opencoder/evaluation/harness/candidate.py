"""The completion's process inside the sandbox, started by `judge.py` (stdlib only).

It executes the prompt plus the completion, then answers the judge's calls of its functions,
one message at a time (8-byte length, then JSON). Nothing it sends is trusted: the judge decodes
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


def main():
    req, resp = int(sys.argv[1]), int(sys.argv[2])
    scope = {"__name__": "__main__"}
    while True:
        message = json.loads(read_exact(req, int.from_bytes(read_exact(req, 8), "big")))
        try:
            if message["op"] == "load":
                exec(compile(message["code"], "<completion>", "exec"), scope)
                value = None
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
