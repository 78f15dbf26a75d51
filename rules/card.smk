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
        export=up("hf", "hf_export"),
        funnel=up("sample", "corpus/funnel.json"),
        pretrain=up("pretrain", "pretrain/metrics.jsonl"),
        anneal=up("anneal", "anneal/metrics.jsonl"),
        evals=eval_summaries(),
    output:
        directory(f"{R('model')}/model"),
    message:
        "model card -> {output}"
    params:
        cfg=settings_param("card", lambda build: {**build["card"], "rebuild": rebuild_command()}),
        training=training_settings("anneal"),
    threads: res("model")["threads"]
    resources:
        **res("model"),
    log:
        f"{R('model')}/logs/model.log",
    shell:
        "{OPENCODER} card --input {input.export:q} --output {output:q} --funnel {input.funnel:q}"
        " --pretrain-metrics {input.pretrain:q} --anneal-metrics {input.anneal:q} --eval {input.evals:q}"
        " --training {params.training:q} --params {params.cfg:q} 2> {log:q}"


rule model_instruct:
    """The chat model's folder: the `hf_instruct` files plus a card with its SFT data, schedule and
    scores next to the base model's."""
    input:
        export=up("hf_instruct", "hf_instruct"),
        stats=lambda w: [up(f"sft_{stage}", f"sft/{stage}/{f}.stats.json")(w) for stage in sft_stages(cfg(w)) for f in ["data", "clean", "packed"]],
        metrics=lambda w: [up(f"sft_{stage}", f"sft/{stage}/metrics.jsonl")(w) for stage in sft_stages(cfg(w))],
        base=eval_summaries(),
        evals=eval_summaries("eval_instruct"),
    output:
        directory(f"{R('model_instruct')}/model_instruct"),
    message:
        "instruct model card -> {output}"
    params:
        cfg=settings_param("card", lambda build: {**build["card"], "rebuild": rebuild_command("model_instruct")}),
        sft=settings_param("sft.training", lambda build: {s: sft_params(build, s) for s in sft_stages(build)}),
        # the folder holding the stages' sft/<stage>/: with variants, one per stage (each stage's root)
        sft_dir=lambda w: [root(f"sft_{s}", w) + "/sft" for s in sft_stages(cfg(w))] if VARIANTS else f"{OUT}/sft",
    threads: res("model")["threads"]
    resources:
        **res("model"),
    log:
        f"{R('model_instruct')}/logs/model_instruct.log",
    shell:
        "{OPENCODER} card --input {input.export:q} --output {output:q} --sft-dir {params.sft_dir:q}"
        " --sft-training {params.sft:q} --base-eval {input.base:q} --eval {input.evals:q}"
        " --params {params.cfg:q} 2> {log:q}"
