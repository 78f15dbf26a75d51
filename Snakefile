# OpenCoder Cookbook workflow: raw code -> corpus -> tokenizer -> tokens -> model -> scores -> cards.
# Rules only declare inputs, outputs, params and resources; all logic is in src/opencoder.
import subprocess

from snakemake.utils import min_version

from opencoder.core.config import DEFAULT_CONFIG, validate

min_version("9.0")

configfile: "config/config.yaml"
validate(config, [DEFAULT_CONFIG, *workflow.overwrite_configfiles], where="--config")

include: "rules/common.smk"
include: "rules/ingest.smk"
include: "rules/preprocess.smk"
include: "rules/dedup.smk"
include: "rules/transform.smk"
include: "rules/filter.smk"
include: "rules/sample.smk"
include: "rules/tokenizer.smk"
include: "rules/web.smk"
include: "rules/tokens.smk"
include: "rules/synthetic.smk"
include: "rules/train.smk"
include: "rules/import.smk"
include: "rules/sft.smk"
include: "rules/export.smk"
include: "rules/eval.smk"
include: "rules/card.smk"
include: "rules/publish.smk"
include: "rules/report.smk"


rule all:
    """The whole recipe: corpus, tokenizer, tokens, pretrain, anneal, export, eval, model card, report
    figures, two SFT stages, the chat model (export, eval, card); with an imported base model
    (import.source) the base is imported instead of pretrained and annealed."""
    default_target: True
    message:
        "all targets: done"
    input:
        rules.eval.output.summaries if IMPORTED else [f"{OUT}/model", rules.report_figures.input],
        f"{OUT}/model_instruct",


onsuccess:
    # what the build made, where, and its headline numbers (read from the stats files it wrote)
    subprocess.run([PY, "-m", "opencoder", "summary", "--input", OUT], check=False)
