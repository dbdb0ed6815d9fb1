#!/bin/bash
# Runs and spelling (issue 14 items 3 and 5): `sslc train --resume` takes the run directory,
# accepts the same command line when its options match the run's plan, names the first option
# that differs, refuses another method's run and never picks a run by itself; train prints its
# resolved recipe; `sslc methods METHOD` shows both commands' defaults; `sslc run` says when it
# trains on fake data; misspelt methods, backbones, commands, options and --set names get the
# nearest name; method names are case-insensitive; a command that fails before training leaves
# no run directory behind; errors a different option fixes name it, before compiling.
# Args: SSLC_BINARY SOURCE_DIR
sslc=$(realpath "$1"); src=$(realpath "$2")
source "$src/tests/tools/cli_checks.sh"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
cd "$work" || exit 1
tiny=(--backbone convnet --width 0.25 --image-size 16 --channels 1 --batch 8)
data=(--data fake:64:1x16x16)

# --- suggestions, one per kind of name
expect_error "command" "unknown command 'trian' (did you mean 'train'?" "$sslc" trian
expect_error "method (compile)" "unknown method 'simclrr' (did you mean 'simclr'?" "$sslc" compile simclrr -o x.plan
expect_error "method (methods)" "unknown method 'bayol' (did you mean 'byol'?" "$sslc" methods bayol
expect_error "method (train)" "unknown method 'simcrl' (did you mean 'simclr'?" "$sslc" train simcrl
expect_error "backbone" "unknown backbone 'resnt18' (did you mean 'resnet18'?" "$sslc" compile simclr --backbone resnt18 -o x.plan
expect_error "--set name (compile)" "simclr has no option 'temprature' (did you mean 'temperature'?" \
    "$sslc" compile simclr --set temprature=0.1 -o x.plan
expect_error "--set name (train)" "has no option 'temprature' (did you mean 'temperature'?" \
    "$sslc" train simclr "${tiny[@]}" "${data[@]}" --set temprature=0.1
expect_error "--set value" "option temperature: 'warm' is not a valid number" \
    "$sslc" compile simclr --set temperature=warm -o x.plan
expect_error "train: a run option" "unknown option '--epoch' (did you mean '--epochs'?" "$sslc" train simclr --epoch 1
expect_error "train: a compile option" "unknown option '--optimiser' (did you mean '--optimizer'?" \
    "$sslc" train simclr --optimiser adamw
expect_error "compile: an option" "unknown option '--widht' (did you mean '--width'?" "$sslc" compile simclr --widht 1 -o x.plan
expect_error "run: an option" "unknown option '--chekpoint-every' (did you mean '--checkpoint-every'?" \
    "$sslc" run x.plan --chekpoint-every 3
expect_error "nothing near: the choices only" "unknown method 'zzzzzz' (choose one of:" "$sslc" compile zzzzzz -o x.plan
[ ! -e runs ] && ok "no run directory left behind by the failed commands" || bad "left behind: $(ls -R runs)"

# --- method names are case-insensitive; the plan records the canonical name
"$sslc" compile BYOL "${tiny[@]}" -o byol.plan >/dev/null && "$sslc" inspect byol.plan --json | grep -q '"method": *"byol"' \
    && ok "compile BYOL = byol" || bad "compile BYOL"
"$sslc" methods SimCLR | head -1 | grep -qx simclr && ok "methods SimCLR" || bad "methods SimCLR"

# --- defaults shown, and fake data said
"$sslc" methods simclr >m.txt
grep -q "temperature .*default 0.5 .*(sslc train: 0.2)" m.txt && grep -q "sslc compile .*--width 1" m.txt &&
    grep -q "sslc train  --width 0.5 --optimizer adamw" m.txt && ok "methods simclr: train's defaults beside compile's" \
    || bad "methods simclr: $(cat m.txt)"
grep -q "sslc train  --width 0.5 --optimizer adamw --weight-decay 1e-6 --lr 2e-3 --warmup-epochs 0.5 --set temperature=0.2," m.txt \
    && grep -q "(fashion-mnist), 4 epochs, --precision bf16 on a CPU with avx512_bf16" m.txt \
    && ok "methods simclr: the main job's width, rate, warm-up, bf16 shown" || bad "methods simclr: $(cat m.txt)"
"$sslc" methods byol | grep -q "(fashion-mnist), 4 epochs$" && ok "methods byol: 4 epochs, float32" || bad "methods byol"

