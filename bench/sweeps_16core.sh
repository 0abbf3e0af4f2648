#!/usr/bin/env bash
# The 16-core figures of the README's "Sweeps on Dask" section (issue 17).
#   bench/sweeps_16core.sh OUTDIR SWEEPDIR STEP:SECONDS ...
# Steps (each under `timeout -s INT SECONDS`; an interrupted sweep resumes when the
# same step runs again with the same SWEEPDIR):
#   verify-rne    fpsem verify exp --format binary32 --modes rne --workers 16   (all 2^32 inputs)
#   verify-all    the same in all five rounding modes
#   census-200    fpsem sweep examples/census_200.toml --workers 16
#   census-small  fpsem sweep examples/census_small.toml --workers 16
# Each step's command, output, exit status and wall time go to OUTDIR/STEP.txt.
set -u
out=$1 sweeps=$2
shift 2
W=${WORKERS:-16}
fp="python3 -m fpsem"
export PYTHONUNBUFFERED=1
mkdir -p "$out" "$sweeps"
{ echo "cores: $(nproc)"; lscpu | grep -m1 'Model name'
  python3 -c "import numpy, numba, gmpy2, flint, distributed; print('numpy', numpy.__version__, 'numba', numba.__version__, 'gmpy2', gmpy2.version(), 'python-flint', flint.__version__, 'distributed', distributed.__version__)"
} >> "$out/platform.txt" 2>&1
# compile and cache the numba kernels once here, not in 16 workers at once
$fp verify exp --modes all --range 0x3f800000:0x3f801000 --serial > /dev/null || exit 3
for step in "$@"; do
  name=${step%%:*} limit=${step#*:}
  case $name in
    verify-rne) cmd="$fp verify exp --format binary32 --modes rne --workers $W --json $out/verify_exp_rne.json" ;;
    verify-all) cmd="$fp verify exp --format binary32 --modes all --workers $W --json $out/verify_exp_all.json" ;;
    census-200) cmd="$fp sweep examples/census_200.toml --out $sweeps/census-200 --workers $W" ;;
    census-small) cmd="$fp sweep examples/census_small.toml --out $sweeps/census-small --workers $W" ;;
    *) echo "unknown step $name"; exit 2 ;;
  esac
  echo "\$ $cmd   # limit ${limit} s" >> "$out/$name.txt"
  t0=$(date +%s%N)
  timeout -s INT -k 30 "$limit" $cmd >> "$out/$name.txt" 2>&1
  rc=$?
  echo "rc=$rc wall_ms=$(( ($(date +%s%N) - t0) / 1000000 ))" >> "$out/$name.txt"
  if [ -d "$sweeps/$name/chunks" ]; then
    echo "chunks done: $(ls "$sweeps/$name/chunks" | grep -c '^chunk-')" >> "$out/$name.txt"
  fi
  tail -n 3 "$out/$name.txt"
done
