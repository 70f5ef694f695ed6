"""The readiness board, three ways: a live HTML page (it reloads its table every few seconds by
itself), JSON, and a plain-text table (``room report``). Every value comes from the network, so
the HTML escapes all of it and the page's script inserts only the server's escaped HTML."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from html import escape

from labkit.room.reports import SET_ASIDE, Board, Row

REFRESH_S = 3

_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 1.5rem; color: #1b1b1b; }
h1 { font-size: 1.5rem; margin: 0 0 .2rem; }
#status { color: #555; margin: 0 0 1rem; }
#status.stale { color: #b00020; font-weight: 600; }
details { margin: 0 0 1rem; } pre { background: #f4f4f4; padding: .6rem; overflow-x: auto; }
.summary { font-size: 1.1rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .35rem .5rem; border-bottom: 1px solid #ddd; }
th { background: #f4f4f4; }
tr.not-ready { background: #fdecee; }
.badge { display: inline-block; padding: .05rem .45rem; border-radius: .3rem; color: #fff;
         font-weight: 700; white-space: nowrap; }
.badge.ready { background: #1e7d32; } .badge.not-ready { background: #b00020; }
.bad { color: #b00020; font-weight: 600; }
ul.problems { margin: 0; padding-left: 1.1rem; }
li.fail b { color: #b00020; } li.warn b { color: #9a6700; }
code { white-space: pre-wrap; font-size: .9em; }
.when { color: #555; white-space: nowrap; }
.set-aside { color: #9a6700; }
"""

_SCRIPT = f"""
const board = document.getElementById("board");
const status = document.getElementById("status");
async function refresh() {{
  try {{
    const response = await fetch("board", {{cache: "no-store"}});
    if (!response.ok) throw new Error("HTTP " + response.status);
    board.innerHTML = await response.text();  // HTML the server escaped
    status.textContent = "Updated " + new Date().toLocaleTimeString()
      + "; refreshes every {REFRESH_S} s by itself";
    status.classList.remove("stale");
  }} catch (error) {{
    status.textContent = "Cannot reach the server (" + error.message + "): retrying";
    status.classList.add("stale");
  }}
}}
setInterval(refresh, {REFRESH_S * 1000});
"""


def counts(rows: list[Row]) -> tuple[int, int]:
    """(READY, NOT READY)."""
    ready = sum(row.ready for row in rows)
    return ready, len(rows) - ready


def _attendees(n: int) -> str:
    return f"{n} attendee" if n == 1 else f"{n} attendees"


def _ago(received: float, now: float) -> str:
    seconds = max(0, int(now - received))
    if seconds < 60:
        ago = f"{seconds} s ago"
    elif seconds < 3600:
        ago = f"{seconds // 60} min ago"
    else:
        ago = f"{seconds // 3600} h ago"
    return f"{time.strftime('%H:%M:%S', time.localtime(received))} ({ago})"


def _problems_html(row: Row) -> str:
    if not row.problems:
        return "none"
    items = []
    for p in row.problems:
        fix = f"<br>fix: <code>{escape(p['fix'])}</code>" if p["fix"] else ""
        items.append(
            f'<li class="{p["level"].lower()}"><b>{escape(p["level"])}</b> '
            f"{escape(p['message'])}{fix}</li>"
        )
    return f'<ul class="problems">{"".join(items)}</ul>'


def set_aside_line(n: int) -> str:
    """What the page and ``room report`` say of stored files that were set aside."""
    reports = "1 report" if n == 1 else f"{n} reports"
    return f"{reports} set aside (unreadable: see reports/{SET_ASIDE}/)"


