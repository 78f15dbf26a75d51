# Exact dedup (paper 1.3): hash every shard, decide once over all hashes, drop per shard.
# dedup.level (opencoder.data.dedup.units): `file` dedups the preprocess shards' files; `repository` and
# `chunk` first build units (a repository's files concatenated, or that cut into chunks) per shard, run the
# same exact and fuzzy steps on the units, and drop the files of removed units at the end (fuzzy_dedup).


def dedup_level(wildcards):
    return cfg(wildcards)["dedup"].get("level", "file")


def dedup_documents(wildcards):
    """What exact dedup reads for a shard: its files (file level) or its units."""
    if dedup_level(wildcards) == "file":
        return up("preprocess", "preprocess/{shard}.parquet")(wildcards)
    return up("dedup", "exact/units/{shard}.parquet")(wildcards)


def units_file(path):
    """Input function: `path` under the dedup stage's `exact/units/` (none at file level)."""
    def paths(wildcards):
        return [] if dedup_level(wildcards) == "file" else up("dedup", f"exact/units/{path}")(wildcards)
    return paths


rule dedup_units_index:
    input:
        per_shard("preprocess", "preprocess/{shard}.parquet"),
    output:
        directory(f"{R('dedup')}/exact/units/index"),
    message:
        "dedup units: where every repository starts and lies -> {output}"
    params:
        shards=listed(),
    threads: res("dedup_units_index")["threads"]
    resources:
        **res("dedup_units_index"),
    log:
        f"{R('dedup')}/logs/dedup_units_index.log",
    shell:
        "{OPENCODER} dedup-units index --input {params.shards:q} --output {output:q} 2> {log:q}"


rule dedup_units:
    input:
        # the shards the index names beside this one are read too: the index job's inputs, so already built
        shard=per_member(up("preprocess", "preprocess/{shard}.parquet")),
        index=f"{R('dedup')}/exact/units/index",
    output:
        units=every_member(f"{R('dedup')}/exact/units/{{shard}}.parquet"),
        members=every_member(f"{R('dedup')}/exact/units/{{shard}}.members.parquet"),
    message:
        batch_message("dedup units: repositories starting in {wildcards.shard} -> {output.units}")
    params:
        cfg=settings_param("dedup.units", lambda build: {k: build["dedup"][k] for k in ("level", "chunk_tokens")}),
    threads: res("dedup_units")["threads"]
    resources:
        **res("dedup_units", batch=True),
    log:
        every_member(f"{R('dedup')}/logs/dedup_units/{{shard}}.log"),
    shell:
        each_member("{OPENCODER} dedup-units units --input {input.shard:q} --index {input.index:q} --output {output.units:q}"
                    " --members {output.members:q} --params {params.cfg:q} 2> {log:q}")


rule exact_hashes:
    input:
        per_member(dedup_documents),
    output:
        every_member(f"{R('dedup')}/exact/hashes/{{shard}}.parquet"),
    message:
        batch_message("exact dedup: hashes of {wildcards.shard} -> {output}")
    params:
        cfg=settings("dedup", "exact"),
    threads: res("exact_hashes")["threads"]
    resources:
        **res("exact_hashes", batch=True),
    log:
        every_member(f"{R('dedup')}/logs/exact_hashes/{{shard}}.log"),
    shell:
        each_member("{OPENCODER} exact-dedup hashes --input {input:q} --output {output:q} --params {params.cfg:q} 2> {log:q}")


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
        shard=per_member(dedup_documents),
        removed=f"{R('dedup')}/exact/removed.parquet",
        members=per_member(units_file("{shard}.members.parquet")),
    output:
        shard=every_member(f"{R('dedup')}/exact/{{shard}}.parquet"),
        stats=every_member(f"{R('dedup')}/exact/{{shard}}.stats.json"),
    message:
        batch_message("exact dedup {wildcards.shard} -> {output.shard}")
    params:
        members=lambda wildcards, input: "--members" if input.members else "",  # the flag of {input.members} (none at file level)
    threads: res("exact_dedup")["threads"]
    resources:
        **res("exact_dedup", batch=True),
    log:
        every_member(f"{R('dedup')}/logs/exact_dedup/{{shard}}.log"),
    shell:
        each_member("{OPENCODER} exact-dedup apply --input {input.shard:q} --removed {input.removed:q} --output {output.shard:q}"
                    " {params.members} {input.members:q} 2> {log:q}")


