/// <reference types="node" />
/**
 * `webgpu-batchnorm/node`: the library in Node.js, with the GPU through Dawn (npm package
 * `webgpu`) in a separate host process. See README, Node.js.
 */
export { createNodeBatchNorm, NodeBatchNorm, type NodeBatchNormOptions } from './node-batchnorm';
export { jsonFileTuningStore, type JsonFileTuningStore } from './json-file-store';
export { swiftShaderEnv, swiftShaderLocations } from './swiftshader';
export * from '../index';
