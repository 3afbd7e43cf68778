/**
 * The OpenAPI 3.1 document: request bodies generated from the same zod schemas that validate them,
 * responses from ./openapi-schemas.ts. Every route the app serves is listed (a test compares this
 * document with the app's own route table); only the dashboard's pages are left to /dashboard.
 */
import { z } from 'zod';
import { elementSchema, motionSchema } from '../catalog/models.ts';
import { routeSchema } from '../routing/preferences.ts';
import { keyCreateBody, keyCreditBody, keyPatchBody } from './admin/keys.ts';
import { patchBody as providerPatchBody } from './admin/providers.ts';
import * as S from './openapi-schemas.ts';

let cached: object | null = null;

const schemaOf = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const errors = { default: { description: 'an error (CONTRACT §3 envelope)', ...json(ref('Error')) } };
const ok = (description: string, schema?: object) => ({ '200': { description, ...(schema ? json(schema) : {}) }, ...errors });
const path = (name: string, description = `the ${name}`) => ({ name, in: 'path', required: true, description, schema: { type: 'string' } });
const query = (name: string, description: string, schema: object = { type: 'string' }) => ({ name, in: 'query', required: false, description, schema });
const page = [query('limit', 'page size (default 20)', { type: 'integer', minimum: 1, maximum: 100 }), query('after', 'id of the last item of the previous page')];
const period = [
  query('from', 'first UTC day, inclusive', { type: 'string', format: 'date' }),
  query('to', 'last UTC day, inclusive', { type: 'string', format: 'date' }),
  query('group_by', 'comma-separated: day, key, model, provider'),
  query('format', 'json (default) or csv', { type: 'string', enum: ['json', 'csv'] }),
];
const report = (description: string) => ({
  '200': { description, content: { 'application/json': { schema: ref('SpendReport') }, 'text/csv': { schema: { type: 'string' } } } },
  ...errors,
});
const admin = [{ adminKey: [] }];
const open: never[] = [];

