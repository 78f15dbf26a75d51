# Exact dedup (paper 1.3): hash every shard, decide once over all hashes, drop per shard.


rule exact_hashes:
    input:
        up("preprocess", "preprocess/{shard}.parquet"),
    output:
        f"{R('dedup')}/exact/hashes/{{shard}}.parquet",
    message:
        "exact dedup: hashes of {wildcards.shard} -> {output}"
    params:
        cfg=settings("dedup", "exact"),
    threads: res("exact_hashes")["threads"]
    resources:
        **res("exact_hashes"),
    log:
        f"{R('dedup')}/logs/exact_hashes/{{shard}}.log",
    shell:
        "{OPENCODER} exact-dedup hashes --input {input:q} --output {output:q} --params {params.cfg:q} 2> {log:q}"


rule exact_dedup_plan:
    input:
        per_shard("dedup", "exact/hashes/{shard}.parquet"),
    output:
        removed=f"{R('dedup')}/exact/removed.parquet",
        summary=f"{R('dedup')}/exact/removed.summary.json",
    params:
        hashes=listed(),
    message:
        "exact dedup: duplicates over all shards -> {output.removed}"
    threads: res("exact_dedup_plan")["threads"]
    resources:
        **res("exact_dedup_plan"),
    log:
        f"{R('dedup')}/logs/exact_dedup_plan.log",
    shell:
        "{OPENCODER} exact-dedup plan --input {params.hashes:q} --output {output.removed:q} 2> {log:q}"


rule exact_dedup:
    input:
        shard=up("preprocess", "preprocess/{shard}.parquet"),
        removed=f"{R('dedup')}/exact/removed.parquet",
    output:
        shard=f"{R('dedup')}/exact/{{shard}}.parquet",
        stats=f"{R('dedup')}/exact/{{shard}}.stats.json",
    message:
        "exact dedup {wildcards.shard} -> {output.shard}"
    threads: res("exact_dedup")["threads"]
    resources:
        **res("exact_dedup"),
    log:
        f"{R('dedup')}/logs/exact_dedup/{{shard}}.log",
    shell:
        "{OPENCODER} exact-dedup apply --input {input.shard:q} --removed {input.removed:q} --output {output.shard:q} 2> {log:q}"


# Fuzzy dedup (paper 1.4): signatures per shard -> LSH per band range -> clusters once -> removal per shard.
from opencoder.data.dedup.fuzzy.params import FuzzyParams

FUZZY_PARTS = [f"{i:03d}" for i in range(len(FuzzyParams.from_config(config["dedup"]["fuzzy"]).band_ranges()))]


rule fuzzy_signatures:
    input:
        f"{R('dedup')}/exact/{{shard}}.parquet",
    output:
        band_keys=f"{R('dedup')}/fuzzy/signatures/{{shard}}.keys.parquet",
        docs=f"{R('dedup')}/fuzzy/signatures/{{shard}}.docs.parquet",
    message:
        "fuzzy dedup: signatures of {wildcards.shard} -> {output.band_keys}"
    params:
        cfg=settings("dedup", "fuzzy"),
    threads: res("fuzzy_signatures")["threads"]
    resources:
        **res("fuzzy_signatures"),
    log:
        f"{R('dedup')}/logs/fuzzy_signatures/{{shard}}.log",
    shell:
        "{OPENCODER} fuzzy-dedup signatures --input {input:q} --keys {output.band_keys:q} --docs {output.docs:q}"
        " --threads {threads} --params {params.cfg:q} 2> {log:q}"


rule fuzzy_buckets:
    input:
        per_shard("dedup", "fuzzy/signatures/{shard}.keys.parquet"),
    output:
        f"{R('dedup')}/fuzzy/buckets/{{part}}.parquet",
    wildcard_constraints:
        part=r"[0-9]{3}",
    message:
        "fuzzy dedup: LSH band range {wildcards.part} -> {output}"
    params:
        cfg=settings("dedup", "fuzzy"),
        band_keys=listed(),
    threads: res("fuzzy_buckets")["threads"]
    resources:
        **res("fuzzy_buckets"),
    log:
        f"{R('dedup')}/logs/fuzzy_buckets/{{part}}.log",
    shell:
        "{OPENCODER} fuzzy-dedup buckets --part {wildcards.part} --input {params.band_keys:q} --output {output:q} --params {params.cfg:q} 2> {log:q}"


rule fuzzy_clusters:
    input:
        edges=expand(f"{R('dedup')}/fuzzy/buckets/{{part}}.parquet", part=FUZZY_PARTS, allow_missing=True),
        docs=per_shard("dedup", "fuzzy/signatures/{shard}.docs.parquet"),
        documents=per_shard("dedup", "exact/{shard}.parquet"),
    output:
        clusters=f"{R('dedup')}/fuzzy/clusters.parquet",
        removed=f"{R('dedup')}/fuzzy/removed.parquet",
        summary=f"{R('dedup')}/fuzzy/clusters.json",
    message:
        "fuzzy dedup: clusters -> {output.removed}"
    params:
        cfg=settings("dedup", "fuzzy"),
        edges=listed("edges"),
        docs=listed("docs"),
        documents=listed("documents"),
    threads: res("fuzzy_clusters")["threads"]
    resources:
        **res("fuzzy_clusters"),
    log:
        f"{R('dedup')}/logs/fuzzy_clusters.log",
    shell:
        "{OPENCODER} fuzzy-dedup clusters --edges {params.edges:q} --docs {params.docs:q} --documents {params.documents:q}"
        " --clusters {output.clusters:q} --removed {output.removed:q} --summary {output.summary:q}"
        " --params {params.cfg:q} 2> {log:q}"


rule fuzzy_dedup:
    input:
        shard=f"{R('dedup')}/exact/{{shard}}.parquet",
        clusters=f"{R('dedup')}/fuzzy/clusters.parquet",
    output:
        shard=f"{R('dedup')}/fuzzy/{{shard}}.parquet",
        stats=f"{R('dedup')}/fuzzy/{{shard}}.stats.json",
    message:
        "fuzzy dedup {wildcards.shard} -> {output.shard}"
    params:
        cfg=settings("dedup", "fuzzy"),
    threads: res("fuzzy_dedup")["threads"]
    resources:
        **res("fuzzy_dedup"),
    log:
        f"{R('dedup')}/logs/fuzzy_dedup/{{shard}}.log",
    shell:
        "{OPENCODER} fuzzy-dedup remove --input {input.shard:q} --clusters {input.clusters:q} --output {output.shard:q}"
        " --params {params.cfg:q} 2> {log:q}"
