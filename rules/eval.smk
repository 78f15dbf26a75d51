# Evaluation (paper 6): greedy completions from the exported model, each judged in a bubblewrap
# sandbox; pass@k per benchmark. Params are the eval section only: changing an eval setting reruns
# this rule and nothing upstream. A benchmark without data (no path, no package ships it) is
# skipped with one line; the outputs are those of the others.
from opencoder.evaluation.benchmarks import available as eval_available

EVAL_NAMES = [b["name"] for b in config["eval"]["benchmarks"] if eval_available(b) is None]


rule eval:
    input:
        f"{OUT}/hf_export",
    output:
        summaries=expand(f"{OUT}/eval/{{name}}/summary.json", name=EVAL_NAMES),
        results=expand(f"{OUT}/eval/{{name}}/results.jsonl", name=EVAL_NAMES),
    message:
        "eval -> {params.out}"
    params:
        cfg=settings("eval"),
        out=f"{OUT}/eval",
    threads: res("eval")["threads"]
    resources:
        **res("eval"),
    log:
        f"{OUT}/logs/eval.log",
    shell:
        "{OPENCODER} eval --input {input:q} --output {params.out:q} --threads {threads}"
        " --params {params.cfg:q} 2> {log:q}"
