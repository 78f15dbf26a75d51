# Two-stage SFT (paper 5). Per stage: its instruction sources -> conversations (sft_data) ->
# decontaminated against the benchmarks (sft_decontaminate) -> packed with the tokenizer's chat
# template (sft_pack) -> trained through the same launcher and loop as pretraining. Stage 1 starts
# from the base checkpoint (annealed, or imported when import.source is set), stage 2 from stage
# 1's; each has its own schedule. A rule's params are only its stage's settings, so a stage-2
# change reruns stage 2 and nothing upstream.
from opencoder.training.params import sft_params

SFT_DOCTESTS = f"{OUT}/sft/doctests.jsonl"


wildcard_constraints:
    stage="stage[12]",


def sft_source_path(s):
    """A source's file: `builtin: doctests` the build's doctest set, `synthetic: R` recipe R's kept samples."""
    if s.get("builtin") == "doctests":
        return SFT_DOCTESTS
    if s.get("synthetic"):
        if s["synthetic"] not in config["synthetic"]["recipes"]:
            raise ValueError(f"sft source {s['name']}: synthetic recipe {s['synthetic']!r} is not in synthetic.recipes")
        return synthetic_kept(s["synthetic"])
    return s["path"]


def sft_sources(stage):
    """The stage's sources with `builtin:` and `synthetic:` resolved to the build's files."""
    return [{"name": s["name"], "path": sft_source_path(s), "weight": s["weight"]} for s in config["sft"][stage]["sources"]]


def stage_settings(name, value):
    """Params function: `value(stage)` of the job's stage as the settings file `name.format(stage)`."""
    return lambda wildcards: settings_param(name.format(wildcards.stage), value(wildcards.stage))(wildcards)


rule sft_doctests:
    input:
        corpus=per_shard(f"{OUT}/corpus/{{shard}}.parquet"),
    output:
        data=SFT_DOCTESTS,
        dropped=f"{OUT}/sft/doctests.dropped.parquet",
        stats=f"{OUT}/sft/doctests.stats.json",
    message:
        "sft doctests -> {output.data}"
    params:
        cfg=settings("sft", "doctests"),
        corpus=listed("corpus"),
    threads: res("sft_doctests")["threads"]
    resources:
        **res("sft_doctests"),
    log:
        f"{OUT}/logs/sft_doctests.log",
    shell:
        "{OPENCODER} sft-doctests --input {params.corpus:q} --output {output.data:q} --threads {threads}"
        " --params {params.cfg:q} 2> {log:q}"


rule sft_data:
    input:
        # files of other stages (the doctest set, synthetic sets under out_dir) are built first
        lambda w: [s["path"] for s in sft_sources(w.stage) if s["path"] == SFT_DOCTESTS or s["path"].startswith(OUT)],
    output:
        data=f"{OUT}/sft/{{stage}}/data.jsonl",
        rejected=f"{OUT}/sft/{{stage}}/rejected.parquet",
        stats=f"{OUT}/sft/{{stage}}/data.stats.json",
    message:
        "sft data {wildcards.stage} -> {output.data}"
    params:
        cfg=stage_settings("sft.{}.sources", sft_sources),
        seed=config["seed"],
    log:
        f"{OUT}/logs/sft_data_{{stage}}.log",
    shell:
        "{OPENCODER} sft-data --stage {wildcards.stage} --output {output.data:q} --seed {params.seed}"
        " --params {params.cfg:q} 2> {log:q}"


rule sft_decontaminate:
    input:
        rules.sft_data.output.data,
    output:
        data=f"{OUT}/sft/{{stage}}/clean.jsonl",
        removed=f"{OUT}/sft/{{stage}}/removed.parquet",
        stats=f"{OUT}/sft/{{stage}}/clean.stats.json",
    message:
        "decontaminate {wildcards.stage} -> {output.data}"
    params:
        cfg=settings("sft", "decontamination"),
    log:
        f"{OUT}/logs/sft_decontaminate_{{stage}}.log",
    shell:
        "{OPENCODER} decontaminate --input {input:q} --output {output.data:q} --removed {output.removed:q}"
        " --params {params.cfg:q} 2> {log:q}"


rule sft_pack:
    input:
        data=rules.sft_decontaminate.output.data,
        tokenizer=BASE_TOKENIZER_INPUT,
    output:
        packed=f"{OUT}/sft/{{stage}}/packed.npz",
        dropped=f"{OUT}/sft/{{stage}}/dropped.parquet",
        stats=f"{OUT}/sft/{{stage}}/packed.stats.json",
    message:
        "sft pack {wildcards.stage} -> {output.packed}"
    params:
        # only the stage's sequence length: its other training settings do not repack
        cfg=stage_settings("sft.{}.pack", lambda stage: {"seq_length": sft_params(config, stage)["train"]["seq_length"]}),
        tokenizer=BASE_TOKENIZER,
    log:
        f"{OUT}/logs/sft_pack_{{stage}}.log",
    shell:
        "{OPENCODER} sft-pack --stage {wildcards.stage} --input {input.data:q} --tokenizer {params.tokenizer:q}"
        " --output {output.packed:q} --params {params.cfg:q} 2> {log:q}"


SFT_TRAIN = (
    "OMP_NUM_THREADS={threads} {LAUNCH} --nodes {resources.nodes} --gpus-per-node {resources.gpus}"
    " --cpus-per-task {threads} -- train --stage {params.stage} --input {input.packed:q}"
    " --init-from {input.init:q} --output {output.checkpoint:q} --work {params.work:q}"
    " --metrics {output.metrics:q} --params {params.cfg:q} 2> {log:q}"
)


rule sft_stage1:
    input:
        packed=f"{OUT}/sft/stage1/packed.npz",
        init=BASE_CHECKPOINT,  # the annealed checkpoint, or the imported one (rules/import.smk)
    output:
        checkpoint=directory(f"{OUT}/sft/stage1/checkpoint"),
        metrics=f"{OUT}/sft/stage1/metrics.jsonl",
    message:
        "sft stage1 -> {output.checkpoint}"
    params:
        stage="sft_stage1",
        cfg=training_settings("sft_stage1"),
        work=f"{OUT}/sft/stage1/work",
    threads: res("sft_stage1")["threads"]
    resources:
        **res("sft_stage1"),
    log:
        f"{OUT}/logs/sft_stage1.log",
    shell:
        SFT_TRAIN


rule sft_stage2:
    input:
        packed=f"{OUT}/sft/stage2/packed.npz",
        init=rules.sft_stage1.output.checkpoint,
    output:
        checkpoint=directory(f"{OUT}/sft/stage2/checkpoint"),
        metrics=f"{OUT}/sft/stage2/metrics.jsonl",
    message:
        "sft stage2 -> {output.checkpoint}"
    params:
        stage="sft_stage2",
        cfg=training_settings("sft_stage2"),
        work=f"{OUT}/sft/stage2/work",
    threads: res("sft_stage2")["threads"]
    resources:
        **res("sft_stage2"),
    log:
        f"{OUT}/logs/sft_stage2.log",
    shell:
        SFT_TRAIN
