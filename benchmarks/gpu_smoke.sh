#!/usr/bin/env bash
# GPU smoke run: one command on a machine with a CUDA GPU.
#   benchmarks/gpu_smoke.sh                   3-task SAPT-LoRA chain (Long Sequence order 3: mnli -> cb -> wic, ARM on)
#                                             on a T5-base-sized backbone built from its config (random init: no hub
#                                             download), bf16; prints seconds per optimizer step and peak CUDA memory
#   benchmarks/gpu_smoke.sh --print-commands  the commands it would run, nothing executed (works without a GPU)
# Nothing to install beyond the project's requirements: it runs inside ./run (which sets up .venv on first use;
# SAPT_REQUIREMENTS=envs/requirements-gpu.txt picks the GPU pins). Without a CUDA device it stops at once (exit 2).
# Knobs: SMOKE_OUT (work dir, default results/gpu_smoke), SMOKE_STEPS (optimizer steps per task, default 50),
# SMOKE_BATCH (default 16), SMOKE_DEVICE=cpu and SMOKE_SIZE=tiny (only to test this script's plumbing on a CPU).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
OUT=${SMOKE_OUT:-results/gpu_smoke}
STEPS=${SMOKE_STEPS:-50}
BATCH=${SMOKE_BATCH:-16}
DEVICE=${SMOKE_DEVICE:-cuda}
SIZE=${SMOKE_SIZE:-base}
TASKS=(mnli cb wic)
case "$SIZE" in  # T5-base: d_model 768, 12 + 12 layers, 12 heads, d_ff 3072, 32k vocabulary (~220M parameters)
  base) ARCH="--d-model 768 --layers 12 --heads 12 --d-ff 3072 --vocab-size 32128" ;;
  tiny) ARCH="--d-model 32 --layers 1 --heads 2 --d-ff 64 --vocab-size 1024" ;;
  *) echo "gpu_smoke: SMOKE_SIZE must be base or tiny, got '$SIZE'" >&2; exit 2 ;;
esac
if [[ $DEVICE == cuda ]]; then PREC="--dtype bfloat16 --device cuda --bf16"; else PREC="--dtype float32 --device cpu"; fi
DATA="$OUT/data/Long_Sequence"; BB="$OUT/backbone"

commands() {  # one command per line, in order
  for t in "${TASKS[@]}"; do
    echo "sapt prepare-data --benchmark Long_Sequence --task $t --protocol official --seed 0 --n-train 800 --n-val 16 --n-test 64 --out $OUT/data/Long_Sequence"
  done
  echo "sapt build-backbone --family t5 $ARCH --seed 0 --corpus-per-task 300 --pretrain-steps 0 --out $BB"
  local k prev="" pseudo=""
  for k in 1 2 3; do
    local t=${TASKS[$((k - 1))]}
    echo "sapt train-step --method sapt-lora --backbone $BB --data-dir $DATA/$t ${prev:+--state-in $prev} ${pseudo:+--pseudo $pseudo} --lr 3e-4 --batch-size $BATCH --max-steps $STEPS --max-source-len 512 --max-target-len 50 --save-steps 1000 --logging-steps 10 $PREC --seed 0 --no-progress --state-out $OUT/step$k"
    echo "sapt generate-pseudo --source real --data-dir $DATA/$t --volume 0.02 --seed 0 --out $OUT/pseudo/$t.jsonl"
    prev="$OUT/step$k"; pseudo="${pseudo:+$pseudo }$OUT/pseudo/$t.jsonl"
  done
}

if [[ ${1:-} == --print-commands ]]; then commands; exit 0; fi
[[ -z ${1:-} ]] || { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# fail fast: no CUDA device, no run (torch's own answer, after the cheap driver check)
if [[ $DEVICE == cuda ]]; then
  if ! ls /dev/nvidia[0-9]* >/dev/null 2>&1 && ! command -v nvidia-smi >/dev/null 2>&1; then
    echo "gpu_smoke: no CUDA device on this machine (no /dev/nvidia*, no nvidia-smi); run it on a GPU node" >&2; exit 2
  fi
  ./run sapt --version >/dev/null  # sets up .venv on first use
  .venv/bin/python -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' || {
    echo "gpu_smoke: torch.cuda.is_available() is False (torch $(.venv/bin/python -c 'import torch; print(torch.__version__)')); a CPU-only torch wheel or no usable driver" >&2; exit 2; }
fi

mkdir -p "$OUT/logs"
i=0
while IFS= read -r cmd; do
  i=$((i + 1)); log="$OUT/logs/$i-$(echo "$cmd" | awk '{print $2}').log"
  echo "[gpu_smoke] $cmd" >&2
  # shellcheck disable=SC2086
  ./run $cmd > "$log" 2>&1 || { echo "gpu_smoke: failed, see $log" >&2; tail -n 20 "$log" >&2; exit 1; }
done < <(commands)

echo "SAPT-LoRA chain, T5-$SIZE-sized backbone ($ARCH), $DEVICE, batch $BATCH, $STEPS optimizer steps per task:"
for log in "$OUT"/logs/*train-step.log; do
  step=$(grep -o '^step [0-9]* ([a-z0-9_]*)' "$log" || echo "?")
  echo "  $step: $(grep '^train: ' "$log" | tail -1 | sed 's/^train: //')"
done
