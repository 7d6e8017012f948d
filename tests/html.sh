#!/bin/sh
# The sweep page in a real browser.  E2's page (f = √(x² + exp(x²))) is
# opened in headless Chromium with the fragment #test=a: the page's own
# keyboard handler is driven (Home, then → until the sweep reaches node a;
# then forward mode, End) and what the page displays is dumped.  The
# displayed numbers are compared with the E2 table (x = 1: ∂f/∂a =
# 0.9641423428 from the contributions 0.2592978121 (through c) and
# 0.2592978121·e = 0.7048445307 (through b); ∂f/∂x = 1.9282846855.
# x = 2: ∂f/∂a = 3.6315196027, ∂f/∂x = 14.5260784109), at the 5 digits the
# trace prints.  Play must run the sweep to its end.  A screenshot is
# taken.  Skipped without chromium.
# usage: html.sh path/to/adjoint
set -u
adj=$1
browser=
for b in chromium chromium-browser google-chrome; do
    if command -v "$b" > /dev/null 2>&1; then browser=$b; break; fi
done
if [ -z "$browser" ]; then
    echo "SKIP: chromium is not installed (apt-get install chromium): the page is not tested in a browser"
    exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT INT TERM
fails=0
passes=0
ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
expect() { # expect WHAT STRING FILE: FILE contains the fixed STRING
    if grep -qF -- "$2" "$3"; then ok; else bad "$1: '$2' not in:"; sed 's/^/    /' "$3" | head -20 >&2; fi
}
# Chromium refuses to run as root inside its sandbox; each run gets its own
# profile and home (containers may have neither a writable home nor a large
# /dev/shm), a time limit and no inherited allocator debugging.
sandbox=
[ "$(id -u)" -eq 0 ] && sandbox=--no-sandbox
browse() {
    env -u MALLOC_PERTURB_ -u LD_PRELOAD HOME="$dir" XDG_CONFIG_HOME="$dir/config" \
        XDG_CACHE_HOME="$dir/cache" timeout -k 5 90 "$browser" --headless --disable-gpu \
        --disable-dev-shm-usage --no-first-run --no-default-browser-check --disable-extensions \
        --hide-scrollbars \
        --user-data-dir="$dir/profile" $sandbox "$@" 2>> "$dir/browser.log"
}

"$adj" explain e02 --html "$dir/e02.html" > /dev/null 2>&1 && ok || bad "explain e02 --html failed"
"$adj" explain e02 --x 2 --html "$dir/e02x2.html" > /dev/null 2>&1 && ok || bad "explain e02 --x 2 --html failed"

# self-contained: nothing to fetch (the SVG namespace is a name, not a load)
if grep -qE '(src|href)=|@import|url\([^#]|fetch\(|XMLHttpRequest' "$dir/e02.html"; then
    bad "the page refers to an outside resource"
else
    ok
fi

browse --dump-dom "file://$dir/e02.html#test=a" > "$dir/dom1" || bad "chromium failed or timed out (exit $?)"
sed -n '/id="test-out"/,/<\/pre>/p' "$dir/dom1" > "$dir/out1"
expect "reverse: the sweep stops at node a" "now: node 1  a = x²" "$dir/out1"
expect "reverse: a's adjoint, built from its two contributions" "label: adjoint 0.2593 + 0.70484 = 0.96414" "$dir/out1"
expect "reverse: contribution through c shown" "= 0.2593 × 1 = 0.2593      [da += dy]   (a: contribution 1 of 2)" "$dir/out1"
expect "reverse: contribution through b shown" "= 0.2593 × 2.7183 = 0.70484      [dx += dy y]   (a: contribution 2 of 2)" "$dir/out1"
expect "forward: tangent of f" "forward label: tangent 1.9283" "$dir/out1"

browse --dump-dom "file://$dir/e02x2.html#test=a" > "$dir/dom2" || bad "chromium failed or timed out (exit $?)"
sed -n '/id="test-out"/,/<\/pre>/p' "$dir/dom2" > "$dir/out2"
expect "x = 2: a's adjoint" "= 3.6315" "$dir/out2"
expect "x = 2: tangent of f" "forward label: tangent 14.526" "$dir/out2"

# Play runs the whole sweep (ten steps, 0.9 s each, on Chromium's virtual
# clock) and stops at the end
browse --virtual-time-budget=30000 --dump-dom "file://$dir/e02.html#play" > "$dir/dom3" ||
    bad "chromium failed or timed out (exit $?)"
expect "play: the sweep ran to its end" '<p id="status" aria-live="polite">Reverse mode: step 10 of 10</p>' "$dir/dom3"
expect "play: and stopped" '>▶ Play</button>' "$dir/dom3"

browse --window-size=1280,900 --screenshot="$dir/e02.png" "file://$dir/e02.html#step=7" > /dev/null ||
    bad "chromium screenshot failed or timed out (exit $?)"
if [ -s "$dir/e02.png" ] && [ "$(head -c 4 "$dir/e02.png" | od -An -c | tr -d ' ')" = "211PNG" ]; then
    ok
else
    bad "no PNG screenshot"
fi

if [ "$fails" -ne 0 ]; then
    echo "browser log:" >&2
    tail -5 "$dir/browser.log" >&2
fi
echo "html: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
