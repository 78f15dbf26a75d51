"""The textbook, package and diverse recipes from cached responses (the teacher is never loaded):
seeds, the drawn task specification, parsing, the sandbox's verdicts (passed, failed, unverified),
the funnel and what is kept."""

from __future__ import annotations

import json

import pytest
from conftest import make_documents
from tiny_llama import build_tiny_llama

from opencoder.core import config, shards
from opencoder.core.config import ConfigError
from opencoder.evaluation.sandbox import Limits, Sandbox
from opencoder.synthesis import recipes, synthesize
from opencoder.synthesis.backends import TransformersTeacher
from opencoder.synthesis.cache import Cache, sample_key
from opencoder.training.anneal_data import synthetic_texts

SEED_FILE = '''def add(a, b):
    """Add two numbers."""
    total = a + b
    return total


def area(r):
    """Area of a square of side r."""
    value = r * r
    return value
'''
PROSE = ("Adding two numbers is the simplest function one can write, and it shows how a function "
         "takes its arguments, computes a value from them and hands that value back to its caller. ")
TEXTBOOK_RUNS = PROSE * 2 + """

```python
def add(a, b):
    return a + b

print(add(2, 3))
```

Exercise 1: use `add` to sum a list.

```python
total = 0
for x in [1, 2, 3]:
    total = add(total, x)
assert total == 6
```

```
5
```
"""
TEXTBOOK_RAISES = ("Squares grow quickly: the area of a square is its side times itself, and a program "
                   "that divides by an area must first check that the side is not zero, as here. ") * 2 + """
```python
side = 0
print(10 / (side * side))
```
"""
TEXTBOOK_PROSE_ONLY = ("An area is a measure of the surface a shape covers. For a square, multiply its side by "
                       "itself; doubling the side makes the area four times larger, which is why areas are "
                       "written in square units such as square metres or square feet.") * 2
TEXTBOOK_BROKEN = PROSE * 2 + "\n```python\ndef add(a, b)\n    return a + b\n```\n"
TEXTBOOK_SHORT = "Here:\n```python\nprint(1)\n```"

PACKAGE_RUNS = """Question: How do I turn a Python dictionary into a JSON string with sorted keys?

Answer: `json.dumps` takes `sort_keys=True`:

```python
import json
text = json.dumps({"b": 1, "a": 2}, sort_keys=True)
assert text == '{"a": 2, "b": 1}'
print(text)
```
"""
PACKAGE_RAISES = """Question: How do I read a JSON document from a string in Python?

Answer: use `json.loads`:

```python
import json
data = json.loads("{not json}")
```
"""
PACKAGE_NO_CODE = "Question: What does json.loads do with a bytes object?\n\nAnswer: It decodes it first."
PACKAGE_NO_QUESTION = "Answer:\n```python\nimport json\n```"

DIVERSE_PY_RUNS = """Question: Write a function that returns the longest word of a sentence, the first one on a tie.

Answer:

```python
def longest(sentence):
    return max(sentence.split(), key=len)

assert longest("a bb ccc dd") == "ccc"
```
"""
DIVERSE_PY_FAILS = """Question: Write a function that counts the vowels in a string, upper case included.

Answer:

```python
def vowels(s):
    return sum(c in "aeiou" for c in s)

assert vowels("AEIOU") == 5
```
"""
DIVERSE_PY_CONCEPT = """Question: Explain in a few sentences why a Python list is a poor queue for large inputs.

Answer: Removing the first element of a list shifts every other element, so each pop(0) costs time
proportional to the list's length; collections.deque pops from both ends in constant time."""
DIVERSE_RUST = """Question: Write a Rust function that reverses a string slice into a new String.

Answer:

```rust
fn reverse(s: &str) -> String {
    s.chars().rev().collect()
}
```
"""
MARKDOWN = ("# Sorting in practice\n\nMost languages ship a stable sort in their standard library. "
            "Stability matters when records are sorted by one key and then another: the order of the "
            "first sort survives among the records the second sort considers equal. ") * 2


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    return TransformersTeacher(str(build_tiny_llama(tmp_path_factory.mktemp("teacher"))))


