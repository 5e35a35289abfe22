"""Turn a model's Jinja2 chat template into fixed prefix/suffix strings the C runtime can use.

The template is rendered (as transformers' apply_chat_template renders it) on conversations
whose messages are unique marker words; the text between the markers is the format.  The
result is checked by re-rendering several conversations both ways, so a template whose
output cannot be written as
    bos_text + [system_prefix + sys + system_suffix]
             + (user_prefix + user + user_suffix + assistant_prefix + reply + assistant_suffix)*
is refused with an EdgecError rather than approximated.

The template comes from the model file, so it is rendered in Jinja2's ImmutableSandboxedEnvironment
(no Python internals, no mutation of its inputs) and under a budget: all renders together get
RENDER_SECONDS (enforced by a trace function that checks the clock on every line run), and no value
or output may exceed MAX_VALUE_SIZE characters/items (sizes are checked before the C-level work that
would build them: `*`, `**`, `+`, `~`, `%`, calls and filters).  Past the budget, like any other
template failure, it is an EdgecError; compile turns that into a warning and a program without
--chat markers (the model still runs), which is why an overrun is not a refusal of the whole model.
"""
from __future__ import annotations

import functools
import json
import re
import itertools
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from edgec.errors import EdgecError

SYSTEM, USER1, REPLY1, USER2, REPLY2, USER3 = (
    "EdgecSystemMarker7q", "EdgecUserMarker1k", "EdgecReplyMarker1z", "EdgecUserMarker2v",
    "EdgecReplyMarker2w", "EdgecUserMarker3x",
)
BOS, EOS = "EdgecBosMarker5d", "EdgecEosMarker9h"
RENDER_SECONDS = 2.0          # all renders of one template together
MAX_VALUE_SIZE = 1 << 20      # characters (or items) of any value the template builds, and of an output
MAX_INT_BITS = 1 << 16        # integers the template computes
SIZED_TYPES = (str, bytes, list, tuple, dict, range, set, frozenset)
HUGE_WIDTH_RE = re.compile(r"\d{7,}")   # a field width in a format string that would build a huge string


@dataclass
class ChatFormat:
    """The fields of the C runtime's edgec_chat_format (runtime/tokenizer/tokenizer.h)."""
    has_chat: bool = False
    bos_text: str = ""
    system_prefix: str = ""
    system_suffix: str = ""
    user_prefix: str = ""
    user_suffix: str = ""
    assistant_prefix: str = ""
    assistant_suffix: str = ""
    default_system: str = ""

    def render(self, messages: list, add_generation_prompt: bool = True) -> str:
        """The text the C runtime builds for a conversation (roles: optional system first,
        then alternating user/assistant)."""
        out = [self.bos_text]
        if messages and messages[0]["role"] == "system":
            system, messages = messages[0]["content"], messages[1:]
        else:
            system = self.default_system
        if system:
            out += [self.system_prefix, system, self.system_suffix]
        for m in messages:
            if m["role"] == "user":
                out += [self.user_prefix, m["content"], self.user_suffix, self.assistant_prefix]
            else:
                out += [m["content"], self.assistant_suffix]
        if not add_generation_prompt and messages and messages[-1]["role"] == "user":
            out.pop()  # the assistant prefix is the generation prompt
        return "".join(out)


def _raise_exception(message):
    raise _TemplateRefused(str(message))


class _TemplateRefused(Exception):
    """The template called raise_exception() for a conversation."""


class _OverBudget(Exception):
    """The template takes too long to render or builds too large a value."""


def _check_size(value, what: str):
    """value, unless it is a string/sequence/mapping or integer beyond the render budget."""
    if isinstance(value, SIZED_TYPES) and len(value) > MAX_VALUE_SIZE:
        raise _OverBudget(f"{what} builds a value of {len(value)} characters or items "
                          f"(the limit is {MAX_VALUE_SIZE})")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise _OverBudget(f"{what} builds an integer of more than {MAX_INT_BITS} bits")
    return value


def _check_arguments(args, what: str) -> None:
    """Refuse arguments that make C code build a huge value before any check could see it: an integer
    above MAX_VALUE_SIZE (a width, a count), or two sizes (lengths or numbers) whose product is huge
    (join, replace, indent)."""
    sizes = []
    for arg in args:
        if isinstance(arg, int) and not isinstance(arg, bool):
            if abs(arg) > MAX_VALUE_SIZE:
                raise _OverBudget(f"{what} is given the number {arg} (the limit is {MAX_VALUE_SIZE})")
            sizes.append(abs(arg))
        elif isinstance(arg, SIZED_TYPES):
            sizes.append(len(arg))
    sizes.sort()
    if len(sizes) >= 2 and sizes[-1] * sizes[-2] > 16 * MAX_VALUE_SIZE:
        raise _OverBudget(f"{what} combines values of {sizes[-1]} and {sizes[-2]} characters or items")


