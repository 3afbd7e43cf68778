/** The Hono environment: variables every route can read. */
import type { ApiKeyRow } from '../db/schema/index.ts';

export interface AppEnv {
  Variables: {
    requestId: string;
    apiKey: ApiKeyRow;
  };
}
