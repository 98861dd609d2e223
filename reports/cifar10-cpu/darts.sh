#!/usr/bin/env bash
# The DARTS pipeline at its cpu presets (supernet, searches, retraining), behind darts/ in
# this folder. From the repository root, with DATA holding cifar-10-batches-py/:
#   bash reports/cifar10-cpu/darts.sh DATA [RUNS]
set -euo pipefail
DATA=${1:?usage: darts.sh DATA [RUNS]}
RUNS=${2:-runs}
# ---- DARTS space (`darts/`)
OMP_NUM_THREADS=1 proxybench train --space darts --dataset cifar10 --data-dir "$DATA" --preset cpu --out "$RUNS"/darts-c10
OMP_NUM_THREADS=1 proxybench search --space darts --run "$RUNS"/darts-c10 --proxy flatness:sigmas=1e-5/5e-5/1e-4 --population 20 --iterations 5 --out "$RUNS"/darts-c10/s-flatness
OMP_NUM_THREADS=1 proxybench search --space darts --run "$RUNS"/darts-c10 --proxy angle --population 20 --iterations 5 --out "$RUNS"/darts-c10/s-angle
OMP_NUM_THREADS=1 proxybench retrain --genotype "$RUNS"/darts-c10/s-flatness/genotype.json --dataset cifar10 --data-dir "$DATA" --preset cpu --out "$RUNS"/rt-flatness
OMP_NUM_THREADS=1 proxybench retrain --genotype "$RUNS"/darts-c10/s-angle/genotype.json --dataset cifar10 --data-dir "$DATA" --preset cpu --out "$RUNS"/rt-angle
OMP_NUM_THREADS=1 proxybench retrain --genotype DARTS_V2 --dataset cifar10 --data-dir "$DATA" --preset cpu --out "$RUNS"/rt-darts-v2
D=reports/cifar10-cpu/darts
for s in s-flatness s-angle; do mkdir -p $D/$s; cp "$RUNS"/darts-c10/$s/{genotype.json,genotype.png,genotype.svg,history.csv,scores.csv,scores.json,summary.json} $D/$s/; done
for r in rt-flatness rt-angle rt-darts-v2; do mkdir -p $D/$r; cp "$RUNS"/$r/{result.json,metrics.csv,run.json} $D/$r/; done
mkdir -p $D/supernet; cp "$RUNS"/darts-c10/{metrics.csv,run.json} $D/supernet/
