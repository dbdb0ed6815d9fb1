#!/bin/bash
# Hostile inputs (issue 15): every reader of user input refuses, with one line and promptly,
# what would otherwise block or exhaust it. A FIFO given as a plan, checkpoint, ONNX model,
# folder: image, CIFAR batch or IDX file is "not a regular file" (it used to block in open()
# forever). Args: SSLC_BINARY SOURCE_DIR
sslc=$(realpath "$1"); src=$(realpath "$2")
source "$src/tests/tools/cli_checks.sh"
t() { timeout 10 "$sslc" "$@"; } # a hang shows as rc 124 and fails expect_error

"$sslc" compile simclr --backbone convnet --width 0.25 --image-size 16 --channels 1 --batch 8 \
    -o "$work/p.plan" >/dev/null || bad "compile"
"$sslc" run "$work/p.plan" --data fake:16:1x16x16 --steps 1 --out "$work/run" >/dev/null 2>&1 || bad "run"

# --- A. FIFOs: refused before any read, within the timeout, in one line
mkfifo "$work/fifo"
nrf="is not a regular file"
expect_error "fifo plan (run)" "$nrf" t run "$work/fifo"
expect_error "fifo plan (inspect)" "$nrf" t inspect "$work/fifo"
ln -s "$work/fifo" "$work/model.onnx"
expect_error "fifo onnx model" "$nrf" t compile simclr --backbone "$work/model.onnx" -o "$work/x.plan"
mkdir "$work/ck" && cp "$work/run/plan.plan" "$work/ck/" && mkfifo "$work/ck/checkpoint.safetensors"
expect_error "fifo checkpoint (export)" "$nrf" t export "$work/ck" -o "$work/x.onnx"
cp "$work/run/metrics.jsonl" "$work/ck/"
expect_error "fifo checkpoint (resume)" "$nrf" t run --resume "$work/ck" --steps 2
mkdir -p "$work/folder/cat" && mkfifo "$work/folder/cat/a.png" "$work/folder/cat/b.jpg"
expect_error "fifo folder: png" "$nrf" t run "$work/p.plan" --data "folder:$work/folder" --steps 1
rm "$work/folder/cat/a.png"
expect_error "fifo folder: jpeg" "$nrf" t run "$work/p.plan" --data "folder:$work/folder" --steps 1
mkdir "$work/cifar" && mkfifo "$work/cifar/data_batch_1.bin"
expect_error "fifo cifar batch" "$nrf" t run "$work/p.plan" --data "cifar10:$work/cifar" --steps 1
mkdir "$work/idx" && mkfifo "$work/idx/train-images-idx3-ubyte.gz"
expect_error "fifo idx file" "$nrf" t run "$work/p.plan" --data "fashion-mnist:$work/idx" --steps 1

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
