"""Small pure helpers shared by the ingest stages: URLs, HTML to text, lead snippets, dates, word counts."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from lxml import etree
from lxml import html as lxml_html

# Query parameters that only track the click, never select the content.
_TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "mc_cid", "mc_eid", "igshid", "ref",
        "ref_src", "ref_url", "cmpid", "cmp", "ocid", "_ga", "_gl", "yclid", "msclkid", "smid", "smtyp",
        "at_medium", "at_campaign", "at_link_id", "at_link_origin", "at_link_type", "at_format",
        "at_ptr_name", "at_bbc_team", "mkt_tok", "_hsenc", "_hsmi", "hsctatracking", "wt_mc", "wt_zmc",
        "wt.mc_id", "ns_mchannel", "ns_source", "ns_campaign", "ns_linkname", "ns_fee", "s_cid", "icid",
        "xtor", "sr_share", "spm", "vero_id", "oly_enc_id", "oly_anon_id", "rb_clickid",
        "__twitter_impression", "twclid", "ttclid", "li_fat_id", "soc_src", "soc_trk",
        "guccounter", "guce_referrer", "guce_referrer_sig",
    }
)
_TRACKING_PREFIXES = ("utm_", "at_custom", "hsa_", "pk_", "mtm_", "itm_")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(key: str) -> bool:
    name = unquote(key).strip().lower()
    return name in _TRACKING_PARAMS or name.startswith(_TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """Comparable form of an http(s) URL: lower-case scheme and host, no default port, fragment or tracking.

    Other query parameters keep their order and their original encoding. Anything that is not an absolute
    http(s) URL comes back stripped but otherwise untouched.
    """
    raw = (url or "").strip()
    try:
        parts = urlsplit(raw)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            return raw
        host = parts.hostname.lower().rstrip(".")
        if ":" in host:  # IPv6 literal
            host = f"[{host}]"
        port = parts.port
        netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
        if "@" in parts.netloc:
            netloc = f"{parts.netloc.rsplit('@', 1)[0]}@{netloc}"
        kept = [p for p in parts.query.split("&") if p and not _is_tracking(p.split("=", 1)[0])]
        return urlunsplit((scheme, netloc, parts.path or "/", "&".join(kept), ""))
    except ValueError:
        return raw


def absolute_http_url(href: str | None, base: str = "") -> str:
    """``href`` made absolute against ``base``; "" when the result is not an http(s) URL with a host (data:,
    javascript:, a relative link with no base, garbage)."""
    href = (href or "").strip()
    if not href:
        return ""
    try:
        url = urljoin(base, href) if base else href
        parts = urlsplit(url)
    except ValueError:
        return ""
    return url if parts.scheme.lower() in _DEFAULT_PORTS and parts.netloc else ""


def url_variants(url: str) -> list[str]:
    """What a pasted URL may be stored as, most literal first: as given, in comparable form (no tracking, no
    fragment, host in lower case), and that with the other scheme and with or without a trailing slash."""
    raw = (url or "").strip()
    base = canonical_url(raw)
    out = [raw, base]
    parts = urlsplit(base)
    if parts.scheme in _DEFAULT_PORTS and parts.netloc:
        path = parts.path
        paths = [path] + ([path.rstrip("/")] if len(path) > 1 and path.endswith("/") else
                          [path + "/"] if not path.endswith("/") else [])
        for scheme in (parts.scheme, "https" if parts.scheme == "http" else "http"):
            out += [urlunsplit((scheme, parts.netloc, p, parts.query, "")) for p in paths]
    return list(dict.fromkeys(u for u in out if u))


# Elements whose content never reads as text, and elements that start a new line.
_SKIP_TAGS = frozenset(
    {"script", "style", "noscript", "template", "head", "title", "svg", "math", "iframe", "object"}
)
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "dialog", "div",
        "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5",
        "h6", "header", "hr", "html", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table",
        "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
    }
)
_SPACES = re.compile(r"[^\S\n]+")
_ANY_SPACE = re.compile(r"\s+")


def _tidy(text: str) -> str:
    lines = (_SPACES.sub(" ", line).strip() for line in text.replace("\r", "\n").split("\n"))
    return "\n".join(line for line in lines if line)


def _walk_text(root: etree._Element) -> str:
    """Text of a tree: source line breaks are spaces (as a browser shows them) except inside <pre>."""
    out: list[str] = []
    pre_depth = 0

    def add(text: str | None) -> None:
        if text:
            out.append(text if pre_depth else _ANY_SPACE.sub(" ", text))

    walker = etree.iterwalk(root, events=("start", "end", "comment", "pi"))
    for event, el in walker:
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        if event in ("comment", "pi"):
            add(el.tail)
        elif event == "start":
            if tag in _SKIP_TAGS:
                walker.skip_subtree()
                continue
            pre_depth += tag == "pre"
            if tag in _BLOCK_TAGS or tag == "br":
                out.append("\n")
            add(el.text)
        else:
            pre_depth -= tag == "pre"
            out.append("\n" if tag in _BLOCK_TAGS else " " if tag in ("td", "th") else "")
            if el is not root:
                add(el.tail)
    return "".join(out)


def html_to_text(html: str) -> str:
    """Readable plain text of an HTML fragment or page: one line per block element, entities decoded."""
    if not html or not html.strip():
        return ""
    if "<" not in html and "&" not in html:
        return _tidy(html)
    try:
        root = lxml_html.fragment_fromstring(html.replace("\x00", ""), create_parent="div")
    except (etree.LxmlError, ValueError):
        return _tidy(html)
    return _tidy(_walk_text(root))


# A sentence ends at . ! ? … (plus closing quotes/brackets) before white space, or at CJK full stops.
_SENTENCE_END = re.compile(r"""(?<=[.!?…])["'”’»)\]]*\s+|(?<=[。！？])""")
_ABBREVIATIONS = frozenset(
    {
        "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "gen", "gov", "sen", "rep", "lt", "col", "capt",
        "sgt", "inc", "ltd", "co", "corp", "vs", "etc", "no", "jan", "feb", "mar", "apr", "jun", "jul",
        "aug", "sep", "sept", "oct", "nov", "dec", "mt", "ft", "approx", "dept", "est", "fig", "op", "vol",
    }
)


