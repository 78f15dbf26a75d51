# Code-related web recall (paper 2): rounds over the filtered web pages (documents with a url; the
# sample stage keeps them out of the corpus with weight 0, they enter the mixture from here),
# each a fastText classifier on the round's seeds, every page scored, domains marked, URL-pattern pages
# added to the next round's seeds. Round k's settings hold `web.rounds[:k]` only, so a change to one
# round's settings reruns that round and the later ones.
import os
import shlex

WEB_ROUNDS = list(range(1, len(config["web"]["rounds"]) + 1))
WEB_BUILD = any(source["type"] == "web" for source in config["ingest"]["sources"])  # a build with web pages
WEB_RECALLED = up("web", f"web/round{WEB_ROUNDS[-1]}/recalled.parquet")  # the pages of the pretraining mixture


def web_round_settings(wildcards):
    """Round k's settings file: the `web` section with `rounds` cut to the first k."""
    k = int(wildcards.k)
    return settings_param(f"web.round{k}", lambda build: {**build["web"], "rounds": build["web"]["rounds"][:k]})(wildcards)


rule web_round:
    input:
        pages=per_shard("filter", "filter/{shard}.parquet"),
        tokenizer=up("tokenizer", "tokenizer/tokenizer.json"),
        seeds=lambda w: [] if int(w.k) == 1 else f"{R('web')}/web/round{int(w.k) - 1}/seeds.parquet",
    output:
        scores=f"{R('web')}/web/round{{k}}/scores.parquet",
        domains=f"{R('web')}/web/round{{k}}/domains.parquet",
        seeds=f"{R('web')}/web/round{{k}}/seeds.parquet",
        recalled=f"{R('web')}/web/round{{k}}/recalled.parquet",
        model=f"{R('web')}/web/round{{k}}/model.bin",
        stats=f"{R('web')}/web/round{{k}}/stats.json",
    wildcard_constraints:
        k=r"[1-9][0-9]*",
    message:
        "web recall round {wildcards.k} -> {output.recalled}"
    params:
        cfg=web_round_settings,
        pages=listed("pages"),
        seeds=lambda w, input: "--seeds " + shlex.quote(input.seeds) if input.seeds else "",
        dir=lambda w, output: os.path.dirname(output.stats),
    threads: res("web_round")["threads"]
    resources:
        **res("web_round"),
    log:
        f"{R('web')}/logs/web_round/{{k}}.log",
    shell:
        "{OPENCODER} web-recall --input {params.pages:q} --tokenizer {input.tokenizer:q} --round {wildcards.k}"
        " {params.seeds} --output {params.dir:q} --params {params.cfg:q} 2> {log:q}"


rule web_recall:
    message:
        f"web recall: {len(WEB_ROUNDS)} rounds done"
    input:
        lambda w: [up("web", f"web/round{k}/stats.json")(w) for k in WEB_ROUNDS],
