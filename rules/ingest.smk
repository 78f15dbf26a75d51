# Ingest: configured sources -> ingest/<shard>.parquet (+ stats.json, rejected.parquet).
# A checkpoint: the number of shards is known only once it has run.


checkpoint ingest:
    output:
        directory(f"{R('ingest')}/ingest"),
    message:
        "ingest -> {output}"
    params:
        cfg=settings("ingest"),
    threads: res("ingest")["threads"]
    resources:
        **res("ingest"),
    log:
        f"{R('ingest')}/logs/ingest.log",
    shell:
        "{OPENCODER} ingest --output {output:q} --params {params.cfg:q} 2> {log:q}"
