# Shared by bench/bench_train.sh and bench/bench_generate.sh (sourced, not run).
# PyTorch: Debian's torch calls the system BLAS, and the default netlib one is ~15x slower than
# OpenBLAS, so when Debian's libopenblas0-pthread is installed PyTorch gets it via LD_LIBRARY_PATH
# (without switching the system-wide alternative). Both sides get the same thread count.
openblas=/usr/lib/x86_64-linux-gnu/openblas-pthread
[ -e "$openblas/libblas.so.3" ] && export LD_LIBRARY_PATH="$openblas${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads
dotnet build bench/Dllm.Bench -c Release -nologo -v q >/dev/null
bench=bench/Dllm.Bench/bin/Release/net10.0/Dllm.Bench.dll

# median of the numbers on stdin (space or newline separated)
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# summary UNIT HIGHER_IS_BETTER: one line per measure (wall, cpu) with the medians over the rounds
# of the global associative array `all` (keys torch, dllm, base and the same with _cpu) and
# dllm's (and the base build's) ratio to PyTorch, > 1 meaning faster than PyTorch.
summary() {
  local unit=$1 higher=$2 kind tm dm bm
  for kind in "" _cpu; do
    tm=$(echo "${all[torch$kind]}" | median); dm=$(echo "${all[dllm$kind]}" | median)
    local line="median${kind:- wall} threads=$threads torch=$tm$unit dllm=$dm$unit vs_torch=$(ratio "$dm" "$tm" "$higher")"
    if [ -n "${all[base$kind]:-}" ]; then
      bm=$(echo "${all[base$kind]}" | median)
      line="$line base=$bm$unit base_vs_torch=$(ratio "$bm" "$tm" "$higher") dllm_vs_base=$(ratio "$dm" "$bm" "$higher")"
    fi
    echo "$line"
  done
}
ratio() { if [ "$3" = 1 ]; then echo "scale=2; $1 / $2" | bc; else echo "scale=2; $2 / $1" | bc; fi; }
