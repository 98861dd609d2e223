#!/usr/bin/env bash
# The DARTS pipeline on CIFAR-100 at its cpu presets, behind darts/ in this folder: the
# supernet, searches with flatness (the paper's CIFAR-100 sigmas 1e-3/3e-3/6e-3) and
# angle+flatness (Eq. (5), gamma 16: the best of the paper's Table 8), and retraining of the
# finds beside GeNAS's published CIFAR-100 flatness cell and DARTS-V2. Resumable. From the
# repository root, with DATA holding cifar-100-python/:
#   bash reports/cifar100-cpu/darts.sh DATA [RUNS] [STEPS]     # STEPS: "search retrain copy"
set -euo pipefail
DATA=${1:?usage: darts.sh DATA [RUNS] [STEPS]}
RUNS=${2:-runs}/c100
STEPS=${3:-search retrain copy}
on() { [[ " $STEPS " == *" $1 "* ]]; }
export OMP_NUM_THREADS=1
SIG="sigmas=1e-3/3e-3/6e-3"
S="--space darts --run $RUNS/darts --population 20 --iterations 5"
if on search; then
  proxybench train --space darts --dataset cifar100 --data-dir "$DATA" --preset cpu --resume \
    --out "$RUNS"/darts
  [ -f "$RUNS"/darts/s-flatness/summary.json ] ||
    proxybench search $S --proxy "flatness:$SIG" --out "$RUNS"/darts/s-flatness
  [ -f "$RUNS"/darts/s-angle-flatness/summary.json ] ||
    proxybench search $S --proxy "angle;flatness:$SIG" --gamma 16 --out "$RUNS"/darts/s-angle-flatness
fi
if on retrain; then
  R="--dataset cifar100 --data-dir $DATA --preset cpu --resume"
  proxybench retrain --genotype "$RUNS"/darts/s-flatness/genotype.json $R --out "$RUNS"/rt-flatness
  proxybench retrain --genotype "$RUNS"/darts/s-angle-flatness/genotype.json $R --out "$RUNS"/rt-angle-flatness
  proxybench retrain --genotype GENAS_FLATNESS_CIFAR100 $R --out "$RUNS"/rt-genas-flatness
  proxybench retrain --genotype DARTS_V2 $R --out "$RUNS"/rt-darts-v2
fi
if on copy; then
  # copies with this machine's paths made relative (DATA, runs/)
  rel() { sed -e "s#$(realpath "$DATA")#DATA#g" -e "s#$(realpath "${RUNS%/c100}")#runs#g" "$1" > "$2"; }
  D=reports/cifar100-cpu/darts
  for s in s-flatness s-angle-flatness; do
    mkdir -p $D/$s
    cp "$RUNS"/darts/$s/{genotype.png,genotype.svg} $D/$s/
    for f in genotype.json history.csv scores.csv scores.json summary.json; do
      rel "$RUNS"/darts/$s/$f $D/$s/$f
    done
  done
  for r in rt-flatness rt-angle-flatness rt-genas-flatness rt-darts-v2; do
    [ -f "$RUNS"/$r/result.json ] || continue
    mkdir -p $D/$r
    for f in result.json metrics.csv run.json; do rel "$RUNS"/$r/$f $D/$r/$f; done
  done
  mkdir -p $D/supernet
  for f in metrics.csv run.json; do rel "$RUNS"/darts/$f $D/supernet/$f; done
fi
