# OpenCoder Cookbook workflow: raw code -> corpus -> tokenizer -> tokens -> model -> scores -> cards.
# Rules only declare inputs, outputs, params and resources; all logic is in src/opencoder.
import subprocess

from snakemake.utils import min_version

from opencoder.core import snakemake_scheduler
from opencoder.core.variants import differences as variant_differences

min_version("9.0")
snakemake_scheduler.install()  # one pending re-evaluation timer, not one per finished job

configfile: "config/config.yaml"

include: "rules/common.smk"  # first: it types and checks --config (with_overrides, validate)
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


def final_targets(w):
    """The whole recipe's last files in the build of the job's (or the base's) key."""
    if IMPORTED:
        return eval_summaries()(w) + [up("model_instruct", "model_instruct")(w)]
    figures = [f"{root('report', w)}/report/{name}.png" for name in REPORT_FIGURES]
    pages = [synthetic_page(r)(w) for r in synthetic_recipes(cfg(w))]
    return [up("model", "model")(w), *figures, *pages, up("model_instruct", "model_instruct")(w)]


rule all:
    """The whole recipe: corpus, tokenizer, tokens, pretrain, anneal, export, eval, model card, report
    figures and synthetic pages, two SFT stages, the chat model (export, eval, card); with an imported base model
    (import.source) the base is imported instead of pretrained and annealed. With variants: every
    variant's (`compare`)."""
    default_target: True
    message:
        "all targets: done"
    input:
        [f"{OUT}/variants/{name}" for name in VARIANTS] if VARIANTS else final_targets,


# Variants (config `variants`): `variant_<name>` builds one (the base is `variant_base`) and links its
# stage folders into OUT/variants/<name>/ as a single build's layout; `compare` builds them all.
for _variant in VARIANTS:

    rule:
        name:
            f"variant_{_variant}"
        input:
            lambda w, _v=_variant: final_targets({"key": PLAN.keys[_v]["publish"]})  # the one key no other build has,
        output:
            directory(f"{OUT}/variants/{_variant}"),
        message:
            f"variant {_variant} -> {{output}}"
        params:
            cfg=settings_param(f"variant.{_variant}", lambda build, _v=_variant: {
                "name": _v, "stages": PLAN.keys[_v], "links": PLAN.links(_v),
                "differences": {k: list(v) for k, v in variant_differences(PLAN.base, VARIANTS[_v]).items()}}),
        localrule: True
        shell:
            "{OPENCODER} variant --output {output:q} --params {params.cfg:q}"


rule compare:
    """Every variant, the base included (config `variants`), and their comparison (opencoder compare):
    per variant its config differences, shared stages, corpus funnel, tokens, final losses and pass@k
    as a CSV and a Markdown table, and the loss curves overlaid."""
    input:
        [f"{OUT}/variants/{name}" for name in VARIANTS],
    output:
        csv=f"{OUT}/compare/compare.csv",
        table=f"{OUT}/compare/compare.md",
        page=report(f"{OUT}/compare/compare.html", caption="report/compare_table.rst", category="Variants"),
        loss=report(f"{OUT}/compare/loss.png", caption="report/compare.rst", category="Variants"),
    message:
        "compare {} variants -> {{output.csv}}".format(len(VARIANTS))
    params:
        views=listed(),
        dir=f"{OUT}/compare",
    localrule: True
    log:
        f"{OUT}/logs/compare.log",
    shell:
        "{OPENCODER} compare --input {params.views:q} --output {params.dir:q} 2> {log:q}"


onsuccess:
    # what the build made, where, and its headline numbers (read from the stats files it wrote); with
    # variants, of each variant whose folder exists
    for _folder in [f"{OUT}/variants/{name}" for name in VARIANTS if os.path.isdir(f"{OUT}/variants/{name}")] if VARIANTS else [OUT]:
        subprocess.run([PY, "-m", "opencoder", "summary", "--input", _folder], check=False)
