#!/usr/bin/env bash
# The speed benchmark on a CUDA GPU: propagation (cuSPARSE SpMM through torch's CSR product,
# PyG message passing's CUDA scatter, torch-scatter's segment_csr where it is installed),
# a fixed number of training batches of every method, and the full-ranking evaluation, all
# on gowalla. Writes benchmarks/results/gpu.json and gpu.md (with the GPU's name).
#
#     bash benchmarks/gpu_check.sh          # from the repository root; about 3-5 minutes
#
# It installs nothing and needs no network: it runs the source tree (PYTHONPATH=.) with the
# python on PATH (or $PYTHON), which must have a CUDA build of torch and PyG. The gowalla
# files are read from .device/datasets/gowalla/ (git-ignored), to fill before, e.g. from a
# machine that has them:
#
#     mkdir -p .device/datasets/gowalla
#     cp "$GCL_DATA_DIR"/gowalla/{train,test}.txt .device/datasets/gowalla/
#
# (or let gcl download them once on a machine with a network, GCL_DATA_DIR unset, and copy
# ~/.cache/gcl/raw/gowalla/{train,test}.txt).
# The files are checked against the sha256 in gcl/datasets/registry.json as always.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
export PYTHONPATH=. GCL_DATA_DIR="$PWD/.device/datasets" GCL_CACHE_DIR="$PWD/.device/cache"
for f in train.txt test.txt; do
  if [ ! -f ".device/datasets/gowalla/$f" ]; then
    echo "missing .device/datasets/gowalla/$f: see the top of $0 for how to fill it" >&2
    exit 1
  fi
done
"$PYTHON" -c 'import sys, torch; torch.cuda.is_available() or sys.exit("no CUDA GPU here")'
rm -f benchmarks/results/gpu.json  # one run's numbers, not a merge with an older card's
timeout 470 "$PYTHON" benchmarks/speed.py --device cuda --name gpu --parts micro,methods,eval \
  --threads 4 --batches 60 --warmup 5 --repeats 20
cat benchmarks/results/gpu.md
