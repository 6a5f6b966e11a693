import type { ImplementationName } from './implementations';

/** What the portable projects' global setup hands to their test file (vitest `inject('portable')`). */
export type PortableContext =
  | { available: true; implementation: ImplementationName; suitePath: string; adapter: string }
  | { available: false; implementation: ImplementationName; reason: string };

declare module 'vitest' {
  export interface ProvidedContext {
    portable: PortableContext;
  }
}
