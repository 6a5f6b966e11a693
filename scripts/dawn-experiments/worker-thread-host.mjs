// The worker of worker-thread.mjs: owns the Dawn device and runs the library's engine.
import { parentPort } from 'node:worker_threads';
import { lib } from './common.mjs';

const { create, globals } = await import('webgpu');
Object.assign(globalThis, globals);
const bn = await lib.createBatchNorm({ backend: 'webgpu', gpu: create([]) });
parentPort.on('message', async (message) => {
  if (message.type === 'dispose') {
    bn.dispose();
    parentPort.close(); // nothing keeps the worker alive now: it ends by itself
    return;
  }
  const x = new Float32Array(message.x);
  const out = await bn.forwardTrain(x, message.opts);
  parentPort.postMessage({ id: message.id, mean: out.mean, y: out.y.buffer }, [out.y.buffer]);
});
parentPort.postMessage({ type: 'ready' });
