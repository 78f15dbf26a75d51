"""Run the OpenCoder release's filter (opc_data_filtering) on documents, deterministically.

Runs in the release's own environment (bench/setup_release_filter.sh), never in the project's:

    <release venv>/bin/python bench/release_filter_worker.py SRC_DIR < docs.jsonl > results.jsonl

Input, one JSON object a line: id, text, path, bytes, lang. Output, one a line: id, program_lang,
doc_type, signals (the release's quality signals), fired (rules whose condition held, the p = 0.8 rules
whatever their draw), errors (signals that raised or timed out, which end their group's loop), crashed.

Per document it calls what the release's `examples/data_cleaning_example.ipynb` calls,
`ComputeCodeQualitySignal().evaluate(...)` then `CodeFilter().evaluate(...)`, with these changes made
around its code, never in it:
- the file name passed is the full base name with its extension, and the language is the release's own
  `get_program_lang(name, ext)` of it (the notebook passes the stem: `CMakeLists.txt` and `_test.go`
  would never match); `lang` is the one given (`en` for code: the notebook's fastText prediction);
- the p = 0.8 rules: `random` in `pipeline.compute_filtering` (where the rule lambdas are evaluated) is
  replaced by an object whose `random()` is 1.0, so such a rule reports whether it fired; the caller
  applies its own seeded draw;
- the per-signal 10 s interval timer is given 10**6 s and disarmed after every document, and the two
  `regex` calls with `timeout=1` run without a timeout (a module that forwards to `regex` minus that
  argument), so no result depends on how busy the machine is.
"""

import json
import os
import signal
import sys
import types


class _Always:
    @staticmethod
    def random():
        return 1.0


def _without_timeout(module):
    shim = types.ModuleType(module.__name__ + "_no_timeout")
    for name in dir(module):
        setattr(shim, name, getattr(module, name))

    def wrap(fn):
        def call(*args, **kwargs):
            kwargs.pop("timeout", None)
            return fn(*args, **kwargs)
        return call

    for name in ("search", "findall", "match", "sub", "finditer", "fullmatch", "split"):
        setattr(shim, name, wrap(getattr(module, name)))
    return shim


def main():
    src = sys.argv[1]
    sys.path.insert(0, src)
    os.chdir(src)
    import regex

    import pipeline.compute_filtering as cf
    import quality_signals.code as qcode
    from pipeline.compute_quality_signals import ComputeCodeQualitySignal
    from utils.preprocessing import get_doc_type, get_program_lang

    cf.random = _Always()
    qcode.re = _without_timeout(regex)
    ccqs = ComputeCodeQualitySignal()
    ccqs.default_time_out = 10**6
    code_filter = cf.CodeFilter()
    out = sys.stdout
    sys.stdout = sys.stderr  # the release prints its warnings
    for line in sys.stdin:
        doc = json.loads(line)
        base = os.path.basename(doc["path"])
        name, ext = os.path.splitext(base)
        ext = ext[1:]
        program_lang = get_program_lang(base, ext)
        doc_type = get_doc_type(program_lang)
        result = json.loads(ccqs.evaluate(text=doc["text"], filename=base, lang=doc["lang"], ext=ext,
                                          file_size_in_byte=doc["bytes"], program_lang=program_lang,
                                          doc_type=doc_type))
        signal.setitimer(signal.ITIMER_REAL, 0)
        quality = result.get("quality_signal")
        decision = json.loads(code_filter.evaluate(doc_type=doc_type, lang=doc["lang"], program_lang=program_lang,
                                                   quality_signal=quality))
        hits = json.loads(decision["hit_map"])
        errors = json.loads(result.get("err_msg", "{}"))
        out.write(json.dumps({
            "id": doc["id"], "program_lang": program_lang, "doc_type": doc_type,
            "signals": json.loads(quality) if quality else None,
            "fired": sorted(r for r, hit in hits.items() if hit),
            "errors": sorted(errors), "crashed": not quality,
            "effective": decision["effective"] == "1",
        }) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
