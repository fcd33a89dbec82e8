#!/usr/bin/env bash
# --waterfall (src/cli/waterfall.c) end to end on the --local fixture:
#  1. the 151 built-in names, every strategy, rtt 5 ms: the SVG is
#     well-formed XML; one run group per strategy; per run the request bars
#     (plus aggregated requests) are exactly the run's URLs, and the lanes
#     are exactly the connections it used (distinct local ports in the JSON
#     report of the same run: serial 151, session 1, parallel <= 6); every
#     request a bar of its own at this scale;
#  2. 2000 names (the 151 repeated), every strategy, rtt 0: bars thinner
#     than a pixel must be aggregated, the counts still add up, and the file
#     stays small;
#  3. the checker refuses a waterfall with one bar removed;
#  4. a missing directory fails with a message naming it; a symlink at the
#     destination is replaced, not followed; no temporary file is left;
#  5. headless Chromium renders the first SVG to a PNG that is not blank
#     and shows the phase colours (skipped with 77 when no chromium runs).
# The PNG is kept as /tmp/asyncdl-waterfall.png (override: WATERFALL_PNG).
# Usage: test-waterfall.sh ASYNCDL
set -u
ASYNCDL=$1
PNG_OUT=${WATERFALL_PNG:-/tmp/asyncdl-waterfall.png}
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }

# check SVG JSON [MODE]: the waterfall against the JSON report of the same
# invocation. MODE "bars": every request must be a bar of its own; "agg":
# some must be aggregated.
cat >"$d/check.py" <<'PY'
import json, sys, xml.etree.ElementTree as ET
svg, rep, mode = sys.argv[1], sys.argv[2], sys.argv[3]
NS = "{http://www.w3.org/2000/svg}"
def cls(e):
    return (e.get("class") or "").split()
try:
    root = ET.parse(svg).getroot()
except ET.ParseError as e:
    sys.exit(f"not well-formed XML: {e}")
if root.tag != NS + "svg":
    sys.exit(f"root is {root.tag}, not svg")
for e in root.iter():
    for k, v in e.attrib.items():
        if k.endswith("href") or "script" in e.tag:
            sys.exit(f"external reference or script: {e.tag} {k}={v}")
runs = [e for e in root.iter() if "run" in cls(e)]
doc = json.load(open(rep))
want = doc["runs"]
if [r.get("data-strategy") for r in runs] != [r["strategy"] for r in want]:
    sys.exit("run groups %s, report %s" % (
        [r.get("data-strategy") for r in runs], [r["strategy"] for r in want]))
total_bars = total_agg = 0
for g, r in zip(runs, want):
    s, items = r["strategy"], r["items"]
    bars = [e for e in g.iter() if "req" in cls(e)]
    aggs = [e for e in g.iter() if "agg" in cls(e)]
    for b in bars:
        if cls(b).count("req") != 1:
            sys.exit(f"{s}: a bar with class {b.get('class')!r}")
        t = b.find(NS + "title")
        if t is None or "://" not in (t.text or ""):
            sys.exit(f"{s}: a bar without its URL in a <title>")
        if not b.findall(NS + "rect"):
            sys.exit(f"{s}: a bar without rectangles")
    nagg = sum(int(a.get("data-requests")) for a in aggs)
    if int(g.get("data-requests")) != len(items):
        sys.exit(f"{s}: data-requests {g.get('data-requests')}, "
                 f"report {len(items)}")
    if len(bars) + nagg != len(items):
        sys.exit(f"{s}: {len(bars)} bars + {nagg} aggregated != "
                 f"{len(items)} requests")
    # One lane per connection: distinct ports; in serial every request has
    # its own connection (a port the kernel hands out again is a new lane).
    ports = {i["local_port"] for i in items if i["local_port"]}
    noconn = any(not i["local_port"] for i in items)
    lanes_want = len(items) if s == "serial" else len(ports) + noconn
    lanes = sum(int(l.get("data-lanes")) for l in g.iter()
                if "lane" in cls(l))
    if lanes != lanes_want or int(g.get("data-lanes")) != lanes_want:
        sys.exit(f"{s}: {lanes} lanes (data-lanes {g.get('data-lanes')}), "
                 f"report used {lanes_want} connections")
    conns = sum(i["new_connections"] for i in items)
    if s == "serial" and lanes != len(items):
        sys.exit(f"serial: {lanes} lanes for {len(items)} requests")
    if s == "session" and lanes != 1:
        sys.exit(f"session: {lanes} lanes")
    if s == "parallel" and not 1 <= lanes <= r["max_connections"]:
        sys.exit(f"parallel: {lanes} lanes, K = {r['max_connections']}")
    if not len(ports) + noconn <= lanes <= conns + noconn:
        sys.exit(f"{s}: {lanes} lanes but {conns} connections opened")
    total_bars += len(bars)
    total_agg += nagg
    print(f"  {s}: {len(items)} requests = {len(bars)} bars + {nagg} "
          f"aggregated ({len(aggs)} strips groups), {lanes} lanes")
