# Sourced by the CLI tests that run every method: small method options (heads, queues,
# prototypes) so that every plan train in seconds. Not a test itself.
declare -A opts=(
  [barlow_twins]="projection_dim=32 hidden_dim=32"
  [byol]="projection_dim=16 hidden_dim=32"
  [dino]="projection_dim=32 hidden_dim=32 bottleneck_dim=16 num_crops=2"
  [moco]="K=64 projection_dim=16"
  [mocov2]="K=64 projection_dim=16"
  [mocov3]="projection_dim=16 hidden_dim=32"
  [simclr]="projection_dim=16"
  [simclrv2]="projection_dim=16"
  [simsiam]="projection_dim=16 hidden_dim_proj=16 hidden_dim_pred=8"
  [supcon]="projection_dim=16"
  [swav]="projection_dim=16 hidden_dim=32 num_prototypes=32 num_crops=2"
  [vicreg]="projection_dim=16 hidden_dim=32"
  [nnclr]="queue_size=64 proj_hidden_dim=32 proj_output_dim=16 pred_hidden_dim=32"
  [mae]="decoder_embed_dim=16 decoder_depth=1 decoder_num_heads=2"
)
# methods bound to a kind of backbone (MAE reconstructs a ViT's patches): the backbone arguments
# the tests use for them in place of their ResNet or convnet
declare -A vit_only=([mae]="--backbone vit-tiny --depth 1")
