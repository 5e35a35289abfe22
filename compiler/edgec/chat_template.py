"""Turn a model's Jinja2 chat template into fixed prefix/suffix strings the C runtime can use.

The template is rendered (as transformers' apply_chat_template renders it) on conversations
whose messages are unique marker words; the text between the markers is the format.  The
result is checked by re-rendering several conversations both ways, so a template whose
output cannot be written as
    bos_text + [system_prefix + sys + system_suffix]
             + (user_prefix + user + user_suffix + assistant_prefix + reply + assistant_suffix)*
is refused with an EdgecError rather than approximated.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from .errors import EdgecError

SYSTEM, USER1, REPLY1, USER2, REPLY2, USER3 = (
    "EdgecSystemMarker7q", "EdgecUserMarker1k", "EdgecReplyMarker1z", "EdgecUserMarker2v",
    "EdgecReplyMarker2w", "EdgecUserMarker3x",
)
BOS, EOS = "EdgecBosMarker5d", "EdgecEosMarker9h"


@dataclass
class ChatFormat:
    """The fields of the C runtime's edgec_chat_format (runtime/tokenizer.h)."""
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


def _environment():
    """A sandboxed Jinja2 environment set up as transformers sets up its own."""
    try:
        import jinja2.ext
        from jinja2.sandbox import ImmutableSandboxedEnvironment
    except ImportError as e:  # pragma: no cover - Jinja2 is a dependency
        raise EdgecError("Jinja2 is needed to read chat templates; pip install Jinja2") from e
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = lambda x, indent=None, **kw: json.dumps(x, ensure_ascii=False, indent=indent)
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env


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
    try:
        compiled = _environment().from_string(template)
    except Exception as e:
        raise EdgecError(f"the chat template does not parse ({type(e).__name__}: {e}); "
                         "--chat needs a supported template") from None

    # BOS/EOS are rendered as markers so that text the template takes from bos_token (a
    # conversation start, or part of every user turn) is told apart from literal text.
    def render(messages, add_generation_prompt):
        return compiled.render(messages=messages, add_generation_prompt=add_generation_prompt,
                               bos_token=BOS, eos_token=EOS)

    try:
        for fmt, reply_lead in _candidates(render):
            if _verifies(fmt, reply_lead, render):
                return _with_tokens(fmt, bos_token, eos_token)
    except _TemplateRefused as e:
        raise EdgecError(f"the chat template refuses a system/user/assistant conversation ({e}); "
                         "--chat needs a supported template") from None
    except ValueError:  # a marker went missing: the template drops or rewrites messages
        pass
    except Exception as e:
        raise EdgecError(f"the chat template fails to render ({type(e).__name__}: {e}); "
                         "--chat needs a supported template") from None
    raise EdgecError("the chat template cannot be split into fixed system/user/assistant prefixes "
                     "and suffixes; --chat needs a supported template (ChatML, Llama-2, Llama-3, Zephyr style)")
