"""Front ends: a model file or folder -> a validated ModelIR, weights kept bit-exactly.

In: a path (GGUF, Hugging Face folder incl. BitNet, llama2.c checkpoint + tokenizer.bin) or a known
name (model_registry).  Out: load_model.load_model(path, tokenizer_path) -> ModelIR.
"""