def board_html(board: Board, now: float | None = None) -> str:
    """The summary line and the table: what the page refreshes."""
    now = time.time() if now is None else now
    rows = board.rows
    ready, not_ready = counts(rows)
    aside = (
        f'<p class="set-aside">{escape(set_aside_line(board.set_aside))}</p>'
        if board.set_aside
        else ""
    )
    if not rows:
        return f'<p class="summary">No reports yet.</p>{aside}'
    summary = (
        f'<p class="summary"><strong>{_attendees(len(rows))}</strong>: '
        f'<span class="{"bad" if not_ready else ""}">{not_ready} NOT READY</span>, '
        f"{ready} READY</p>"
    )
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "Attendee",
            "Status",
            "OS",
            "Python",
            "TensorFlow",
            "GPU",
            "Problems and fixes",
            "Report",
        )
    )
    body = []
    for row in rows:
        state = "ready" if row.ready else "not-ready"
        label = "READY" if row.ready else "NOT READY"
        cells = [
            escape(row.name),
            f'<span class="badge {state}">{label}</span>',
            escape(row.os),
            escape(row.python),
            escape(row.tensorflow),
            escape(row.gpu),
            _problems_html(row),
            f'<span class="when">{_ago(row.received, now)}</span>',
        ]
        tds = "".join(f"<td>{cell}</td>" for cell in cells)
        body.append(f'<tr class="{state}" data-name="{escape(row.name)}">{tds}</tr>')
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    return f"{summary}{aside}{table}"


def page_html(board: Board, instructions: list[str]) -> str:
    """The instructor's page: the setup instructions (folded), then the board."""
    howto = escape("\n".join(instructions))
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Workshop readiness</title>
<noscript><meta http-equiv="refresh" content="{REFRESH_S * 3}"></noscript>
<style>{_STYLE}</style>
</head>
<body>
<h1>Workshop readiness</h1>
<p id="status">Refreshes every {REFRESH_S} s by itself</p>
<details><summary>How to set up and send your report</summary><pre>{howto}</pre></details>
<div id="board">{board_html(board)}</div>
<p>The same as <a href="reports.json">JSON</a> and as <a href="reports.txt">text</a>.</p>
<script>{_SCRIPT}</script>
</body>
</html>
"""


def attendee_html(instructions: list[str]) -> str:
    """What an attendee sees at the room's address: the instructions, and nobody's report."""
    howto = escape("\n".join(instructions))
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Workshop setup</title><style>{_STYLE}</style></head>
<body>
<h1>Workshop setup</h1>
<pre>{howto}</pre>
</body>
</html>
"""


def to_json(board: Board) -> str:
    rows = board.rows
    ready, not_ready = counts(rows)
    attendees = [asdict(row) for row in rows]
    document = {
        "attendees": len(rows),
        "ready": ready,
        "not_ready": not_ready,
        "set_aside": board.set_aside,
        "rows": attendees,
    }
    return json.dumps(document, indent=1)


def text_table(board: Board, now: float | None = None) -> str:
    """One line per attendee, their problems and fixes indented below, then the counts."""
    now = time.time() if now is None else now
    rows = board.rows
    header = ("ATTENDEE", "STATUS", "OS", "PYTHON", "TENSORFLOW", "GPU", "REPORT")
    table = [header] + [
        (
            row.name,
            "READY" if row.ready else "NOT READY",
            row.os[:40],
            row.python,
            row.tensorflow,
            row.gpu[:30],
            _ago(row.received, now),
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    out = ["  ".join(cell.ljust(w) for cell, w in zip(header, widths, strict=True)).rstrip()]
    for row, line in zip(rows, table[1:], strict=True):
        out.append("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
        for p in row.problems:
            out.append(f"    {p['level']}  {p['message']}")
            out += [f"          fix: {fix}" for fix in p["fix"].splitlines()[:1]]
            out += [f"               {fix}" for fix in p["fix"].splitlines()[1:]]
    ready, not_ready = counts(rows)
    out.append(f"{_attendees(len(rows))}: {not_ready} NOT READY, {ready} READY")
    if board.set_aside:
        out.append(set_aside_line(board.set_aside))
    return "\n".join(out) + "\n"
