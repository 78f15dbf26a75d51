# Sampling (paper 1.7) and the corpus: a keep fraction per language from the filtered corpus's
# per-language bytes, then a seeded per-document draw on every shard; `corpus` adds the funnel.


rule sample_plan:
    input:
        per_shard(f"{OUT}/filter/{{shard}}.stats.json"),
    output:
        f"{OUT}/sample/plan.json",
    message:
        "sample: keep fractions per language -> {output}"
    params:
        cfg=settings("sample"),
        stats=listed(),
    threads: res("sample_plan")["threads"]
    resources:
        **res("sample_plan"),
    log:
        f"{OUT}/logs/sample_plan.log",
    shell:
        "{OPENCODER} sample plan --stats {params.stats:q} --output {output:q} --params {params.cfg:q} 2> {log:q}"


rule sample:
    input:
        shard=f"{OUT}/filter/{{shard}}.parquet",
        plan=rules.sample_plan.output[0],
    output:
        corpus=f"{OUT}/corpus/{{shard}}.parquet",
        stats=f"{OUT}/corpus/{{shard}}.stats.json",
    message:
        "sample {wildcards.shard} -> {output.corpus}"
    threads: res("sample")["threads"]
    resources:
        **res("sample"),
    log:
        f"{OUT}/logs/sample/{{shard}}.log",
    shell:
        "{OPENCODER} sample apply --plan {input.plan:q} --input {input.shard:q}"
        " --output {output.corpus:q} --stats {output.stats:q} 2> {log:q}"


# The funnel reads every data stage's stats (opencoder.data.funnel.STAGES): all are its inputs.
rule corpus:
    input:
        ingest=rules.ingest.output[0],
        preprocess=per_shard(f"{OUT}/preprocess/{{shard}}.stats.json"),
        exact=per_shard(f"{OUT}/exact/{{shard}}.stats.json"),
        fuzzy=per_shard(f"{OUT}/fuzzy/{{shard}}.stats.json"),
        transform=per_shard(f"{OUT}/transform/{{shard}}.stats.json"),
        filter=per_shard(f"{OUT}/filter/{{shard}}.stats.json"),
        corpus=per_shard(f"{OUT}/corpus/{{shard}}.stats.json"),
    output:
        f"{OUT}/corpus/funnel.json",
    message:
        "corpus funnel -> {output}"
    params:
        root=OUT,
    threads: res("corpus")["threads"]
    resources:
        **res("corpus"),
    log:
        f"{OUT}/logs/corpus.log",
    shell:
        "{OPENCODER} funnel --input {params.root:q} --output {output:q} 2> {log:q}"
