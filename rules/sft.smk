# Two-stage SFT (paper 5). Per stage: its instruction sources -> conversations (sft_data) ->
# decontaminated against the benchmarks (sft_decontaminate) -> packed with the tokenizer's chat
# template (sft_pack) -> trained through the same launcher and loop as pretraining. Stage 1 starts
# from the base checkpoint (annealed, or imported when import.source is set), stage 2 from stage
# 1's; each has its own schedule. A rule's params are only its stage's settings, so a stage-2
# change reruns stage 2 and nothing upstream.
from opencoder.training.params import sft_params, sft_sources as sft_stage_sources, sft_stages

SFT_DOCTESTS = "sft/doctests.jsonl"
# where a stage's data rules write: OUT, or with variants the stage's own root (its key covers only
# what reaches that stage, so variants differing in stage 2 share stage 1)
SFT_R = f"{OUT}/sft_{{stage}}-{{key}}" if VARIANTS else OUT  # under the sft_doctests stage's root


wildcard_constraints:
    stage="stage[12]",


def sft_source_path(s, wildcards):
    """A source's file in the job's build: `builtin: doctests` the doctest set, `synthetic: R` recipe R's
    kept samples, else its `path`."""
    if s.get("builtin") == "doctests":
        return f"{root('sft_doctests', wildcards)}/{SFT_DOCTESTS}"
    if s.get("synthetic"):  # a recipe of synthetic.recipes (opencoder.core.config.references)
        return synthetic_kept(s["synthetic"])(wildcards)
    return s["path"]


def sft_sources(stage, wildcards):
    """The stage's sources in the job's build (sft.strategy `mixed`: stage 1 takes stage 2's too) with
    `builtin:` and `synthetic:` resolved to the build's files."""
    return [{"name": s["name"], "path": sft_source_path(s, wildcards), "weight": s["weight"]}
            for s in sft_stage_sources(cfg(wildcards), stage)]


def stage_settings(name, value):
    """Params function: `value(build, stage)` of the job's build and stage as the settings file `name.format(stage)`."""
    return lambda wildcards: settings_param(name.format(wildcards.stage), lambda build: value(build, wildcards))(wildcards)


rule sft_doctests:
    input:
        corpus=per_shard("sample", "corpus/{shard}.parquet"),
    output:
        data=f"{R('sft_doctests')}/{SFT_DOCTESTS}",
        dropped=f"{R('sft_doctests')}/sft/doctests.dropped.parquet",
        stats=f"{R('sft_doctests')}/sft/doctests.stats.json",
    message:
        "sft doctests -> {output.data}"
    params:
        cfg=settings("sft", "doctests"),
        corpus=listed("corpus"),
    threads: res("sft_doctests")["threads"]
    resources:
        **res("sft_doctests"),
    log:
        f"{R('sft_doctests')}/logs/sft_doctests.log",
    shell:
        "{OPENCODER} sft-doctests --input {params.corpus:q} --output {output.data:q} --threads {threads}"
        " --params {params.cfg:q} 2> {log:q}"


rule sft_data:
    input:
        # files of other stages (the doctest set, synthetic sets under out_dir) are built first
        lambda w: [s["path"] for s in sft_sources(w.stage, w) if s["path"].endswith(SFT_DOCTESTS) or s["path"].startswith(OUT)],
    output:
        data=f"{SFT_R}/sft/{{stage}}/data.jsonl",
        rejected=f"{SFT_R}/sft/{{stage}}/rejected.parquet",
        stats=f"{SFT_R}/sft/{{stage}}/data.stats.json",
    message:
        "sft data {wildcards.stage} -> {output.data}"
    params:
        cfg=stage_settings("sft.{}.sources", lambda build, w: sft_sources(w.stage, w)),
        seed=lambda w: cfg(w)["seed"],
    log:
        f"{SFT_R}/logs/sft_data_{{stage}}.log",
    shell:
        "{OPENCODER} sft-data --stage {wildcards.stage} --output {output.data:q} --seed {params.seed}"
        " --params {params.cfg:q} 2> {log:q}"


rule sft_decontaminate:
    input:
        rules.sft_data.output.data,
    output:
        data=f"{SFT_R}/sft/{{stage}}/clean.jsonl",
        removed=f"{SFT_R}/sft/{{stage}}/removed.parquet",
        stats=f"{SFT_R}/sft/{{stage}}/clean.stats.json",
    message:
        "decontaminate {wildcards.stage} -> {output.data}"
    params:
        cfg=settings("sft", "decontamination"),
    log:
        f"{SFT_R}/logs/sft_decontaminate_{{stage}}.log",
    shell:
        "{OPENCODER} decontaminate --input {input:q} --output {output.data:q} --removed {output.removed:q}"
        " --params {params.cfg:q} 2> {log:q}"


rule sft_pack:
    input:
        data=rules.sft_decontaminate.output.data,
        tokenizer=BASE_TOKENIZER_INPUT,
    output:
        packed=f"{SFT_R}/sft/{{stage}}/packed.npz",
        dropped=f"{SFT_R}/sft/{{stage}}/dropped.parquet",
        stats=f"{SFT_R}/sft/{{stage}}/packed.stats.json",
    message:
        "sft pack {wildcards.stage} -> {output.packed}"
    params:
        # only the stage's sequence length: its other training settings do not repack
        cfg=stage_settings("sft.{}.pack", lambda build, w: {"seq_length": sft_params(build, w.stage)["train"]["seq_length"]}),
        tokenizer=BASE_TOKENIZER,
    log:
        f"{SFT_R}/logs/sft_pack_{{stage}}.log",
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
        packed=f"{R('sft_stage1')}/sft/stage1/packed.npz",
        init=BASE_CHECKPOINT,  # the annealed checkpoint, or the imported one (rules/import.smk)
    output:
        checkpoint=directory(f"{R('sft_stage1')}/sft/stage1/checkpoint"),
        metrics=f"{R('sft_stage1')}/sft/stage1/metrics.jsonl",
    message:
        "sft stage1 -> {output.checkpoint}"
    params:
        stage="sft_stage1",
        cfg=training_settings("sft_stage1"),
        work=f"{R('sft_stage1')}/sft/stage1/work",
    threads: res("sft_stage1")["threads"]
    resources:
        **res("sft_stage1"),
    log:
        f"{R('sft_stage1')}/logs/sft_stage1.log",
    shell:
        SFT_TRAIN


rule sft_stage2:
    input:
        packed=f"{R('sft_stage2')}/sft/stage2/packed.npz",
        init=up("sft_stage1", "sft/stage1/checkpoint"),
    output:
        checkpoint=directory(f"{R('sft_stage2')}/sft/stage2/checkpoint"),
        metrics=f"{R('sft_stage2')}/sft/stage2/metrics.jsonl",
    message:
        "sft stage2 -> {output.checkpoint}"
    params:
        stage="sft_stage2",
        cfg=training_settings("sft_stage2"),
        work=f"{R('sft_stage2')}/sft/stage2/work",
    threads: res("sft_stage2")["threads"]
    resources:
        **res("sft_stage2"),
    log:
        f"{R('sft_stage2')}/logs/sft_stage2.log",
    shell:
        SFT_TRAIN