# --- the main job's length and precision: 4 epochs, bf16 where the CPU has avx512_bf16 (the
# cpu backend), float32 where it has not (SSLC_CPU_BF16=0 pretends so) or --precision f32 says so
grep -qw avx512_bf16 /proc/cpuinfo && want=bf16 || want=f32
main_recipe() { # OUT [env and options]: the recipe line of a 1-step start of the default run
    local out=$1; shift
    env "$@" --stop-after 1 --no-eval --online-knn off --out "$out" >"$out.txt" 2>&1 || { cat "$out.txt"; return 1; }
    grep "^recipe:" "$out.txt"
}
r=$(main_recipe md "$sslc" train simclr "${tiny[@]}" "${data[@]}") && grep -q "precision $want, .*, 4 epochs," <<<"$r" \
    && got=$("$sslc" inspect md/plan.plan | grep -q "^precision bf16:" && echo bf16 || echo f32) && [ "$got" = $want ] \
    && ok "train simclr: 4 epochs in $want by default (this CPU)" || bad "train simclr default: $r"
r=$(main_recipe mf SSLC_CPU_BF16=0 "$sslc" train simclr "${tiny[@]}" "${data[@]}") && grep -q "precision f32, .*, 4 epochs," <<<"$r" \
    && ok "train simclr on a CPU without avx512_bf16: float32" || bad "train simclr without bf16: $r"
r=$(main_recipe mp "$sslc" train simclr "${tiny[@]}" "${data[@]}" --precision f32) && grep -q "precision f32, " <<<"$r" \
    && ok "train simclr --precision f32: float32" || bad "train simclr --precision f32: $r"
r=$(main_recipe mw "$sslc" train simclr --backbone convnet --image-size 16 --channels 1 --batch 8 "${data[@]}") \
    && grep -q "width 0.5, .*optimizer adamw, lr 0.002, .*(warm-up 0.5 epochs)" <<<"$r" \
    && ok "train simclr: width 0.5, AdamW 2e-3 after a half-epoch warm-up by default" || bad "train simclr width/lr: $r"
r=$(main_recipe ms "$sslc" train simclr --backbone convnet --image-size 16 --channels 1 --batch 8 "${data[@]}" --optimizer sgd) \
    && grep -q "optimizer sgd, lr 0.05, .*(warm-up 0 epochs)" <<<"$r" \
    && ok "train simclr --optimizer sgd: train's rate and warm-up left out" || bad "train simclr --optimizer sgd: $r"
r=$(main_recipe mr "$sslc" train simclr "${tiny[@]}" "${data[@]}" --device ref) && grep -q "precision f32, " <<<"$r" \
    && ok "train simclr --device ref: float32 (bf16 is the cpu backend's default only)" || bad "train simclr --device ref: $r"
r=$(main_recipe mb "$sslc" train byol "${tiny[@]}" "${data[@]}") && grep -q "precision f32, .*, 4 epochs," <<<"$r" \
    && ok "train byol: 4 epochs in float32 by default" || bad "train byol default: $r"
"$sslc" methods vicreg >m.txt
grep -q "hidden_dim .*default 8192 .*(sslc train: 1024)" m.txt && grep -q "projection_dim .*default 8192 .*(sslc train: 1024)" m.txt &&
    grep -q "sslc train  --width 0.25 --optimizer adamw --weight-decay 1e-6 --lr 3e-3 --warmup-epochs 0.5 --set hidden_dim=1024 --set projection_dim=1024," m.txt \
    && ok "methods vicreg: train's --set, learning rate and warm-up defaults shown" || bad "methods vicreg: $(cat m.txt)"
"$sslc" train vicreg --data fake:256:1x28x28 --steps 1 --no-eval --online-knn off --set hidden_dim=64 --out v1 >v.txt 2>&1 &&
    grep -q "recipe: .*optimizer adamw, lr 0.003, .*(warm-up 0.5 epochs), precision f32, projection_dim 1024, hidden_dim 64," v.txt \
    && ok "train vicreg: its defaults applied, a --set given overrides one" || bad "train vicreg: $(head -c 600 v.txt)"
"$sslc" methods barlow_twins >m.txt
grep -q "hidden_dim .*default 8192 .*(sslc train: 2048)" m.txt && grep -q "projection_dim .*default 8192 .*(sslc train: 2048)" m.txt \
    && ok "methods barlow_twins: train's 2048-wide projector shown" || bad "methods barlow_twins: $(cat m.txt)"
# with --optimizer given the optimizer's own rate and no warm-up, as for every method
"$sslc" train vicreg --data fake:256:1x28x28 --steps 1 --no-eval --online-knn off --set hidden_dim=64 --set projection_dim=64 \
    --optimizer sgd --out v2 >v.txt 2>&1 && grep -q "recipe: .*optimizer sgd, lr 0.05, .*(warm-up 0 epochs)" v.txt \
    && ok "train vicreg --optimizer sgd: train's vicreg rate and warm-up left out" || bad "train vicreg --optimizer: $(head -c 600 v.txt)"
