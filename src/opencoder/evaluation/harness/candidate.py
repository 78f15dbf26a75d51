"""The completion's process inside the sandbox, started by `judge.py` (stdlib only).

It executes the prompt plus the completion, then answers the judge's calls of its functions,
one message at a time (8-byte length, then JSON). Nothing it sends is trusted: the judge decodes
it into exact builtin types, so this file only needs to be right for honest completions.

    candidate.py REQUEST_FD RESPONSE_FD
"""

import json
import os
import sys


def encode(value, depth=0):
    t = type(value)
    if depth > 1000:
        raise TypeError("value nested too deeply")
    if value is None or t is bool or t is int or t is str or t is float:
        return value
    if t is list:
        return [encode(v, depth + 1) for v in value]
    if t is tuple:
        return {"tuple": [encode(v, depth + 1) for v in value]}
    if t is dict:
        return {"dict": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    if t is set or t is frozenset:
        return {t.__name__: [encode(v, depth + 1) for v in value]}
    if t is bytes:
        return {"bytes": value.hex()}
    if t is complex:
        return {"complex": [value.real, value.imag]}
    raise TypeError(f"the judge compares plain data only; got {t.__name__}")


def decode(value):
    if type(value) is list:
        return [decode(v) for v in value]
    if type(value) is dict:
        (tag, inner), = value.items()
        if tag == "bytes":
            return bytes.fromhex(inner)
        if tag == "dict":
            return {decode(k): decode(v) for k, v in inner}
        if tag == "complex":
            return complex(*inner)
        return {"tuple": tuple, "set": set, "frozenset": frozenset}[tag](decode(v) for v in inner)
    return value


def read_exact(fd, n):
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 2**20))
        if not chunk:
            raise SystemExit(0)  # the judge is done
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def send(fd, message):
    data = json.dumps(message).encode()
    view = memoryview(len(data).to_bytes(8, "big") + data)
    while view:
        view = view[os.write(fd, view):]


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
