# Pretraining and annealing (paper 3.3 and 4) with megatron-core. A rule's params are the chosen
# model shape and its training recipe (opencoder.training.params): a change to them retrains, a
# change to any other section (evaluation, cards) does not. Intermediate checkpoints go to
# <stage>/work, which is not an output, so a killed job resumes from its last one on rebuild.
rule pretrain:
    input:
        blend=up("tokens", "tokens/blend.json"),
    output:
        checkpoint=directory(f"{R('pretrain')}/pretrain/checkpoint"),
        metrics=f"{R('pretrain')}/pretrain/metrics.jsonl",
    message:
        "pretrain -> {output.checkpoint}"
    params:
        cfg=training_settings("pretrain"),
        work=f"{R('pretrain')}/pretrain/work",
    threads: res("pretrain")["threads"]
    resources:
        **res("pretrain"),
    log:
        f"{R('pretrain')}/logs/pretrain.log",
    shell:
        "OMP_NUM_THREADS={threads} {LAUNCH} --nodes {resources.nodes} --gpus-per-node {resources.gpus}"
        " --cpus-per-task {threads} -- train --stage pretrain --input {input.blend:q}"
        " --output {output.checkpoint:q} --work {params.work:q} --metrics {output.metrics:q}"
        " --params {params.cfg:q} 2> {log:q}"


rule anneal_data:
    input:
        corpus=per_shard("sample", "corpus/{shard}.parquet"),
        tokenizer=up("tokenizer", "tokenizer/tokenizer.json"),
        blend=up("tokens", "tokens/blend.json"),
        synthetic=lambda w: [synthetic_kept(r)(w) for r in cfg(w)["anneal"]["data"]["synthetic"]],
    output:
        data=multiext(f"{R('anneal')}/anneal_data/algorithmic", ".bin", ".idx"),
        blend=f"{R('anneal')}/anneal_data/blend.json",
        stats=f"{R('anneal')}/anneal_data/stats.json",
    message:
        "anneal data: the algorithmic corpus -> {output.blend}"
    params:
        cfg=settings("anneal", "data"),
        corpus=listed("corpus"),
        tokenizer=lambda w: root("tokenizer", w) + "/tokenizer",
        dir=f"{R('anneal')}/anneal_data",
        synthetic=lambda w: [f"{r}={synthetic_kept(r)(w)}" for r in cfg(w)["anneal"]["data"]["synthetic"]],
    threads: res("anneal_data")["threads"]
    resources:
        **res("anneal_data"),
    log:
        f"{R('anneal')}/logs/anneal_data.log",
    shell:
        "{OPENCODER} anneal-data --input {params.corpus:q} --tokenizer {params.tokenizer:q}"
        " --blend {input.blend:q} --synthetic {params.synthetic:q} --output {params.dir:q} --params {params.cfg:q} 2> {log:q}"


rule anneal:
    input:
        blend=rules.anneal_data.output.blend,
        pretrained=up("pretrain", "pretrain/checkpoint"),
    output:
        checkpoint=directory(f"{R('anneal')}/anneal/checkpoint"),
        metrics=f"{R('anneal')}/anneal/metrics.jsonl",
    message:
        "anneal -> {output.checkpoint}"
    params:
        cfg=training_settings("anneal"),
        work=f"{R('anneal')}/anneal/work",
    threads: res("anneal")["threads"]
    resources:
        **res("anneal"),
    log:
        f"{R('anneal')}/logs/anneal.log",
    shell:
        "OMP_NUM_THREADS={threads} {LAUNCH} --nodes {resources.nodes} --gpus-per-node {resources.gpus}"
        " --cpus-per-task {threads} -- train --stage anneal --input {input.blend:q}"
        " --init-from {input.pretrained:q} --output {output.checkpoint:q} --work {params.work:q}"
        " --metrics {output.metrics:q} --params {params.cfg:q} 2> {log:q}"
