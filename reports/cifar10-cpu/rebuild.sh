#!/usr/bin/env bash
# Rebuilds reports/cifar10-cpu (every table, figure and the report) and the README's
# leaderboard from a clean checkout and a data folder. Resumable: run it again after a stop;
# finished steps are kept and stopped ones continue. From the repository root:
#
#   python3 ../shared/data/make_cifar10.py DATA       # CIFAR-10 (JPEG copy) -> DATA/cifar-10-batches-py
#   export PROXYBENCH_NB201=../shared/data/nb201_test_accuracy.csv.gz
#   bash reports/cifar10-cpu/rebuild.sh DATA [RUNS]   # RUNS: where runs go (default runs/)
#
# Cost on the 2-core CPU machine that made this folder (one torch thread per job, two jobs at
# a time): about 3 hours; README.md in this folder gives each step's measured time.
set -euo pipefail
DATA=${1:?usage: rebuild.sh DATA [RUNS]}
RUNS=${2:-runs}
: "${PROXYBENCH_NB201:?set PROXYBENCH_NB201 to the NB201 ground-truth table}"
R=reports/cifar10-cpu
export OMP_NUM_THREADS=1
T="--threads 1"
SN="flatness;val_acc;val_loss;angle"
# fisher[broadcast=channels]: the per-channel sum (proxybench's fisher before the authors'
# definition, below, became the default), kept to show the difference
ZC="synflow;snip;grasp;fisher:broadcast=channels;grad_norm;jacov;epe_nas;nwot;l2_norm;plain;zen"
TRAIN="proxybench train --dataset cifar10 --data-dir $DATA --preset cpu --save-every 5 $T --resume"

# ---- 1. supernets: the cpu preset (30 epochs) with 5 seeds; 15 and 60 epochs with 3 seeds
$TRAIN --seeds 0-4 --out "$RUNS/c10-e30"
$TRAIN --epochs 15 --seeds 0-2 --out "$RUNS/c10-e15"
$TRAIN --epochs 60 --seeds 0-2 --out "$RUNS/c10-e60"

# ---- 2. the supernet proxies of every supernet on the same 1,000 seeded cells
#         (one table per seed: GROUP/supernet.seed-K.csv; the studies below reuse them)
for g in c10-e30 c10-e15 c10-e60; do
  proxybench score --run "$RUNS/$g" --proxy "$SN" --cells 1000 $T --resume \
    --out "$RUNS/$g/supernet.csv"
done

# ---- 3. zero-cost proxies on NB201's own network (C=16, N=5), batch 64, the same cells
proxybench score --proxy "$ZC" --data-dir "$DATA" --dataset cifar10 --preset paper \
  --cells 1000 $T --resume --out "$RUNS/zero_cost.csv"
# zen as the Zen-NAS / NASLib code computes its BN term (running_var), to compare with them
proxybench score --proxy "zen:bn_var=running" --data-dir "$DATA" --dataset cifar10 \
  --preset paper --cells 1000 $T --resume --out "$RUNS/zen_running.csv"
proxybench cells --force --out "$RUNS/cells.csv"
# the data-dependent ones (grasp aside: its Hessian costs half the time) with zero-cost-nas's
# image protocol (its normalisation, a cropped and flipped batch), to measure what the
# protocol does to their rho
proxybench score --proxy "snip;fisher;grad_norm;jacov;epe_nas;nwot;plain" \
  --data-dir "$DATA" --dataset cifar10 --preset paper --cells 1000 \
  --normalize zero-cost-nas --augment $T --resume --out "$RUNS/zero_cost_zcnas.csv"

# ---- 3b. beyond the anchors (issue 13): a 2,000-cell sample that keeps those 1,000 cells;
#          the zero-cost proxies and the training-free ones (ZiCo, MeCo, SWAP, AZ-NAS's four
#          components) on it; AZ-NAS's aggregate over the sample (a rank among its cells)
python3 -c 'from proxybench.spaces.nb201 import grow_sample, sample_cells
print("\n".join(map(str, grow_sample(sample_cells(1000, 0), 1000, seed=1))))' \
  > "$RUNS/cells2000.txt"
proxybench score --proxy "$ZC" --data-dir "$DATA" --dataset cifar10 --preset paper \
  --cells "$RUNS/cells2000.txt" $T --resume --out "$RUNS/zero_cost_2000.csv"
# fisher as its authors sum it (each channel's value over the channel's weights)
proxybench score --proxy fisher --data-dir "$DATA" --dataset cifar10 --preset paper \
  --cells "$RUNS/cells2000.txt" $T --resume --out "$RUNS/fisher_2000.csv"
