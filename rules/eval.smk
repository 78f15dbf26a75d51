# Evaluation (paper 6): greedy completions from the exported model, each judged in a bubblewrap
# sandbox; pass@k per benchmark. Params are the eval section only: changing an eval setting reruns
# this rule and nothing upstream.


BENCHMARKS = [b["name"] for b in config["eval"]["benchmarks"]]
EVAL = "{OPENCODER} eval --model {input:q} --out {params.out:q} --threads {threads} --params {params.cfg:q} 2> {log:q}"


rule eval:
    input:
        f"{OUT}/hf_export",
    output:
        summaries=expand(f"{OUT}/eval/{{name}}/summary.json", name=BENCHMARKS),
        results=expand(f"{OUT}/eval/{{name}}/results.jsonl", name=BENCHMARKS),
    params:
        cfg=params_json("eval"),
        out=f"{OUT}/eval",
    threads: res("eval")["threads"]
    resources:
        **res("eval"),
    log:
        f"{OUT}/logs/eval.log",
    shell:
        EVAL


rule eval_instruct:
    """The chat model (`hf_instruct`) on the same benchmarks and settings as the base model."""
    input:
        f"{OUT}/hf_instruct",
    output:
        summaries=expand(f"{OUT}/eval_instruct/{{name}}/summary.json", name=BENCHMARKS),
        results=expand(f"{OUT}/eval_instruct/{{name}}/results.jsonl", name=BENCHMARKS),
    params:
        cfg=params_json("eval"),
        out=f"{OUT}/eval_instruct",
    threads: res("eval")["threads"]
    resources:
        **res("eval"),
    log:
        f"{OUT}/logs/eval_instruct.log",
    shell:
        EVAL