def _split_sentences(text: str) -> list[str]:
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        head = text[start : match.start()].rstrip("\"'”’»)]")
        last_word = head.rsplit(None, 1)[-1] if head.split() else ""
        stem = last_word.rstrip(".").lower()
        following = text[match.end() : match.end() + 1]
        # "Mr. Smith", "U.S. officials", "e.g. this": not an end.
        if head.endswith(".") and (
            stem in _ABBREVIATIONS
            or (len(stem) <= 3 and re.fullmatch(r"(?:\w\.)*\w", stem) is not None)
            or following.islower()
        ):
            continue
        sentences.append(text[start : match.end()].strip())
        start = match.end()
    if text[start:].strip():
        sentences.append(text[start:].strip())
    return sentences


def _cut(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    cut = text[: max(max_chars - 1, 0)]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-–—(\"'") + "…"


def snippet(text: str, max_sentences: int = 2, max_chars: int = 320) -> str:
    """Lead of ``text``: its first whole sentences (up to ``max_sentences``) within ``max_chars``.

    Falls back to one sentence when two do not fit, and cuts at a word with "…" when even one is too long.
    """
    # Only the head can matter: a window twice the budget holds every sentence that could fit.
    flat = " ".join((text or "")[: max(max_chars, 0) * 4 + 200].split())[: max(max_chars, 0) * 2 + 1]
    if not flat:
        return ""
    sentences = _split_sentences(flat)[: max(max_sentences, 1)]
    while len(sentences) > 1 and len(" ".join(sentences)) > max_chars:
        sentences.pop()
    return _cut(" ".join(sentences), max_chars)


_TZINFOS = {
    name: int(offset * 3600)
    for name, offset in {
        "UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "BST": 1, "CET": 1, "CEST": 2, "EET": 2, "EEST": 3, "EST": -5,
        "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7, "IST": 5.5, "JST": 9,
        "AEST": 10, "AEDT": 11,
    }.items()
}


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


# Month abbreviations of other languages that feeds put in RFC 822 dates ("Seg, 24 Set 2018 ...").
_FOREIGN_MONTHS = {
    "ene": "Jan", "gen": "Jan", "janv": "Jan", "fev": "Feb", "fév": "Feb", "févr": "Feb", "febr": "Feb",
    "mär": "Mar", "mars": "Mar", "abr": "Apr", "avr": "Apr", "mai": "May", "may": "May", "mag": "May",
    "juin": "Jun", "giu": "Jun", "juil": "Jul", "lug": "Jul", "ago": "Aug", "août": "Aug", "aou": "Aug",
    "set": "Sep", "sett": "Sep", "out": "Oct", "okt": "Oct", "ott": "Oct", "dez": "Dec", "dic": "Dec",
    "déc": "Dec",
}
_RFC822 = re.compile(r"^(?:[^\W\d]+\.?,?\s*)?\d{1,2}\s+[^\W\d]+\.?\s+\d{2,4}(?:\s+\d{1,2}:\d\d|\s*$)")
_LEADING_WEEKDAY = re.compile(r"^[^\W\d]+\.?,\s*")


def _english_months(text: str) -> str:
    text = _LEADING_WEEKDAY.sub("", text)
    return re.sub(r"[^\W\d]+\.?", lambda m: _FOREIGN_MONTHS.get(m[0].rstrip(".").lower(), m[0]), text)


def _parse_with_dateutil(text: str) -> datetime | None:
    # Only when a 4-digit year is there: dateutil fills gaps from today, which turns noise into dates.
    if not re.search(r"(?<!\d)(1[89]|2\d)\d\d(?!\d)", text):
        return None
    try:
        from dateutil import parser as dateutil_parser
    except ImportError:
        return None
    for candidate in (text, _english_months(text)):
        try:
            return dateutil_parser.parse(candidate, tzinfos=_TZINFOS)
        except (ValueError, OverflowError, TypeError, LookupError):
            continue
    return None


def _parse_rfc822(text: str) -> datetime | None:
    if not _RFC822.match(text):
        return None
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


def parse_datetime(value: str | None) -> datetime | None:
    """An aware UTC datetime from ISO 8601, RFC 822 or other common date strings; None when unreadable.

    A value without a zone is taken as UTC; years before 1900 are taken as noise.
    """
    text = " ".join((value or "").split())
    if not text or len(text) > 100:
        return None
    try:
        parsed: datetime | None = datetime.fromisoformat(text)
    except ValueError:
        parsed = _parse_rfc822(text) or _parse_with_dateutil(text)
    if parsed is None or parsed.year < 1900:
        return None
    try:
        return _aware_utc(parsed)
    except (OverflowError, ValueError):
        return None


_WORD = re.compile(r"\w+(?:['’.-]\w+)*")


def word_count(text: str) -> int:
    """Number of words (runs of letters/digits, keeping "don't", "e-mail" and "3.5" whole)."""
    return len(_WORD.findall(text or ""))
