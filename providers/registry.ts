/** Adapter type name → factory. Adding a provider is one line here. */
import type { AdapterFactory } from './types.ts';
import { falFactory } from './fal/adapter.ts';
import { klingFactory } from './kling/adapter.ts';
import { kieFactory } from './kie/adapter.ts';
import { piapiFactory } from './piapi/adapter.ts';
import { evolinkFactory } from './evolink/adapter.ts';
import { wavespeedFactory } from './wavespeed/adapter.ts';
import { replicateFactory } from './replicate/adapter.ts';

export const ADAPTERS: ReadonlyMap<string, AdapterFactory> = new Map(
  [klingFactory, falFactory, replicateFactory, kieFactory, piapiFactory, evolinkFactory, wavespeedFactory].map((f) => [f.type, f]),
);
