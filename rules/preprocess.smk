# Preprocess (paper 1.2): language table, size cap, excluded and unknown types; one job per shard.


rule preprocess:
    input:
        f"{OUT}/ingest/{{shard}}.parquet",
    output:
        shard=f"{OUT}/preprocess/{{shard}}.parquet",
        stats=f"{OUT}/preprocess/{{shard}}.stats.json",
        dropped=f"{OUT}/preprocess/{{shard}}.dropped.parquet",
    message:
        "preprocess {wildcards.shard} -> {output.shard}"
    params:
        cfg=settings("preprocess"),
    threads: res("preprocess")["threads"]
    resources:
        **res("preprocess"),
    log:
        f"{OUT}/logs/preprocess/{{shard}}.log",
    shell:
        "{OPENCODER} preprocess --input {input:q} --output {output.shard:q} --params {params.cfg:q} 2> {log:q}"
