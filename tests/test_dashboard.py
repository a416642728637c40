"""The dashboard's files: every one listed in its VENDOR.md, vendored ones checked against their
checksums, nothing loaded from another host, and all of them shipped in the wheel."""

from __future__ import annotations

import hashlib
import re
import shutil
import tomllib
from pathlib import Path

from agented_http.ui import CSP, static_files

ROOT = Path(__file__).resolve().parent.parent
UI = ROOT / "src" / "agented_http" / "ui"
ROW = re.compile(r"^\| `([^`]+)` \| ([^|]+) \| ([^|]+) \| ([^|]+) \| `?([0-9a-f]{64})`? \|$")


def problems(folder: Path) -> list[str]:
    """What is wrong with ``folder``'s files against its VENDOR.md."""
    text = (folder / "VENDOR.md").read_text()
    vendored = {m.group(1): m.group(5) for line in text.splitlines() if (m := ROW.match(line))}
    own = set(re.findall(r"^- `([^`]+)`", text.split("## Own files", 1)[1], flags=re.M))
    on_disk = {p.name for p in folder.iterdir() if p.is_file()}
    found = [f"not listed in VENDOR.md: {n}" for n in sorted(on_disk - own - set(vendored))]
    found += [f"listed but missing: {n}" for n in sorted((own | set(vendored)) - on_disk)]
    for name, digest in sorted(vendored.items()):
        path = folder / name
        if path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            found.append(f"checksum differs: {name}")
    return found


def test_every_file_is_listed_and_every_vendored_one_matches_its_checksum() -> None:
    assert problems(UI) == []
    assert set(static_files()) == {p.name for p in UI.iterdir() if p.is_file()}


def test_an_unlisted_or_changed_file_is_caught(tmp_path: Path) -> None:
    copy = tmp_path / "ui"
    shutil.copytree(UI, copy)
    (copy / "lib.js").write_text("export const v = 1;\n")
    assert problems(copy) == ["not listed in VENDOR.md: lib.js"]
    digest = hashlib.sha256(b"export const v = 1;\n").hexdigest()
    vendor = (copy / "VENDOR.md").read_text()
    row = f"| `lib.js` | lib | 1.0.0 | MIT | `{digest}` |\n"
    (copy / "VENDOR.md").write_text(
        vendor.replace("|---|---|---|---|---|\n", f"|---|---|---|---|---|\n{row}")
    )
    assert problems(copy) == []
    (copy / "lib.js").write_text("export const v = 2;\n")
    assert problems(copy) == ["checksum differs: lib.js"]


def test_nothing_is_loaded_from_another_host() -> None:
    remote = re.compile(
        r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//|@import|url\(\s*["']?(?:https?:)?//|"""
        r"""import\s*(?:[^"';]*from\s*)?["'](?:https?:)?//|fetch\(\s*["'](?:https?:)?//"""
    )
    for path in UI.iterdir():
        if path.suffix in (".js", ".css", ".html"):
            assert not remote.search(path.read_text()), path.name
    assert "default-src 'none'" in CSP and "connect-src 'self'" in CSP


def test_the_wheel_ships_the_dashboard() -> None:
    # hatchling ships every file under the packages' folders that git does not ignore
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]
    wheel = build["targets"]["wheel"]
    assert "src/agented_http" in wheel["packages"]
    excluded = [*wheel.get("exclude", []), *build.get("exclude", [])]
    assert not any("ui" in p or p.endswith((".js", ".css", ".html", ".md")) for p in excluded)
    ignored = [line.strip() for line in (ROOT / ".gitignore").read_text().splitlines()]
    assert not any(p in ("*.js", "*.css", "*.html", "*.md", "ui/", "ui") for p in ignored)


def _palettes() -> list[dict[str, str]]:
    """The light and the dark palette of style.css (its CSS variables)."""
    css = (UI / "style.css").read_text()
    blocks = re.findall(r":root\s*\{([^}]*)\}", css)
    return [dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", block)) for block in blocks]


def _luminance(color: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    """The WCAG contrast ratio of two colours."""
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_text_colours_meet_wcag_aa_on_both_backgrounds_in_both_schemes() -> None:
    palettes = _palettes()
    assert len(palettes) == 2  # light, and dark by the system setting
    for palette in palettes:
        for text in ("fg", "muted", "accent", "good", "bad", "warn", "run", "pause"):
            for background in ("bg", "panel"):
                ratio = contrast(palette[text], palette[background])
                assert ratio >= 4.5, (text, background, palette[text], round(ratio, 2))
        assert contrast(palette["fg"], palette["hl"]) >= 4.5  # a highlighted event
    assert contrast("#000000", "#ffffff") > 20 and contrast("#777777", "#ffffff") < 4.5
