/** Adapter type name → emulator starter, for demo mode, tests, benchmarks and drills. */
import type { Emulator, EmulatorOptions } from './emulator-kit.ts';
import { startFalEmulator } from './fal/emulator.ts';
import { startKlingEmulator } from './kling/emulator.ts';
import { startKieEmulator } from './kie/emulator.ts';
import { startPiapiEmulator } from './piapi/emulator.ts';
import { startEvolinkEmulator } from './evolink/emulator.ts';
import { startWavespeedEmulator } from './wavespeed/emulator.ts';
import { startReplicateEmulator } from './replicate/emulator.ts';

export const EMULATORS: ReadonlyMap<string, (opts?: EmulatorOptions) => Promise<Emulator>> = new Map([
  ['kling', startKlingEmulator],
  ['fal', startFalEmulator],
  ['replicate', startReplicateEmulator],
  ['kie', startKieEmulator],
  ['piapi', startPiapiEmulator],
  ['evolink', startEvolinkEmulator],
  ['wavespeed', startWavespeedEmulator],
]);