def corpus(tmp_path):
    shard = tmp_path / "corpus" / "00000.parquet"
    shards.write_parquet(make_documents([
        {"path": "m.py", "text": SEED_FILE},
        {"path": "notes/sorting.md", "text": MARKDOWN, "language": "markdown", "doc_type": "text"},
    ]), shard)
    return shard


def params_for(name: str, **overrides) -> dict:
    cfg = config.load()
    params = {**cfg["synthetic"], "decontamination": cfg["sft"]["decontamination"], "seed": 7,
              "sandbox": {**cfg["synthetic"]["sandbox"], "timeout_s": 5}, "languages": cfg["eval"]["languages"]}
    params["recipes"] = {name: {**params["recipes"][name], **overrides}}
    return params


def run_cached(tmp_path, teacher, name: str, params: dict, texts: list[str], finish=None):
    """Build recipe `name` with `texts` as the cached responses of its samples, in order."""
    shard = corpus(tmp_path)
    recipe = params["recipes"][name]
    template = recipes.load_template(recipe["prompt"], recipe["kind"])
    seeds = recipes.seeds([shard], recipe["kind"], recipe.get("seeds") or {})
    items = synthesize.plan(name, recipe, seeds, template, params["seed"])
    assert len(items) == len(texts)
    cache = Cache(tmp_path / "work" / "responses.jsonl")
    for i, (it, text) in enumerate(zip(items, texts)):
        key = sample_key(teacher.identity, template.sha256, it["messages"], it["sampling"], it["seed"])
        cache.put({"key": key, "text": text, "prompt_tokens": 50, "tokens": 40,
                   "finish": (finish or {}).get(i, "stop"), "error": None, "extra": {}})
    cache.close()
    corpus_in = [shard] if recipe["kind"] in recipes.CORPUS_KINDS else []  # a package recipe is given no corpus
    stats = synthesize.build(name, corpus_in, params, tmp_path / "out", tmp_path / "work", teacher=teacher)
    assert teacher.model is None and stats["responses_requested"] == 0
    rows = [json.loads(line) for line in (tmp_path / "out" / "samples.jsonl").read_text().splitlines()]
    kept = [json.loads(line) for line in (tmp_path / "out" / "kept.jsonl").read_text().splitlines()]
    return stats, {r["id"]: r for r in rows}, kept, items


def test_a_setting_the_kind_does_not_read_is_a_clear_error(tmp_path):
    cfg = config.load()["synthetic"]["recipes"]
    for name in cfg:  # the shipped recipes pass
        recipes.check(name, cfg[name])
    with pytest.raises(ConfigError, match=r"textbooks.seeds: modules not read by a textbook recipe"):
        recipes.check("textbooks", {**cfg["textbooks"], "seeds": {"modules": ["json"]}})
    with pytest.raises(ConfigError, match=r"package.task: only a diverse recipe"):
        recipes.check("package", {**cfg["package"], "task": cfg["diverse"]["task"]})
    with pytest.raises(ConfigError, match=r"package.seeds.modules: a package recipe needs"):
        recipes.check("package", {**cfg["package"], "seeds": {}})
    with pytest.raises(ConfigError, match=r"diverse.task.toolchains: Python answers run"):
        recipes.check("diverse", {**cfg["diverse"], "task": {**cfg["diverse"]["task"], "toolchains": {"Python": "py"}}})
    shard = corpus(tmp_path)  # a toolchain that eval.languages does not define
    params = params_for("diverse", task={**cfg["diverse"]["task"], "toolchains": {"Go": "go"}})
    with pytest.raises(ConfigError, match=r"diverse.task.toolchains: go not in eval.languages"):
        synthesize.build("diverse", [shard], params, tmp_path / "o", tmp_path / "w")


def test_python_blocks_take_tagged_sessions_and_compiling_untagged_blocks():
    text = ("```python\nx = 1\n```\n```\nnot python at all\n```\n```pycon\n>>> y = 2\n>>> y + 1\n3\n```\n"
            "```js\nlet z = 3;\n```\n```\nprint(x)\n```\nOutput:\n```\nPoint(x=1, y=2)\n[1, 2]\n```")
    assert recipes.python_blocks(text) == ["x = 1\n", "y = 2\ny + 1\n", "print(x)\n"]  # output blocks left out
    assert recipes.language_blocks(text, "JavaScript") == ["let z = 3;\n"]
    with pytest.raises(recipes.ParseError, match="does not compile"):
        recipes.python_blocks("```python\ndef f(:\n```")


