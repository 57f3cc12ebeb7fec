"""Parse, validate and format email addresses and address lists."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from emailactions.errors import InvalidParams
from emailactions.params.address_fastpath import plain_spec

# C0 controls but TAB, DEL, NEL and the Unicode line/paragraph separators: any
# of these in a header value could end the header or smuggle a new one in.
_HEADER_CONTROLS = re.compile("[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
# Bidi overrides and isolates let a display name render as someone else's.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
#: Longest address item we even try to parse (RFC 5321 caps a path at 256).
MAX_ADDRESS_CHARS = 1000
#: Longest display name: as one RFC 2047 word it must fit a 998-octet line.
MAX_DISPLAY_CHARS = 150

_LABELS = {"from": "From", "to": "To", "cc": "Cc", "bcc": "Bcc", "replyTo": "Reply-To"}


def _label(param: str) -> str:
    return _LABELS.get(param.lstrip("_"), param)


# Lone surrogates (JSON allows "\ud800") are not text and cannot be encoded.
SURROGATES = re.compile("[\ud800-\udfff]")


def check_header_text(value: str, param: str) -> str:
    """Refuse control characters, also ones hidden in RFC 2047 encoded words."""
    if SURROGATES.search(value):
        raise InvalidParams(f"Parameter {param!r} contains a lone surrogate (not valid Unicode text)", param=param)
    if _HEADER_CONTROLS.search(value):
        raise InvalidParams(
            f"Parameter {param!r} contains a control character", param=param
        )
    if "=?" in value:
        # A client would decode "=?utf-8?q?a=0D=0AX?=" into a line break.
        from email.header import decode_header, make_header

        try:
            decoded = str(make_header(decode_header(value)))
        except Exception:  # undecodable words stay literal text for readers
            decoded = ""
        if _HEADER_CONTROLS.search(decoded):
            raise InvalidParams(
                f"Parameter {param!r} contains a control character in an encoded word",
                param=param,
            )
    return value


@dataclass(frozen=True, slots=True)
class Address:
    """One mailbox: the address as sent (IDNA domain) and a display name."""

    addr: str
    display: str = ""

    @property
    def smtputf8(self) -> bool:
        """True when the local part is not ASCII, so SMTPUTF8 is needed."""
        return not self.addr.isascii()

    @property
    def key(self) -> str:
        """Identity for de-duplication: domains are case-insensitive."""
        # Local parts are case-sensitive by the RFC but not by any real
        # mailbox provider; sending twice to Bob@ and bob@ is the worse error.
        return self.addr.casefold()

    def __str__(self) -> str:
        if not self.display:
            return self.addr
        quoted = self.display.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}" <{self.addr}>'

    def to_dict(self) -> dict[str, str]:
        """JSON form, as accepted back in address-list params."""
        return {"address": self.addr, "display": self.display} if self.display else {"address": self.addr}


_NEEDS_SCAN = re.compile(r'["(<\\]')
# Without quotes or brackets, white space separates addresses too (as bulk APIs
# accept "a@x.com b@y.com"); no single address can contain it there.
_SEPARATORS = re.compile(r"[,;\s]+")


def split_address_list(value: str) -> list[str]:
    """Split on ``,`` or ``;`` outside quotes, comments and angle brackets.

    Hand-written because the stdlib's lenient ``getaddresses`` mis-splits
    quoted commas on older Pythons and email-validator takes one address.
    """
    if not _NEEDS_SCAN.search(value):
        return [item.strip() for item in _SEPARATORS.split(value) if item.strip()]
    if "," not in value and ";" not in value:  # one "Name" <addr>: nothing to split on
        return [value.strip()] if value.strip() else []
    items: list[str] = []
    start = 0
    quoted = escaped = False
    angle = comment = 0
    for i, ch in enumerate(value):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = quoted or comment > 0
        elif quoted:
            quoted = ch != '"'
        elif ch == '"':
            quoted = True
        elif ch == "(":
            comment += 1
        elif ch == ")" and comment:
            comment -= 1
        elif comment:
            pass
        elif ch == "<":
            angle += 1
        elif ch == ">" and angle:
            angle -= 1
        elif ch in ",;" and not angle:
            items.append(value[start:i])
            start = i + 1
    items.append(value[start:])
    return [item.strip() for item in items if item.strip()]


_NAME_ADDR = re.compile(r"(.*?)\s*<([^<>]*)>\s*", re.S)
_PHRASE_SPECIALS = set('()<>[]:;@\\,"')


def _split_name_addr(item: str) -> tuple[str, str]:
    """``Name <addr>`` or ``"Name" <addr>`` into (display, addr); else ("", item).

    Done here rather than by email-validator so that unquoted non-ASCII
    names (``Jürgen <j@example.de>``, fine under RFC 6532) are accepted.
    """
    match = _NAME_ADDR.fullmatch(item)
    if not match:
        return "", item
    raw, addr = match.group(1).strip(), match.group(2)
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        inner = raw[1:-1]
        if re.search(r'(?<!\\)(?:\\\\)*"', inner):
            raise ValueError("a quote inside the quoted display name")
        return re.sub(r"\\(.)", r"\1", inner, flags=re.S), addr
    if _PHRASE_SPECIALS & set(raw):
        raise ValueError("the display name has special characters; quote it")
    return " ".join(raw.split()), addr


# IDNA 2008's CONTEXTJ code points: legal in a domain label after a virama or
# between joining letters (Sinhala "ශ්‍රී", Persian "نامه‌ای"); email-validator
# refuses every format character, these included.
_JOINERS = re.compile("[\u200c\u200d]")
#: Longest domain email-validator checks; also bounds the IDNA decoding below.
_MAX_DOMAIN_CHARS = 255
#: RFC 5321 4.5.3.1.1: a local part is at most 64 octets (UTF-8 ones under
#: RFC 6531); email-validator only checks it in its strict mode.
_MAX_LOCAL_OCTETS = 64


def _validate(addr: str) -> str:
    """The addr-spec as sent: email-validator's syntax check, IDNA 2008 domain."""
    spec = plain_spec(addr)
    if spec is not None:
        return spec
    from email_validator import EmailNotValidError, validate_email

    local, _, domain = addr.rpartition("@")
    joined = _joined_domain(domain)
    try:
        # With joiners, the idna package checks them (CONTEXTJ) and
        # email-validator every other rule, on the domain without them.
        info = validate_email(f"{local}@{_JOINERS.sub('', joined)}" if joined else addr, allow_smtputf8=True, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from exc
    if len(info.local_part.encode("utf-8")) > _MAX_LOCAL_OCTETS:
        raise ValueError(f"The part before the @-sign is longer than {_MAX_LOCAL_OCTETS} octets (RFC 5321).")
    if not joined:
        return f"{info.local_part}@{info.ascii_domain}"
    import idna

    try:
        ascii_domain = idna.encode(joined, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise ValueError(f"The part after the @-sign is not valid IDNA ({exc}).") from None
    spec = f"{info.local_part}@{ascii_domain}"
    if len(spec.encode("utf-8")) > 254:
        raise ValueError("The email address is too long after IDNA encoding.")
    return spec


def _joined_domain(domain: str) -> str:
    """``domain`` in Unicode when a label holds a ZWJ or ZWNJ (also inside an A-label), else ""."""
    if len(domain) > _MAX_DOMAIN_CHARS:
        return ""
    if _JOINERS.search(domain):
        return domain
    if "xn--" not in domain.lower():
        return ""
    import idna

    try:
        unicode_domain = ".".join(idna.decode(label) if label.lower().startswith("xn--") else label for label in domain.split("."))
    except (idna.IDNAError, UnicodeError):
        return ""  # email-validator says what is wrong with it
    return unicode_domain if _JOINERS.search(unicode_domain) else ""


def _bad(param: str, item: Any, reason: str) -> InvalidParams:
    shown = item if isinstance(item, str) and len(item) <= 200 else repr(item)[:200]
    return InvalidParams(
        f"Bad {_label(param)}: email address", param=param, address=shown, problem=reason
    )


def parse_address(item: Any, param: str) -> Address:
    """One address: a string (``"Name" <a@b>`` allowed), an address object, or an
    :class:`Address` already parsed."""
    if isinstance(item, Address):
        return item
    if isinstance(item, str):
        return _parse_string(item, param)
    if not isinstance(item, dict):
        raise _bad(param, item, "an address must be a string or an object")
    unknown = set(item) - {"address", "display"}
    if unknown:
        raise _bad(param, item, f"unknown keys {sorted(map(str, unknown))}")
    addr, display = item.get("address"), item.get("display") or ""
    if not isinstance(addr, str) or not isinstance(display, str):
        raise _bad(param, item, "address and display must be strings")
    return _checked(addr, display, param, item)


@lru_cache(maxsize=4096)
def _parse_string(item: str, param: str) -> Address:
    # Cached: bulk sends and templates repeat the same sender and addresses.
    check_header_text(item, param)
    try:
        display, addr = _split_name_addr(item)
    except ValueError as exc:
        raise _bad(param, item, str(exc)) from None
    return _checked(addr, display, param, item)


def _checked(addr: str, display: str, param: str, item: Any) -> Address:
    addr = addr.strip()
    if not addr:
        raise _bad(param, item, "empty address")
    if len(addr) > MAX_ADDRESS_CHARS:
        raise _bad(param, item, "address too long")
    check_header_text(addr, param)
    try:
        spec = _validate(addr)
    except ValueError as exc:
        raise _bad(param, item, str(exc)) from None
    # Checked before normalising: white-space folding below would turn a CR LF
    # into a space and hide it.
    check_header_text(display, param)
    # Runs of white space in a display name carry no meaning, and readers
    # (the stdlib's among them) fold them; normalise so what we send is what shows.
    display = " ".join(display.split())
    if display:
        if len(display) > MAX_DISPLAY_CHARS:
            raise _bad(param, item, f"display name longer than {MAX_DISPLAY_CHARS} characters")
        if _BIDI_CONTROLS.search(display):
            raise _bad(param, item, "bidirectional control characters in display name")
    return Address(spec, display)


def parse_address_list(value: Any, param: str) -> list[Address]:
    """A comma/semicolon separated string, or a list of strings or objects."""
    if value is None:
        return []
    if isinstance(value, str):
        if len(value) > 1_000_000:
            raise InvalidParams(f"Parameter {param!r} is too long", param=param)
        return [parse_address(item, param) for item in split_address_list(value)]
    if isinstance(value, (list, tuple)):
        return [parse_address(item, param) for item in value]
    raise InvalidParams(
        f"Parameter {param!r} must be a string or a list of addresses", param=param
    )
