#!/bin/sh
# Language models end to end: adjoint train --model rnn|lstm|gru|gpt on a
# small word list made here, eval (nats per token, below the uniform
# model's log V), sample (greedy output repeatable; a seed repeats a
# sampled one; sampling at temperature 1 draws training words), and usage
# errors.
# usage: lm_cli.sh path/to/adjoint
set -u
adj=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT INT TERM
fails=0
ok() { :; }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
expect() { if grep -q -- "$2" "$3"; then ok; else bad "$1: '$2' not in output:"; sed 's/^/    /' "$3" | head -20 >&2; fi; }

# 400 lines of a few short words: a vocabulary of 11 bytes, ln 11 = 2.398
i=0
while [ $i -lt 400 ]; do
    case $((i % 5)) in 0) echo cat;; 1) echo tac;; 2) echo act;; 3) echo attic;; 4) echo tact;; esac
    i=$((i + 1))
done > "$dir/words"
for m in rnn lstm gru gpt; do
    "$adj" train --model $m --data "text:$dir/words" --embed 8 --hidden 24 --seq 12 --batch 16 \
        --steps 150 --lr 0.01 --threads 1 --out "$dir/$m" --json --quiet > "$dir/$m.json" 2>&1 \
        || bad "train --model $m failed: $(cat "$dir/$m.json")"
    [ -s "$dir/$m/model.safetensors" ] || bad "train --model $m wrote no model.safetensors"
    v=$(sed -n 's/.*"val_loss": *\([0-9.]*\).*/\1/p' "$dir/$m.json")
    awk -v v="${v:-9}" 'BEGIN { exit !(v < 1.2) }' || bad "$m: validation loss ${v:-none} is not below 1.2 nats"
    "$adj" eval "$dir/$m/model.safetensors" --data "text:$dir/words" --json > "$dir/$m.eval" 2>&1 \
        || bad "eval of the $m model failed: $(cat "$dir/$m.eval")"
    expect "eval $m" '"val_loss"' "$dir/$m.eval"
    "$adj" sample "$dir/$m/model.safetensors" --temperature 0 --steps 40 > "$dir/$m.g1" 2>&1 \
        || bad "sample $m failed: $(cat "$dir/$m.g1")"
    "$adj" sample "$dir/$m/model.safetensors" --temperature 0 --steps 40 > "$dir/$m.g2" 2>&1
    cmp -s "$dir/$m.g1" "$dir/$m.g2" || bad "greedy sampling of $m is not repeatable"
    if [ $m = gpt ]; then # the key/value cache (while the context fits) gives the same tokens
        "$adj" sample "$dir/$m/model.safetensors" --temperature 0 --steps 40 --no-cache > "$dir/$m.g3" 2>&1
        cmp -s "$dir/$m.g1" "$dir/$m.g3" || bad "greedy sampling of gpt differs without the cache"
    fi
    "$adj" sample "$dir/$m/model.safetensors" --prompt "ca" --steps 60 --top-k 3 --seed 4 > "$dir/$m.s1" 2>&1
    "$adj" sample "$dir/$m/model.safetensors" --prompt "ca" --steps 60 --top-k 3 --seed 4 > "$dir/$m.s2" 2>&1
    cmp -s "$dir/$m.s1" "$dir/$m.s2" || bad "sampling of $m with one seed differs"
    [ "$(head -c 2 "$dir/$m.s1")" = "ca" ] || bad "sample $m does not start with the prompt"
    # at temperature 1 without a cut, most sampled lines are training words
    # (a sampler that mixes up the largest logit never draws the newline)
    "$adj" sample "$dir/$m/model.safetensors" --steps 120 --seed 2 > "$dir/$m.t1" 2>&1
    w=$(grep -cx "cat\|tac\|act\|attic\|tact" "$dir/$m.t1")
    [ "$w" -ge 10 ] || bad "sampling $m at temperature 1 gave $w training words: $(head -c 200 "$dir/$m.t1")"
    # the sampled words come from the training words
    grep -qx "cat\|tac\|act\|attic\|tact" "$dir/$m.g1" || bad "greedy $m printed no training word: $(cat "$dir/$m.g1")"
done
# token ids (uint16, little-endian): the cycle 0 1 2 3 5, learnt and continued greedily
i=0
while [ $i -lt 300 ]; do printf '\000\000\001\000\002\000\003\000\005\000'; i=$((i + 1)); done > "$dir/tokens.bin"
"$adj" train --model gru --data "tokens:$dir/tokens.bin" --embed 8 --hidden 16 --seq 10 --batch 16 \
    --steps 150 --lr 0.02 --threads 1 --out "$dir/tok" --quiet > "$dir/out" 2>&1 || bad "train on tokens failed: $(cat "$dir/out")"
"$adj" sample "$dir/tok/model.safetensors" --prompt-tokens 0,1 --temperature 0 --steps 8 > "$dir/out" 2>&1
[ "$(cat "$dir/out")" = "0,1,2,3,5,0,1,2,3,5" ] || bad "greedy tokens: $(cat "$dir/out"), not 0,1,2,3,5,0,1,2,3,5"
"$adj" eval "$dir/tok/model.safetensors" --data "tokens:$dir/tokens.bin" > "$dir/out" 2>&1 || bad "eval on tokens failed: $(cat "$dir/out")"
"$adj" sample "$dir/tok/model.safetensors" --prompt "ab" > "$dir/out" 2>&1; [ $? -eq 2 ] || bad "a text prompt for a token model must exit 2"
"$adj" sample "$dir/tok/model.safetensors" --prompt-tokens 0,9 > "$dir/out" 2>&1; [ $? -eq 2 ] || bad "an id outside the vocabulary must exit 2"
# errors: a prompt byte outside the vocabulary, an MLP model, bad options
"$adj" sample "$dir/gru/model.safetensors" --prompt "xyz" > "$dir/out" 2>&1; [ $? -eq 2 ] || bad "an unknown prompt byte must exit 2"
expect "unknown prompt byte" "0x78" "$dir/out"
"$adj" sample "$dir/gru/model.safetensors" --temperature -1 > "$dir/out" 2>&1; [ $? -eq 2 ] || bad "a negative temperature must exit 2"
"$adj" train --model transformer --data "text:$dir/words" --out "$dir/x" > "$dir/out" 2>&1; [ $? -eq 1 ] || bad "an unknown model must fail"
expect "unknown model" "transformer" "$dir/out"
"$adj" train --model gru --data "csv:$dir/words" --out "$dir/x" > "$dir/out" 2>&1; [ $? -ne 0 ] || bad "csv data for a language model must fail"
expect "csv for a language model" "text:FILE or tokens:FILE" "$dir/out"
if [ $fails -ne 0 ]; then echo "$fails failures"; exit 1; fi
echo "lm_cli: every check passed"
