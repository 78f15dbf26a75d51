# Megatron indexed datasets: every corpus shard encoded in parallel into one dataset per group
# (config tokens.groups), then concatenated per group, with the blend the trainer reads.
import os

TOKEN_GROUPS = list(config["tokens"]["groups"])


rule tokens_shard:
    input:
        corpus=per_member(up("sample", "corpus/{shard}.parquet")),
        tokenizer=up("tokenizer", "tokenizer/tokenizer.json"),
    output:
        data=every_member(expand(f"{R('tokens')}/tokens/shards/{{{{shard}}}}/{{group}}.{{ext}}", group=TOKEN_GROUPS, ext=("bin", "idx"), allow_missing=True)),
        stats=every_member(f"{R('tokens')}/tokens/shards/{{shard}}/stats.json"),
        blend=every_member(f"{R('tokens')}/tokens/shards/{{shard}}/blend.json"),
    message:
        batch_message("tokens {wildcards.shard} -> {output.stats}")
    params:
        cfg=settings("tokens"),
        tokenizer=lambda wildcards, input: os.path.dirname(input.tokenizer),
        dir=every_member(f"{R('tokens')}/tokens/shards/{{shard}}"),
    threads: res("tokens_shard")["threads"]
    resources:
        **res("tokens_shard", batch=True),
    log:
        every_member(f"{R('tokens')}/logs/tokens_shard/{{shard}}.log"),
    shell:
        each_member("{OPENCODER} tokens encode --input {input.corpus:q} --tokenizer {params.tokenizer:q}"
                    " --output {params.dir:q} --threads {threads} --params {params.cfg:q} 2> {log:q}")


# the final web-recall round's pages (rules/web.smk), encoded like one more shard, when the build has web pages
rule tokens_web:
    input:
        pages=WEB_RECALLED,
        tokenizer=up("tokenizer", "tokenizer/tokenizer.json"),
    output:
        data=expand(f"{R('tokens')}/tokens/shards/web/{{group}}.{{ext}}", group=TOKEN_GROUPS, ext=("bin", "idx"), allow_missing=True),
        stats=f"{R('tokens')}/tokens/shards/web/stats.json",
        blend=f"{R('tokens')}/tokens/shards/web/blend.json",
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
        f"{R('tokens')}/logs/tokens_shard/web.log",
    shell:
        "{OPENCODER} tokens encode --input {input.pages:q} --tokenizer {params.tokenizer:q}"
        " --output {params.dir:q} --threads {threads} --params {params.cfg:q} 2> {log:q}"


def token_folders(wildcards):
    folders = per_shard("tokens", "tokens/shards/{shard}/stats.json")(wildcards)
    return folders + ([up("tokens", "tokens/shards/web/stats.json")(wildcards)] if WEB_BUILD else [])


rule tokens:
    input:
        shards=token_folders,
        tokenizer=up("tokenizer", "tokenizer/tokenizer.json"),
    output:
        data=expand(f"{R('tokens')}/tokens/{{group}}.{{ext}}", group=TOKEN_GROUPS, ext=("bin", "idx"), allow_missing=True),
        blend=f"{R('tokens')}/tokens/blend.json",
        stats=f"{R('tokens')}/tokens/stats.json",
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
        f"{R('tokens')}/logs/tokens.log",
    shell:
        "{OPENCODER} tokens merge --input {params.shards:q} --tokenizer {params.tokenizer:q}"
        " --output {params.dir:q} --params {params.cfg:q} 2> {log:q}"
