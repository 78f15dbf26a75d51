# Tokenizer (paper 3.1): a byte-level BPE trained on a seeded sample of the corpus, or the
# tokenizer at config tokenizer.path (then the corpus is not needed to build it).
import os


rule tokenizer:
    input:
        corpus=[] if config["tokenizer"]["path"] else per_shard("sample", "corpus/{shard}.parquet"),
    output:
        json=f"{R('tokenizer')}/tokenizer/tokenizer.json",
        config=f"{R('tokenizer')}/tokenizer/tokenizer_config.json",
        stats=f"{R('tokenizer')}/tokenizer/stats.json",
    message:
        "tokenizer -> {output.json}"
    params:
        cfg=settings("tokenizer"),
        corpus=listed("corpus"),
        dir=lambda wildcards, output: os.path.dirname(output.json),
    threads: res("tokenizer")["threads"]
    resources:
        **res("tokenizer"),
    log:
        f"{R('tokenizer')}/logs/tokenizer.log",
    shell:
        "{OPENCODER} tokenizer --input {params.corpus:q} --output {params.dir:q}"
        " --stats {output.stats:q} --threads {threads} --params {params.cfg:q} 2> {log:q}"
