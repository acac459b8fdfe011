#!/usr/bin/env python3
"""Print 'tests: N passed, N failed' from meson testlog.json files.

Each TAP case ("ok"/"not ok" line) of a program counts once; a program that printed no TAP case
counts as one test with meson's verdict; a program meson failed without a failing case (a crash,
a timeout, a sanitizer report after the last case) adds one failure. Exit 1 if anything failed or
nothing ran."""
import json
import re
import sys

OK = {"OK", "EXPECTEDFAIL"}
SKIP = {"SKIP"}
case = re.compile(r"^(not ok|ok)\b(.*)$")

passed = failed = skipped = 0
failures = []  # "build: program: case", printed before the total so a truncated log still shows them
for path in sys.argv[1:]:
    try:
        lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    except OSError as e:
        print(f"# cannot read {path}: {e}")
        failed += 1
        continue
    for line in lines:
        if not line.strip():
            continue
        t = json.loads(line)
        p = f = s = 0
        outs = (t.get("stdout") or "").splitlines()
        for i, out in enumerate(outs):
            m = case.match(out.strip())
            if not m:
                continue
            if "# SKIP" in m.group(2).upper():
                s += 1
            elif m.group(1) == "ok":
                p += 1
            else:
                f += 1
                failures.append(f"{path.split('/meson-logs')[0]}: {t.get('name')}: {out.strip()[:160]}")
                # cmocka's diagnostics follow the "not ok" line: the first few say why.
                why = [x.strip()[:200] for x in outs[i + 1:i + 7] if x.strip().startswith("#")]
                failures.extend("  " + x for x in why)
        verdict = t.get("result")
        if p + f + s == 0:
            if verdict in OK:
                p = 1
            elif verdict in SKIP:
                s = 1
            else:
                f = 1
        elif verdict not in OK and verdict not in SKIP and f == 0:
            f = 1
        if f and not any(x.startswith(f"{path.split('/meson-logs')[0]}: {t.get('name')}:") for x in failures):
            failures.append(f"{path.split('/meson-logs')[0]}: {t.get('name')}: {verdict}")
        passed, failed, skipped = passed + p, failed + f, skipped + s

for x in failures:
    print(x if x.startswith("  ") else f"FAILED {x}")
line = f"tests: {passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
sys.exit(1 if failed or passed == 0 else 0)
