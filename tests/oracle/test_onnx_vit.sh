#!/bin/bash
# ONNX: a small torchvision ViT from torch.onnx.export (opset 13 and 17) imported by sslc: forward
# equals ONNX Runtime's (<= 1e-4); SimCLR trains on it; export -> import -> export gives the same
# outputs; a token-sequence output is refused with one line. Args: SSLC_BINARY SOURCE_DIR
set -e
sslc=$1
. "$2/tests/oracle/onnx_env.sh"
"$py" "$src/tests/oracle/onnx_oracle.py" "$sslc" "$work" vit
