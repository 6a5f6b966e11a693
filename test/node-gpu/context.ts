/** What the node-gpu global setup hands to its test files (vitest `inject('nodeGpu')`). */
export type NodeGpuContext =
  | {
      available: true;
      /** Folder of the library built by Vite, as published: node.js, node-host.js, index.js, … */
      libDir: string;
      /** Environment that gives the GPU host its Vulkan driver (SwiftShader here). */
      env: Record<string, string>;
      adapterDescription: string;
    }
  | { available: false; reason: string; libDir: string; env: Record<string, string> };

declare module 'vitest' {
  export interface ProvidedContext {
    nodeGpu: NodeGpuContext;
  }
}
