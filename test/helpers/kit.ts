/**
 * What every test and benchmark client shares: one `sleep`, one `freePort`, one token signer
 * (`signToken`, through jose), and `at()`/`take()`: `noUncheckedIndexedAccess` types `list[i]` as
 * possibly missing; `at()` reads it and fails the test, naming the index, when it is missing.
 */
import { createServer } from "node:net";
import { SignJWT } from "jose";

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A TCP port on 127.0.0.1 free at the time of asking (for servers that cannot listen on 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** An HS256 token for `user` (sub), valid for `ttlSeconds`, signed with `secret` as an app backend would. */
export function signToken(user: string, secret: string, ttlSeconds: number): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(user)
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(new TextEncoder().encode(secret));
}

/** `list[index]` or `record[key]`, or a thrown error saying it is missing (a failed test, not a TypeError). */
export function at<T>(list: ArrayLike<T>, index: number): T;
export function at<T>(record: Readonly<Record<string, T>>, key: string): T;
export function at<T>(container: ArrayLike<T> | Readonly<Record<string, T>>, key: number | string): T {
  const value = (container as Readonly<Record<number | string, T>>)[key];
  if (value === undefined) throw new Error(`Expected an element at ${JSON.stringify(key)}.`);
  return value;
}

type Tuple<T, N extends number, Acc extends T[] = []> = Acc["length"] extends N
  ? Acc
  : Tuple<T, N, [...Acc, T]>;

/** The first `count` elements of `list` as a tuple (to destructure), failing the test when there are fewer. */
export function take<T, const N extends number>(list: readonly T[], count: N): Tuple<T, N> {
  if (list.length < count) throw new Error(`Expected at least ${count} elements, got ${list.length}.`);
  return list.slice(0, count) as Tuple<T, N>;
}
