"""Grammars (JSON Schemas and regular expressions) compiled into token automata over a model's
vocabulary and laid out as read-only C tables (docs/grammars.md).

schema_to_regex: JSON Schema -> regex (outlines-core), refusing keywords outside the supported set.
token_automaton: regex + TokenizerIR -> TokenAutomaton (outlines-core's Index, renumbered).
table_layout: TokenAutomaton -> GrammarTables (runs of tokens, deduplicated rows, byte size, budget).
c_tables: GrammarTables -> C source for runtime/core/grammar/edgec_grammar.h.
"""
