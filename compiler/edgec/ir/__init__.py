"""The model IR: what every front end produces and every later stage reads.

model_ir (ModelConfig, Tensor, TokenizerIR, ModelIR), block_formats (GGUF and edgec block
layouts: quantize/dequantize), ir_checks.validate_ir (ranges, then every tensor present and sized),
reference (the numpy forward pass every compiled program is compared with).
"""
