import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { findToken, type Role } from '@ocr/db';
import { apiError } from '../errors.js';

/** Who is calling. */
export interface Principal {
  tokenId: string;
  name: string;
  role: Role;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** Least role a route needs; `public` needs no token. */
    role?: Role | 'public' | 'any';
    /** The route stores text after sanitising it (NUL, lone surrogates) instead of refusing it. */
    sanitizesText?: boolean;
  }
  interface FastifyInstance {
    authenticate(token: string | undefined): Promise<Principal>;
  }
}

const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3, worker: 0 };

/**
 * Does `role` satisfy a route's `required` role? admin > operator > viewer for the product routes; the
 * worker role reaches the worker protocol only (and admin reaches everything).
 */
export function allowed(role: Role, required: Role | 'any'): boolean {
  if (required === 'any' || role === 'admin') return true;
  if (required === 'worker') return role === 'worker';
  if (role === 'worker') return false;
  return RANK[role] >= RANK[required];
}

const CACHE_MS = 5_000;

/**
 * Bearer-token authentication with a short in-process cache (a revoked token stops working within
 * CACHE_MS on every replica), then a role check from the route's `config.role`.
 */
export const auth = fp(async (app: FastifyInstance) => {
  const cache = new Map<string, { principal: Principal | null; until: number }>();

  app.decorate('authenticate', async (token: string | undefined): Promise<Principal> => {
    if (!token) throw apiError('unauthorized', 'missing bearer token');
    const hit = cache.get(token);
    const now = Date.now();
    let principal = hit && hit.until > now ? hit.principal : undefined;
    if (principal === undefined) {
      const row = await findToken(app.db, token);
      principal = row ? { tokenId: row.id, name: row.name, role: row.role } : null;
      if (cache.size > 10_000) cache.clear();
      cache.set(token, { principal, until: now + CACHE_MS });
    }
    if (!principal) throw apiError('unauthorized', 'invalid or revoked token');
    return principal;
  });

  app.addHook('onRequest', async (request: FastifyRequest) => {
    const required = request.routeOptions.config?.role;
    if (!required || required === 'public') return;
    const header = request.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    request.principal = await app.authenticate(token);
    if (!allowed(request.principal.role, required)) {
      throw apiError('forbidden', `this route needs the ${required} role; your token has ${request.principal.role}`);
    }
  });
});
