#!/bin/bash
# ONNX: bad ONNX files and export sources: one line on stderr and a non-zero exit each.
# Args: SSLC_BINARY SOURCE_DIR
set -e
sslc=$1
. "$2/tests/oracle/onnx_env.sh"
"$py" "$src/tests/oracle/onnx_oracle.py" "$sslc" "$work" badfiles
