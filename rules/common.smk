# Shared names for all rule files: where outputs go, how a rule calls the library, its resources.
import os
import re
import shlex
import string
import sys

from snakemake.iocontainers import Wildcards

from opencoder.core.args import argument_file
from opencoder.core.config import DEFAULT_CONFIG, settings_file, validate, with_overrides
from opencoder.core.resources import rule_resources
from opencoder.core.variants import plan as variant_plan
from opencoder.training.params import stage_params as training_params

# --config as typed values (a profile's nested `config:` arrives as strings), never silently over a config
# file's resources.shards_per_job, and schema-checked
with_overrides(config, workflow.config_settings.config, workflow.overwrite_configfiles)
validate(config, [DEFAULT_CONFIG, *workflow.overwrite_configfiles], where="--config", given=workflow.config_settings.config)
OUT = config["out_dir"]
# Variants (config `variants`, opencoder.core.variants): none, and every stage writes under OUT as a
# single build; some, and a stage writes under OUT/<stage>-<key>, the key a digest of the settings that
# reach it, so variants agreeing up to a stage share its jobs. A rule's paths start with R("<stage>"),
# its inputs from other stages are up("<stage>", "<path under the stage root>"), and what it reads of
# the config comes from cfg(wildcards): the config of the build its job belongs to.
PLAN = variant_plan(config, [DEFAULT_CONFIG, *workflow.overwrite_configfiles])
VARIANTS = PLAN.variants  # name -> config, the base first; empty for a single build
PY = sys.executable  # the interpreter running Snakemake: the project's virtual environment
OPENCODER = f"{PY} -m opencoder"
# Training rules: `{LAUNCH} --nodes {resources.nodes} --gpus-per-node {resources.gpus}
# --cpus-per-task {threads} -- train ...` runs one process per GPU on every node (opencoder.training.launch).
LAUNCH = f"{PY} -m opencoder.training.launch"

# Shards per job of each per-shard rule (config resources.shards_per_job, N = 1, 10, 100 or 1000; see
# each_member below): a batch is named by the shard ids without their last log10(N) digits.
SHARDS_PER_JOB = config["resources"]["shards_per_job"]
BATCH_DIGITS = len(str(SHARDS_PER_JOB)) - 1
MEMBERS = [f"{i:0{BATCH_DIGITS}d}" for i in range(SHARDS_PER_JOB)] if SHARDS_PER_JOB > 1 else [""]

wildcard_constraints:
    shard=r"[0-9]{5}",
    batch=rf"[0-9]{{{5 - BATCH_DIGITS}}}",
    key=r"[0-9a-f]{10}",


def R(stage):
    """Where `stage`'s rules write: OUT, or with variants OUT/<stage>-{key} (the job's key wildcard)."""
    return f"{OUT}/{stage}-{{key}}" if VARIANTS else OUT


def cfg(wildcards=None):
    """The config of the build a job belongs to (its key wildcard); the base config without variants."""
    return PLAN.config_of(wildcards.get("key") if wildcards is not None else None)


def root(stage, wildcards=None):
    """`stage`'s root folder in the build of the job with these wildcards (see R)."""
    return PLAN.root(stage, wildcards.get("key") if wildcards is not None else None)


def up(stage, path, each=None):
    """Input function: `path` (wildcards in braces, e.g. "transform/{shard}.parquet") under `stage`'s root
    in the job's build; `each`: expanded over every ingest shard ({shard})."""
    def paths(wildcards):
        values = dict(wildcards.items())
        if each == "shard":
            return [f"{root(stage, wildcards)}/{path}".format(**values, shard=s) for s in shards(wildcards)]
        return f"{root(stage, wildcards)}/{path}".format(**values)
    return paths


def settings_param(name, value):
    """Params function: `value` (or `value(config)` of the job's build) as `{OUT}/settings/<name>.<digest>.json`
    for `--params FILE`. The path changes exactly when the settings do, so Snakemake's params trigger
    reruns the rule on a change, while the command line stays one short line. Written when a job is
    planned; a dry run writes nothing."""
    made = {}  # key -> path: once per build, not once per shard

    def param(wildcards):
        key = wildcards.get("key")
        if key not in made:
            given = value(cfg(wildcards)) if callable(value) else value
            made[key] = str(settings_file(f"{OUT}/settings", name, given, write=not workflow.dryrun))
        return made[key]
    return param


