# Evaluation (paper 6): greedy completions from the exported model, each judged in a bubblewrap
# sandbox; pass@k per benchmark. Params are the eval section only: changing an eval setting reruns
# this rule and nothing upstream.


rule eval:
    input:
        f"{OUT}/hf_export",
    output:
        summaries=expand(f"{OUT}/eval/{{name}}/summary.json", name=[b["name"] for b in config["eval"]["benchmarks"]]),
        results=expand(f"{OUT}/eval/{{name}}/results.jsonl", name=[b["name"] for b in config["eval"]["benchmarks"]]),
    params:
        cfg=params_json("eval"),
        out=f"{OUT}/eval",
    threads: res("eval")["threads"]
    resources:
        **res("eval"),
    log:
        f"{OUT}/logs/eval.log",
    shell:
        "{OPENCODER} eval --input {input:q} --output {params.out:q} --threads {threads}"
        " --params {params.cfg:q} 2> {log:q}"
