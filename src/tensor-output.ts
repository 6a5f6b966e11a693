import { encodeFloat16Bits, float16Like } from './float16';
import type { BackwardResult, Float16BackwardResult, Float16Data, Float16ForwardTrainResult, ForwardTrainResult, TensorDtype } from './types';

/**
 * The tensors of a host-array result in the call's storage. Both paths compute on float32 values
 * (float16 inputs decoded, a float16 GPU result read back and decoded); with dtype 'float16' the
 * tensors go back as float16 arrays of the kind the input was (Float16Array or Uint16Array),
 * rounded to nearest even here (exact for values the GPU already stored as float16).
 */
export function tensorOutput(values: Float32Array, dtype: TensorDtype, like: unknown): Float32Array | Float16Data {
  return dtype === 'float16' ? float16Like(encodeFloat16Bits(values), like) : values;
}

export function forwardTrainOutput(result: ForwardTrainResult, dtype: TensorDtype, like: unknown): ForwardTrainResult | Float16ForwardTrainResult {
  if (dtype === 'float32') return result;
  return { ...result, y: tensorOutput(result.y, dtype, like) };
}

export function backwardOutput(result: BackwardResult, dtype: TensorDtype, like: unknown): BackwardResult | Float16BackwardResult {
  if (dtype === 'float32') return result;
  const out: Float16BackwardResult = { ...result, dx: tensorOutput(result.dx, dtype, like) } as Float16BackwardResult;
  if (result.dz) out.dz = tensorOutput(result.dz, dtype, like);
  return out;
}
