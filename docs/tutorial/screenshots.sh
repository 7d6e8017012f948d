#!/bin/sh
# Writes docs/tutorial/eNN.png: the page of each worked example
# (adjoint explain eNN --html) in headless Chromium, at one step of its
# reverse sweep (the step numbers below: a contribution or a fan-out sum
# worth seeing), 1280 pixels wide; and e02-phone.png, E2 on a phone-sized
# screen.
# usage: docs/tutorial/screenshots.sh path/to/adjoint [browser]
set -eu
adj=$1
browser=${2:-chromium}
out=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT INT TERM
sandbox=
[ "$(id -u)" -eq 0 ] && sandbox=--no-sandbox
shot() { # shot PAGE FRAGMENT WIDTHxHEIGHT PNG
    timeout -k 5 90 "$browser" --headless --disable-gpu --no-first-run --hide-scrollbars \
        --user-data-dir="$dir/profile" $sandbox --window-size="$3" --screenshot="$4" \
        "file://$1#$2" > /dev/null 2>> "$dir/log"
}
for spec in e01:step=3 e02:step=7 e03:step=12 e04:step=14 e05:step=13 e06:step=12 \
            e07:step=3 e08:step=2 e09:step=20 e10:step=16 e11:step=5 e12:step=8 \
            e13:step=25 e14:step=8 e15:step=17; do
    name=${spec%%:*}
    "$adj" explain "$name" --html "$dir/$name.html" > /dev/null
    shot "$dir/$name.html" "${spec#*:}" 1280,900 "$out/$name.png"
done
shot "$dir/e02.html" step=7 390,1100 "$out/e02-phone.png"
