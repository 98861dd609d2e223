#!/usr/bin/env bash
# Rebuilds reports/cifar100-cpu (every table and the report) and the README's CIFAR-100
# leaderboard from a clean checkout and a data folder. Resumable: run it again after a
# stop; finished steps are kept. From the repository root:
#
#   tar xzf ../shared/data/cifar-100-python.tar.gz -C DATA     # -> DATA/cifar-100-python
#   bash reports/cifar100-cpu/rebuild.sh DATA [RUNS] [STEPS]    # RUNS default runs/
#
# STEPS (default "zc supernet beyond sigma vkdnw zc2000 report") picks the parts: zc = the
# zero-cost, training-free and free proxies (no training; about 1.5 hours on one core),
# supernet = five supernets at the cpu-fewshot preset and their proxies (about 40 minutes
# of one-shot training and as much again for the five sub-supernets, each on one core:
# CIFAR-100's NB201 protocol trains on all 50,000 training images), beyond = ensembles,
# few-label predictors and their searches on the scored cells (minutes), sigma = Table 5
# on the first supernet (four flatness passes over the 1,000 cells, about 25 minutes of one
# core), vkdnw = VKDNW and its aggregate on the 1,000 cells (about 40 minutes of one core),
# zc2000 = the zero-cost, training-free and VKDNW tables continued to CIFAR-10's 2,000-cell
# sample (the 1,000 new cells only: about 2 hours of one core), report = the report, the
# README's leaderboard and the comparison with CIFAR-10. One step
# not in the default, resumable: allcells = the supernet proxies of the first supernet on
# all 15,625 cells (Table 1 on every cell; about 3.5 hours of one core).
#
# The cells are CIFAR-10's (reports/cifar10-cpu): the report's 1,000 seeded cells
# (`--cells 1000 --seed 0`). The data protocol is NB201's for CIFAR-100 (`train
# --validation test`, the default there): supernets train on the whole training set and
# are validated on a seeded half of the test set (NB201's xvalid half with --split-file
# cifar100-test-split.txt). The ground truth is NB201's cifar100 test accuracy (200
# epochs), the table shipped with proxybench unless PROXYBENCH_NB201 names another.
set -euo pipefail
DATA=${1:?usage: rebuild.sh DATA [RUNS] [STEPS]}
RUNS=${2:-runs}/c100
STEPS=${3:-zc supernet beyond sigma vkdnw zc2000 report}
R=reports/cifar100-cpu
export OMP_NUM_THREADS=1
T="--threads 1"
SN="flatness;val_acc;val_loss;angle"
ZC="synflow;snip;grasp;fisher;grad_norm;jacov;epe_nas;nwot;l2_norm;plain;zen"
TF="zico;meco;swap;az_nas_expressivity;az_nas_progressivity;az_nas_trainability;az_nas_complexity"
on() { [[ " $STEPS " == *" $1 "* ]]; }
mkdir -p "$RUNS" $R
relative() {  # copy a result here with this machine's paths made relative
  sed -e "s#$(realpath "$DATA")#DATA#g" -e "s#$(realpath "${RUNS%/c100}")#runs#g" \
    -e "s#$PWD/##g" "$1" > "$2"
}
# each score table below exists for the 1,000 cells (suffix "") and the 2,000 (suffix _2000)
zc_tables() {  # CELLS SUFFIX: zero-cost and training-free proxies on NB201's own network
  proxybench score --proxy "$ZC" --data-dir "$DATA" --dataset cifar100 --preset paper \
    --cells "$1" $T --resume --out "$RUNS/zero_cost$2.csv"
  proxybench score --proxy "$TF" --data-dir "$DATA" --dataset cifar100 --preset paper \
    --cells "$1" $T --resume --out "$RUNS/training_free$2.csv"
}
vkdnw_table() {  # CELLS SUFFIX: Gaussian inputs, as its authors' code (no data)
  proxybench score --proxy "vkdnw;vkdnw_single" --dataset cifar100 --preset paper \
    --cells "$1" $T --workers 1 --resume --out "$RUNS/vkdnw$2.csv"
}
az_nas_of() {  # SUFFIX: AZ-NAS's aggregate, the log ranks of its four parts
  ( cd $R && proxybench combine training_free$1.csv --method logrank --missing last --force \
      --name az_nas --out az_nas$1.csv --terms \
      az_nas_expressivity,az_nas_progressivity,az_nas_trainability,az_nas_complexity )
}
vkdnw_agg_of() {  # SUFFIX: VKDNW_agg, log ranks of VKDNW_single, jacov and three AZ-NAS parts
  ( cd $R && proxybench combine vkdnw$1.csv zero_cost$1.csv training_free$1.csv \
      --method logrank --missing last --name vkdnw_agg --force --out vkdnw_agg$1.csv \
      --terms vkdnw_single,jacov,az_nas_expressivity,az_nas_trainability,az_nas_complexity )
}

if on zc; then
  # zero-cost and training-free proxies on NB201's own network (C=16, N=5), batch 64 of
  # CIFAR-100 training images; the free counts with CIFAR-100's 100-way head
  zc_tables 1000 ""
  proxybench cells --dataset cifar100 --force --out "$RUNS/cells.csv"
  for t in zero_cost training_free cells; do
    relative "$RUNS/$t.csv" $R/$t.csv
    relative "$RUNS/$t.json" $R/$t.json
  done
  az_nas_of ""
fi

