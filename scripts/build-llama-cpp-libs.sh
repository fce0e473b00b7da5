#!/usr/bin/env bash
# Build llama.cpp's shared libraries (libllama, ggml) for the bench's llama-cpp-python server, from
# the same source package, and put them where llama_cpp loads them from (<venv>/…/llama_cpp/lib);
# RPATH $ORIGIN: libllama finds the ggml libraries beside it.
#
# Why not llama-cpp-python's own build: it also compiles llama.cpp's common and multimodal
# libraries (about 180 objects, close to an hour on 2 shared cores), which the server does not use.
# GGML_NATIVE=OFF with AVX2/AVX-512 on and AMX off: a native build dies with "Illegal instruction"
# on the first request on these VMs, whose CPUs report AMX.
set -euo pipefail

venv="$1"
version="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$venv/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps \
	--no-binary :all: "llama-cpp-python==$version" -d "$work"
tar -xzf "$work"/llama_cpp_python-"$version".tar.gz -C "$work"
source_dir="$work/llama_cpp_python-$version/vendor/llama.cpp"
cmake -S "$source_dir" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
	-DBUILD_SHARED_LIBS=ON -DCMAKE_BUILD_RPATH='$ORIGIN' -DLLAMA_BUILD_COMMON=OFF -DLLAMA_BUILD_TOOLS=OFF \
	-DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF \
	-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=ON \
	-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF >/dev/null
cmake --build "$work/build" --target llama -j 2
lib_dir="$("$venv/bin/python" -c 'import importlib.util as u, pathlib; print(pathlib.Path(u.find_spec("llama_cpp").origin).parent / "lib")')"
mkdir -p "$lib_dir"
cp -a "$work"/build/bin/lib*.so* "$lib_dir"/
echo "llama.cpp libraries installed in $lib_dir"
