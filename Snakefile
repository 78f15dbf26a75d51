# OpenCoder Cookbook workflow: raw code -> corpus -> tokenizer -> tokens -> model -> scores -> cards.
# Rules only declare inputs, outputs, params and resources; all logic is in src/opencoder.
from snakemake.utils import min_version, validate

min_version("9.0")

configfile: "config/config.yaml"
validate(config, "config/schema/config.schema.yaml")

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
include: "rules/train.smk"
include: "rules/export.smk"
include: "rules/eval.smk"
include: "rules/card.smk"
include: "rules/publish.smk"
include: "rules/report.smk"


rule all:
    """The whole recipe: corpus, tokenizer, tokens, pretrain, anneal, export, eval, model card, report figures."""
    default_target: True
    input:
        f"{OUT}/model",
        rules.report_figures.input,
