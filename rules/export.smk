# The base checkpoint (annealed, or imported: rules/import.smk) and the chat model (the last SFT
# stage's checkpoint) as self-contained Hugging Face LlamaForCausalLM folders (weights, config,
# generation config, tokenizer with its chat template).

EXPORT = (
    "{OPENCODER} export --input {input.checkpoint:q} --tokenizer {params.tokenizer:q}"
    " --output {output:q} --params {params.cfg:q} 2> {log:q}"
)


rule hf:
    input:
        checkpoint=BASE_CHECKPOINT,
        tokenizer=BASE_TOKENIZER_INPUT,
    output:
        directory(f"{R('hf')}/hf_export"),
    message:
        "export -> {output}"
    params:
        cfg=settings("export"),
        tokenizer=BASE_TOKENIZER,
    threads: res("hf")["threads"]
    resources:
        **res("hf"),
    log:
        f"{R('hf')}/logs/hf.log",
    shell:
        EXPORT


rule hf_instruct:
    """The chat model: the final SFT checkpoint (stage 2's, or stage 1's under sft.strategy stage1 or mixed) with the base model's tokenizer and chat template; its
    generation config stops at `<|im_end|>` as well as at the end of text."""
    input:
        checkpoint=lambda w: up(f"sft_{sft_stages(cfg(w))[-1]}", f"sft/{sft_stages(cfg(w))[-1]}/checkpoint")(w),  # the last stage sft.strategy trains
        tokenizer=BASE_TOKENIZER_INPUT,
    output:
        directory(f"{R('hf_instruct')}/hf_instruct"),
    message:
        "export instruct -> {output}"
    params:
        cfg=settings("export"),
        tokenizer=BASE_TOKENIZER,
    threads: res("hf")["threads"]
    resources:
        **res("hf"),
    log:
        f"{R('hf_instruct')}/logs/hf_instruct.log",
    shell:
        EXPORT