def settings(*keys):
    """The config section at `keys` (none: the whole config) as a settings file (see settings_param)."""
    def section(build):
        node = build
        for key in keys:
            node = node[key]
        return node
    return settings_param(".".join(keys) or "config", section)


def listed(key=None, each=str):
    """Params function: the rule's input list `key` (none: all its input), each item mapped by `each`,
    as `@{OUT}/args/<key>.<digest>.args` (one argument a line, expanded by `opencoder`), so a
    command stays one short line at any number of shards."""
    def param(wildcards, input):
        items = [each(item) for item in (getattr(input, key) if key else input)]
        return "@" + str(argument_file(f"{OUT}/args", key or "input", items, write=not workflow.dryrun))
    return param


def training_settings(stage):
    """A training stage's params (the model shape and its recipe: opencoder.training.params) as a settings file."""
    return settings_param(f"{stage}.training", lambda build: training_params(build, stage))


def res(rule_name, batch=False):
    """Resources of a rule (opencoder.core.resources: default, the rule's overrides, the SLURM request);
    `batch`: a per-shard rule, whose job runs SHARDS_PER_JOB shards one after the other, so it asks for
    that many times the rule's runtime (threads and memory are one shard's)."""
    return rule_resources(config["resources"], rule_name, shards=SHARDS_PER_JOB if batch else 1)


_SHARDS = {}


def shards(wildcards=None):
    """Shard ids produced by the ingest checkpoint of the job's build (re-evaluated once ingest has run)."""
    ingest = root("ingest", wildcards)
    done = checkpoints.ingest.get(**({"key": ingest.rsplit("-", 1)[1]} if VARIANTS else {})).output[0]
    seen = (done, os.stat(done).st_mtime_ns)  # once per ingest run, not once per job (2,000 shards x every rule)
    if seen not in _SHARDS:
        _SHARDS[seen] = sorted(glob_wildcards(f"{done}/{{shard,[0-9]{{5}}}}.parquet").shard)
    return _SHARDS[seen]


def per_shard(stage, path):
    """Input function: `path` under `stage`'s root (see up) expanded over every ingest shard."""
    return up(stage, path, each="shard")


# Shard batches: with resources.shards_per_job N > 1 a per-shard rule runs one job per batch of N shards
# (`{batch}`: shard 00037 at N = 10 is member 7 of batch 0003), so a build of S shards submits about
# S / N jobs of each per-shard rule instead of S: clusters cap how many jobs a user may queue, and each
# costs scheduling latency. The job declares every member's usual per-shard files, so every path stays
# as it is and consumers still ask for `filter/00037.parquet`; its shell runs the one-shard command for
# each member in turn. The last batch is padded past ingest's last shard: preprocess writes those members
# as empty shards, every later stage runs on them as on any shard, and nothing reads them (`shards`,
# `per_shard`, the funnel list ingest's shards only). With N = 1 every helper returns its argument: the
# rules are the per-shard rules, their jobs and commands exactly those without batching. N shapes the graph
# of jobs: one for the whole build (variants cannot change `resources`).


def member_ids(wildcards):
    """The shard ids of the job's batch, in order."""
    return [wildcards.batch + m for m in MEMBERS]


def every_member(pattern):
    """A path (or list of paths) with {shard}, for outputs, logs, params or inputs: the path of every member
    of the job's batch (`{shard}` as `{batch}` and the member's last digits), so the batch job makes (or
    reads) each member's usual files."""
    if SHARDS_PER_JOB == 1:
        return pattern
    patterns = pattern if isinstance(pattern, list) else [pattern]
    return [p.replace("{shard}", "{batch}" + m) for p in patterns for m in MEMBERS]


