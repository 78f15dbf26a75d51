# Filtering (paper 1.6): the release's rule set, per shard. Writes the kept documents, one decision
# per document (`opencoder filter --explain`), stats per rule and group, and dropped samples per rule.


rule filter:
    input:
        per_member(up("transform", "transform/{shard}.parquet")),
    output:
        docs=every_member(f"{R('filter')}/filter/{{shard}}.parquet"),
        decisions=every_member(f"{R('filter')}/filter/{{shard}}.decisions.parquet"),
        stats=every_member(f"{R('filter')}/filter/{{shard}}.stats.json"),
        samples=every_member(f"{R('filter')}/filter/samples/{{shard}}.parquet"),
    message:
        batch_message("filter {wildcards.shard} -> {output.docs}")
    params:
        cfg=settings("filter"),
    threads: res("filter")["threads"]
    resources:
        **res("filter", batch=True),
    log:
        every_member(f"{R('filter')}/logs/filter/{{shard}}.log"),
    shell:
        each_member("POLARS_MAX_THREADS={threads} {OPENCODER} filter --input {input:q} --output {output.docs:q}"
                    " --explain {output.decisions:q} --stats {output.stats:q} --samples {output.samples:q}"
                    " --threads {threads} --params {params.cfg:q} 2> {log:q}")