if on supernet; then
  # the cpu-fewshot preset (CIFAR-10's levers study picked it): each supernet split on
  # edge 0 into five sub-supernets, each cell scored on its own
  proxybench train --dataset cifar100 --data-dir "$DATA" --preset cpu-fewshot --save-every 5 \
    $T --resume --seeds 0-4 --out "$RUNS/c100-fs"
  proxybench score --run "$RUNS/c100-fs" --proxy "$SN" --cells 1000 $T --workers 1 --resume \
    --out "$RUNS/c100-fs/supernet.csv"
  mkdir -p $R/seeds
  for s in 0 1 2 3 4; do
    for x in csv json; do
      relative "$RUNS/c100-fs/supernet.seed-$s.$x" $R/seeds/fs-seed-$s.$x
    done
  done
fi

if on beyond; then
  # label-free ensembles, few-label predictors and their searches on the 1,000 cells (the
  # zero-cost and training-free tables, and the first supernet's proxies once it exists)
  SN0=()
  [ -f $R/seeds/fs-seed-0.csv ] && SN0=(--supernet $R/seeds/fs-seed-0.csv)
  proxybench beyond --dataset cifar100 --zc $R/zero_cost.csv --counts $R/cells.csv \
    --extra $R/training_free.csv "${SN0[@]}" --out "$RUNS/beyond"
  mkdir -p $R/beyond && cp -r "$RUNS"/beyond/* $R/beyond/
  find $R/beyond -type f \( -name '*.json' -o -name '*.csv' -o -name '*.md' \) -exec sed -i \
    -e "s#$(realpath "$DATA")#DATA#g" -e "s#$(realpath "${RUNS%/c100}")#runs#g" -e "s#$PWD/##g" {} +
fi

if on sigma; then
  # Table 5 (the sigma sets of flatness) on the first supernet, its few-shot weights as the
  # leaderboard's (the paper's is one one-shot supernet)
  proxybench ablate sigma --run "$RUNS/c100-fs/seed-0" --dataset cifar100 --cells 1000 \
    --seed 0 --bootstrap 1000 $T --workers 1 --out "$RUNS/ablate"
  mkdir -p $R/ablate && relative "$RUNS/ablate/sigma.csv" $R/ablate/sigma.csv
fi

if on allcells; then
  proxybench score --run "$RUNS/c100-fs/seed-0" --proxy "$SN" --cells all $T --workers 1 \
    --resume --out "$RUNS/all_cells_fs_seed0.csv"
  for x in csv json; do relative "$RUNS/all_cells_fs_seed0.$x" $R/all_cells_fs_seed0.$x; done
fi

if on vkdnw; then
  # CIFAR-100's 100-way head; VKDNW_agg is its authors' aggregate
  vkdnw_table 1000 ""
  for x in csv json; do relative "$RUNS/vkdnw.$x" $R/vkdnw.$x; done
  vkdnw_agg_of ""
fi

if on zc2000; then
  # the 2,000-cell sample of CIFAR-10's report (its 1,000 cells and 1,000 more,
  # reports/cifar10-cpu/cells2000.txt): each table continues the 1,000-cell one (a table's
  # settings decide its values, not its cell selection), so only the new cells are scored
  C2=reports/cifar10-cpu/cells2000.txt
  for t in zero_cost training_free vkdnw; do
    if [ ! -f "$RUNS/${t}_2000.csv" ] && [ -f $R/$t.csv ]; then
      cp $R/$t.csv "$RUNS/${t}_2000.csv" && cp $R/$t.json "$RUNS/${t}_2000.json"
    fi
  done
  zc_tables $C2 _2000
  vkdnw_table $C2 _2000
  for t in zero_cost_2000 training_free_2000 vkdnw_2000; do
    for x in csv json; do relative "$RUNS/$t.$x" $R/$t.$x; done
  done
  az_nas_of _2000
  vkdnw_agg_of _2000
fi

if on report; then
  SEEDS=()
  for s in 0 1 2 3 4; do
    [ -f $R/seeds/fs-seed-$s.csv ] && SEEDS+=(--seed-tables $R/seeds/fs-seed-$s.csv)
  done
  SC=()    # the tables made so far (a step not yet run leaves its rows out)
  for t in zero_cost training_free az_nas cells all_cells_fs_seed0 vkdnw vkdnw_agg \
      zero_cost_2000 training_free_2000 az_nas_2000 vkdnw_2000 vkdnw_agg_2000; do
    [ -f $R/$t.csv ] && SC+=(--scores $R/$t.csv)
  done
  [ -f $R/ablate/sigma.csv ] && SC+=(--ablation $R/ablate/sigma.csv)
  BY=()
  [ -d $R/beyond ] && BY=(--beyond $R/beyond)
  for d in $R/darts/s-*; do if [ -f "$d/summary.json" ]; then BY+=(--search "$d"); fi; done
  for d in $R/darts/rt-*; do if [ -f "$d/result.json" ]; then BY+=(--retrain "$d"); fi; done
  proxybench report --dataset cifar100 \
    --title "proxybench: NB201 on CIFAR-100, cpu-fewshot preset, 2-core CPU" "${SEEDS[@]}" \
    "${SC[@]}" "${BY[@]}" --bootstrap 1000 --commands $R/rebuild.sh --readme README.md --out $R
  proxybench cross-dataset --board cifar10=reports/cifar10-cpu/leaderboard.csv \
    --board cifar100=$R/leaderboard.csv --out $R/cross-dataset.md
fi
