/// <reference types="node" />
import { existsSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';

/** Where Chrome and Chromium builds keep SwiftShader's Vulkan driver and their own Vulkan loader. */
export const swiftShaderLocations = ['/usr/lib/chromium', '/usr/lib/chromium-browser', '/opt/google/chrome', '/opt/chromium.org/chromium'];

/**
 * Environment that points Dawn at SwiftShader, the CPU Vulkan driver that ships with Chrome and
 * Chromium (Debian: `apt-get install chromium`), for machines without a GPU: VK_ICD_FILENAMES names
 * the driver, and LD_LIBRARY_PATH gains the browser's folder so that its Vulkan loader
 * (libvulkan.so.1) is found when the system has none. Looks in `dirs` (default: the folder of
 * PUPPETEER_EXECUTABLE_PATH, then swiftShaderLocations); undefined when none has the driver.
 * Pass the result as createNodeBatchNorm({ env }), or set these variables before starting Node.
 */
export function swiftShaderEnv(dirs?: string[], env: NodeJS.ProcessEnv = process.env): Record<string, string> | undefined {
  const candidates = dirs ?? [...(env.PUPPETEER_EXECUTABLE_PATH ? [dirname(env.PUPPETEER_EXECUTABLE_PATH)] : []), ...swiftShaderLocations];
  for (const dir of candidates) {
    const icd = join(dir, 'vk_swiftshader_icd.json');
    if (!existsSync(icd)) continue;
    const result: Record<string, string> = { VK_ICD_FILENAMES: icd };
    if (existsSync(join(dir, 'libvulkan.so.1'))) {
      result.LD_LIBRARY_PATH = env.LD_LIBRARY_PATH ? `${dir}${delimiter}${env.LD_LIBRARY_PATH}` : dir;
    }
    return result;
  }
  return undefined;
}