function build(): object {
  const generation = { oneOf: [schemaOf(motionSchema), schemaOf(elementSchema)] };
  const id = [path('id')];
  return {
    openapi: '3.1.0',
    info: { title: 'reelroute', version: '0.1.0', description: 'Cost-aware routing gateway for asynchronous video-generation APIs' },
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'an API key (rr_…)' },
        adminKey: { type: 'http', scheme: 'bearer', description: 'REELROUTE_ADMIN_KEY' },
      },
      schemas: {
        Error: S.ErrorEnvelope,
        Task: S.Task,
        AdminTask: S.AdminTask,
        Estimate: S.Estimate,
        Key: S.Key,
        Provider: S.Provider,
        File: S.File,
        SpendReport: S.SpendReport,
        Reconciliation: S.Reconciliation,
        Route: schemaOf(routeSchema),
      },
    },
    security: [{ apiKey: [] }],
    paths: {
      '/v1/videos/generations': {
        post: {
          summary: 'Create a task (motion control or custom element)',
          parameters: [{ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string' }, description: 'replays the first answer for 24 h' }],
          requestBody: { required: true, ...json(generation) },
          responses: ok('the task object', ref('Task')),
        },
      },
      '/v1/videos/generations/estimate': {
        post: { summary: 'Quote a task without creating it (what this key would pay)', requestBody: { required: true, ...json(generation) }, responses: ok('the estimate', ref('Estimate')) },
      },
      '/v1/videos/generations/{id}': { get: { summary: 'Get a task', parameters: id, responses: ok('the task object', ref('Task')) } },
      '/v1/tasks': { get: { summary: "This key's tasks, newest first", parameters: page, responses: ok('a list of tasks', S.listOf('Task')) } },
      '/v1/tasks/{id}': { get: { summary: 'Get a task', parameters: id, responses: ok('the task object', ref('Task')) } },
      '/v1/tasks/{id}/cancel': { post: { summary: 'Cancel a task and refund its hold', parameters: id, responses: ok('the task object', ref('Task')) } },
      '/v1/tasks/{id}/callbacks': { get: { summary: 'Callback delivery attempts of a task', parameters: id, responses: ok('deliveries') } },
      '/v1/tasks/{id}/callbacks/retry': { post: { summary: 'Re-send the latest callback (same webhook-id)', parameters: id, responses: ok('the delivery') } },
      '/v1/models': { get: { summary: 'Canonical models, limits and price ranges', responses: ok('a list of models') } },
      '/v1/files': {
        post: {
          summary: 'Upload an image or video (multipart, one part named file; type read from the bytes)',
          requestBody: { required: true, content: { 'multipart/form-data': { schema: { type: 'object', properties: { file: { type: 'string', format: 'binary' } }, required: ['file'] } } } },
          responses: ok('the file', ref('File')),
        },
        get: { summary: "This key's files, newest first", parameters: page, responses: ok('a list of files', S.listOf('File')) },
      },
      '/v1/files/{id}': {
        get: { summary: 'Get a file', parameters: id, responses: ok('the file', ref('File')) },
        delete: { summary: 'Delete a file (its url then answers 404)', parameters: id, responses: ok('the deleted file') },
      },
      '/v1/usage': { get: { summary: "The calling key's own usage", parameters: period, responses: report('the usage report') } },
      '/files/{name}': {
        get: {
          summary: 'A stored file by its unguessable URL (no key; single byte ranges)',
          security: open,
          parameters: [path('name', 'the token in the file url'), { name: 'Range', in: 'header', required: false, schema: { type: 'string' } }],
          responses: { '200': { description: 'the bytes' }, '206': { description: 'a byte range' }, '404': { description: 'unknown, deleted or expired' }, '416': { description: 'unsatisfiable range' } },
        },
      },
      '/admin/keys': {
        get: { summary: 'List keys', security: admin, responses: ok('keys', S.listOf('Key')) },
        post: { summary: 'Create a key (secrets shown once)', security: admin, requestBody: { required: true, ...json(schemaOf(keyCreateBody)) }, responses: ok('the key with key and webhook_secret', ref('Key')) },
      },
      '/admin/keys/{id}': {
        patch: {
          summary: 'Rename, set budgets or default routing preferences (route)',
          security: admin,
          parameters: id,
          requestBody: { required: true, ...json(schemaOf(keyPatchBody)) },
          responses: ok('the key', ref('Key')),
        },
        delete: { summary: 'Revoke a key', security: admin, parameters: id, responses: ok('the key', ref('Key')) },
      },
      '/admin/keys/{id}/credit': {
        post: { summary: "Credit a prepaid key's balance", security: admin, parameters: id, requestBody: { required: true, ...json(schemaOf(keyCreditBody)) }, responses: ok('the key', ref('Key')) },
      },
      '/admin/providers': { get: { summary: 'Providers with prices and learned health', security: admin, responses: ok('providers', S.listOf('Provider')) } },
      '/admin/providers/{id}': {
        patch: {
          summary: 'Enable, re-tier or re-price a provider (live, stored, audited)',
          security: admin,
          parameters: id,
          requestBody: { required: true, ...json(schemaOf(providerPatchBody)) },
          responses: ok('the provider', ref('Provider')),
        },
      },
      '/admin/audit': { get: { summary: 'Admin changes, newest first', security: admin, parameters: page, responses: ok('audit entries') } },
      '/admin/spend': { get: { summary: 'Spend by day, key, model, provider (JSON or CSV)', security: admin, parameters: period, responses: report('the report') } },
      '/admin/tasks': {
        get: {
          summary: "Every key's tasks",
          security: admin,
          parameters: [query('key', 'key id'), query('status', 'task status'), query('provider', 'provider id'), query('model', 'model id'), ...page],
          responses: ok('a list of tasks', S.listOf('AdminTask')),
        },
      },
      '/admin/tasks/{id}': { get: { summary: 'A task with its key, upstream cost and ledger lines', security: admin, parameters: id, responses: ok('the task', ref('AdminTask')) } },
      '/admin/reconciliation': {
        post: {
          summary: "Compare a provider's usage statement (CSV) with what reelroute recorded",
          security: admin,
          parameters: [
            { ...query('provider', 'provider id'), required: true },
            period[0]!,
            period[1]!,
            query('id_column', 'CSV column with the upstream id (default upstream_id)'),
            query('amount_column', 'CSV column with the amount: amount_usd (default) or amount_credits'),
          ],
          requestBody: { required: true, content: { 'text/csv': { schema: { type: 'string' } } } },
          responses: ok('the reconciliation', ref('Reconciliation')),
        },
      },
      '/webhooks/{provider}/{token}': {
        post: { summary: "Status pushed by an upstream provider for one attempt (the token is the attempt's secret)", security: open, parameters: [path('provider'), path('token')], responses: ok('accepted') },
      },
      '/healthz': { get: { summary: 'Liveness (the database answers)', security: open, responses: ok('ok') } },
      '/metrics': { get: { summary: 'Prometheus metrics', security: open, responses: { '200': { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } } } } },
      '/openapi.json': { get: { summary: 'This document', security: open, responses: { '200': { description: 'OpenAPI 3.1', ...json({ type: 'object' }) } } } },
      '/docs': { get: { summary: 'Interactive API reference (served offline)', security: open, responses: { '200': { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } } } } },
    },
  };
}

/** The document (built once: it depends only on code). */
export function openApiDocument(): object {
  cached ??= build();
  return cached;
}
