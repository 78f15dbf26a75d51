"""Phase 4: synthetic data from a teacher LLM (paper 4 and 5.1), every sample verified and traceable.

`backends` (the teacher: in-process transformers or an OpenAI-compatible server), `recipes` (a
recipe's config and prompt file: seeds, prompts, parsing, the program run in the sandbox), `cache`
(responses by their keys, so a killed job resumes), `synthesize` (the `opencoder synthesize`
stage: one recipe from seeds to kept samples and its funnel).
"""
