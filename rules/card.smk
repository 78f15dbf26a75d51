# The model folder to publish: the export's files plus a README model card built from the build's
# own records (architecture, corpus funnel, training setup and logs, eval scores, rebuild command).
import json
import os

from opencoder.training.params import stage_params as training_params


def rebuild_command():
    """`make run` with the config files this build was given, relative to the checkout when inside it."""
    extra = [os.path.relpath(f) if not os.path.relpath(f).startswith("..") else str(f)
             for f in workflow.configfiles if os.path.abspath(f) != os.path.abspath("config/config.yaml")]
    return "make run TARGET=model" + (f' CONFIG="{" ".join(extra)}"' if extra else "")


rule model:
    input:
        export=f"{OUT}/hf_export",
        funnel=f"{OUT}/corpus/funnel.json",
        pretrain=f"{OUT}/pretrain/metrics.jsonl",
        anneal=f"{OUT}/anneal/metrics.jsonl",
        evals=rules.eval.output.summaries,
    output:
        directory(f"{OUT}/model"),
    params:
        cfg=params_json("card"),
        training=json.dumps(training_params(config, "anneal"), sort_keys=True, separators=(",", ":")),
        rebuild=rebuild_command(),
    threads: res("model")["threads"]
    resources:
        **res("model"),
    log:
        f"{OUT}/logs/model.log",
    shell:
        "{OPENCODER} card --export {input.export:q} --out {output:q} --funnel {input.funnel:q}"
        " --pretrain-metrics {input.pretrain:q} --anneal-metrics {input.anneal:q} --eval {input.evals:q}"
        " --training {params.training:q} --rebuild {params.rebuild:q} --params {params.cfg:q} 2> {log:q}"


rule model_instruct:
    """The chat model's folder: the `hf_instruct` files plus a card with its SFT data, schedule and
    scores next to the base model's."""
    input:
        export=f"{OUT}/hf_instruct",
        stats=expand(f"{OUT}/sft/{{stage}}/{{f}}.stats.json", stage=["stage1", "stage2"], f=["data", "clean", "packed"]),
        metrics=expand(f"{OUT}/sft/{{stage}}/metrics.jsonl", stage=["stage1", "stage2"]),
        base=rules.eval.output.summaries,
        evals=rules.eval_instruct.output.summaries,
    output:
        directory(f"{OUT}/model_instruct"),
    params:
        cfg=params_json("card"),
        sft=json.dumps({s: sft_params(config, s) for s in ("stage1", "stage2")}, sort_keys=True, separators=(",", ":")),
        sft_dir=f"{OUT}/sft",
        rebuild=rebuild_command().replace("TARGET=model", "TARGET=model_instruct"),
    threads: res("model")["threads"]
    resources:
        **res("model"),
    log:
        f"{OUT}/logs/model_instruct.log",
    shell:
        "{OPENCODER} card --export {input.export:q} --out {output:q} --sft-dir {params.sft_dir:q}"
        " --sft-params {params.sft:q} --base-eval {input.base:q} --eval {input.evals:q}"
        " --rebuild {params.rebuild:q} --params {params.cfg:q} 2> {log:q}"
