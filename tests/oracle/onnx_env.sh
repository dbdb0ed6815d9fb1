# Sourced by the ONNX tests: picks the Python that has onnx and onnxruntime (the project's .venv,
# made by .ci/setup; SSLC_ONNX_PYTHON overrides). Without one the test is skipped (exit 77, which
# ctest reports as "Skipped", not as passed).
src=$2
py=${SSLC_ONNX_PYTHON:-$src/.venv/bin/python}
if ! "$py" -c 'import onnx, onnxruntime, numpy' 2>/dev/null; then
    echo "SKIP: $py lacks onnx/onnxruntime: run .ci/setup (it makes .venv) or set SSLC_ONNX_PYTHON"
    exit 77
fi
export OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