def _materialized(arg, what: str):
    """An iterator argument as a list (so its size can be checked), refused past MAX_VALUE_SIZE items."""
    if not isinstance(arg, Iterator):
        return arg
    items = list(itertools.islice(arg, MAX_VALUE_SIZE + 1))
    return _check_size(items, what)


def _check_format(fmt, what: str) -> None:
    if isinstance(fmt, str) and HUGE_WIDTH_RE.search(fmt):
        raise _OverBudget(f"{what} formats with a field width of 7 or more digits")


def _budgeted(func, what: str, formats: bool = False):
    """func with its arguments and result checked against the render budget (for filters).  formats:
    its first argument after any Jinja2-passed context is a format string."""
    @functools.wraps(func)   # keeps Jinja2's pass_context / pass_environment marks
    def checked(*args, **kwargs):
        args = [_materialized(a, what) for a in args]
        kwargs = {k: _materialized(v, what) for k, v in kwargs.items()}
        _check_arguments([*args, *kwargs.values()], what)
        if formats:
            for a in args:
                _check_format(a, what)
        return _check_size(func(*args, **kwargs), what)
    return checked


def _sequence_product_size(left, right):
    """len(seq) * n for seq * n or n * seq, else None."""
    for seq, n in ((left, right), (right, left)):
        if isinstance(seq, (str, bytes, list, tuple)) and isinstance(n, int):
            return len(seq) * max(n, 0)
    return None


def _check_binop(operator: str, left, right) -> None:
    """Refuse an operation whose result would exceed the budget, before it is computed."""
    what = f"the operator {operator}"
    if operator == "*":
        product = _sequence_product_size(left, right)
        if product is not None and product > MAX_VALUE_SIZE:
            raise _OverBudget(f"{what} builds a value of {product} characters or items")
        if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise _OverBudget(f"{what} builds an integer of more than {MAX_INT_BITS} bits")
    elif operator == "**":
        if isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and \
                right * left.bit_length() > MAX_INT_BITS:
            raise _OverBudget(f"{what} builds an integer of more than {MAX_INT_BITS} bits")
    elif operator == "+":
        if isinstance(left, (str, bytes, list, tuple)) and isinstance(right, (str, bytes, list, tuple)) \
                and len(left) + len(right) > MAX_VALUE_SIZE:
            raise _OverBudget(f"{what} builds a value of {len(left) + len(right)} characters or items")
    elif operator == "%":
        _check_format(left, what)


def _budgeted_join(parts) -> str:
    """The template's ~ operator (str_join in Jinja2's generated code), size-checked before joining."""
    texts = [str(p) for p in parts]
    size = sum(map(len, texts))
    if size > MAX_VALUE_SIZE:
        raise _OverBudget(f"the operator ~ builds a value of {size} characters")
    return "".join(texts)


