# Evaluation (paper 6): greedy completions from the exported model, each judged in a bubblewrap
# sandbox; pass@k per benchmark. Params are the eval section only: changing an eval setting reruns
# this rule and nothing upstream. A benchmark without data (no path, no package ships it) is
# skipped with one line; the outputs are those of the others. The chat model (`eval_instruct`) is
# asked each problem in the instruct format (prompts.instruct_messages, its chat template) and its
# reply's code block is judged.
from opencoder.evaluation.benchmarks import available as eval_available

EVAL_NAMES = [b["name"] for b in config["eval"]["benchmarks"] if eval_available(b) is None]


def eval_summaries(stage="eval"):
    """Input function: the summary.json of every benchmark evaluated by `stage` (eval, eval_instruct) in the job's build."""
    return lambda w: [up(stage, f"{stage}/{name}/summary.json")(w) for name in EVAL_NAMES]


rule eval:
    input:
        up("hf", "hf_export"),
    output:
        summaries=expand(f"{R('eval')}/eval/{{name}}/summary.json", name=EVAL_NAMES, allow_missing=True),
        results=expand(f"{R('eval')}/eval/{{name}}/results.jsonl", name=EVAL_NAMES, allow_missing=True),
    message:
        "eval -> {params.out}"
    params:
        cfg=settings("eval"),
        out=f"{R('eval')}/eval",
    threads: res("eval")["threads"]
    resources:
        **res("eval"),
    log:
        f"{R('eval')}/logs/eval.log",
    shell:
        "{OPENCODER} eval --input {input:q} --output {params.out:q} --threads {threads}"
        " --params {params.cfg:q} 2> {log:q}"


rule eval_instruct:
    """The chat model (`hf_instruct`) on the same benchmarks and settings as the base model, in the
    instruct prompt format."""
    input:
        up("hf_instruct", "hf_instruct"),
    output:
        summaries=expand(f"{R('eval_instruct')}/eval_instruct/{{name}}/summary.json", name=EVAL_NAMES, allow_missing=True),
        results=expand(f"{R('eval_instruct')}/eval_instruct/{{name}}/results.jsonl", name=EVAL_NAMES, allow_missing=True),
    message:
        "eval instruct -> {params.out}"
    params:
        cfg=settings("eval"),
        out=f"{R('eval_instruct')}/eval_instruct",
    threads: res("eval")["threads"]
    resources:
        **res("eval"),
    log:
        f"{R('eval_instruct')}/logs/eval_instruct.log",
    shell:
        "{OPENCODER} eval --instruct --input {input:q} --output {params.out:q} --threads {threads}"
        " --params {params.cfg:q} 2> {log:q}"
