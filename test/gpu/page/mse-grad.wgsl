// Test-only: the gradient of the loss Σ (y − goal)² / M with respect to y, dy = scale · (y − goal).

struct Params {
  count: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> goal: array<f32>;
@group(0) @binding(3) var<storage, read_write> dy: array<f32>;

@compute @workgroup_size(64)
fn mseGrad(@builtin(global_invocation_id) id: vec3u) {
  if (id.x < params.count) {
    dy[id.x] = params.scale * (y[id.x] - goal[id.x]);
  }
}
