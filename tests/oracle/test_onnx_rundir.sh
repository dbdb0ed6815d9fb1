#!/bin/bash
# ONNX: a run directory trained on an imported backbone keeps working once the .onnx moves or is
# deleted (the plan holds the model): eval, export and embed give the same results; a model altered
# inside the plan, and a plan without one, are refused with one line.
# Args: SSLC_BINARY SOURCE_DIR
set -e
sslc=$1
. "$2/tests/oracle/onnx_env.sh"
"$py" "$src/tests/oracle/onnx_oracle.py" "$sslc" "$work" rundir
