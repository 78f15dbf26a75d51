# Transformation (paper 1.5): copyright notices out of leading comments, PII masked; one job per shard.


rule transform:
    input:
        up("dedup", "fuzzy/{shard}.parquet"),
    output:
        shard=f"{R('transform')}/transform/{{shard}}.parquet",
        stats=f"{R('transform')}/transform/{{shard}}.stats.json",
    message:
        "transform {wildcards.shard} -> {output.shard}"
    params:
        cfg=settings("transform"),
    threads: res("transform")["threads"]
    resources:
        **res("transform"),
    log:
        f"{R('transform')}/logs/transform/{{shard}}.log",
    shell:
        "{OPENCODER} transform --input {input:q} --output {output.shard:q} --params {params.cfg:q} 2> {log:q}"
