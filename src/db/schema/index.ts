export * from './keys.ts';
export * from './tasks.ts';
export * from './ledger.ts';
export * from './delivery.ts';
export * from './admin.ts';
export * from './spend.ts';
export * from './sessions.ts';
export * from './health.ts';
