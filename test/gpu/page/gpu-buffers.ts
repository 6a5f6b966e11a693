/** Small helpers for the page-side tests: upload to a new storage buffer, read one back. */
import { decodeFloat16 } from '../../../src/index';

/** A storage buffer holding `data` (float32 values, or float16 bits in a Uint16Array). */
export function storageBuffer(device: GPUDevice, label: string, data: Float32Array | Uint16Array): GPUBuffer {
  const buffer = device.createBuffer({
    label: `test.${label}`,
    size: Math.max(16, Math.ceil(data.byteLength / 16) * 16),
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    mappedAtCreation: true,
  });
  new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  buffer.unmap();
  return buffer;
}

async function readBytes(device: GPUDevice, buffer: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
  const staging = device.createBuffer({ label: 'test.readback', size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder({ label: 'test.readback' });
  encoder.copyBufferToBuffer(buffer, 0, staging, 0, bytes);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const data = staging.getMappedRange().slice(0);
  staging.unmap();
  staging.destroy();
  return data;
}

export async function readBuffer(device: GPUDevice, buffer: GPUBuffer, length: number): Promise<Float32Array> {
  return new Float32Array(await readBytes(device, buffer, length * 4));
}

/** The first `length` float16 values of a buffer, as bits (whole 4-byte words are copied). */
export async function readBits(device: GPUDevice, buffer: GPUBuffer, length: number): Promise<Uint16Array> {
  return new Uint16Array(await readBytes(device, buffer, Math.ceil(length / 2) * 4), 0, length);
}

/** The first `length` float16 values of a buffer, decoded. */
export async function readHalf(device: GPUDevice, buffer: GPUBuffer, length: number): Promise<Float32Array> {
  return decodeFloat16(await readBits(device, buffer, length));
}
