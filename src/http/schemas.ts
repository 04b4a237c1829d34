/**
 * JSON schemas of every input. Fastify validates with Ajv before a handler
 * runs; types are not coerced (a number where a string belongs is a 400) and
 * unknown fields are ignored (API.md, Limits). Lengths here are generous outer
 * bounds; the core applies the exact rules after Unicode normalisation.
 */
const str = (maxLength: number, minLength = 0) => ({ type: 'string', minLength, maxLength }) as const;

export const registerBody = {
  type: 'object',
  required: ['username', 'password'],
  properties: { username: str(256, 1), password: str(1024, 1), name: str(512) },
} as const;
export interface RegisterBody {
  username: string;
  password: string;
  name?: string;
}

export const loginBody = {
  type: 'object',
  required: ['username', 'password', 'mode'],
  properties: {
    username: str(256, 1),
    password: str(1024, 1),
    mode: { type: 'string', enum: ['session', 'jwt', 'hybrid'] },
    refresh_in_body: { type: 'boolean' },
  },
} as const;
export interface LoginBody {
  username: string;
  password: string;
  mode: 'session' | 'jwt' | 'hybrid';
  refresh_in_body?: boolean;
}

export const refreshBody = {
  anyOf: [{ type: 'null' }, { type: 'object', properties: { refresh_token: str(128, 1) } }],
} as const;
export type RefreshBody = { refresh_token?: string } | null | undefined;

export const passwordBody = {
  type: 'object',
  required: ['current_password', 'new_password'],
  properties: { current_password: str(1024, 1), new_password: str(1024, 1) },
} as const;
export interface PasswordBody {
  current_password: string;
  new_password: string;
}

export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: str(64, 1) },
} as const;
export interface IdParams {
  id: string;
}

export const usersQuery = {
  type: 'object',
  properties: {
    q: str(256),
    limit: { type: 'string', pattern: '^(100|[1-9][0-9]?)$' },
    cursor: str(512),
  },
} as const;
export interface UsersQuery {
  q?: string;
  limit?: string;
  cursor?: string;
}

export const patchUserBody = {
  type: 'object',
  properties: { role: { type: 'string', enum: ['user', 'admin'] }, disabled: { type: 'boolean' } },
} as const;
export interface PatchUserBody {
  role?: 'user' | 'admin';
  disabled?: boolean;
}

export const revocationsQuery = {
  type: 'object',
  properties: { since: str(128) },
} as const;
export interface RevocationsQuery {
  since?: string;
}