def test_textbook_runs_its_examples_keeps_prose_unverified_and_feeds_the_anneal_blend(tmp_path, teacher):
    params = params_for("textbooks", samples=6, seeds={"min_lines": 3, "max_lines": 40})
    texts = [TEXTBOOK_RUNS, TEXTBOOK_RAISES, TEXTBOOK_PROSE_ONLY, TEXTBOOK_BROKEN, TEXTBOOK_SHORT, TEXTBOOK_RUNS]
    stats, rows, kept, _ = run_cached(tmp_path, teacher, "textbooks", params, texts, finish={5: "length"})
    assert stats["funnel"] == {"seeds": 2, "prompts": 6, "responses": 6, "parsed": 3, "executed": 2, "passed": 1,
                               "unverified": 1, "deduplicated": 2, "decontaminated": 2, "kept": 2}
    assert stats["unverified"] == {"no Python code to run": 1} and stats["keep_unverified"] is True
    why = {i: (r["status"], r["rejected_at"], r["reason"]) for i, r in rows.items()}
    assert why["textbooks-000000"] == ("kept", None, None)
    assert why["textbooks-000001"] == ("rejected", "execution", "failed: ZeroDivisionError")
    assert why["textbooks-000002"] == ("kept", None, None)
    assert why["textbooks-000003"][1] == "parse" and why["textbooks-000003"][2].startswith("code example does not compile")
    assert why["textbooks-000004"][1:] == ("parse", "no explanation: under 200 characters of text outside code blocks")
    assert why["textbooks-000005"][1:] == ("parse", "truncated: cut at max_new_tokens")
    assert rows["textbooks-000002"]["execution"] == {"status": "unverified", "reason": "no Python code to run"}
    assert [(k["verified"], k["execution"]["status"]) for k in kept] == [(True, "passed"), (False, "unverified")]
    assert kept[0]["text"] == TEXTBOOK_RUNS.strip() and kept[0]["seed_source"]["name"] in {"add", "area"}
    # the anneal blend reads them as it reads snippets
    assert synthetic_texts(tmp_path / "out" / "kept.jsonl") == [TEXTBOOK_RUNS.strip(), TEXTBOOK_PROSE_ONLY.strip()]


def test_a_response_echoing_the_prompt_is_rejected():
    template = recipes.load_template("prompts/synthetic/diverse.v1.txt", "diverse")
    assert "Question: the task, self-contained, in a few sentences." in template.instructions()
    echo = ('Here is a task.\n**Question: the task, self-contained, in a few sentences."\n\n'
            "**Answer: The answer is: yes, it is a very good answer.")
    with pytest.raises(recipes.ParseError, match="echoes the prompt"):
        recipes.parse(echo, "diverse", "stop", "Java", template=template)
    assert recipes.parse(DIVERSE_PY_RUNS, "diverse", "stop", "Python", template=template).unverified is None


def test_textbook_seeds_by_rule(tmp_path):
    shard = corpus(tmp_path)
    files = recipes.seeds([shard], "textbook", {"unit": "file", "min_lines": 3, "max_lines": 40})
    assert [(s["name"], s["code"]) for s in files] == [("m.py", SEED_FILE)]
    algorithmic = recipes.seeds([shard], "textbook", {"keywords": ["leetcode"], "only_keywords": True})
    assert algorithmic == []
    documented = recipes.seeds([shard], "textbook", {"documented": True, "min_lines": 3})
    assert [s["name"] for s in documented] == ["add", "area"]


def test_package_seeds_are_the_documented_public_api_in_a_stable_order():
    got = recipes.package_seeds({"modules": ["json", "itertools"], "max_doc_chars": 300})
    names = [s["name"] for s in got]
    assert "json.dumps" in names and "itertools.chain" in names and names.index("json.dumps") < names.index("itertools.chain")
    assert not any(n.split(".")[-1].startswith("_") for n in names)
    assert "json.codecs" not in names  # a module, not an API entry
    dumps = got[names.index("json.dumps")]
    assert dumps["code"].startswith("json.dumps(obj, *, skipkeys=False") and len(dumps["code"]) <= 300 + 6
    assert dumps["package"] == "json" and dumps["version"].startswith("python 3.") and dumps["doc_id"] == "pydoc:json.dumps"
    assert got == recipes.package_seeds({"modules": ["json", "itertools"], "max_doc_chars": 300})
    with pytest.raises(ConfigError, match="no_such_module_here"):
        recipes.package_seeds({"modules": ["no_such_module_here"]})


