# Preprocess (paper 1.2): language table, size cap, excluded and unknown types; one job per shard.


rule preprocess:
    input:
        up("ingest", "ingest/{shard}.parquet"),
    output:
        shard=f"{R('preprocess')}/preprocess/{{shard}}.parquet",
        stats=f"{R('preprocess')}/preprocess/{{shard}}.stats.json",
        dropped=f"{R('preprocess')}/preprocess/{{shard}}.dropped.parquet",
    message:
        "preprocess {wildcards.shard} -> {output.shard}"
    params:
        cfg=settings("preprocess"),
    threads: res("preprocess")["threads"]
    resources:
        **res("preprocess"),
    log:
        f"{R('preprocess')}/logs/preprocess/{{shard}}.log",
    shell:
        "{OPENCODER} preprocess --input {input:q} --output {output.shard:q} --params {params.cfg:q} 2> {log:q}"