TF="zico;meco;swap;az_nas_expressivity;az_nas_progressivity;az_nas_trainability;az_nas_complexity"
proxybench score --proxy "$TF" --data-dir "$DATA" --dataset cifar10 --preset paper \
  --cells "$RUNS/cells2000.txt" $T --resume --out "$RUNS/training_free_2000.csv"
# VKDNW (Gaussian inputs, as its authors' code; no data) on the 2,000 cells; its
# aggregate VKDNW_agg joins it with jacov and three AZ-NAS components in step 6
proxybench score --proxy "vkdnw;vkdnw_single" --preset paper --cells "$RUNS/cells2000.txt" $T \
  --workers 1 --resume --out "$RUNS/vkdnw_2000.csv"

# ---- 4. the supernet levers study (its own script: training and scoring per lever). Its
#         few-shot lever (seeds 0-4) is the setting its preset rule picked, the cpu-fewshot
#         preset: the report's supernet proxies are those five supernets'
bash reports/cifar10-cpu/levers.sh "$DATA" "$RUNS"
#      all 15,625 cells on the first of them (two processes; one without torchrun works too)
torchrun --nproc-per-node=2 -m proxybench score --run-dir "$RUNS/lv-uniform/seed-0" --few-shot \
  --proxy "$SN" --cells all $T --resume --out "$RUNS/all_cells_fewshot_seed0.csv"

# ---- 5. studies on the same 1,000 cells: variance of tau (on the first 500 of them, to save
#         time), tau vs budget, the paper's ablations
A="--cells 1000 --seed 0 --bootstrap 1000 --out $RUNS/ablate"
tail -n +2 "$RUNS/c10-e30/supernet.seed-0.csv" | cut -d, -f1 | head -n 500 > "$RUNS/cells500.txt"
proxybench ablate variance --run "$RUNS/c10-e30" --levels 3 --cells "$RUNS/cells500.txt" \
  --bootstrap 1000 --out "$RUNS/ablate"
proxybench ablate budget --run "$RUNS/c10-e15" --run "$RUNS/c10-e30" --run "$RUNS/c10-e60" $A
for a in alpha gamma sigma position; do proxybench ablate $a --run "$RUNS/c10-e30/seed-0" $A; done

# ---- 6. the report folder: tables, Eq. (5) combinations and searches on all cells
mkdir -p $R/seeds $R/ablate
for s in 0 1 2 3 4; do
  cp "$RUNS/c10-e30/supernet.seed-$s.csv" $R/seeds/e30-seed-$s.csv
  cp "$RUNS/c10-e30/supernet.seed-$s.json" $R/seeds/e30-seed-$s.json
done
cp "$RUNS"/zero_cost.{csv,json} "$RUNS"/zen_running.{csv,json} "$RUNS"/cells.{csv,json} $R/
cp "$RUNS"/zero_cost_zcnas.{csv,json} $R/
cp "$RUNS"/all_cells_fewshot_seed0.{csv,json} $R/
cp "$RUNS"/zero_cost_2000.{csv,json} "$RUNS"/training_free_2000.{csv,json} "$RUNS/cells2000.txt" $R/
cp "$RUNS"/fisher_2000.{csv,json} "$RUNS"/vkdnw_2000.{csv,json} $R/
for a in variance budget alpha gamma sigma position; do cp "$RUNS/ablate/$a.csv" $R/ablate/; done
cp "$RUNS/c10-e30/seed-0/metrics.csv" $R/training_metrics.csv
cp "$RUNS/c10-e30/seed-0/run.json" $R/training_run.json
( cd $R
  proxybench combine all_cells_fewshot_seed0.csv --terms angle,flatness --gamma 16 --force --out angle_flatness.csv
  proxybench combine all_cells_fewshot_seed0.csv --terms val_acc,flatness --gamma 16 --force --out valacc_flatness.csv
  proxybench combine all_cells_fewshot_seed0.csv --terms angle,val_acc --method rank --force --out angle_valacc.csv
  proxybench combine training_free_2000.csv --method logrank --missing last --name az_nas --force \
    --terms az_nas_expressivity,az_nas_progressivity,az_nas_trainability,az_nas_complexity \
    --out az_nas_2000.csv
  proxybench correlate training_free_2000.csv --column zico --column meco --column swap \
    --out training_free_2000.correlate.csv
  proxybench correlate az_nas_2000.csv --column az_nas --out az_nas_2000.correlate.csv
  proxybench combine vkdnw_2000.csv zero_cost_2000.csv training_free_2000.csv --method logrank \
    --missing last --name vkdnw_agg --force --out vkdnw_agg_2000.csv \
    --terms vkdnw_single,jacov,az_nas_expressivity,az_nas_trainability,az_nas_complexity
  # the image protocol beside the report's on the same cells
  proxybench correlate zero_cost_zcnas.csv --out zero_cost_zcnas.correlate.csv )
