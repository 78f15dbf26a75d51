# Synthetic data (paper 4 and 5.1): per recipe of synthetic.recipes, corpus seeds -> the teacher's
# responses (cached by key in synthetic/work/<recipe>/, not an output, so a killed job resumes) ->
# parsed, executed in the evaluation sandbox, deduplicated, decontaminated -> synthetic/<recipe>/.
# A rule's params are its recipe's settings only: a change to one recipe reruns that recipe.
from pathlib import Path

from opencoder.synthesis.recipes import CONFIG_DIR, CORPUS_KINDS, toolchains as recipe_toolchains

SYNTH_RECIPES = sorted(config["synthetic"]["recipes"])


wildcard_constraints:
    recipe="|".join(SYNTH_RECIPES) or "(?!)",


def synthetic_kept(recipe):
    """Input function: recipe's kept samples in the job's build."""
    return up("synthetic", f"synthetic/{recipe}/kept.jsonl")


def recipe_prompt(build, recipe):
    """The recipe's prompt file (an input: editing it reruns the recipe)."""
    path = Path(build["synthetic"]["recipes"][recipe]["prompt"])
    return str(path if path.is_file() or not (CONFIG_DIR / path).is_file() else CONFIG_DIR / path)


def recipe_corpus(wildcards):
    """The corpus shards, for a recipe whose seeds come from the corpus (a package recipe's do not)."""
    kind = cfg(wildcards)["synthetic"]["recipes"][wildcards.recipe]["kind"]
    return per_shard("sample", "corpus/{shard}.parquet")(wildcards) if kind in CORPUS_KINDS else []


def recipe_settings(build, recipe):
    s = build["synthetic"]
    used = set(recipe_toolchains(s["recipes"][recipe]).values())
    return {"teacher": s["teacher"], "sandbox": s["sandbox"], "dedup": s["dedup"],
            "recipes": {recipe: s["recipes"][recipe]}, "seed": build["seed"],
            "decontamination": build["sft"]["decontamination"],
            "languages": {k: v for k, v in build["eval"]["languages"].items() if k in used}}


rule synthesize:
    input:
        corpus=recipe_corpus,
        prompt=lambda w: recipe_prompt(cfg(w), w.recipe),
    output:
        kept=f"{R('synthetic')}/synthetic/{{recipe}}/kept.jsonl",
        samples=f"{R('synthetic')}/synthetic/{{recipe}}/samples.jsonl",
        stats=f"{R('synthetic')}/synthetic/{{recipe}}/stats.json",
        examples=f"{R('synthetic')}/synthetic/{{recipe}}/examples.json",
    message:
        "synthesize {wildcards.recipe} -> {output.kept}"
    params:
        cfg=lambda w: settings_param(f"synthetic.{w.recipe}", lambda build: recipe_settings(build, w.recipe))(w),
        corpus=listed("corpus"),
        dir=lambda w: f"{root('synthetic', w)}/synthetic/{w.recipe}",
        work=lambda w: f"{root('synthetic', w)}/synthetic/work/{w.recipe}",
    threads: res("synthesize")["threads"]
    resources:
        **res("synthesize"),
    log:
        f"{R('synthetic')}/logs/synthesize_{{recipe}}.log",
    shell:
        "OMP_NUM_THREADS={threads} {OPENCODER} synthesize --recipe {wildcards.recipe} --input {params.corpus:q}"
        " --output {params.dir:q} --work {params.work:q} --threads {threads} --params {params.cfg:q} 2> {log:q}"


rule synthetic:
    """Every recipe of synthetic.recipes, with its report page (rules/report.smk)."""
    input:
        lambda w: [synthetic_kept(r)(w) for r in SYNTH_RECIPES],
        lambda w: [synthetic_page(r)(w) for r in SYNTH_RECIPES],
    message:
        "synthetic: done"