# MAE: train picks a ViT and the reference's AdamW (beta2 0.95, weight decay 0.05); with
# --optimizer given only the backbone
"$sslc" methods mae >m.txt
grep -q "sslc train .*--backbone vit-tiny --adam-beta2 0.95 --weight-decay 0.05" m.txt \
    && ok "methods mae: train's backbone and optimizer defaults shown" || bad "methods mae: $(cat m.txt)"
"$sslc" train mae --data fake:64:1x16x16 --batch 8 --depth 1 --set decoder_depth=1 --steps 1 --no-eval --online-knn off \
    --out a1 >v.txt 2>&1 && grep -q "recipe: method mae, backbone vit-tiny, .*optimizer adamw, lr 0.001, weight decay 0.05," v.txt &&
    "$sslc" inspect a1/plan.plan 2>&1 | grep -q "beta2.*0.95" \
    && ok "train mae: vit-tiny, AdamW beta2 0.95, weight decay 0.05" || bad "train mae: $(head -c 600 v.txt)"
"$sslc" train mae --data fake:64:1x16x16 --batch 8 --depth 1 --set decoder_depth=1 --steps 1 --no-eval --online-knn off \
    --optimizer sgd --out a2 >v.txt 2>&1 && grep -q "recipe: method mae, backbone vit-tiny, .*optimizer sgd, lr 0.05, weight decay 0," v.txt \
    && ok "train mae --optimizer sgd: the backbone default alone" || bad "train mae --optimizer sgd: $(head -c 600 v.txt)"
"$sslc" compile simclr "${tiny[@]}" -o p.plan >/dev/null || bad "compile"
"$sslc" run p.plan --steps 1 >r.txt 2>&1 && grep -q "no --data: training on fake:512" r.txt \
    && ok "run without --data says it trains on fake data" || bad "run without --data: $(cat r.txt)"

# --- errors that another option fixes, before compiling (and with no directory left behind)
expect_error "too little data names --batch" "fake:4:1x16x16 train has 4 images, fewer than one batch of 8: give --batch 4" \
    "$sslc" train simclr "${tiny[@]}" --data fake:4:1x16x16 --out small
expect_error "a wrong --source-size names it" "has 16x16 (HxW) images, --source-size says 20x20: give --source-size 16x16" \
    "$sslc" train simclr "${tiny[@]}" "${data[@]}" --source-size 20 --out src
grep -q compiling "$work/out" && bad "the size error came after compiling" || ok "the size error came before compiling"
expect_error "--augment none on real images" "only fake:N data, not" \
    "$sslc" train simclr "${tiny[@]}" --augment none --data fashion-mnist --out none
[ ! -e small ] && [ ! -e src ] && [ ! -e none ] && ok "no run directories left behind" || bad "run directories left behind"
# a different --image-size than the data's: the crop resizes (source size = the data's), no error
"$sslc" train simclr --backbone convnet --width 0.25 --image-size 12 --batch 8 --data fake:64:1x16x16 --steps 1 \
    --no-eval --out resize >resize.txt 2>&1 && ok "--image-size 12 on 16x16 data trains" || bad "resize: $(tail -1 resize.txt)"

# --- the recipe, then resume cases
"$sslc" train simclr "${tiny[@]}" "${data[@]}" --steps 4 --stop-after 2 --no-eval --log-every 1 --out r1 >t1.txt 2>&1 \
    || bad "train r1: $(tail -1 t1.txt)"
recipe=$(grep '^recipe:' t1.txt)
for part in "method simclr" "backbone convnet" "width 0.25" "image 16x16x1" "optimizer adamw" "lr 0.002" \
    "schedule cosine" "temperature 0.2" "data fake:64:1x16x16" "4 steps" "global batch 8"; do
  [[ "$recipe" == *"$part"* ]] || { bad "recipe lacks '$part': $recipe"; continue; }
done
[[ "$recipe" == *"global batch 8"* && "$recipe" == *"temperature 0.2"* ]] && ok "the recipe line: $recipe"
[ "$(grep -n '^recipe:' t1.txt | cut -d: -f1)" -lt "$(grep -n '^step 1/' t1.txt | cut -d: -f1)" ] \
    && ok "the recipe comes before the first step" || bad "recipe order"
