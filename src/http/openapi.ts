/** The OpenAPI document, generated from the same zod schemas that validate requests. */
import { z } from 'zod';
import { elementSchema, motionSchema } from '../catalog/models.ts';

let cached: object | null = null;

const errorEnvelope = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        type: { type: 'string' },
        param: { type: ['string', 'null'] },
        request_id: { type: 'string' },
      },
    },
  },
};

const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const ok = (description: string) => ({ '200': { description }, default: { description: 'error', ...json(errorEnvelope) } });

export function openApiDocument(): object {
  if (cached) return cached;
  const generation = { oneOf: [z.toJSONSchema(motionSchema, { io: 'input' }), z.toJSONSchema(elementSchema, { io: 'input' })] };
  const taskId = [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }];
  cached = {
    openapi: '3.1.0',
    info: { title: 'reelroute', version: '0.1.0', description: 'Cost-aware routing gateway for asynchronous video-generation APIs' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths: {
      '/v1/videos/generations': { post: { summary: 'Create a task', requestBody: json(generation), responses: ok('the task object') } },
      '/v1/videos/generations/estimate': { post: { summary: 'Quote a task without creating it', requestBody: json(generation), responses: ok('the estimate') } },
      '/v1/videos/generations/{id}': { get: { summary: 'Get a task', parameters: taskId, responses: ok('the task object') } },
      '/v1/tasks/{id}': { get: { summary: 'Get a task', parameters: taskId, responses: ok('the task object') } },
      '/v1/tasks': { get: { summary: 'List tasks, newest first', responses: ok('a list of tasks') } },
      '/v1/tasks/{id}/cancel': { post: { summary: 'Cancel a task', parameters: taskId, responses: ok('the task object') } },
      '/v1/models': { get: { summary: 'Canonical models, limits and price ranges', responses: ok('a list of models') } },
      '/admin/keys': { get: { summary: 'List keys', responses: ok('keys') }, post: { summary: 'Create a key', responses: ok('the key with its secrets') } },
      '/admin/providers': { get: { summary: 'Providers with prices and health', responses: ok('providers') } },
      '/admin/providers/{id}': { patch: { summary: 'Enable, re-tier or re-price a provider (live, stored, audited)', parameters: taskId, responses: ok('the provider') } },
      '/admin/audit': { get: { summary: 'Admin changes, newest first', responses: ok('audit entries') } },
      '/admin/spend': { get: { summary: 'Spend report by day, key, model, provider (JSON or CSV)', responses: ok('the report') } },
      '/v1/tasks/{id}/callbacks': { get: { summary: 'Callback delivery attempts', parameters: taskId, responses: ok('deliveries') } },
      '/v1/tasks/{id}/callbacks/retry': { post: { summary: 'Re-send the latest callback (same webhook-id)', parameters: taskId, responses: ok('the delivery') } },
      '/healthz': { get: { summary: 'Liveness (database answers)', security: [], responses: ok('ok') } },
    },
  };
  return cached;
}
