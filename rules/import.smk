# A released Hugging Face model as the build's base (import.source set, e.g. OpenCoder-1.5B-Base or
# SmolLM2): its megatron-core checkpoint and tokenizer replace the build's own pretrained and
# annealed model as the one that is exported (`hf`), evaluated and fine-tuned. One process per
# TP x PP rank, as the checkpoint is written for those sizes.

IMPORTED = bool(config["import"]["source"])
IMPORT_DIR = f"{R('import')}/import"


rule import_model:
    output:
        checkpoint=directory(f"{IMPORT_DIR}/checkpoint"),
        tokenizer=directory(f"{IMPORT_DIR}/tokenizer"),
        stats=f"{IMPORT_DIR}/stats.json",
    message:
        "import -> {output.checkpoint}"
    params:
        cfg=settings("import"),
        procs=lambda w: cfg(w)["import"]["tensor_parallel"] * cfg(w)["import"]["pipeline_parallel"],
    threads: res("import_model")["threads"]
    resources:
        **res("import_model"),
    log:
        f"{R('import')}/logs/import.log",
    shell:
        "OMP_NUM_THREADS={threads} {LAUNCH} --gpus-per-node {params.procs} -- import"
        " --output {output.checkpoint:q} --tokenizer {output.tokenizer:q} --stats {output.stats:q}"
        " --params {params.cfg:q} 2> {log:q}"


# the base model every later stage starts from: the imported one, else the build's annealed one
BASE_CHECKPOINT = up("import", "import/checkpoint") if IMPORTED else up("anneal", "anneal/checkpoint")
# (folder, file to depend on)
BASE_TOKENIZER = up("import", "import/tokenizer") if IMPORTED else up("tokenizer", "tokenizer")
BASE_TOKENIZER_INPUT = BASE_TOKENIZER if IMPORTED else up("tokenizer", "tokenizer/tokenizer.json")
