# Pretraining and annealing (paper 3.3 and 4) with megatron-core. A rule's params are the chosen
# model shape and its training recipe (opencoder.training.params): a change to them retrains, a
# change to any other section (evaluation, cards) does not. Intermediate checkpoints go to
# <stage>/work, which is not an output, so a killed job resumes from its last one on rebuild.
rule pretrain:
    input:
        blend=f"{OUT}/tokens/blend.json",
    output:
        checkpoint=directory(f"{OUT}/pretrain/checkpoint"),
        metrics=f"{OUT}/pretrain/metrics.jsonl",
    message:
        "pretrain -> {output.checkpoint}"
    params:
        cfg=training_settings("pretrain"),
        work=f"{OUT}/pretrain/work",
    threads: res("pretrain")["threads"]
    resources:
        **res("pretrain"),
    log:
        f"{OUT}/logs/pretrain.log",
    shell:
        "OMP_NUM_THREADS={threads} {LAUNCH} --nodes {resources.nodes} --gpus-per-node {resources.gpus}"
        " --cpus-per-task {threads} -- train --stage pretrain --input {input.blend:q}"
        " --output {output.checkpoint:q} --work {params.work:q} --metrics {output.metrics:q}"
        " --params {params.cfg:q} 2> {log:q}"


rule anneal_data:
    input:
        corpus=per_shard(f"{OUT}/corpus/{{shard}}.parquet"),
        tokenizer=f"{OUT}/tokenizer/tokenizer.json",
        blend=f"{OUT}/tokens/blend.json",
        synthetic=[synthetic_kept(r) for r in config["anneal"]["data"]["synthetic"]],
    output:
        data=multiext(f"{OUT}/anneal_data/algorithmic", ".bin", ".idx"),
        blend=f"{OUT}/anneal_data/blend.json",
        stats=f"{OUT}/anneal_data/stats.json",
    message:
        "anneal data: the algorithmic corpus -> {output.blend}"
    params:
        cfg=settings("anneal", "data"),
        corpus=listed("corpus"),
        tokenizer=f"{OUT}/tokenizer",
        dir=f"{OUT}/anneal_data",
        synthetic=[f"{r}={synthetic_kept(r)}" for r in config["anneal"]["data"]["synthetic"]],
    threads: res("anneal_data")["threads"]
    resources:
        **res("anneal_data"),
    log:
        f"{OUT}/logs/anneal_data.log",
    shell:
        "{OPENCODER} anneal-data --input {params.corpus:q} --tokenizer {params.tokenizer:q}"
        " --blend {input.blend:q} --synthetic {params.synthetic:q} --output {params.dir:q} --params {params.cfg:q} 2> {log:q}"


rule anneal:
    input:
        blend=rules.anneal_data.output.blend,
        pretrained=rules.pretrain.output.checkpoint,
    output:
        checkpoint=directory(f"{OUT}/anneal/checkpoint"),
        metrics=f"{OUT}/anneal/metrics.jsonl",
    message:
        "anneal -> {output.checkpoint}"
    params:
        cfg=training_settings("anneal"),
        work=f"{OUT}/anneal/work",
    threads: res("anneal")["threads"]
    resources:
        **res("anneal"),
    log:
        f"{OUT}/logs/anneal.log",
    shell:
        "OMP_NUM_THREADS={threads} {LAUNCH} --nodes {resources.nodes} --gpus-per-node {resources.gpus}"
        " --cpus-per-task {threads} -- train --stage anneal --input {input.blend:q}"
        " --init-from {input.pretrained:q} --output {output.checkpoint:q} --work {params.work:q}"
        " --metrics {output.metrics:q} --params {params.cfg:q} 2> {log:q}"
