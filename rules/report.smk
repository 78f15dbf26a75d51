# The build report: one PNG per figure, each its own target drawn from the stats files it needs, so a
# changed stage redraws only its figures. `snakemake report_figures` then `snakemake --report
# report.html` gives one HTML file with the figures and their captions (report/*.rst), and a page per
# synthetic recipe the build trains on (funnel, kept and rejected samples; the `synthetic` target
# renders every recipe's).
from opencoder.training.params import synthetic_recipes

report: "../report/workflow.rst"

# figure target -> (opencoder report figure, its inputs, report category)
REPORT_FIGURES = {
    "funnel_stages": ("funnel-stages", up("sample", "corpus/funnel.json"), "Data"),
    "funnel_languages": ("funnel-languages", up("sample", "corpus/funnel.json"), "Data"),
    "filter_rules": ("filter-rules", per_shard("filter", "filter/{shard}.stats.json"), "Data"),
    "dedup_clusters": ("dedup-clusters", up("dedup", "fuzzy/removed.parquet"), "Data"),
    "tokens": ("tokens", up("tokens", "tokens/stats.json"), "Data"),
    "training": ("training", [up("pretrain", "pretrain/metrics.jsonl"), up("anneal", "anneal/metrics.jsonl")], "Model"),
    "throughput": ("throughput", [up("pretrain", "pretrain/metrics.jsonl"), up("anneal", "anneal/metrics.jsonl")], "Model"),
    "eval": ("eval", lambda w: eval_summaries()(w) + eval_summaries("eval_instruct")(w), "Model"),
}
if WEB_BUILD:  # a build with web pages (rules/web.smk): each round's recall report
    REPORT_FIGURES["web_recall"] = ("web-recall", [up("web", f"web/round{k}/stats.json") for k in WEB_ROUNDS], "Data")

# the eval table prints the paper's pass@1 beside the build's when the shape is one the paper released
REPORT_OPTIONS = {"eval": lambda w: f"--shape {cfg(w)['model']['name']}"}

for _name, (_figure, _inputs, _category) in REPORT_FIGURES.items():

    rule:
        name:
            f"report_{_name}"
        input:
            _inputs,
        output:
            report(f"{R('report')}/report/{_name}.png", caption=f"../report/{_name}.rst", category=_category),
        message:
            "report figure -> {output}"
        params:
            figure=_figure,
            inputs=listed(),
            options=REPORT_OPTIONS.get(_name, ""),
        threads: res("report")["threads"]
        resources:
            **res("report"),
        log:
            f"{R('report')}/logs/report/{_name}.log",
        shell:
            "{OPENCODER} report {params.figure} --input {params.inputs:q} --output {output:q} {params.options} 2> {log:q}"


def synthetic_page(recipe):
    """Input function: recipe's report page in the job's build."""
    return lambda w: f"{root('report', w)}/report/synthetic_{recipe}.html"


rule report_synthetic:
    input:
        stats=up("synthetic", "synthetic/{recipe}/stats.json"),
        examples=up("synthetic", "synthetic/{recipe}/examples.json"),
    output:
        report(f"{R('report')}/report/synthetic_{{recipe}}.html", caption="../report/synthetic.rst", category="Synthetic data"),
    message:
        "report page -> {output}"
    threads: res("report")["threads"]
    resources:
        **res("report"),
    log:
        f"{R('report')}/logs/report/synthetic_{{recipe}}.log",
    shell:
        "{OPENCODER} report synthetic --input {input.stats:q} {input.examples:q} --output {output:q} 2> {log:q}"


rule report_figures:
    message:
        "report figures: done"
    input:
        lambda w: [f"{root('report', w)}/report/{name}.png" for name in REPORT_FIGURES],
        lambda w: [synthetic_page(r)(w) for r in synthetic_recipes(cfg(w))],
