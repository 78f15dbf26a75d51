# The model folder to publish: the export's files plus a README model card built from the build's
# own records (architecture, corpus funnel, training setup and logs, eval scores, rebuild command).
import os


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
