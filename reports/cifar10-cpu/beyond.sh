#!/usr/bin/env bash
# Beyond single proxies (issue 13): label-free ensembles, few-label predictors and search on
# the scored sample, from finished score tables (nothing is scored or trained here). From the
# repository root:
#
#   export PROXYBENCH_NB201=../shared/data/nb201_test_accuracy.csv.gz
#   bash reports/cifar10-cpu/beyond.sh OUT ZC_TABLE CELLS_TABLE [SUPERNET_TABLE [EXTRA...]]
#
# ZC_TABLE: zero-cost proxies on a seeded sample of cells (its cells are the space for every
# step); CELLS_TABLE: free counts (`proxybench cells`); SUPERNET_TABLE: supernet proxies of one
# supernet; EXTRA: further proxy tables on the same cells. Writes OUT/ensemble, OUT/predict,
# OUT/predict-zc, OUT/combined, OUT/search, OUT/times.txt and OUT/beyond.md (the Markdown
# section, proxybench.analysis.beyond.render_beyond). A few minutes on 2 cores.
#
# Pre-declared ensembles, fixed when this script was written, before any result was seen:
#   zc-all                    every column of ZC_TABLE
#   nwot+synflow+params_live  (named in issue 13)
#   zc-all+free               ZC_TABLE's columns, params_live and flops_live
#   az-nas                    EXTRA columns whose names start with "az" (AZ-NAS's components)
#   extra-all                 every column of the EXTRA tables
#   everything                every column of every table
# (the last three only where they have >= 2 columns). Each is aggregated by log-rank (AZ-NAS)
# and by mean rank. Searches: budget 200 evaluations, population 20, seeds 0-4; evolution and
# random search with every single column and declared ensemble, the top cell of the whole
# sample by each (exhaustive), predictors linear/gbt spending 20, 50 or 100 labels, and random
# search over 20, 50, 100 or 200 labels.
set -euo pipefail
OUT=${1:?usage: beyond.sh OUT ZC_TABLE CELLS_TABLE [SUPERNET_TABLE [EXTRA...]]}
ZC=${2:?ZC_TABLE}
CELLS=${3:?CELLS_TABLE}
SUPER=${4:-}
EXTRA=("${@:5}")
: "${PROXYBENCH_NB201:?set PROXYBENCH_NB201 to the NB201 ground-truth table}"
export OMP_NUM_THREADS=1
PB=${PB:-"python3 -m proxybench"}
mkdir -p "$OUT"
: > "$OUT/times.txt"

cols() {  # the proxy columns of one table, comma-separated
  python3 -c 'import sys
from proxybench.table import proxy_columns, read_scores
print(",".join(proxy_columns(read_scores(sys.argv[1]))))' "$1"
}
join() { local IFS=,; echo "$*"; }
step() {  # step NAME command...: run, and log its wall time
  local name=$1; shift
  local t0=$SECONDS
  "$@"
  echo "$name $((SECONDS - t0)) s" | tee -a "$OUT/times.txt"
}

TABLES=("$ZC" "$CELLS")
[ -n "$SUPER" ] && TABLES+=("$SUPER")
TABLES+=("${EXTRA[@]}")
ZCC=$(cols "$ZC")
EXC=""
for t in "${EXTRA[@]}"; do EXC=$(join ${EXC:+$EXC} "$(cols "$t")"); done
AZC=$(echo "$EXC" | tr , '\n' | grep -i '^az' | paste -sd, - || true)
ALL=$ZCC,$(cols "$CELLS")${SUPER:+,$(cols "$SUPER")}${EXC:+,$EXC}

declare -a NAMES=(zc-all nwot+synflow+params_live zc-all+free)
declare -A MEMBERS=([zc-all]=$ZCC [nwot+synflow+params_live]=nwot,synflow,params_live
                    [zc-all+free]=$ZCC,params_live,flops_live)
n() { echo "$1" | tr , '\n' | grep -c . ; }
if [ -n "$AZC" ] && [ "$(n "$AZC")" -ge 2 ]; then NAMES+=(az-nas); MEMBERS[az-nas]=$AZC; fi
if [ -n "$EXC" ] && [ "$(n "$EXC")" -ge 2 ]; then NAMES+=(extra-all); MEMBERS[extra-all]=$EXC; fi
NAMES+=(everything); MEMBERS[everything]=$ALL
DECL=()
for name in "${NAMES[@]}"; do DECL+=(--declare "$name=${MEMBERS[$name]}"); done
SC=()
for t in "${TABLES[@]}"; do SC+=(--scores "$t"); done

# ---- 1. label-free ensembles: held-out member selection (10 random halves) + declared ones
step ensemble $PB ensemble "${SC[@]}" "${DECL[@]}" --splits 10 --bootstrap 1000 \
  --out "$OUT/ensemble"

# ---- 2. few-label predictors: every column, and the zero-cost proxies alone
step predict $PB predict "${SC[@]}" --labels 10,20,50,100,200,400 --draws 10 \
  --model linear --model gbt --out "$OUT/predict/curve.csv"
step predict-zc $PB predict --scores "$ZC" --labels 10,20,50,100,200,400 --draws 10 \
  --model linear --model gbt --out "$OUT/predict-zc/curve.csv"

# ---- 3. the declared ensembles as tables (`combine`), then search on the sample
PROX=()
COMB=()
for name in "${NAMES[@]}"; do
  for method in logrank rank; do
    f="$OUT/combined/$name.$method.csv"
    mkdir -p "$OUT/combined"
    $PB combine "${TABLES[@]}" --terms "${MEMBERS[$name]}" --method $method --force --out "$f" >/dev/null
    COMB+=(--scores "$f")
    PROX+=(--column "$method(${MEMBERS[$name]//,/+})")
  done
done
for c in $(echo "$ZCC,params_live,flops_live${SUPER:+,$(cols "$SUPER")}${EXC:+,$EXC}" | tr , ' '); do
  PROX+=(--column "$c")
done
PRED=()
for k in 20 50 100; do PRED+=(--predictor linear:$k --predictor gbt:$k); done
step search $PB search-pool "${SC[@]}" "${COMB[@]}" "${PROX[@]}" "${PRED[@]}" \
  --features "$ALL" --label-baseline 20 --label-baseline 50 --label-baseline 100 \
  --label-baseline 200 --strategy evolution --strategy random --strategy exhaustive \
  --budget 200 --population 20 --mutation-prob 0.3333333333333333 --repeats 5 \
  --out "$OUT/search"

echo "$(basename "$ZC" .csv) + $(basename "$CELLS" .csv)${SUPER:+ + $(basename "$SUPER" .csv)}$(for t in "${EXTRA[@]}"; do printf ' + %s' "$(basename "$t" .csv)"; done)" \
  > "$OUT/title.txt"

# ---- 4. the Markdown section
TITLE=""
for t in "${TABLES[@]}"; do TITLE="${TITLE:+$TITLE + }$(basename "$t" .csv)"; done
python3 -c 'import sys
from proxybench.analysis.beyond import render_beyond
print(render_beyond(sys.argv[1], titles=[sys.argv[2]]))' "$OUT" "$TITLE" > "$OUT/beyond.md"
echo "-> $OUT/beyond.md"
