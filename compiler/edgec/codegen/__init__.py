"""Code generation: the plan -> an artifact's sources.

In: the IR, target, weights layout and arena plan.  Out: artifact_sources.write_sources (model.h,
model.c, blob source, runtime copy, CMakeLists.txt) and tokenizer_blob.model_tokenizer_blob.
"""
