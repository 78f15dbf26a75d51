# Publishing (`publish` target): the model, the chat model and the corpus, with their cards, to the Hub repos
# named in config `publish`. A dry run (prints what would go where) unless publish.enabled is true.
# Runs where Snakemake runs, not as a cluster job: compute nodes often cannot reach the internet.
# The whole config goes along: the dataset card lists its sources, filter rules and dedup
# parameters, and the model card carries its hash.

localrules:
    publish,


rule publish:
    input:
        model=up("model", "model"),
        instruct=up("model_instruct", "model_instruct"),
        corpus=per_shard("sample", "corpus/{shard}.parquet"),
        funnel=up("sample", "corpus/funnel.json"),
    output:
        f"{R('publish')}/publish/receipt.json",
    message:
        "publish -> {output}"
    params:
        cfg=settings("publish"),
        build=settings(),
        corpus=listed("corpus"),
    threads: res("publish")["threads"]
    resources:
        **res("publish"),
    log:
        f"{R('publish')}/logs/publish.log",
    shell:
        "{OPENCODER} publish --model {input.model:q} --instruct-model {input.instruct:q} --corpus {params.corpus:q} --funnel {input.funnel:q}"
        " --build-config {params.build:q} --output {output:q} --params {params.cfg:q} 2> {log:q}"
