"""Planning: decide how the IR's weights are stored and where every byte lives on the device.

In: a ModelIR and a target profile.  Out: quantize_model.quantize_ir (re-encoded IR),
kernel_choice.plan_all (a layout and kernel per matrix), weights_blob (the blob layout and writer),
memory_plan.plan_memory (weights layout, arena plan, bytes needed), autotune (measured choices).
"""