if mode == "bars" and total_agg:
    sys.exit(f"{total_agg} requests aggregated at a readable scale")
if mode == "agg" and not total_agg:
    sys.exit("nothing aggregated where bars are under a pixel")
PY
check() { python3 "$d/check.py" "$@"; }

# ---- 1. 151 URLs, every strategy ----------------------------------------
"$ASYNCDL" --strategy=all --local --rtt=5 --waterfall="$d/all.svg" \
  --json="$d/all.json" -q >"$d/out" 2>"$d/err" ||
  { cat "$d/err" >&2; fail "asyncdl --waterfall exited $?"; }
[ -s "$d/all.svg" ] || fail "no waterfall written"
check "$d/all.svg" "$d/all.json" bars || fail "151-URL waterfall"
grep -q 'measured/model' "$d/all.svg" || fail "no model in the titles"
ls "$d" | grep -q '\.tmp$' && fail "temporary file left behind"
pass "151 URLs x 3 strategies: $(stat -c %s "$d/all.svg") bytes"

# ---- 2. 2000 URLs: aggregation --------------------------------------------
python3 - "$d/all.json" "$d/names.txt" <<'PY'
import json, sys
items = json.load(open(sys.argv[1]))["runs"][0]["items"]
names = [i["url"].rsplit("/", 1)[1] for i in items]
with open(sys.argv[2], "w") as f:
    for k in range(2000):
        f.write(names[k % len(names)] + "\n")
PY
"$ASYNCDL" --strategy=all --connections=6 --local --rtt=0 \
  --list="$d/names.txt" --waterfall="$d/big.svg" --json="$d/big.json" -q \
  >"$d/out" 2>"$d/err" || { cat "$d/err" >&2; fail "2000-URL run failed"; }
check "$d/big.svg" "$d/big.json" agg || fail "2000-URL waterfall"
size=$(stat -c %s "$d/big.svg")
[ "$size" -lt 3000000 ] || fail "2000 x 3 requests gave $size bytes"
pass "2000 URLs x 3 strategies, aggregated: $size bytes"

# ---- 3. the checker can fail ----------------------------------------------
python3 - "$d/all.svg" "$d/cut.svg" <<'PY'
import sys, xml.etree.ElementTree as ET
ET.register_namespace("", "http://www.w3.org/2000/svg")
tree = ET.parse(sys.argv[1])
for parent in tree.getroot().iter():
    bar = next((e for e in parent if "req" in (e.get("class") or "").split()),
               None)
    if bar is not None:
        parent.remove(bar)
        break
tree.write(sys.argv[2])
PY
check "$d/cut.svg" "$d/all.json" bars 2>/dev/null &&
  fail "a waterfall with one bar removed passed the check"
