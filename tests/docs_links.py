#!/usr/bin/env python3
"""Checks the relative links of the documentation: README.md, CHANGELOG.md, BENCHMARKS.md and
docs/*.md (or the Markdown files given as arguments, relative to the repository root).

A link's file must exist (relative to the page that links it), and a `#anchor` into a Markdown
file must name one of its headings, slugged as GitHub slugs them: the heading's text without
its Markdown (code backticks, emphasis, link targets), lower-cased, every character that is not
a letter, digit, mark, `_`, `-` or space dropped, spaces made `-`, and `-1`, `-2`, ... added to
repeats. Links in code spans and fenced blocks are not links. External links (`http:`, `https:`,
`mailto:`, ...) are not checked: CI has no network.

Prints each broken link as `file:line: link: why` and exits 1 when there is one; stdlib only.
"""

import os
import re
import sys
import unicodedata
from urllib.parse import unquote

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT = ["README.md", "CHANGELOG.md", "BENCHMARKS.md", "docs/*.md"]

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
# [text](target "title") and ![alt](target); text may hold code and span lines.
INLINE = re.compile(r"!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'(][^)]*)?\)")
# [label]: target
DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.M)
HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
HTML_ID = re.compile(r"<[^>]+\b(?:id|name)=[\"']([^\"']+)[\"']")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def blank_code(text):
    """The text with fenced blocks and code spans replaced by spaces (newlines kept), so that
    offsets and line numbers stay as they were."""
    out, fence = [], None
    for line in text.split("\n"):
        m = FENCE.match(line)
        if fence:
            out.append("")
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                fence = None
            continue
        if m:
            fence = m.group(1)
            out.append("")
            continue
        out.append(line)
    text = "\n".join(out)
    return CODE_SPAN.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def plain(heading):
    """A heading's text as rendered: code without backticks, links without targets, no
    emphasis marks, no HTML tags."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text)
    parts = re.split(r"(`+[^`]*`+)", text)
    for i, part in enumerate(parts):
        if part.startswith("`"):
            parts[i] = part.strip("`")
        else:
            # Emphasis: `*`/`**` anywhere, `_`/`__` only around words (snake_case stays).
            part = part.replace("*", "")
            part = re.sub(r"(?<![\w])_+|_+(?![\w])", "", part)
            parts[i] = part
    return "".join(parts)


def slug(heading):
    """GitHub's anchor for a heading's text (without the repeat suffix)."""
    kept = []
    for ch in plain(heading).strip().lower():
        category = unicodedata.category(ch)
        if ch in "_- " or category[0] in "LNM" or category == "Pc":
            kept.append(ch)
    return "".join(kept).replace(" ", "-")


_anchors = {}


def anchors(path):
    """Every anchor a Markdown file defines: its headings' slugs and any HTML id or name."""
    if path not in _anchors:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        found, seen = set(), {}
        fence = None
        for line in text.split("\n"):
            m = FENCE.match(line)
            if fence:
                if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                    fence = None
                continue
            if m:
                fence = m.group(1)
                continue
            h = HEADING.match(line)
            if h:
                base = slug(h.group(2))
                n = seen.get(base, 0)
                seen[base] = n + 1
                found.add(base if n == 0 else f"{base}-{n}")
        found.update(HTML_ID.findall(text))
        _anchors[path] = found
    return _anchors[path]


def check(page):
    """The broken links of one page, as (line, link, why)."""
    with open(page, encoding="utf-8") as f:
        text = f.read()
    bare = blank_code(text)
    links = [(m.start(2), m.group(2)) for m in INLINE.finditer(bare)]
    links += [(m.start(1), m.group(1)) for m in DEFINITION.finditer(bare)]
    broken = []
    for offset, link in sorted(links):
        if not link or SCHEME.match(link) or link.startswith("//"):
            continue
        line = bare.count("\n", 0, offset) + 1
        target, _, anchor = link.partition("#")
        path = page if not target else os.path.normpath(
            os.path.join(os.path.dirname(page), unquote(target)))
        if not os.path.exists(path):
            broken.append((line, link, f"no such file: {os.path.relpath(path, ROOT)}"))
            continue
        if anchor and path.endswith(".md") and os.path.isfile(path):
            if unquote(anchor) not in anchors(path):
                broken.append((line, link, f"no heading with anchor #{anchor} in "
                                           f"{os.path.relpath(path, ROOT)}"))
    return broken


def main(args):
    patterns = args or DEFAULT
    pages = []
    for pattern in patterns:
        if "*" in pattern:
            folder, _, suffix = pattern.rpartition("/*")
            folder = os.path.join(ROOT, folder)
            pages += sorted(os.path.join(folder, n) for n in os.listdir(folder)
                            if n.endswith(suffix) and os.path.isfile(os.path.join(folder, n)))
        else:
            pages.append(os.path.join(ROOT, pattern))
    failures = 0
    for page in pages:
        if not os.path.isfile(page):
            print(f"{os.path.relpath(page, ROOT)}: no such file")
            failures += 1
            continue
        for line, link, why in check(page):
            print(f"{os.path.relpath(page, ROOT)}:{line}: {link}: {why}")
            failures += 1
    if failures:
        print(f"docs_links: {failures} broken link(s) in {len(pages)} file(s)")
        return 1
    print(f"docs_links: every relative link resolves ({len(pages)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
