# Exact dedup (paper 1.3): hash every shard, decide once over all hashes, drop per shard.


rule exact_hashes:
    input:
        f"{OUT}/preprocess/{{shard}}.parquet",
    output:
        f"{OUT}/exact/hashes/{{shard}}.parquet",
    params:
        cfg=params_json("dedup", "exact"),
    threads: res("exact_hashes")["threads"]
    resources:
        **res("exact_hashes"),
    log:
        f"{OUT}/logs/exact_hashes/{{shard}}.log",
    shell:
        "{OPENCODER} exact-dedup hashes --in {input:q} --out {output:q} --params {params.cfg:q} 2> {log:q}"


rule exact_dedup_plan:
    input:
        per_shard(f"{OUT}/exact/hashes/{{shard}}.parquet"),
    output:
        removed=f"{OUT}/exact/removed.parquet",
        summary=f"{OUT}/exact/removed.summary.json",
    threads: res("exact_dedup_plan")["threads"]
    resources:
        **res("exact_dedup_plan"),
    log:
        f"{OUT}/logs/exact_dedup_plan.log",
    shell:
        "{OPENCODER} exact-dedup plan {input:q} --out {output.removed:q} 2> {log:q}"


rule exact_dedup:
    input:
        shard=f"{OUT}/preprocess/{{shard}}.parquet",
        removed=f"{OUT}/exact/removed.parquet",
    output:
        shard=f"{OUT}/exact/{{shard}}.parquet",
        stats=f"{OUT}/exact/{{shard}}.stats.json",
    threads: res("exact_dedup")["threads"]
    resources:
        **res("exact_dedup"),
    log:
        f"{OUT}/logs/exact_dedup/{{shard}}.log",
    shell:
        "{OPENCODER} exact-dedup apply --in {input.shard:q} --removed {input.removed:q} --out {output.shard:q} 2> {log:q}"