def per_member(function, pads=True):
    """Input function: `function` (one shard's input function) for every member of the job's batch, in
    member order. pads=False: only the members ingest made, for preprocess, which writes the others
    (past ingest's last shard, see each_member) itself."""
    if SHARDS_PER_JOB == 1:
        return function

    def members(wildcards):
        ids = member_ids(wildcards)
        if not pads:
            made = set(shards(wildcards))
            real = [s for s in ids if s in made]
            if real != ids[:len(real)]:  # ingest numbers its shards from 00000 on: pads are the last batch's tail
                raise ValueError(f"batch {wildcards.batch}: ingest's shards {real} are not the batch's first members")
            ids = real
        common = {k: v for k, v in wildcards.items() if k != "batch"}
        paths = []
        for shard in ids:
            value = function(Wildcards(fromdict={**common, "shard": shard}))
            paths += value if isinstance(value, list) else [value]
        return paths
    return members


def each_member(command, pads=None):
    """Shell: `command` (one shard's: `[VAR=value ...] {OPENCODER} <arguments> 2> {log:q}`) for every member
    of the job's batch in turn, with the arguments a one-shard job gives it and one log per member. A bash
    loop writes each member's log and arguments, and one `opencoder batch` process runs them, each in a
    child forked after the stage's imports (opencoder.core.batch). Each quoted input, output, log or params
    field ({output.shard:q}) takes member i's value where the job has one per member (every_member,
    per_member), else its one value (a settings file, exact/removed.parquet); other fields ({threads})
    stay. `pads`: what replaces `--input {input:q}` for a member ingest did not make (preprocess: --empty)."""
    if SHARDS_PER_JOB == 1:
        return command
    shape = re.fullmatch(r"((?:[A-Z_]+=\S+ )*)\{OPENCODER\} (.*) 2> \{log:q\}", command)
    if not shape:
        raise ValueError(f"each_member: {command!r} is not '[VAR=value ...] {{OPENCODER}} <arguments> 2> {{log:q}}'")
    environment, command = shape.groups()
    escape = lambda text: text.replace("{", "{{").replace("}", "}}")  # bash text inside Snakemake's format string
    arrays, first = {"_log": "_log=({log:q})"}, ""
    if pads:
        if "--input {input:q}" not in command:
            raise ValueError(f"each_member(pads=...): no '--input {{input:q}}' in {command!r}")
        command = command.replace("--input {input:q}", "\0")
        arrays["_input"] = "_input=({input:q})"  # the members ingest made, first to last; the rest are pads
        first = escape(f'if (( i < ${{#_input[@]}} )); then _source=(--input "${{_input[i]}}"); else _source=({pads}); fi; ')
    body = ""
    for literal, field, spec, conversion in string.Formatter().parse(command):
        body += escape(literal).replace("\0", escape('"${_source[@]}"'))
        if field is None:
            continue
        if spec == "q" and conversion is None and field.split(".")[0] in ("input", "output", "log", "params"):
            name = "_" + field.replace(".", "_")
            arrays.setdefault(name, f"{name}=({{{field}:q}})")
            body += escape(f'${{{name}+"${{{name}[i]-${name}}}"}}')  # none (an empty list) stays none
        else:
            body += "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
    loop = escape(f"for i in {{0..{SHARDS_PER_JOB - 1}}}; do ")
    member = escape(""" _args=(""") + body + escape("""); printf '%s\\0' "${_log[i]}" "${#_args[@]}" "${_args[@]}"; """)
    return "; ".join(arrays.values()) + "; " + loop + first + member + escape("done | ") + environment + "{OPENCODER} batch"


def batch_message(text):
    """A per-shard rule's `message:` for its batch job: {wildcards.shard} as the batch's first and last
    shard, each {output...} as its first member's path and an ellipsis."""
    if SHARDS_PER_JOB == 1:
        return text
    last = MEMBERS[-1]
    out = ""
    for literal, field, spec, conversion in string.Formatter().parse(text):
        out += literal.replace("{", "{{").replace("}", "}}")
        if field == "wildcards.shard":
            out += "{wildcards.batch}" + MEMBERS[0] + "-{wildcards.batch}" + last
        elif field is not None and field.split(".")[0] == "output":
            out += "{" + field + "[0]} …"
        elif field is not None:
            out += "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
    return out
