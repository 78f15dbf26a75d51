# The model folder to publish: the export's files plus a README model card built from the build's
# own records (architecture, corpus funnel, training setup and logs, eval scores, rebuild command);
# the chat model's folder likewise, with its SFT data, schedule and scores next to the base model's.
import os

from opencoder.training.params import SFT_STAGES


def rebuild_command(target="model"):
    """`make run` with the config files this build was given, relative to the checkout when inside it."""
    extra = [os.path.relpath(f) if not os.path.relpath(f).startswith("..") else str(f)
             for f in workflow.configfiles if os.path.abspath(f) != os.path.abspath("config/config.yaml")]
    return f"make run TARGET={target}" + (f' CONFIG="{" ".join(extra)}"' if extra else "")


rule model:
    input:
        export=f"{OUT}/hf_export",
        funnel=f"{OUT}/corpus/funnel.json",
        pretrain=f"{OUT}/pretrain/metrics.jsonl",
        anneal=f"{OUT}/anneal/metrics.jsonl",
        evals=rules.eval.output.summaries,
    output:
        directory(f"{OUT}/model"),
    message:
        "model card -> {output}"
    params:
        cfg=settings_param("card", {**config["card"], "rebuild": rebuild_command()}),
        training=training_settings("anneal"),
    threads: res("model")["threads"]
    resources:
        **res("model"),
    log:
        f"{OUT}/logs/model.log",
    shell:
        "{OPENCODER} card --input {input.export:q} --output {output:q} --funnel {input.funnel:q}"
        " --pretrain-metrics {input.pretrain:q} --anneal-metrics {input.anneal:q} --eval {input.evals:q}"
        " --training {params.training:q} --params {params.cfg:q} 2> {log:q}"


rule model_instruct:
    """The chat model's folder: the `hf_instruct` files plus a card with its SFT data, schedule and
    scores next to the base model's."""
    input:
        export=f"{OUT}/hf_instruct",
        stats=expand(f"{OUT}/sft/{{stage}}/{{f}}.stats.json", stage=SFT_STAGES, f=["data", "clean", "packed"]),
        metrics=expand(f"{OUT}/sft/{{stage}}/metrics.jsonl", stage=SFT_STAGES),
        base=rules.eval.output.summaries,
        evals=rules.eval_instruct.output.summaries,
    output:
        directory(f"{OUT}/model_instruct"),
    message:
        "instruct model card -> {output}"
    params:
        cfg=settings_param("card", {**config["card"], "rebuild": rebuild_command("model_instruct")}),
        sft=settings_param("sft.training", {s: sft_params(config, s) for s in SFT_STAGES}),
        sft_dir=f"{OUT}/sft",
    threads: res("model")["threads"]
    resources:
        **res("model"),
    log:
        f"{OUT}/logs/model_instruct.log",
    shell:
        "{OPENCODER} card --input {input.export:q} --output {output:q} --sft-dir {params.sft_dir:q}"
        " --sft-training {params.sft:q} --base-eval {input.base:q} --eval {input.evals:q}"
        " --params {params.cfg:q} 2> {log:q}"
