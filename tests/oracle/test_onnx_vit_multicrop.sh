#!/bin/bash
# ONNX: DINO on vit-tiny and SwAV on vit-small trained with 6 local crops (their position
# embedding resized to the local patch grid) export at the global 32x32 size: onnx's checker
# accepts the models and ONNX Runtime equals `sslc features` on the run directories (<= 1e-4).
# Args: SSLC_BINARY SOURCE_DIR
set -e
sslc=$1
. "$2/tests/oracle/onnx_env.sh"
"$py" "$src/tests/oracle/onnx_oracle.py" "$sslc" "$work" vitcrop