# Fuzzy dedup (paper 1.4): signatures per shard -> LSH per band range -> clusters once -> removal per shard.
from opencoder.data.dedup.fuzzy.params import FuzzyParams

FUZZY_PARTS = [f"{i:03d}" for i in range(len(FuzzyParams.from_config(config["dedup"]["fuzzy"]).band_ranges()))]


rule fuzzy_signatures:
    input:
        every_member(f"{R('dedup')}/exact/{{shard}}.parquet"),
    output:
        band_keys=every_member(f"{R('dedup')}/fuzzy/signatures/{{shard}}.keys.parquet"),
        docs=every_member(f"{R('dedup')}/fuzzy/signatures/{{shard}}.docs.parquet"),
    message:
        batch_message("fuzzy dedup: signatures of {wildcards.shard} -> {output.band_keys}")
    params:
        cfg=settings("dedup", "fuzzy"),
    threads: res("fuzzy_signatures")["threads"]
    resources:
        **res("fuzzy_signatures", batch=True),
    log:
        every_member(f"{R('dedup')}/logs/fuzzy_signatures/{{shard}}.log"),
    shell:
        each_member("{OPENCODER} fuzzy-dedup signatures --input {input:q} --keys {output.band_keys:q} --docs {output.docs:q}"
                    " --threads {threads} --params {params.cfg:q} 2> {log:q}")


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


def fuzzy_documents(wildcards):
    """What the last dedup step drops from: the exact step's files (file level), or the shard's files as
    preprocess wrote them (repository, chunk: the files of removed units go, whichever step removed them)."""
    if dedup_level(wildcards) == "file":
        return up("dedup", "exact/{shard}.parquet")(wildcards)
    return up("preprocess", "preprocess/{shard}.parquet")(wildcards)


def removed_files(wildcards):
    """What tells `fuzzy-dedup remove` the removed files of both steps (`fuzzy/<shard>.dropped.parquet`): the
    shard before exact dedup (`--files`) at file level; at the others the shard's members file (`--members`),
    beside the units index, whose `<shard>.starts.parquet` names the other members files the job reads."""
    if dedup_level(wildcards) == "file":
        return up("preprocess", "preprocess/{shard}.parquet")(wildcards)
    # only the shard's own members file is declared, not the other shards' that the index names (declaring
    # every shard's made planning quadratic in the shards); those exist when this runs: clusters reads every
    # exact/<shard>.parquet, whose exact_dedup job has its members file as input
    return up("dedup", "exact/units/{shard}.members.parquet")(wildcards)


def removal_flags(wildcards, input):
    """The flags before {input.files}: `--files`, or the level, the units index and `--members`."""
    if dedup_level(wildcards) == "file":
        return "--files"
    return f"--level {dedup_level(wildcards)} --index {shlex.quote(input.index)} --members"


rule fuzzy_dedup:
    input:
        shard=per_member(fuzzy_documents),
        files=per_member(removed_files),
        clusters=f"{R('dedup')}/fuzzy/clusters.parquet",
        index=units_file("index"),
        exact_removed=up("dedup", "exact/removed.parquet"),
    output:
        shard=every_member(f"{R('dedup')}/fuzzy/{{shard}}.parquet"),
        stats=every_member(f"{R('dedup')}/fuzzy/{{shard}}.stats.json"),
        dropped=every_member(f"{R('dedup')}/fuzzy/{{shard}}.dropped.parquet"),
    message:
        batch_message("fuzzy dedup {wildcards.shard} -> {output.shard}")
    params:
        cfg=settings("dedup", "fuzzy"),
        removals=removal_flags,
    threads: res("fuzzy_dedup")["threads"]
    resources:
        **res("fuzzy_dedup", batch=True),
    log:
        every_member(f"{R('dedup')}/logs/fuzzy_dedup/{{shard}}.log"),
    shell:
        each_member("{OPENCODER} fuzzy-dedup remove --input {input.shard:q} --clusters {input.clusters:q} --output {output.shard:q}"
                    " --dropped {output.dropped:q} {params.removals} {input.files:q} --exact-removed {input.exact_removed:q}"
                    " --params {params.cfg:q} 2> {log:q}")
