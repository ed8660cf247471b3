/**
 * What every test and benchmark client shares. `noUncheckedIndexedAccess` types `list[i]` as
 * possibly missing; `at()` reads it and fails the test, naming the index, when it is missing.
 */

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
