# Sampling (paper 1.7) and the corpus: a keep fraction per language from the filtered corpus's
# per-language bytes, then a seeded per-document draw on every shard; `corpus` adds the funnel.


rule sample_plan:
    input:
        per_shard("filter", "filter/{shard}.stats.json"),
    output:
        f"{R('sample')}/sample/plan.json",
    message:
        "sample: keep fractions per language -> {output}"
    params:
        cfg=settings("sample"),
        stats=listed(),
    threads: res("sample_plan")["threads"]
    resources:
        **res("sample_plan"),
    log:
        f"{R('sample')}/logs/sample_plan.log",
    shell:
        "{OPENCODER} sample plan --stats {params.stats:q} --output {output:q} --params {params.cfg:q} 2> {log:q}"


rule sample:
    input:
        shard=per_member(up("filter", "filter/{shard}.parquet")),
        plan=rules.sample_plan.output[0],
    output:
        corpus=every_member(f"{R('sample')}/corpus/{{shard}}.parquet"),
        stats=every_member(f"{R('sample')}/corpus/{{shard}}.stats.json"),
    message:
        batch_message("sample {wildcards.shard} -> {output.corpus}")
    threads: res("sample")["threads"]
    resources:
        **res("sample", batch=True),
    log:
        every_member(f"{R('sample')}/logs/sample/{{shard}}.log"),
    shell:
        each_member("{OPENCODER} sample apply --plan {input.plan:q} --input {input.shard:q}"
                    " --output {output.corpus:q} --stats {output.stats:q} 2> {log:q}")


FUNNEL_STAGES = [("ingest", "ingest", "ingest"), ("preprocess", "preprocess", "preprocess"), ("exact_dedup", "dedup", "exact"),
                 ("fuzzy_dedup", "dedup", "fuzzy"), ("transform", "transform", "transform"), ("filter", "filter", "filter"),
                 ("sample", "sample", "corpus")]


# The funnel reads every data stage's stats (opencoder.data.funnel.STAGES): all are its inputs.
rule corpus:
    input:
        ingest=up("ingest", "ingest"),
        preprocess=per_shard("preprocess", "preprocess/{shard}.stats.json"),
        exact=per_shard("dedup", "exact/{shard}.stats.json"),
        fuzzy=per_shard("dedup", "fuzzy/{shard}.stats.json"),
        transform=per_shard("transform", "transform/{shard}.stats.json"),
        filter=per_shard("filter", "filter/{shard}.stats.json"),
        corpus=per_shard("sample", "corpus/{shard}.stats.json"),
    output:
        f"{R('sample')}/corpus/funnel.json",
    message:
        "corpus funnel -> {output}"
    params:
        root=OUT,
        # with variants, each stage's folder under its own root (the funnel's stages, opencoder.data.funnel)
        stages=lambda w: "".join(
            f" --stage " + shlex.quote(f"{name}={os.path.relpath(root(stage, w), OUT)}/{folder}") for name, stage, folder in FUNNEL_STAGES
        ) if VARIANTS else "",
    threads: res("corpus")["threads"]
    resources:
        **res("corpus"),
    log:
        f"{R('sample')}/logs/corpus.log",
    shell:
        "{OPENCODER} funnel --input {params.root:q}{params.stages} --output {output:q} 2> {log:q}"
