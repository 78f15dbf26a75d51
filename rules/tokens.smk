# Megatron indexed datasets: every corpus shard encoded in parallel into one dataset per group
# (config tokens.groups), then concatenated per group, with the blend the trainer reads.
import os

TOKEN_GROUPS = list(config["tokens"]["groups"])


rule tokens_shard:
    input:
        corpus=f"{OUT}/corpus/{{shard}}.parquet",
        tokenizer=rules.tokenizer.output.json,
    output:
        data=expand(f"{OUT}/tokens/shards/{{{{shard}}}}/{{group}}.{{ext}}", group=TOKEN_GROUPS, ext=("bin", "idx")),
        stats=f"{OUT}/tokens/shards/{{shard}}/stats.json",
        blend=f"{OUT}/tokens/shards/{{shard}}/blend.json",
    message:
        "tokens {wildcards.shard} -> {output.stats}"
    params:
        cfg=settings("tokens"),
        tokenizer=lambda wildcards, input: os.path.dirname(input.tokenizer),
        dir=lambda wildcards, output: os.path.dirname(output.stats),
    threads: res("tokens_shard")["threads"]
    resources:
        **res("tokens_shard"),
    log:
        f"{OUT}/logs/tokens_shard/{{shard}}.log",
    shell:
        "{OPENCODER} tokens encode --input {input.corpus:q} --tokenizer {params.tokenizer:q}"
        " --output {params.dir:q} --threads {threads} --params {params.cfg:q} 2> {log:q}"


# the final web-recall round's pages (rules/web.smk), encoded like one more shard, when the build has web pages
rule tokens_web:
    input:
        pages=WEB_RECALLED,
        tokenizer=rules.tokenizer.output.json,
    output:
        data=expand(f"{OUT}/tokens/shards/web/{{group}}.{{ext}}", group=TOKEN_GROUPS, ext=("bin", "idx")),
        stats=f"{OUT}/tokens/shards/web/stats.json",
        blend=f"{OUT}/tokens/shards/web/blend.json",
    message:
        "tokens web -> {output.stats}"
    params:
        cfg=settings("tokens"),
        tokenizer=lambda wildcards, input: os.path.dirname(input.tokenizer),
        dir=lambda wildcards, output: os.path.dirname(output.stats),
    threads: res("tokens_shard")["threads"]
    resources:
        **res("tokens_shard"),
    log:
        f"{OUT}/logs/tokens_shard/web.log",
    shell:
        "{OPENCODER} tokens encode --input {input.pages:q} --tokenizer {params.tokenizer:q}"
        " --output {params.dir:q} --threads {threads} --params {params.cfg:q} 2> {log:q}"


def token_folders(wildcards):
    folders = per_shard(f"{OUT}/tokens/shards/{{shard}}/stats.json")(wildcards)
    return folders + ([rules.tokens_web.output.stats] if WEB_BUILD else [])


rule tokens:
    input:
        shards=token_folders,
        tokenizer=rules.tokenizer.output.json,
    output:
        data=expand(f"{OUT}/tokens/{{group}}.{{ext}}", group=TOKEN_GROUPS, ext=("bin", "idx")),
        blend=f"{OUT}/tokens/blend.json",
        stats=f"{OUT}/tokens/stats.json",
    message:
        "tokens: one dataset per group -> {output.blend}"
    params:
        cfg=settings("tokens"),
        tokenizer=lambda wildcards, input: os.path.dirname(input.tokenizer),
        shards=listed("shards", os.path.dirname),
        dir=lambda wildcards, output: os.path.dirname(output.blend),
    threads: res("tokens")["threads"]
    resources:
        **res("tokens"),
    log:
        f"{OUT}/logs/tokens.log",
    shell:
        "{OPENCODER} tokens merge --input {params.shards:q} --tokenizer {params.tokenizer:q}"
        " --output {params.dir:q} --params {params.cfg:q} 2> {log:q}"