head -c 5000 "$d/all.svg" >"$d/trunc.svg"
check "$d/trunc.svg" "$d/all.json" bars 2>/dev/null &&
  fail "a truncated waterfall passed the check"
pass "the checker refuses a missing bar and a truncated file"

# ---- 4. write errors --------------------------------------------------------
"$ASYNCDL" --local --rtt=0 --waterfall="$d/nodir/w.svg" -q >"$d/out" \
  2>"$d/err" && fail "--waterfall into a missing directory succeeded"
grep -q -- "--waterfall: .*nodir" "$d/err" ||
  { cat "$d/err" >&2; fail "no message naming the destination"; }
ln -s "$d/elsewhere" "$d/link.svg"
"$ASYNCDL" --local --rtt=0 --waterfall="$d/link.svg" -q >"$d/out" 2>"$d/err" ||
  fail "--waterfall over a symlink failed: $(cat "$d/err")"
[ -f "$d/link.svg" ] && [ ! -L "$d/link.svg" ] && [ ! -e "$d/elsewhere" ] ||
  fail "the symlink was followed instead of replaced"
ls "$d" | grep -q '\.tmp$' && fail "temporary file left behind"
pass "write errors name the destination; a symlink is replaced, not followed"

# ---- 5. rendering -----------------------------------------------------------
browser=$(command -v chromium || command -v chromium-browser ||
          command -v google-chrome || true)
[ -n "$browser" ] || { echo "SKIP: rendering: no chromium"; exit 77; }
h=$(python3 -c 'import sys,re; print(int(float(re.search(r"height=\"([0-9.]+)\"", open(sys.argv[1]).read(2000)).group(1))) + 20)' "$d/all.svg")
HOME=$d timeout 90 "$browser" --headless --no-sandbox --disable-gpu \
  --hide-scrollbars --no-first-run --user-data-dir="$d/profile" \
  --screenshot="$d/all.png" --window-size=1400,"$h" "file://$d/all.svg" \
  >"$d/chromium.log" 2>&1
if [ ! -s "$d/all.png" ]; then
  tail -5 "$d/chromium.log" >&2
  echo "SKIP: rendering: chromium did not produce a screenshot"; exit 77
fi
cp "$d/all.png" "$PNG_OUT" 2>/dev/null && echo "PNG: $PNG_OUT"
python3 - "$d/all.png" <<'PY' || fail "the rendered waterfall looks wrong"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, ihdr = 8, b"", None
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    pos += 12 + n
    if kind == b"IHDR":
        ihdr = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat += body
w, h, depth, ctype, _, _, interlace = ihdr
assert depth == 8 and ctype in (2, 6) and interlace == 0, ihdr
bpp = 3 if ctype == 2 else 4
raw, stride = zlib.decompress(idat), w * bpp
rows, prev = [], bytearray(stride)
for y in range(h):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else
                                  b if pb <= pc else c)) & 255
    rows.append(bytes(line))
    prev = line
counts = {}
for line in rows:
    for i in range(0, stride, bpp):
        px = line[i:i + 3]
        counts[px] = counts.get(px, 0) + 1
total = w * h
white = counts.get(b"\xff\xff\xff", 0)
phase = {"connect": b"\xff\x7f\x0e", "waiting": b"\x2c\xa0\x2c",
         "receive": b"\x1f\x77\xb4", "DNS": b"\x17\xbe\xcf"}
seen = {k: counts.get(v, 0) for k, v in phase.items()}
print(f"  {w}x{h}, {len(counts)} colours, non-white "
      f"{100 * (total - white) / total:.1f}%, phase pixels {seen}")
assert len(counts) >= 8, "too few colours"
assert (total - white) / total > 0.03, "nearly blank"
assert seen["connect"] >= 500, "connect (orange) bars missing"
assert seen["waiting"] >= 2000, "waiting (green) bars missing"
PY
pass "rendered by $(basename "$browser") to a non-blank PNG"
