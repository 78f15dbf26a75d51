# The annealed checkpoint as a self-contained Hugging Face LlamaForCausalLM folder (weights,
# config, generation config, tokenizer with its chat template).


rule hf:
    input:
        checkpoint=rules.anneal.output.checkpoint,
        tokenizer=f"{OUT}/tokenizer/tokenizer.json",
    output:
        directory(f"{OUT}/hf_export"),
    message:
        "export -> {output}"
    params:
        cfg=settings("export"),
        tokenizer=f"{OUT}/tokenizer",
    threads: res("hf")["threads"]
    resources:
        **res("hf"),
    log:
        f"{OUT}/logs/hf.log",
    shell:
        "{OPENCODER} export --input {input.checkpoint:q} --tokenizer {params.tokenizer:q}"
        " --output {output:q} --params {params.cfg:q} 2> {log:q}"