def test_package_answers_are_run_and_kept_if_they_run(tmp_path, teacher):
    params = params_for("package", samples=5, seeds={"modules": ["json"], "max_doc_chars": 2000})
    texts = [PACKAGE_RUNS, PACKAGE_RAISES, PACKAGE_NO_CODE, PACKAGE_NO_QUESTION, PACKAGE_RUNS]
    stats, rows, kept, items = run_cached(tmp_path, teacher, "package", params, texts)
    seeds = len(recipes.package_seeds(params["recipes"]["package"]["seeds"]))
    assert stats["funnel"] == {"seeds": seeds, "prompts": 5, "responses": 5, "parsed": 3, "executed": 3, "passed": 2,
                               "unverified": 0, "deduplicated": 1, "decontaminated": 1, "kept": 1}
    why = {i: (r["status"], r["rejected_at"], r["reason"]) for i, r in rows.items()}
    assert why["package-000001"][1:] == ("execution", "failed: JSONDecodeError")
    assert why["package-000002"][1:] == ("parse", "no python code block in the answer")
    assert why["package-000003"][1:] == ("parse", "no question before the answer")
    assert why["package-000004"][1:] == ("dedup", "near-duplicate of sample 0")
    k = kept[0]
    assert k["instruction"] == "How do I turn a Python dictionary into a JSON string with sorted keys?"
    assert k["output"].startswith("`json.dumps` takes") and "```python" in k["output"] and k["verified"] is True
    assert k["seed_source"]["package"] == "json" and k["seed_source"]["name"].startswith("json.")
    assert items[0]["source"]["name"] in items[0]["messages"][0]["content"]


def test_a_package_the_sandbox_cannot_import_gives_unverified_samples(tmp_path, teacher):
    sandbox = Sandbox(Limits(timeout_s=5))
    assert synthesize.importable(sandbox, ["json", "polars"]) == {"polars"}  # no site-packages inside
    answer = PACKAGE_RUNS.replace("import json", "import polars\nimport json")
    params = params_for("package", samples=1, seeds={"modules": ["polars"], "max_doc_chars": 500})
    stats, rows, kept, _ = run_cached(tmp_path, teacher, "package", params, [answer])
    assert stats["funnel"]["unverified"] == 1 and stats["funnel"]["executed"] == 0 and kept == []
    assert rows["package-000000"]["reason"] == "unverified: package polars not importable in the sandbox"


def test_diverse_tasks_are_drawn_with_the_config_seed(tmp_path):
    shard = corpus(tmp_path)
    recipe = {**config.load()["synthetic"]["recipes"]["diverse"], "samples": 30}
    template = recipes.load_template(recipe["prompt"], "diverse")
    seeds = recipes.seeds([shard], "diverse", recipe["seeds"])
    assert [s["path"] for s in seeds] == ["notes/sorting.md"]  # text documents only
    a = synthesize.plan("diverse", recipe, seeds, template, 7)
    assert a == synthesize.plan("diverse", recipe, seeds, template, 7)
    tasks = [it["task"] for it in a]
    assert len({t["language"] for t in tasks}) > 3 and len({t["task_type"] for t in tasks}) > 3
    assert all(t["language"] in a[i]["messages"][0]["content"] for i, t in enumerate(tasks))
    assert [it["task"] for it in synthesize.plan("diverse", recipe, seeds, template, 8)] != tasks
    with pytest.raises(ConfigError, match="task: a diverse recipe needs non-empty task_types"):
        synthesize.build("diverse", [shard], params_for("diverse", task={"languages": ["Python"], "difficulties": ["easy"]}),
                         tmp_path / "o", tmp_path / "w")


