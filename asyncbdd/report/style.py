"""The report's style sheet, inlined into every page (a report loads nothing from outside)."""

from __future__ import annotations

__all__ = ["STYLE"]

STYLE = """
:root {
  --passed: #1a7f37; --failed: #c62828; --skipped: #6e7781; --text: #1f2328;
  --muted: #57606a; --line: #d0d7de; --panel: #f6f8fa; --warn: #b35900;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: var(--text);
}
body { margin: 0 auto; max-width: 1200px; padding: 16px 20px 48px; }
h1 { font-size: 22px; margin: 0 0 8px; }
h2 { font-size: 18px; margin: 0; }
.keyword { font-weight: 600; }
.muted, .location, .duration { color: var(--muted); font-size: 13px; }
.duration { margin-left: auto; padding-left: 12px; white-space: nowrap; }
.summary { border-bottom: 1px solid var(--line); padding-bottom: 12px; margin-bottom: 16px; }
.counts { display: flex; gap: 20px; font-size: 17px; margin: 4px 0; }
.count b { font-size: 22px; }
.count.passed b { color: var(--passed); }
.count.failed b { color: var(--failed); }
.count.skipped b { color: var(--skipped); }
.failed-list { margin: 8px 0 0; padding-left: 20px; }
.failed-list a { color: var(--failed); }
.feature { margin: 24px 0; }
.feature > .description { margin: 4px 0 8px; color: var(--muted); white-space: pre-wrap; }
.error-text, .failure-text, .doc-string {
  white-space: pre-wrap; overflow-wrap: anywhere; margin: 6px 0;
  font: 13px/1.4 ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
}
.error-text, .failure-text {
  background: #fff5f5; border-left: 4px solid var(--failed); padding: 8px 10px;
}
.doc-string { background: var(--panel); padding: 6px 10px; }
details.scenario { border: 1px solid var(--line); border-radius: 6px; margin: 8px 0; }
details.scenario.failed { border-color: var(--failed); }
details.scenario > summary {
  display: flex; align-items: baseline; gap: 8px; cursor: pointer; padding: 8px 12px;
  overflow-wrap: anywhere;
}
details.scenario[open] > summary { border-bottom: 1px solid var(--line); }
.scenario-body { padding: 4px 12px 10px; }
.tags { color: var(--muted); font-size: 13px; }
.mark {
  display: inline-block; min-width: 62px; text-align: center; border-radius: 10px;
  font-size: 12px; font-weight: 600; color: #fff; background: var(--skipped);
  padding: 0 6px; flex: none;
}
.mark.passed { background: var(--passed); }
.mark.failed { background: var(--failed); }
ol.steps { list-style: none; margin: 0; padding: 0; }
.step { padding: 4px 0; border-bottom: 1px dashed #eaeef2; }
.step:last-child { border-bottom: none; }
.step-line { display: flex; align-items: baseline; gap: 8px; overflow-wrap: anywhere; }
.step.skipped .step-line, .step.untested .step-line { color: var(--muted); }
.step-detail { margin-left: 70px; }
table.step-table { border-collapse: collapse; margin: 4px 0; font-size: 13px; }
table.step-table th, table.step-table td {
  border: 1px solid var(--line); padding: 2px 8px; text-align: left; overflow-wrap: anywhere;
}
table.step-table th { background: var(--panel); }
ul.waits { list-style: none; margin: 2px 0; padding: 0; font-size: 13px; }
.wait { display: flex; align-items: center; gap: 8px; color: var(--muted); }
.wait .awaited { overflow-wrap: anywhere; }
.bar {
  flex: none; width: 120px; height: 8px; border-radius: 4px; background: #eaeef2;
  overflow: hidden;
}
.bar > span { display: block; height: 100%; background: var(--passed); }
.wait.close .bar > span { background: var(--warn); }
.wait.failed .bar > span { background: var(--failed); }
.timing { white-space: nowrap; }
.failure { margin: 6px 0 4px; }
figure.picture { margin: 10px 0; }
figure.picture figcaption { font-weight: 600; font-size: 14px; margin-bottom: 4px; }
figure.picture svg { display: block; max-width: 100%; height: auto; }
"""
