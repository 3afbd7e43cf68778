/** Adapter type name → factory. Adding a provider is one line here. */
import type { AdapterFactory } from './types.ts';
import { falFactory } from './fal/adapter.ts';
import { replicateFactory } from './replicate/adapter.ts';

export const ADAPTERS: ReadonlyMap<string, AdapterFactory> = new Map(
  [falFactory, replicateFactory].map((f) => [f.type, f]),
);
