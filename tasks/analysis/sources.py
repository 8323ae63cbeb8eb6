"""Load posts and articles from JSON Lines files and RSS/Atom feeds into uniform items.

Every scanner works on :class:`Item`, so this module is the only place that knows about
source formats. A scan looks at a :class:`Window` of publication times: :func:`load_window` keeps
the items published in it and counts the ones it left out (undated, or dated outside). Problems
with a source are reported as :class:`SourceError` with the source name (and line, for JSON
Lines) so a user can fix the file without reading a traceback; :func:`check_sources` finds a
missing or unreadable file before a run starts. A source error is permanent (retrying cannot
find a missing file), except a URL that cannot be fetched, which is :class:`SourceUnreachable`
and transient.
"""

from __future__ import annotations

import calendar
import hashlib
import html
import json
import re
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
from pydantic import AwareDatetime, BaseModel, ConfigDict, model_validator

from organism.errors import PermanentError, TransientError
from tasks.analysis.text import detect_lang

JSONL_SUFFIXES = (".jsonl", ".ndjson")
LANGUAGES = ("en", "zh")
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


class Item(BaseModel):
    """One post, comment or article, whatever source it came from."""

    model_config = ConfigDict(frozen=True)

    id: str
    source: str
    title: str
    text: str
    published: datetime | None
    lang: str  # "en" | "zh"
    author: str | None = None
    url: str | None = None
    tags: list[str] = []


class SourceError(PermanentError, ValueError):
    """A source is missing, unreadable or malformed; the message names the source and the problem."""


class SourceUnreachable(TransientError):
    """A URL source could not be fetched this time (network error, HTTP 408, 429 or 5xx)."""


class Window(BaseModel):
    """A span of publication times, ``start`` included and ``end`` excluded, both with a time zone."""

    model_config = ConfigDict(frozen=True)

    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _end_after_start(self) -> Window:
        if self.end <= self.start:
            raise ValueError(f"end {self.end.isoformat()} must be after start {self.start.isoformat()}")
        return self

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600

    def holds(self, moment: datetime) -> bool:
        """Whether ``moment`` (zone-aware) falls in the window."""
        return self.start <= moment < self.end

    def before(self, count: int) -> Window:
        """The span of ``count`` windows of this length that ends where this one starts."""
        return Window(start=self.start - count * (self.end - self.start), end=self.start)

    def as_json(self) -> dict[str, str]:
        """``{"start", "end"}`` as ISO 8601 strings."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


class Loaded(BaseModel):
    """The items of a window, and how many items of the sources it left out."""

    model_config = ConfigDict(frozen=True)

    items: list[Item]  # published in the window, in load_items' order
    undated: int  # items with no publication time: never in a window
    outside: int  # dated items published before or after the window


def load_window(sources: list[str], window: Window) -> Loaded:
    """Load the sources and keep the items published in ``window``.

    Raises:
        SourceError: as :func:`load_items`.
    """
    items = load_items(sources)
    inside = [item for item in items if item.published is not None and window.holds(item.published)]
    undated = sum(item.published is None for item in items)
    return Loaded(items=inside, undated=undated, outside=len(items) - len(inside) - undated)


def check_sources(sources: list[str]) -> None:
    """Check that every local source is a readable file, without parsing it; URLs are not fetched.

    Raises:
        SourceError: no sources at all, or the first source that is missing, a directory or unreadable,
            in one line naming it.
    """
    if not sources:
        raise SourceError("no sources given: nothing to scan")
    for source in sources:
        if not _is_url(source):
            _readable_file(source, None)


def load_items(sources: list[str], base_dir: Path | None = None) -> list[Item]:
    """Load and merge items from the given sources.

    Args:
        sources: Paths (relative to ``base_dir`` or the working directory) or http(s) URLs.
            ``.jsonl``/``.ndjson`` sources are read as JSON Lines; anything else is parsed as an
            RSS or Atom feed.
        base_dir: Directory that relative paths are resolved against.

    Returns:
        Items in source order, then file order, with later duplicates of an id dropped.

    Raises:
        SourceError: A file is missing, a feed cannot be parsed, or a JSON Lines record is invalid.
    """
    items: list[Item] = []
    seen: set[str] = set()
    for source in sources:
        for item in _load_source(source, base_dir):
            if item.id not in seen:
                seen.add(item.id)
                items.append(item)
    return items


def _load_source(source: str, base_dir: Path | None) -> list[Item]:
    is_jsonl = source.split("?", 1)[0].lower().endswith(JSONL_SUFFIXES)
    if _is_url(source):
        content = _fetch_text(source)
        return _load_jsonl(source, content) if is_jsonl else _load_feed(source, content)
    path = _readable_file(source, base_dir)
    if is_jsonl:
        try:
            content = path.read_text(encoding="utf-8-sig")  # tolerate a byte-order mark
        except (OSError, UnicodeDecodeError) as exc:
            raise SourceError(f"{source}: cannot read file ({exc})") from exc
        return _load_jsonl(source, content)
    return _load_feed(source, str(path))


def absolute(source: str) -> str:
    """A local source as an absolute path from the working directory; a URL as it is."""
    return source if _is_url(source) else str(Path(source).resolve())


def _is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def _readable_file(source: str, base_dir: Path | None) -> Path:
    """The source's path, once it is known to be a file this process can open."""
    path = Path(source)
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    if not path.exists():
        raise SourceError(f"{source}: file not found ({path})")
    if path.is_dir():
        raise SourceError(f"{source}: is a directory, not a file ({path})")
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise SourceError(f"{source}: cannot read file ({exc.strerror or exc})") from exc
    return path


