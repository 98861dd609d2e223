#!/usr/bin/env bash
# The supernet levers study (issue 20): each lever against the cpu preset (uniform SPOS,
# C=8, N=1, 30 epochs) on the same 1,000 seeded cells, the same training seeds for every
# lever (so differences are paired). Resumable: run it again after a stop.
# From the repository root, with CIFAR-10 in DATA/cifar-10-batches-py:
#
#   bash reports/cifar10-cpu/levers.sh DATA [RUNS]                 # every lever
#   LEVERS="lv-c8n5" bash reports/cifar10-cpu/levers.sh DATA runs  # the baseline and these
#
# Levers not run here keep their rows of the committed ablate/levers.csv (`ablate levers
# --keep`, which first checks that the baseline's tau per seed is the same). Each lever's
# record (run.json and metrics.csv per supernet, and its score tables, with this machine's
# paths made relative) is kept in reports/cifar10-cpu/levers/GROUP, so the table can be
# rebuilt from the repository alone.
#
# Cost on the 2-core CPU that made reports/cifar10-cpu/ablate/levers.csv (one torch thread
# per job, two jobs at a time): about 20 minutes per cpu-preset supernet (training and
# scoring), about 45 for C=16, N=1 and about 60 for C=8, N=5; levers.csv records each
# lever's minutes.
#
# The rule that picks the preset from this table, written before its results were seen
# (only one seed of one lever had been looked at): among the settings measured, take the
# cheapest in training minutes per supernet whose best supernet proxy has a mean tau within
# one seed-sd of the best mean tau measured, with an sd no larger than that best's, and at
# most 60 training minutes per supernet on this 2-core CPU. If that is the baseline, the
# cpu preset stays as it is.
set -euo pipefail
DATA=${1:?usage: levers.sh DATA [RUNS]}
RUNS=${2:-runs}
ALL="lv-unique lv-fair lv-c16n1 lv-c8n5 lv-uniform:avg3 lv-uniform:img2048 lv-uniform:fewshot"
LEVERS=${LEVERS:-$ALL}
R=reports/cifar10-cpu
export OMP_NUM_THREADS=1
T="--threads 1"
SN="flatness;val_acc;val_loss;angle"
TRAIN="proxybench train --dataset cifar10 --data-dir $DATA --preset cpu --save-every 5 $T --resume"
SCORE="proxybench score --proxy $SN --cells 1000 $T --resume"
SEEDS=0-2   # per lever; the baseline and the few-shot lever (the preset rule's pick) have 0-4
on() { [[ " $LEVERS " == *" $1 "* ]]; }

# ---- training levers: one seed group each, its supernet proxies in GROUP/supernet.seed-K.csv
$TRAIN --seeds 0-4 --out "$RUNS/lv-uniform"                      # the baseline (cpu preset)
on lv-unique && $TRAIN --seeds $SEEDS --sampling unique --out "$RUNS/lv-unique"  # EEPE
on lv-fair && $TRAIN --seeds $SEEDS --sampling fair --out "$RUNS/lv-fair"  # FairNAS
on lv-c16n1 && $TRAIN --seeds $SEEDS --channels 16 --out "$RUNS/lv-c16n1"  # wider, same budget
on lv-c8n5 && $TRAIN --seeds $SEEDS --layers 5 --out "$RUNS/lv-c8n5"   # the paper's depth N=5
GROUPS=(lv-uniform)
for g in lv-unique lv-fair lv-c16n1 lv-c8n5; do on $g && GROUPS+=("$g"); done
for g in "${GROUPS[@]}"; do
  $SCORE --run "$RUNS/$g" --out "$RUNS/$g/supernet.csv"
done
# ---- scoring levers on the baseline's supernets
#      checkpoint averaging: the mean weights of epochs 20, 25 and 30, BN recalibrated
on lv-uniform:avg3 && $SCORE --run "$RUNS/lv-uniform" --average 3 --out "$RUNS/lv-uniform/avg3.csv"
#      more images: BN on 1,024 and validation on 2,048 (the preset: 256 and 512)
on lv-uniform:img2048 && proxybench score --run "$RUNS/lv-uniform" --proxy "val_acc;val_loss;angle" \
  --bn-images 1024 --val-images 2048 --cells 1000 $T --resume --out "$RUNS/lv-uniform/img2048.csv"

#      few-shot NAS (Zhao et al. 2021): the baseline's supernets split on edge 0 into five
#      sub-supernets of 6 epochs each (30 more epochs of training per supernet)
on lv-uniform:fewshot && $TRAIN --seeds 0-4 --few-shot-split 0:6 --out "$RUNS/lv-uniform"
on lv-uniform:fewshot && $SCORE --run "$RUNS/lv-uniform" --few-shot \
  --out "$RUNS/lv-uniform/fewshot.csv"

# ---- the table: every lever paired with the baseline; levers not run here kept
L=()
for g in "${GROUPS[@]}"; do L+=(--lever "$RUNS/$g"); done
for t in avg3 img2048 fewshot; do
  on "lv-uniform:$t" && L+=(--lever "$RUNS/lv-uniform/$t.csv")
done
proxybench ablate levers "${L[@]}" --keep $R/ablate/levers.csv --cells 1000 --bootstrap 1000 \
  --out "$RUNS/ablate"
cp "$RUNS/ablate/levers.csv" $R/ablate/levers.csv

# ---- each lever's record, this machine's paths made relative (DATA, runs/, the repository)
relative() {
  sed -e "s#$(realpath "$DATA")#DATA#g" -e "s#$(realpath "$RUNS")#runs#g" -e "s#$PWD/##g" "$1" > "$2"
}
for g in "${GROUPS[@]}"; do
  mkdir -p "$R/levers/$g"
  for f in "$RUNS/$g"/*.seed-*.csv "$RUNS/$g"/*.seed-*.json; do
    [[ $(basename "$f") =~ ^(supernet|avg3|img2048|fewshot)\. ]] \
      && relative "$f" "$R/levers/$g/$(basename "$f")"
  done
  for run in "$RUNS/$g"/seed-* "$RUNS/$g"/seed-*/few-shot/op-*; do
    [ -d "$run" ] || continue
    dst="$R/levers/$g/${run#"$RUNS/$g/"}"
    mkdir -p "$dst"
    for f in run.json metrics.csv; do relative "$run/$f" "$dst/$f"; done
  done
  for split in "$RUNS/$g"/seed-*/few-shot/few_shot.json; do
    [ -f "$split" ] && relative "$split" "$R/levers/$g/${split#"$RUNS/$g/"}"
  done
done
