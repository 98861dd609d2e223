#!/usr/bin/env bash
# The commands behind every file in reports/cifar10-cpu, in order (run from the repository
# root; runs/ was /work/runs on the machine that made them). README.md says what they found.
set -euo pipefail

# ---- NB201: supernet, scores, combinations
export PROXYBENCH_NB201=../shared/data/nb201_test_accuracy.csv.gz
proxybench train --dataset cifar10 --data-dir /work/data --preset cpu --save-every 5 --out runs/c10-cpu
proxybench score --space nb201 --proxy flatness --run runs/c10-cpu --cells all --chunk 128 --out runs/c10-cpu/flatness.csv
proxybench score --space nb201 --proxy "val_acc;val_loss;angle" --run runs/c10-cpu --cells all --chunk 128 --threads 1 --out runs/c10-cpu/val_angle.csv
ZC="synflow;snip:batch_size=32;grasp:batch_size=32;fisher:batch_size=32;grad_norm:batch_size=32;jacov:batch_size=32;nwot:batch_size=32;l2_norm;plain:batch_size=32;zen:batch_size=32"
proxybench score --space nb201 --proxy "$ZC" --data-dir /work/data --dataset cifar10 --preset cpu --cells all --threads 1 --out runs/zero_cost.csv   # stopped after 9,324 cells
# the remaining 6,301 cells as two processes (zc_rest_a.txt / zc_rest_b.txt: the indices not in runs/zero_cost.csv, halved)
proxybench score --space nb201 --proxy "$ZC" --data-dir /work/data --dataset cifar10 --preset cpu --cells runs/zc_rest_a.txt --threads 1 --out runs/zero_cost_a.csv
proxybench score --space nb201 --proxy "$ZC" --data-dir /work/data --dataset cifar10 --preset cpu --cells runs/zc_rest_b.txt --threads 1 --out runs/zero_cost_b.csv
proxybench merge runs/zero_cost.csv runs/zero_cost_a.csv runs/zero_cost_b.csv --out reports/cifar10-cpu/zero_cost.csv
proxybench cells --out runs/cells.csv
cp runs/c10-cpu/flatness.* runs/c10-cpu/val_angle.* runs/cells.* reports/cifar10-cpu/
cp runs/c10-cpu/metrics.csv reports/cifar10-cpu/training_metrics.csv
cp runs/c10-cpu/run.json reports/cifar10-cpu/training_run.json
cd reports/cifar10-cpu   # the combinations are made from the copies in this folder
proxybench combine val_angle.csv flatness.csv --terms angle,flatness --gamma 16 --out angle_flatness.csv
proxybench combine val_angle.csv flatness.csv --terms val_acc,flatness --gamma 16 --out valacc_flatness.csv
proxybench combine val_angle.csv --terms angle,val_acc --method rank --out angle_valacc.csv
proxybench correlate flatness.csv val_angle.csv zero_cost.csv cells.csv angle_flatness.csv valacc_flatness.csv angle_valacc.csv --dataset cifar10 --out correlate_all
proxybench correlate val_angle.csv flatness.csv --between angle flatness --out between_angle_flatness
cd ../..

# ---- NB201: searches (`search/`)
R=reports/cifar10-cpu
proxybench search --space nb201 --proxy flatness --scores $R/flatness.csv --repeats 5 --out $R/search/flatness
proxybench search --space nb201 --proxy angle --scores $R/val_angle.csv --repeats 5 --out $R/search/angle
proxybench search --space nb201 --proxy val_acc --scores $R/val_angle.csv --repeats 5 --out $R/search/val_acc
proxybench search --space nb201 --proxy "angle+flatness[gamma=16]" --scores $R/angle_flatness.csv --repeats 5 --out $R/search/angle_flatness
proxybench search --space nb201 --proxy "rank(angle+val_acc)" --scores $R/angle_valacc.csv --repeats 5 --out $R/search/angle_valacc
proxybench search --space nb201 --proxy flatness --scores $R/flatness.csv --algorithm random --repeats 5 --out $R/search/random_flatness
proxybench search --space nb201 --proxy params_live --scores $R/cells.csv --repeats 5 --out $R/search/params_live
proxybench search --space nb201 --proxy synflow --scores $R/zero_cost.csv --repeats 5 --out $R/search/synflow

# ---- NB201: ablations (`ablate/`)
for a in sigma alpha position gamma; do
  OMP_NUM_THREADS=1 proxybench ablate $a --run runs/c10-cpu --cells 500 --seed 0 --bootstrap 200 --out runs/ablate500
