# Transformation (paper 1.5): copyright notices out of leading comments, PII masked; one job per shard
# (or per batch: rules/common.smk, each_member).


rule transform:
    input:
        per_member(up("dedup", "fuzzy/{shard}.parquet")),
    output:
        shard=every_member(f"{R('transform')}/transform/{{shard}}.parquet"),
        stats=every_member(f"{R('transform')}/transform/{{shard}}.stats.json"),
    message:
        batch_message("transform {wildcards.shard} -> {output.shard}")
    params:
        cfg=settings("transform"),
    threads: res("transform")["threads"]
    resources:
        **res("transform", batch=True),
    log:
        every_member(f"{R('transform')}/logs/transform/{{shard}}.log"),
    shell:
        each_member("{OPENCODER} transform --input {input:q} --output {output.shard:q} --params {params.cfg:q} 2> {log:q}")