def test_diverse_runs_python_answers_and_marks_other_languages_unverified(tmp_path, teacher):
    task = {"languages": ["Python"], "difficulties": ["easy"], "task_types": ["code generation"]}
    params = params_for("diverse", samples=4, task=task)
    texts = [DIVERSE_PY_RUNS, DIVERSE_PY_FAILS, DIVERSE_PY_CONCEPT, "Sure, here is a task."]
    stats, rows, kept, items = run_cached(tmp_path / "py", teacher, "diverse", params, texts)
    assert stats["funnel"] == {"seeds": 1, "prompts": 4, "responses": 4, "parsed": 3, "executed": 2, "passed": 1,
                               "unverified": 1, "deduplicated": 2, "decontaminated": 2, "kept": 2}
    why = {i: (r["status"], r["rejected_at"], r["reason"]) for i, r in rows.items()}
    assert why["diverse-000001"][1:] == ("execution", "failed: AssertionError")
    assert why["diverse-000003"][1] == "parse" and why["diverse-000003"][2].startswith("no answer")
    assert [(k["verified"], k["execution"]["status"]) for k in kept] == [(True, "passed"), (False, "unverified")]
    assert kept[0]["task"] == {"language": "Python", "difficulty": "easy", "task_type": "code generation"}
    assert kept[1]["instruction"].startswith("Explain in a few sentences")

    # a language without a toolchain in the sandbox: never passed; kept as unverified by default ...
    rust = {**task, "languages": ["Rust"]}
    stats, rows, kept, _ = run_cached(tmp_path / "rs", teacher, "diverse", params_for("diverse", samples=1, task=rust),
                                      [DIVERSE_RUST])
    assert stats["funnel"]["passed"] == 0 and stats["funnel"]["executed"] == 0 and stats["funnel"]["unverified"] == 1
    assert kept[0]["verified"] is False and kept[0]["execution"]["reason"] == "no toolchain for Rust in the sandbox"
    # ... and dropped with keep_unverified: false
    stats, rows, kept, _ = run_cached(tmp_path / "rs2", teacher, "diverse",
                                      params_for("diverse", samples=1, task=rust, keep_unverified=False), [DIVERSE_RUST])
    assert kept == [] and stats["funnel"]["kept"] == 0
    assert rows["diverse-000000"]["reason"] == "unverified: no toolchain for Rust in the sandbox"


DIVERSE_JS_RUNS = """Question: Write a JavaScript function that sums the even numbers of an array.

Answer:

```javascript
function sumEven(xs) {
  return xs.filter((x) => x % 2 === 0).reduce((a, b) => a + b, 0);
}
console.assert(sumEven([5, 8, 11, 14]) === 22);
if (sumEven([5, 8, 11, 14]) !== 22) { throw new Error("wrong"); }
console.log(sumEven([7, 10]));
```
"""
DIVERSE_JS_THROWS = """Question: Write a JavaScript function that returns the last element of an array.

Answer:

```js
function last(xs) {
  return xs[xs.length];
}
if (last([1, 2, 3]) !== 3) { throw new Error("last([1, 2, 3]) is " + last([1, 2, 3])); }
```
"""


def test_diverse_runs_answers_in_a_language_with_a_toolchain(tmp_path, teacher):
    from opencoder.evaluation.languages import toolchains

    js = config.load()["eval"]["languages"]["js"]
    if not Sandbox(toolchains=toolchains({"js": js})).toolchain("js")["available"]:
        pytest.skip("node does not run in the sandbox here (make setup installs it)")
    task = {"languages": ["JavaScript"], "difficulties": ["easy"], "task_types": ["code generation"],
            "toolchains": {"JavaScript": "js"}}
    params = params_for("diverse", samples=3, task=task, keep_unverified=False)
    no_code = DIVERSE_PY_CONCEPT.replace("Python list", "JavaScript array")
    stats, rows, kept, _ = run_cached(tmp_path, teacher, "diverse", params, [DIVERSE_JS_RUNS, DIVERSE_JS_THROWS, no_code])
    assert stats["funnel"] == {"seeds": 1, "prompts": 3, "responses": 3, "parsed": 3, "executed": 2, "passed": 1,
                               "unverified": 1, "deduplicated": 1, "decontaminated": 1, "kept": 1}
    assert kept[0]["execution"]["status"] == "passed" and kept[0]["execution"]["language"] == "js"
    assert rows["diverse-000001"]["rejected_at"] == "execution" and rows["diverse-000001"]["reason"].startswith("failed")
    assert rows["diverse-000002"]["reason"] == "unverified: no JavaScript code to run"
