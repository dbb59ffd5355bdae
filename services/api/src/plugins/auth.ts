import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { LRUCache } from 'lru-cache';
import { findToken, type Role } from '@ocr/db';
import { apiError } from '../errors.js';
import type { Scope } from '../scope.js';

/** Who is calling, and the lanes and templates its token is limited to (see scope.ts). */
export interface Principal extends Scope {
  tokenId: string;
  name: string;
  role: Role;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** Least role a route needs; `public` needs no token. Every route must say (deny by default). */
    role?: Role | 'public' | 'any';
    /** The route stores text after sanitising it (NUL, lone surrogates) instead of refusing it. */
    sanitizesText?: boolean;
  }
  interface FastifyInstance {
    /**
     * The principal of a token value, from a short cache; throws `unauthorized` (or `rate_limited` when
     * the client address has spent its budget of failures).
     */
    authenticate(token: string | undefined, options?: AuthOptions): Promise<Principal>;
    /** A token was revoked here: forget its cached verdicts and end what it holds open (sockets). */
    tokenRevoked(tokenId: string): void;
    /** Call `end` when this token is revoked on this replica; returns the unsubscribe. */
    onTokenRevoked(tokenId: string, end: () => void): () => void;
    /** Set (to true) in an encapsulated scope whose routes without a role are public on purpose. */
    publicScope?: boolean;
  }
}

export interface AuthOptions {
  /** Use a cached verdict only if it is younger than this (default: the cache TTL). */
  maxAgeMs?: number;
  /** The client address: failed authentications are budgeted per address. */
  from?: string;
}

const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3, worker: 0 };
const CACHE_ENTRIES = 10_000;
const FAILURE_WINDOW_MS = 60_000;

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

/** The bearer token of an `Authorization` header, if it has one. */
export function bearerToken(header: string | undefined): string | undefined {
  return header?.startsWith('Bearer ') ? header.slice(7).trim() || undefined : undefined;
}

/**
 * Bearer-token authentication with a bounded in-process cache (LRU, OCR_AUTH_CACHE_MS: a token revoked
 * on another replica stops working within it), a per-address budget of failed authentications (an address
 * past it gets 429 instead of a database lookup, so a flood of bad tokens costs at most that many lookups;
 * cached tokens keep working), then a role check from the route's
 * `config.role`. A route without a role refuses to register: a forgotten role must never mean public.
 */
export const auth = fp(async (app: FastifyInstance) => {
  const ttl = app.config.OCR_AUTH_CACHE_MS;
  // Verdicts, good and bad, keyed by token value; least recently used evicted first, never wiped whole.
  const cache = new LRUCache<string, { principal: Principal | null; at: number }>({
    max: CACHE_ENTRIES,
    ttl: Math.max(ttl, 1),
    ttlAutopurge: false,
  });
  // Concurrent lookups of one token share one query (every socket of a token re-checks at about the same time).
  const inflight = new Map<string, Promise<Principal | null>>();
  const lookup = (token: string): Promise<Principal | null> => {
    let pending = inflight.get(token);
    if (!pending) {
      pending = (async () => {
        const row = token.length <= 500 ? await findToken(app.db, token) : undefined;
        const principal = row
          ? { tokenId: row.id, name: row.name, role: row.role, lanes: row.lanes, templates: row.templates }
          : null;
        if (ttl > 0) cache.set(token, { principal, at: Date.now() });
        return principal;
      })().finally(() => inflight.delete(token));
      inflight.set(token, pending);
    }
    return pending;
  };
  const failures = new LRUCache<string, { count: number; since: number }>({ max: CACHE_ENTRIES });
  const holders = new Map<string, Set<() => void>>();

  const overBudget = (from: string | undefined): boolean => {
    if (!from) return false;
    const entry = failures.get(from);
    return (
      !!entry &&
      Date.now() - entry.since < FAILURE_WINDOW_MS &&
      entry.count >= app.config.OCR_AUTH_FAILURES_PER_MIN
    );
  };
  const failed = (from: string | undefined): void => {
    if (!from) return;
    const now = Date.now();
    const entry = failures.get(from);
    if (!entry || now - entry.since >= FAILURE_WINDOW_MS) failures.set(from, { count: 1, since: now });
    else entry.count++;
  };
  const tooMany = () =>
    apiError('rate_limited', 'too many failed authentications from this address; retry later');

  app.decorate(
    'authenticate',
    async (token: string | undefined, options: AuthOptions = {}): Promise<Principal> => {
      if (!token) throw apiError('unauthorized', 'missing bearer token');
      const hit = cache.get(token);
      let principal: Principal | null;
      if (hit && Date.now() - hit.at < (options.maxAgeMs ?? ttl)) principal = hit.principal;
      else if (overBudget(options.from)) throw tooMany();
      else principal = await lookup(token);
      if (!principal) {
        failed(options.from);
        throw apiError('unauthorized', 'invalid or revoked token');
      }
      return principal;
    },
  );

  app.decorate('tokenRevoked', (tokenId: string) => {
    for (const [key, value] of cache.entries()) if (value.principal?.tokenId === tokenId) cache.delete(key);
    for (const end of [...(holders.get(tokenId) ?? [])]) end();
  });

  app.decorate('onTokenRevoked', (tokenId: string, end: () => void) => {
    let set = holders.get(tokenId);
    if (!set) holders.set(tokenId, (set = new Set()));
    set.add(end);
    return () => {
      set.delete(end);
      if (set.size === 0 && holders.get(tokenId) === set) holders.delete(tokenId);
    };
  });

  app.addHook('onRoute', function (this: FastifyInstance, route: RouteOptions) {
    if (route.config?.role) return;
    // Third-party plugins (OpenAPI UI, static console files) cannot declare roles: they are registered in a
    // scope marked public on purpose, and nothing else may be.
    if (this.hasDecorator('publicScope')) route.config = { ...route.config, role: 'public' };
    else
      throw new Error(
        `route ${String(route.method)} ${route.url} declares no role (config.role); refusing to serve it as public`,
      );
  });

  app.addHook('onRequest', async (request: FastifyRequest) => {
    const required = request.routeOptions.config?.role;
    // Unmatched requests (the 404 handler) carry no role and reach nothing.
    if (!required || required === 'public') return;
    request.principal = await app.authenticate(bearerToken(request.headers.authorization), {
      from: request.ip,
    });
    if (!allowed(request.principal.role, required)) {
      throw apiError(
        'forbidden',
        `this route needs the ${required} role; your token has ${request.principal.role}`,
      );
    }
  });
});