# label-free ensembles, few-label predictors and their searches on the 2,000 cells
proxybench beyond --zc $R/zero_cost_2000.csv --counts $R/cells.csv \
  --supernet $R/all_cells_fewshot_seed0.csv --extra $R/training_free_2000.csv --extra $R/vkdnw_2000.csv --out "$RUNS/beyond"
mkdir -p $R/beyond && cp -r "$RUNS"/beyond/{ensemble,predict,predict-zc,search,times.txt,title.txt} $R/beyond/
# the copies here name the data and runs folders relative to the repository, not this machine's
find $R -type f \( -name '*.json' -o -name '*.csv' -o -name '*.md' -o -name '*.txt' \) -exec \
  sed -i -e "s#$(realpath "$DATA")#DATA#g" -e "s#$(realpath "$RUNS")#runs#g" -e "s#$PWD/##g" {} +
S="--repeats 5 --out"
proxybench search --proxy flatness --scores $R/all_cells_fewshot_seed0.csv $S $R/search/flatness
proxybench search --proxy angle --scores $R/all_cells_fewshot_seed0.csv $S $R/search/angle
proxybench search --proxy val_acc --scores $R/all_cells_fewshot_seed0.csv $S $R/search/val_acc
proxybench search --proxy val_loss --scores $R/all_cells_fewshot_seed0.csv $S $R/search/val_loss
proxybench search --proxy "angle+flatness[gamma=16]" --scores $R/angle_flatness.csv $S $R/search/angle_flatness
proxybench search --proxy "rank(angle+val_acc)" --scores $R/angle_valacc.csv $S $R/search/angle_valacc
proxybench search --proxy flatness --scores $R/all_cells_fewshot_seed0.csv --algorithm random $S $R/search/random_flatness
proxybench search --proxy params_live --scores $R/cells.csv $S $R/search/params_live

# ---- 7. the report (leaderboard first; this script last) and the README's leaderboard
proxybench report --title "proxybench: NB201 on CIFAR-10 (JPEG copy), cpu-fewshot preset, 2-core CPU" \
  $(for s in 0 1 2 3 4; do echo --seed-tables $R/levers/lv-uniform/fewshot.seed-$s.csv; done) \
  --scores $R/zero_cost.csv --scores $R/cells.csv --scores $R/zen_running.csv \
  --scores $R/all_cells_fewshot_seed0.csv \
  --scores $R/training_free_2000.csv --scores $R/az_nas_2000.csv --scores $R/zero_cost_2000.csv \
  --scores $R/fisher_2000.csv --scores $R/vkdnw_2000.csv --scores $R/vkdnw_agg_2000.csv \
  --beyond $R/beyond \
  --scores $R/angle_flatness.csv --scores $R/valacc_flatness.csv --scores $R/angle_valacc.csv \
  $(for s in flatness angle val_acc val_loss angle_flatness angle_valacc random_flatness params_live; do echo --search $R/search/$s; done) \
  --search $R/darts/s-flatness --search $R/darts/s-angle \
  --retrain $R/darts/rt-flatness --retrain $R/darts/rt-angle --retrain $R/darts/rt-darts-v2 \
  $(for a in levers variance budget alpha gamma sigma position; do echo --ablation $R/ablate/$a.csv; done) \
  $([ -f $R/ablate/levers200.csv ] && echo --ablation $R/ablate/levers200.csv) \
  $([ -f $R/paper/epochs.csv ] && echo --ablation $R/paper/epochs.csv) \
  --bootstrap 1000 --commands $R/rebuild.sh --readme README.md --out $R

# The paper preset's epoch curve in paper/ comes from paper.sh (hours of training per
# supernet on one core, resumable); the report shows it once paper/epochs.csv exists.
# ablate/levers200.csv (the paper's network at 40 epochs as a lever, on 200 cells) comes from
# levers200.sh (about 90 minutes of both cores); the report shows it once it exists.
# The DARTS tables in darts/ come from darts.sh (the DARTS pipeline at its cpu presets); it is
# separate because its cost (about 1.5 hours) does not change with the NB201 results above.
