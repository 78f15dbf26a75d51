"""What crosses between the judge and the candidate (stdlib only; both scripts import it).

A message is an 8-byte big-endian length, then JSON. Values are plain data: JSON's own types,
with tuples, sets, frozensets, bytes, complex numbers and dicts (keys of any plain type) tagged as
one-key objects, so both sides get back exactly the builtin types that were sent.
"""

import json
import os

MAX_DEPTH = 1000


def encode(value, depth=0):
    """Plain data as JSON-able values; a TypeError for anything else (or nested too deeply)."""
    t = type(value)
    if depth > MAX_DEPTH:
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
    """The inverse of `encode`, safe on untrusted JSON: only exact builtin types come out, and
    anything `encode` cannot have made is a ValueError."""
    t = type(value)
    if value is None or t in (bool, int, str, float):
        return value
    if t is list:
        return [decode(v) for v in value]
    if t is not dict or len(value) != 1:
        raise ValueError("malformed value")
    (tag, inner), = value.items()
    if tag == "bytes" and type(inner) is str:
        return bytes.fromhex(inner)
    if type(inner) is not list:
        raise ValueError("malformed value")
    if tag == "tuple":
        return tuple(decode(v) for v in inner)
    if tag == "set":
        return {decode(v) for v in inner}
    if tag == "frozenset":
        return frozenset(decode(v) for v in inner)
    if tag == "dict" and all(type(p) is list and len(p) == 2 for p in inner):
        return {decode(k): decode(v) for k, v in inner}
    if tag == "complex" and len(inner) == 2 and all(type(x) is float for x in inner):
        return complex(*inner)
    raise ValueError("malformed value")


def send(fd, message):
    """Write one message (a JSON-able dict) to `fd`."""
    data = json.dumps(message).encode()
    view = memoryview(len(data).to_bytes(8, "big") + data)
    while view:
        view = view[os.write(fd, view):]
