"""PII in code (paper 1.5): e-mail addresses, IP addresses, passwords and secret keys → placeholders.

The paper names the kinds and says regular expressions find them, but publishes neither patterns nor
placeholders; these are ours. They aim at what leaks from real repositories while leaving alone what
code is full of and is not personal:

* e-mail — any `local@domain.tld`, except reserved example domains (`example.com`, `*.test`,
  `localhost`, …), `git@host` remotes, and `x@self.attr`-like matrix products.
* IP address — only globally routable unicast IPv4/IPv6 addresses: loopback, private, link-local,
  documentation and reserved ranges are configuration boilerplate, not PII; a dotted quad right
  after a `v`, on a line that speaks of a version, or starting with a one-digit number is a version
  or section number (`7.1.4.34`, `8.2.4.44`), which in code is far more common than such an address.
* password — the quoted value given to a name ending in `password`/`passwd`/`pwd`
  (`db_password = "…"`, not `PWD_STATE`), and the password of a `scheme://user:password@host` URL,
  unless it is empty or a template/variable reference.
* key — provider tokens of fixed shape (AWS, GitHub, Slack, Google, Stripe, private key blocks) and
  the quoted value given to a name ending in `api_key`/`secret`/`token`/…, of at least 16
  characters, with letters and digits, not an obvious placeholder. A hex or base64 literal not
  named as a secret (a hash, a test vector) is not a key.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter

import polars as pl

KINDS = ("email", "ip_address", "password", "key")

EXAMPLE_DOMAINS = re.compile(
    r"(?:^|\.)(?:example\.(?:com|org|net|edu)|localhost|localdomain|"
    r"[^.]+\.(?:test|example|invalid|localhost|local))$", re.I)
EMAIL = re.compile(
    r"(?<![\w.%+-])(?P<local>[A-Za-z0-9][A-Za-z0-9._%+-]{0,63})@"
    r"(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24})(?![\w-])")
IPV4 = re.compile(r"(?<![\w.-])(?:[1-9]\d{1,2}\.)(?:\d{1,3}\.){2}\d{1,3}(?![\w.-])")
IPV6 = re.compile(r"(?<![\w:.])(?=[0-9A-Fa-f:]*:[0-9A-Fa-f:]*:)[0-9A-Fa-f:]{2,39}(?![\w:])")
VERSION_CONTEXT = re.compile(r"version|release|\bv(?:er)?\s*$", re.I)
PASSWORD_ASSIGN = re.compile(
    r"""(?P<name>(?:password|passwd|pwd)["']?\s*(?::|=|:=|=>)\s*)(?P<q>["'])(?P<value>[^"'\s]+)(?P=q)""",
    re.I)
URL_PASSWORD = re.compile(r"(?P<name>\b[a-z][a-z0-9+.-]*://[^\s:/@'\"]+:)(?P<value>[^\s@/'\"]+)(?=@)", re.I)
KEY_ASSIGN = re.compile(
    r"""(?P<name>(?:api[_-]?key|secret|token|access[_-]?key|private[_-]?key|auth[_-]?key)["']?"""
    r"""\s*(?::|=|:=|=>)\s*)(?P<q>["'])(?P<value>[A-Za-z0-9+/=_.~-]{16,})(?P=q)""", re.I)
KEY_SHAPES = re.compile(
    r"(?P<value>\bAKIA[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{36,}\b|\bxox[baprs]-[A-Za-z0-9-]{10,}"
    r"|\bAIza[0-9A-Za-z_-]{35}\b|\bsk_live_[0-9A-Za-z]{24,}\b"
    r"|-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----[\s\S]+?-----END (?:[A-Z]+ )?PRIVATE KEY-----)")
PLACEHOLDER_VALUE = re.compile(
    r"^(?:[<{$%]|\*+$|x+$|\.+$)|your|example|changeme|dummy|placeholder|redacted|secret$|password$|xxxx", re.I)
RANDOM_LOOKING = re.compile(r"^(?=.*\d)(?=.*[A-Za-z])")  # letters and digits: not a name like "my_app_key"


GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")  # all routable IPv6 space; `a::b` (C++ scope) is not in it


def _global_ip(candidate: str) -> bool:
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return address.is_global and not address.is_multicast and (address.version == 4 or address in GLOBAL_UNICAST_V6)


def _in_version_context(text: str, start: int) -> bool:
    line_start = text.rfind("\n", 0, start) + 1
    return bool(VERSION_CONTEXT.search(text[line_start:start])) or text[max(start - 1, 0):start] in ("v", "V")


def _placeholder(value: str) -> bool:
    return bool(PLACEHOLDER_VALUE.search(value)) or value in {"None", "null", "true", "false"}


def _spared_email(m: re.Match, text: str) -> bool:
    return bool(EXAMPLE_DOMAINS.search(m["domain"])) or m["local"] == "git" or m["domain"].split(".")[0] in ("self", "cls")


# (kind, pattern, needles, spare): a pattern runs only on text containing one of its needles (lower
# case; cheap `in` tests that skip most files), and a hit is left alone when `spare(match, text)`.
# Keys go first: a private key block may contain anything.
RULES = (
    ("key", KEY_SHAPES, ("akia", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "xox", "aiza", "sk_live_", "private key-"),
     lambda m, t: False),
    ("key", KEY_ASSIGN, ("key", "secret", "token"),
     lambda m, t: _placeholder(m["value"]) or not RANDOM_LOOKING.match(m["value"])),
    ("password", PASSWORD_ASSIGN, ("pass", "pwd"), lambda m, t: _placeholder(m["value"])),
    ("password", URL_PASSWORD, ("://",), lambda m, t: _placeholder(m["value"])),
    ("email", EMAIL, ("@",), _spared_email),
    ("ip_address", IPV4, (".",), lambda m, t: not _global_ip(m[0]) or _in_version_context(t, m.start())),
    ("ip_address", IPV6, (":",), lambda m, t: not _global_ip(m[0])),
)


# Prefilters: per rule, a Rust regex (polars' engine, one pass over a shard) matching every text in which
# the rule replaces anything; `Masker.candidates` runs them so that `mask` (Python's `re`, the
# definition) runs only on texts that may change. Each is a superset of its rule's unspared hits:
# lookarounds and `\b` dropped, Python's `\s` (Rust's plus \x1c-\x1f) spelt `_S`, and under
# re.I an `i` also stands for U+0130/U+0131 as Python's case folding has it (tests/test_transform.py
# checks these classes against Python's over every code point). IP addresses use what `_global_ip`
# requires of a hit: ASCII digits for IPv4 (ipaddress rejects others), a first hextet 2000-3fff
# (2000::/3) for IPv6. A text no prefilter matches has no hit, so every rule leaves it as it is.
_S = r"[\s\x1c-\x1f]"
_I = "[i\u0130\u0131]"
_ASSIGN = _S + r"*(?::|=|:=|=>)" + _S + r"*[\"']"
PREFILTERS = {
    KEY_SHAPES: r"AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36}|xox[baprs]-[A-Za-z0-9-]{10}|AIza[0-9A-Za-z_-]{35}"
                r"|sk_live_[0-9A-Za-z]{24}|-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----",
    KEY_ASSIGN: (r"(?i)(?:ap{i}[_-]?key|secret|token|access[_-]?key|pr{i}vate[_-]?key|auth[_-]?key)[\"']?{a}"
                 r"[A-Za-z0-9+/=_.~\u0130\u0131-]{{16}}").format(i=_I, a=_ASSIGN),
    PASSWORD_ASSIGN: r"(?i)(?:password|passwd|pwd)[\"']?{a}[^\"']+[\"']".format(a=_ASSIGN),
    URL_PASSWORD: r"://[^\s/@'\"]+@",
    EMAIL: r"[A-Za-z0-9._%+-]@[A-Za-z0-9][A-Za-z0-9-]*\.[A-Za-z0-9]",
    IPV4: r"[1-9][0-9]{1,2}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}",
    IPV6: r"[23][0-9A-Fa-f]{3}:[0-9A-Fa-f]*:",
}


class Masker:
    """Replaces PII of the configured kinds; `counts` says how many of each it replaced."""

    def __init__(self, kinds: list[str], placeholders: dict[str, str]):
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown PII kinds {sorted(unknown)}; known: {list(KINDS)}")
        self.rules = [rule for rule in RULES if rule[0] in kinds]
        self.placeholders = placeholders
        self.counts: Counter[str] = Counter()

    def candidates(self, texts: pl.Series) -> pl.DataFrame:
        """Per text, one boolean column per rule (in `rules` order, named `rule<i>`): whether the rule may
        replace anything in the text as it is. A text with no True is one `mask` leaves alone."""
        return pl.DataFrame({f"rule{i}": texts.str.contains(PREFILTERS[rule[1]]).fill_null(False)
                             for i, rule in enumerate(self.rules)})

    def mask(self, text: str, hits: tuple[bool, ...] | None = None) -> str:
        """`text` with PII replaced. `hits` (a row of `candidates`) skips a rule that cannot replace
        anything: one whose prefilter missed the text while no rule before it has changed the text."""
        lowered = text.lower()
        changed = False
        for i, (kind, pattern, needles, spare) in enumerate(self.rules):
            if hits is not None and not hits[i] and not changed:
                continue
            if any(needle in lowered for needle in needles):
                new = self._sub(kind, pattern, spare, text)
                changed = changed or (new is not text and new != text)
                text = new
        return text

    def _sub(self, kind: str, pattern: re.Pattern, spare, text: str) -> str:
        """Replace the `value` group (or the whole match) of each hit not spared."""
        value_group = "value" if "value" in pattern.groupindex else 0

        def replace(m: re.Match) -> str:
            if spare(m, text):
                return m.group(0)
            self.counts[kind] += 1
            start, end = m.span(value_group)
            return text[m.start():start] + self.placeholders[kind] + text[end:m.end()]
        return pattern.sub(replace, text)