done
OMP_NUM_THREADS=1 proxybench ablate direction --run runs/c10-cpu --cells 200 --seed 0 --bootstrap 200 --out runs/ablate
# 6 disconnected cells failed in the Hessian power iteration (fixed since); scored again:
OMP_NUM_THREADS=1 proxybench ablate direction --run runs/c10-cpu --cells 200 --seed 0 --bootstrap 200 --retry-errors --out runs/ablate
OMP_NUM_THREADS=1 proxybench ablate epochs --run runs/c10-cpu --cells 200 --seed 0 --bootstrap 200 --out runs/ablate
cp runs/ablate500/{sigma,alpha,position,gamma}.csv runs/ablate/{direction,epochs}.csv reports/cifar10-cpu/ablate/

# ---- NB201: flatness variants (`variants/`)
proxybench score --proxy "flatness:crn=true" --run-dir runs/c10-cpu --cells 500 --seed 0 --threads 1 --out runs/variants/crn500.csv
proxybench correlate runs/variants/crn500.csv "runs/ablate500/sigma/flatness_sigmas=2e-3_1e-2_2e-2.csv" --bootstrap 1000
proxybench score --proxy "flatness:draws=4" --run-dir runs/c10-cpu --cells 200 --seed 0 --threads 1 --out runs/variants/draws4_200.csv
# cells200.txt: the 200 cells of --cells 200 --seed 0, one index per line
for s in 0 1; do proxybench score --proxy "flatness;flatness:crn=true" --run-dir runs/c10-cpu --cells runs/variants/cells200.txt --seed $s --threads 1 --out runs/variants/seed$s.csv; done
proxybench correlate runs/variants/seed0.csv runs/variants/draws4_200.csv --bootstrap 1000 --out runs/variants/draws
proxybench correlate runs/variants/seed0.csv runs/variants/seed1.csv --between "flatness@1" "flatness@2" --out runs/variants/stability_flatness
proxybench correlate runs/variants/seed0.csv runs/variants/seed1.csv --between "flatness[crn=true]@1" "flatness[crn=true]@2" --out runs/variants/stability_crn
cp runs/variants/{cells200.txt,crn500.*,draws4_200.*,seed0.*,seed1.*,draws.csv,stability_*.csv} reports/cifar10-cpu/variants/

# ---- DARTS space (`darts/`)
OMP_NUM_THREADS=1 proxybench train --space darts --dataset cifar10 --data-dir /work/data --preset cpu --out runs/darts-c10
OMP_NUM_THREADS=1 proxybench search --space darts --run runs/darts-c10 --proxy flatness:sigmas=1e-5/5e-5/1e-4 --population 20 --iterations 5 --out runs/darts-c10/s-flatness
OMP_NUM_THREADS=1 proxybench search --space darts --run runs/darts-c10 --proxy angle --population 20 --iterations 5 --out runs/darts-c10/s-angle
OMP_NUM_THREADS=1 proxybench retrain --genotype runs/darts-c10/s-flatness/genotype.json --dataset cifar10 --data-dir /work/data --preset cpu --out runs/rt-flatness
OMP_NUM_THREADS=1 proxybench retrain --genotype runs/darts-c10/s-angle/genotype.json --dataset cifar10 --data-dir /work/data --preset cpu --out runs/rt-angle
OMP_NUM_THREADS=1 proxybench retrain --genotype DARTS_V2 --dataset cifar10 --data-dir /work/data --preset cpu --out runs/rt-darts-v2
D=reports/cifar10-cpu/darts
for s in s-flatness s-angle; do mkdir -p $D/$s; cp runs/darts-c10/$s/{genotype.json,genotype.png,genotype.svg,history.csv,scores.csv,scores.json,summary.json} $D/$s/; done
for r in rt-flatness rt-angle rt-darts-v2; do mkdir -p $D/$r; cp runs/$r/{result.json,metrics.csv,run.json} $D/$r/; done
mkdir -p $D/supernet; cp runs/darts-c10/{metrics.csv,run.json} $D/supernet/

# ---- The report
R=reports/cifar10-cpu
proxybench report --title "proxybench: NB201 and DARTS on CIFAR-10 (JPEG copy), cpu presets, 2-core CPU" \
  --scores $R/flatness.csv --scores $R/val_angle.csv --scores $R/zero_cost.csv --scores $R/cells.csv \
  --scores $R/angle_flatness.csv --scores $R/valacc_flatness.csv --scores $R/angle_valacc.csv \
  $(for s in flatness angle val_acc angle_flatness angle_valacc random_flatness params_live synflow; do echo --search $R/search/$s; done) \
  --search $R/darts/s-flatness --search $R/darts/s-angle \
  --retrain $R/darts/rt-flatness --retrain $R/darts/rt-angle --retrain $R/darts/rt-darts-v2 \
  $(for a in sigma alpha position direction gamma epochs; do echo --ablation $R/ablate/$a.csv; done) \
  --commands $R/commands.sh --out $R
