#!/usr/bin/env bash
# The paper preset on this CPU: GeNAS's supernet (NB201's C=16, N=5, 250 epochs, batch 64,
# uniform sampling) on CIFAR-10, a checkpoint every 5 epochs. Each supernet is a
# resumable background run of several hours on one core: run this again after a stop and
# training continues from its last epoch. The epoch curve (`ablate epochs`) scores the
# checkpoints at 10, 25, 50, 100 and 250 epochs on the first 200 of the report's 1,000 cells
# (`--cells 200 --seed 0` is a subset of `--cells 1000 --seed 0`), with BN recalibrated on
# 256 training images and 1,024 validation images (about 8 s a cell on one core of this CPU
# beside a training job; 1,024 + 2,048 take about 16 s, the paper's 1,024 + 10,000 several
# times that); a checkpoint not saved yet is added by the next run of
# this script. It can run beside the training (`curve` alone), scoring what is saved so far
# (AT=25,50 scores only those checkpoints; default 10,25,50,100,250; WORKERS=2 scores with
# two processes, for when the training is paused: `kill -STOP` its processes, `-CONT` after).
# Seeds: seeds 0 and 1 were scored to epoch 100, seed 2 to epoch 25 and seed 3 at epoch 50
# on machines that were replaced before their runs finished: their records
# (paper/seed-K/metrics.csv, run.json) and scored checkpoints (paper/epochs.csv) are kept, their checkpoints are gone.
# `curve` keeps that table's rows of seeds not trained here (`ablate epochs --keep`, which
# refuses a curve of another setting, other images or cells), so a seed trained here joins
# them as a replicate; a seed trained here again replaces its kept rows.
# `check` scores the epoch-25 checkpoint of seed 0 again with 1,024 BN and 2,048 validation
# images on the same cells, to see that the reduction does not move tau beyond its CI.
# From the repository root, with DATA holding cifar-10-batches-py/:
#   bash reports/cifar10-cpu/paper.sh DATA [RUNS] [STEPS]   # STEPS: "train curve copy", "check"
# `train` trains the SEEDS (default 1-2) one after the other on THREADS torch threads
# (default 1). With two cores free, train one seed at a time on two threads: 53-78 s an
# epoch (median 60 s, paper/seed-1/metrics.csv; 104 s on an AVX2 CPU, paper/seed-3), so
# 250 epochs in about 4 hours (7 on AVX2); two
# one-thread runs side by side take about 160 s an epoch each:
#   SEEDS=4 THREADS=2 bash reports/cifar10-cpu/paper.sh DATA RUNS train
#   SEEDS=1 bash reports/cifar10-cpu/paper.sh DATA RUNS train &     # or side by side
#   SEEDS=2 bash reports/cifar10-cpu/paper.sh DATA RUNS train &
set -euo pipefail
DATA=${1:?usage: paper.sh DATA [RUNS] [STEPS]}
RUNS=${2:-runs}
STEPS=${3:-train curve copy}
SEEDS=${SEEDS:-1-2}
THREADS=${THREADS:-1}
on() { [[ " $STEPS " == *" $1 "* ]]; }
export OMP_NUM_THREADS=$THREADS
P="$RUNS/c10-paper"
if on train; then
  proxybench train --dataset cifar10 --data-dir "$DATA" --preset paper --seeds "$SEEDS" \
    --save-every 5 --threads "$THREADS" --resume --out "$P"
fi
D=reports/cifar10-cpu/paper
if on curve; then
  KEEP=(); [ ! -f $D/epochs.csv ] || KEEP=(--keep $D/epochs.csv)
  proxybench ablate epochs --run "$P" --at-epochs ${AT:-10,25,50,100,250} --cells 200 \
    --seed 0 --bn-images 256 --val-images 1024 --bootstrap 1000 --workers ${WORKERS:-1} \
    --threads 1 "${KEEP[@]}" --out "$P/ablate"
fi
if on check; then
  proxybench ablate epochs --run "$P/seed-0" --at-epochs 25 --cells 200 --seed 0 \
    --bn-images 1024 --val-images 2048 --bootstrap 1000 --workers 1 --threads 1 --out "$P/ablate-img2048"
fi
if on copy || on curve || on check; then
  # copies with this machine's paths made relative (DATA, runs/): made after every scoring
  # step, so that each table is in the repository as soon as it exists
  rel() { sed -e "s#$(realpath "$DATA")#DATA#g" -e "s#$(realpath "$RUNS")#runs#g" "$1" > "$2"; }
  mkdir -p $D
  [ ! -f "$P/ablate/epochs.csv" ] || rel "$P/ablate/epochs.csv" $D/epochs.csv
  if [ -f "$P/ablate-img2048/epochs.csv" ]; then
    mkdir -p $D/img2048 && rel "$P/ablate-img2048/epochs.csv" $D/img2048/epochs.csv
  fi
  for s in "$P"/seed-*; do
    mkdir -p $D/$(basename "$s")
    for f in metrics.csv run.json; do [ ! -f "$s/$f" ] || rel "$s/$f" $D/$(basename "$s")/$f; done
  done
fi