expect_error "a differing option is named" "r1 was compiled with --batch 8, this command line gives 16; drop --batch" \
    "$sslc" train simclr "${tiny[@]}" --batch 16 "${data[@]}" --steps 4 --no-eval --out r1 --resume
expect_error "a differing --set is named" "r1 was compiled with --set temperature=0.2, this command line gives 0.5" \
    "$sslc" train simclr "${tiny[@]}" "${data[@]}" --set temperature=0.5 --steps 4 --no-eval --out r1 --resume
expect_error "another method's run is refused" "r1 holds a simclr run, not byol" \
    "$sslc" train byol "${tiny[@]}" "${data[@]}" --steps 4 --no-eval --out r1 --resume
expect_error "another method's run (case-insensitive name)" "r1 holds a simclr run, not byol" "$sslc" train BYOL --resume r1
"$sslc" train simclr "${tiny[@]}" "${data[@]}" --steps 4 --no-eval --log-every 1 --out r1 --resume >t2.txt 2>&1 \
    && grep -q "resuming r1 at step 2 of 4" t2.txt && grep -q "^recipe: method simclr" t2.txt \
    && ok "the same command line with --resume appended continues the run" || bad "same line + --resume: $(tail -2 t2.txt)"
# --resume DIR, METHOD optional
"$sslc" train simclr "${tiny[@]}" "${data[@]}" --steps 4 --stop-after 2 --no-eval --out r2 >/dev/null 2>&1 || bad "train r2"
"$sslc" train --resume r2 --no-eval >t3.txt 2>&1 && grep -q "resuming r2 at step 2 of 4" t3.txt \
    && ok "sslc train --resume DIR" || bad "--resume DIR: $(tail -2 t3.txt)"
expect_error "--resume DIR that does not exist" "r9: no run directory to resume" "$sslc" train simclr --resume r9
expect_error "--resume DIR and another --out" "give the run directory once" "$sslc" train --resume r2 --out r1
# --resume with neither DIR nor --out never picks a run: it names them
mkdir -p runs && cp -r r1 runs/simclr && cp -r r2 runs/simclr-2 && rm -f runs/simclr*/.lock
expect_error "no directory: the runs are named" "which run? give its directory, e.g. sslc train --resume runs/simclr-2 (simclr runs here: runs/simclr, runs/simclr-2)" \
    "$sslc" train simclr "${tiny[@]}" "${data[@]}" --steps 8 --resume
expect_error "no directory, no method" "which run? give its directory: sslc train --resume DIR" "$sslc" train --resume
cmp -s r1/checkpoint.safetensors runs/simclr/checkpoint.safetensors && ok "neither run was touched" || bad "a run was touched"
# --resume alone with --out (no compile options) still works
"$sslc" train simclr "${tiny[@]}" "${data[@]}" --steps 4 --stop-after 2 --no-eval --out r3 >/dev/null 2>&1 || bad "train r3"
"$sslc" train simclr --resume --out r3 --no-eval >t4.txt 2>&1 && grep -q "resuming r3 at step 2 of 4" t4.txt \
    && ok "sslc train METHOD --resume --out DIR" || bad "--resume --out: $(tail -2 t4.txt)"

expect_error "a backbone shape error names the option, before compiling" "--width 0.1 gives vit-tiny an embedding dim of 19" \
    "$sslc" train simclr --backbone vit-tiny --width 0.1 --image-size 16 --channels 1 --batch 8 "${data[@]}" --out vitbad
grep -q compiling "$work/out" && bad "the width error came after compiling" || ok "the width error came before compiling"
# --- a run that fails while compiling (an unreadable ONNX backbone) leaves no directory
echo "not a model" >bad.onnx
"$sslc" train simclr --backbone bad.onnx --image-size 16 --channels 1 --batch 8 "${data[@]}" --out onnxbad >/dev/null 2>&1 \
    && bad "a garbage ONNX backbone trained"
[ ! -e vitbad ] && [ ! -e onnxbad ] && ok "no directory after a failed compile" || bad "left: $(ls -A vitbad onnxbad 2>&1)"

# --- eval.json and the log agree on the linear probe's epochs (small data trains longer than 30)
"$sslc" eval r2 "${data[@]}" --linear >ev.txt 2>&1 || bad "eval r2: $(tail -1 ev.txt)"
logged=$(sed -n 's/.* \([0-9]*\) epochs of .*/\1/p' ev.txt)
json=$(sed -n 's/.*"linear_epochs": \([0-9]*\).*/\1/p' r2/eval.json)
[ -n "$logged" ] && [ "$logged" = "$json" ] && ok "eval.json says the $logged linear epochs the log says" \
    || bad "linear epochs: log '$logged', eval.json '$json'"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