def _fetch_text(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            data: bytes = response.read()
    except urllib.error.HTTPError as exc:
        if exc.code in (408, 429) or exc.code >= 500:
            raise SourceUnreachable(f"{url}: cannot fetch (HTTP {exc.code})") from exc
        raise SourceError(f"{url}: cannot fetch (HTTP {exc.code})") from exc
    except OSError as exc:
        raise SourceUnreachable(f"{url}: cannot fetch ({exc})") from exc
    return data.decode("utf-8", errors="replace")


def _load_jsonl(source: str, content: str) -> list[Item]:
    items = []
    for lineno, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SourceError(f"{source} line {lineno}: not valid JSON ({exc})") from exc
        if not isinstance(record, dict):
            raise SourceError(f"{source} line {lineno}: expected a JSON object, got {type(record).__name__}")
        try:
            items.append(_record_to_item(source, record))
        except ValueError as exc:
            raise SourceError(f"{source} line {lineno}: {exc}") from exc
    return items


def _record_to_item(source: str, record: dict[str, Any]) -> Item:
    text = _first_str(record, "text", "body", "content")
    if not text:
        raise ValueError("no text (expected a non-empty 'text', 'body' or 'content' field)")
    title = _first_str(record, "title")
    raw_id = record.get("id")
    item_id = str(raw_id) if raw_id not in (None, "") else _content_id(title, text)
    tags = record.get("tags") or []
    if not isinstance(tags, list):
        raise ValueError("'tags' must be a list of strings")
    return Item(
        id=item_id,
        source=source,
        title=title,
        text=text,
        published=_parse_date(record.get("published", record.get("date"))),
        lang=_normalise_lang(record.get("lang"), f"{title}\n{text}", declared=True),
        author=_first_str(record, "author") or None,
        url=_first_str(record, "url") or None,
        tags=[str(tag) for tag in tags],
    )


def _load_feed(source: str, location: str) -> list[Item]:
    """Items of an RSS or Atom feed; ``location`` is a file path or the feed's text."""
    parsed = feedparser.parse(location)
    entries = parsed.get("entries") or []
    if parsed.get("bozo") and not entries:
        reason = parsed.get("bozo_exception") or "unknown parse error"
        raise SourceError(f"{source}: not a readable RSS/Atom feed ({reason})")
    items = []
    for entry in entries:
        title = _clean_html(entry.get("title", ""))
        text = _entry_text(entry) or title
        if not text:
            continue
        when = entry.get("published_parsed") or entry.get("updated_parsed")
        items.append(
            Item(
                id=str(entry.get("id") or entry.get("link") or _content_id(title, text)),
                source=source,
                title=title,
                text=text,
                published=datetime.fromtimestamp(calendar.timegm(when), tz=UTC) if when else None,
                lang=_normalise_lang(entry.get("language"), f"{title}\n{text}"),
                author=entry.get("author") or None,
                url=entry.get("link") or None,
                tags=[str(tag.get("term")) for tag in entry.get("tags", []) if tag.get("term")],
            )
        )
    return items


def _entry_text(entry: Any) -> str:
    # Prefer the full content over the summary when the feed carries both.
    for block in entry.get("content") or []:
        value = _clean_html(block.get("value", ""))
        if value:
            return value
    return _clean_html(entry.get("summary", ""))


def _clean_html(value: str) -> str:
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", value))).strip()


def _first_str(record: dict[str, Any], *keys: str) -> str:
    for key in keys:
        value = record.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _parse_date(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise ValueError(f"'published' is out of range: {value!r}") from exc
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            # Naive timestamps are taken as UTC so that all items compare on one timeline.
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError(f"'published' is not an ISO 8601 date or epoch seconds: {value!r}")


def _normalise_lang(value: Any, text: str, declared: bool = False) -> str:
    """ "en" or "zh" from a language tag ("zh-CN" is "zh"), else detected from the text.

    With ``declared`` (a JSON Lines record's own ``lang``), a tag for another language is an error: the
    scans have no model for it, and reading it as English would give wrong answers, not no answer.
    """
    if isinstance(value, str) and value.strip():
        code = value.strip().lower()[:2]
        if code in LANGUAGES:
            return code
        if declared:
            raise ValueError(f"'lang' {value!r} is not a language the scans read ({', '.join(LANGUAGES)})")
    return detect_lang(text)


def _content_id(title: str, text: str) -> str:
    return "sha1-" + hashlib.sha1(f"{title}\n{text}".encode()).hexdigest()[:12]
