# Preprocess (paper 1.2): language table, size cap, excluded and unknown types; one job per shard (or per
# batch of resources.shards_per_job shards: rules/common.smk, each_member).


rule preprocess:
    input:
        per_member(up("ingest", "ingest/{shard}.parquet"), pads=False),
    output:
        shard=every_member(f"{R('preprocess')}/preprocess/{{shard}}.parquet"),
        stats=every_member(f"{R('preprocess')}/preprocess/{{shard}}.stats.json"),
        dropped=every_member(f"{R('preprocess')}/preprocess/{{shard}}.dropped.parquet"),
    message:
        batch_message("preprocess {wildcards.shard} -> {output.shard}")
    params:
        cfg=settings("preprocess"),
    threads: res("preprocess")["threads"]
    resources:
        **res("preprocess", batch=True),
    log:
        every_member(f"{R('preprocess')}/logs/preprocess/{{shard}}.log"),
    shell:
        each_member("{OPENCODER} preprocess --input {input:q} --output {output.shard:q} --params {params.cfg:q} 2> {log:q}",
                    pads="--empty")
