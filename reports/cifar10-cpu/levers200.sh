#!/usr/bin/env bash
# The paper's network at a CPU budget, as a lever (issue 20): NB201's C=16, N=5 supernet with
# the paper preset's batch of 64 and learning rates, its cosine schedule over 40 epochs
# instead of 250 (`--preset paper --epochs 40`), seeds 0-1, against the `cpu` preset and its
# few-shot lever on the first 200 of the report's 1,000 cells (`--cells 200 --seed 0`, the
# cells of the paper preset's epoch curve), paired by training seed. The baseline and
# few-shot rows come from their committed records (levers/lv-uniform); the new supernets are
# scored as those were (the cells of `--cells 200`, the images and noise of the run's
# seed): flatness, val_acc, val_loss and angle with BN recalibrated on 256 and validation
# on 512 images (the `cpu` preset's), so training is the only difference.
# From the repository root, with CIFAR-10 in DATA/cifar-10-batches-py (resumable):
#
#   bash reports/cifar10-cpu/levers200.sh DATA [RUNS] [STEPS]   # STEPS: "train score table"
#
# On this 2-core CPU the two supernets train side by side on one thread each (100-117 s an
# epoch, 73 minutes, then about 23 minutes for the run's path summary at the paper preset's
# 1,024 + 10,000 images); scoring the 200 cells (170 distinct forms) takes about 10
# minutes a supernet on one core.
set -euo pipefail
DATA=${1:?usage: levers200.sh DATA [RUNS] [STEPS]}
RUNS=${2:-runs}
STEPS=${3:-train score table}
R=reports/cifar10-cpu
G="$RUNS/lv-paper40"
export OMP_NUM_THREADS=1
on() { [[ " $STEPS " == *" $1 "* ]]; }
if on train; then
  for s in 0 1; do
    proxybench train --dataset cifar10 --data-dir "$DATA" --preset paper --epochs 40 \
      --seeds $s --save-every 10 --threads 1 --resume --out "$G" &
  done
  wait
fi
if on score; then
  for s in 0 1; do
    proxybench score --run "$G/seed-$s" --proxy "flatness;val_acc;val_loss;angle" \
      --cells 200 --bn-images 256 --val-images 512 --threads 1 --workers 1 \
      --resume --out "$G/supernet.seed-$s.csv" &
  done
  wait
fi
if on table; then
  proxybench ablate levers --lever $R/levers/lv-uniform --lever $R/levers/lv-uniform/fewshot.csv \
    --lever "$G" --cells 200 --seed 0 --bootstrap 1000 --out "$RUNS/ablate200"
  cp "$RUNS/ablate200/levers.csv" $R/ablate/levers200.csv
  # the new lever's record, this machine's paths made relative (DATA, runs/)
  rel() { sed -e "s#$(realpath "$DATA")#DATA#g" -e "s#$(realpath "$RUNS")#runs#g" "$1" > "$2"; }
  for s in 0 1; do
    mkdir -p $R/levers/lv-paper40/seed-$s
    for f in run.json metrics.csv; do rel "$G/seed-$s/$f" $R/levers/lv-paper40/seed-$s/$f; done
    for f in csv json; do rel "$G/supernet.seed-$s.$f" $R/levers/lv-paper40/supernet.seed-$s.$f; done
  done
fi