def _environment():
    """A sandboxed Jinja2 environment set up as transformers sets up its own, with the render budget."""
    try:
        import jinja2.ext
        from jinja2.compiler import CodeGenerator
        from jinja2.sandbox import ImmutableSandboxedEnvironment
    except ImportError as e:  # pragma: no cover - Jinja2 is a dependency
        raise EdgecError("Jinja2 is needed to read chat templates; pip install Jinja2") from e

    class BudgetedCodeGenerator(CodeGenerator):
        def visit_Concat(self, node, frame):   # `a ~ b` calls the checked join instead of str_join
            self.write("environment.budgeted_join((")
            for arg in node.nodes:
                self.visit(arg, frame)
                self.write(", ")
            self.write("))")

    class BudgetedSandbox(ImmutableSandboxedEnvironment):
        code_generator_class = BudgetedCodeGenerator
        intercepted_binops = frozenset({"*", "**", "+", "%"})
        budgeted_join = staticmethod(_budgeted_join)

        def call_binop(self, context, operator, left, right):
            _check_binop(operator, left, right)
            return _check_size(super().call_binop(context, operator, left, right), f"the operator {operator}")

        def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 - Jinja2's own signature
            what = f"a call of {getattr(__obj, '__name__', 'a function')}"
            args = [_materialized(a, what) for a in args]
            kwargs = {k: _materialized(v, what) for k, v in kwargs.items()}
            _check_arguments([getattr(__obj, "__self__", None), *args, *kwargs.values()], what)
            return _check_size(super().call(__context, __obj, *args, **kwargs), what)

        def wrap_str_format(self, value):   # "...".format / format_map: the format string's widths
            wrapped = super().wrap_str_format(value)
            if wrapped is not None:
                _check_format(value.__self__, "str.format")
            return wrapped

    env = BudgetedSandbox(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = lambda x, indent=None, **kw: json.dumps(x, ensure_ascii=False, indent=indent)
    env.filters = {name: _budgeted(f, f"the filter {name}", formats=(name == "format"))
                   for name, f in env.filters.items()}
    env.globals.pop("lipsum", None)   # generates text in bulk; no chat template uses it
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    return env


def _strftime_now(fmt):
    _check_format(fmt, "strftime_now")
    return datetime.now().strftime(fmt)


class _RenderBudget:
    """A deadline shared by all renders of one template, and the output limit of each render."""

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds

    def _trace(self, frame, event, arg):
        # Called on every Python call and line while rendering (template code and Jinja2's runtime alike).
        if time.monotonic() > self.deadline:
            raise _OverBudget(f"rendering takes more than {RENDER_SECONDS:g} s")
        return self._trace

    def render(self, compiled, **variables) -> str:
        """compiled rendered with variables, stopped past the deadline or the output limit."""
        previous = sys.gettrace()
        sys.settrace(self._trace)
        try:
            out, size = [], 0
            for chunk in compiled.generate(**variables):
                size += len(chunk)
                if size > MAX_VALUE_SIZE:
                    raise _OverBudget(f"its output exceeds {MAX_VALUE_SIZE} characters")
                out.append(chunk)
            return "".join(out)
        finally:
            sys.settrace(previous)


def _messages(system: bool, turns: int, final_reply: bool) -> list:
    users, replies = [USER1, USER2, USER3], [REPLY1, REPLY2]
    msgs = [{"role": "system", "content": SYSTEM}] if system else []
    for i in range(turns):
        msgs.append({"role": "user", "content": users[i]})
        if i < turns - 1 or final_reply:
            msgs.append({"role": "assistant", "content": replies[i]})
    return msgs


def _between(text: str, start: Optional[str], end: Optional[str]) -> str:
    """The text after marker start (or from the beginning) up to marker end (or the end)."""
    i = 0 if start is None else text.index(start) + len(start)
    j = len(text) if end is None else text.index(end, i)
    return text[i:j]


def _strip_prefix(text: str, prefix: str) -> Optional[str]:
    return text[len(prefix):] if text.startswith(prefix) else None


def _strip_suffix(text: str, suffix: str) -> Optional[str]:
    if not suffix:
        return text
    return text[:-len(suffix)] if text.endswith(suffix) else None


def _candidates(render) -> list:
    """Chat formats consistent with the renders (made with BOS/EOS markers); the caller keeps
    the first that verifies."""
    with_sys = render(_messages(True, 2, False), True)    # X0 S X1 U1 X2 R1 X3 U2 X4
    no_sys = render(_messages(False, 2, False), True)     # Y0 U1 ... with the default system, if any
    x0, x1 = _between(with_sys, None, SYSTEM), _between(with_sys, SYSTEM, USER1)
    x2, x3 = _between(with_sys, USER1, REPLY1), _between(with_sys, REPLY1, USER2)
    x4, y0 = _between(with_sys, USER2, None), _between(no_sys, None, USER1)
    # A conversation that ends in a user or assistant message shows what follows each alone.
    user_suffix = _between(render(_messages(False, 1, False), False), USER1, None)
    assistant_suffix = _between(render(_messages(False, 1, True), False), REPLY1, None)
    assistant_prefix = _strip_prefix(x4, user_suffix)  # the generation prompt
    user_prefix = _strip_prefix(x3, assistant_suffix)
    if assistant_prefix is None or user_prefix is None:
        return []
    # Text a template puts before a past reply beyond the generation prompt (Llama-2's " ") is
    # text the model itself writes when it replies; only whitespace is accepted as that.
    reply_lead = _strip_prefix(x2, user_suffix + assistant_prefix)
    if reply_lead is None or reply_lead.strip():
        return []

    found = []
    # The natural split first.  Then one for templates that put the system message inside the
    # first user turn (Llama-2): there the user prefix moves into bos_text and the assistant suffix.
    splits = ((user_prefix, assistant_suffix, ""), ("", assistant_suffix + user_prefix, user_prefix))
    for up, asuf, first_user_prefix in splits:
        for bos_text in (BOS + first_user_prefix, first_user_prefix):
            system_prefix = _strip_prefix(x0, bos_text)
            system_suffix = _strip_suffix(x1, up)
            rest = _strip_prefix(y0, bos_text)
            if system_prefix is None or system_suffix is None or rest is None:
                continue
            if rest == up:
                default_system = ""
            else:
                middle = _strip_suffix(rest, system_suffix + up)
                default_system = None if middle is None else _strip_prefix(middle, system_prefix)
                if not default_system:
                    continue
            found.append((ChatFormat(True, bos_text, system_prefix, system_suffix, up, user_suffix,
                                     assistant_prefix, asuf, default_system), reply_lead))
    return found


def _verifies(fmt: ChatFormat, reply_lead: str, render) -> bool:
    """True if the format reproduces the template on every prompt the runtime sends: a
    conversation with or without a system message, ending in a user turn, generation prompt on,
    where past replies are what the model wrote (reply_lead included)."""
    for system in (True, False):
        for turns in (1, 2, 3):
            msgs = _messages(system, turns, False)
            as_written = [dict(m, content=reply_lead + m["content"]) if m["role"] == "assistant" else m
                          for m in msgs]
            if render(msgs, True) != fmt.render(as_written, True):
                return False
    return True


def _with_tokens(fmt: ChatFormat, bos_token: str, eos_token: str) -> ChatFormat:
    """Replaces the BOS/EOS markers by the model's token texts."""
    def sub(text: str) -> str:
        return text.replace(BOS, bos_token).replace(EOS, eos_token)
    return ChatFormat(True, *(sub(getattr(fmt, f)) for f in (
        "bos_text", "system_prefix", "system_suffix", "user_prefix", "user_suffix",
        "assistant_prefix", "assistant_suffix", "default_system")))


def chat_format_from_template(template: Optional[str], bos_token: str, eos_token: str) -> ChatFormat:
    """Derive the fixed chat format of a Jinja2 chat template (None: a model without one)."""
    if not template:
        return ChatFormat()
    if not isinstance(template, str):
        raise EdgecError("the chat template is not text; --chat needs a supported template")
    try:
        compiled = _environment().from_string(template)
    except Exception as e:  # TemplateSyntaxError, RecursionError on deep nesting, ...
        raise EdgecError(f"the chat template does not parse ({_one_line(e)}); "
                         "--chat needs a supported template") from None
    budget = _RenderBudget(RENDER_SECONDS)

    # BOS/EOS are rendered as markers so that text the template takes from bos_token (a
    # conversation start, or part of every user turn) is told apart from literal text.
    def render(messages, add_generation_prompt):
        return budget.render(compiled, messages=messages, add_generation_prompt=add_generation_prompt,
                             bos_token=BOS, eos_token=EOS)

    try:
        for fmt, reply_lead in _candidates(render):
            if _verifies(fmt, reply_lead, render):
                return _with_tokens(fmt, bos_token, eos_token)
    except _TemplateRefused as e:
        raise EdgecError(f"the chat template refuses a system/user/assistant conversation ({_one_line(e)}); "
                         "--chat needs a supported template") from None
    except _OverBudget as e:
        raise EdgecError(f"the chat template takes too long or grows too large to render ({e}); "
                         "--chat needs a supported template") from None
    except ValueError:  # a marker went missing: the template drops or rewrites messages
        pass
    except Exception as e:  # UndefinedError, SecurityError, TypeError, RecursionError, MemoryError, ...
        raise EdgecError(f"the chat template fails to render ({_one_line(e)}); "
                         "--chat needs a supported template") from None
    raise EdgecError("the chat template cannot be split into fixed system/user/assistant prefixes "
                     "and suffixes; --chat needs a supported template (ChatML, Llama-2, Llama-3, Zephyr style)")


def _one_line(e: Exception) -> str:
    """An exception as one short line: its type and the first line of its message."""
    lines = str(e).splitlines()
    text = lines[0] if lines else ""
    return f"{type(e).__name__}: {text[:200]}" if text else type(e).__name__
