# Publishing (`publish` target): the model folder and the corpus, with their cards, to the Hub repos
# named in config `publish`. A dry run (prints what would go where) unless publish.enabled is true.
# Runs where Snakemake runs, not as a cluster job: compute nodes often cannot reach the internet.
# The whole config goes along: the dataset card lists its sources, filter rules and dedup
# parameters, and the model card carries its hash.

localrules:
    publish,


rule publish:
    input:
        model=rules.model.output[0],
        corpus=per_shard(f"{OUT}/corpus/{{shard}}.parquet"),
        funnel=f"{OUT}/corpus/funnel.json",
    output:
        f"{OUT}/publish/receipt.json",
    params:
        cfg=params_json("publish"),
        build=json.dumps(config, sort_keys=True, separators=(",", ":")),
    threads: res("publish")["threads"]
    resources:
        **res("publish"),
    log:
        f"{OUT}/logs/publish.log",
    shell:
        "{OPENCODER} publish --model {input.model:q} --corpus {input.corpus:q} --funnel {input.funnel:q}"
        " --build-config {params.build:q} --receipt {output:q} --params {params.cfg:q} 2> {log:q}"
