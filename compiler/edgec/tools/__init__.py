"""User tools on models and artifacts: bench, evaluate (eval), inspect_model (inspect), tokenizer_tool."""
