/**
 * The tools every wire schema is made with: TypeBox builds JSON Schema objects (which the OpenAPI
 * and AsyncAPI documents embed as they are) and ajv compiles them, once, into the validators the
 * routes and frames run. A validator throws the registry's `invalid_input` with a message that
 * names the part of the request that failed (body, query, params, frame) and the field.
 */
import { type Static, type TSchema, type TUnsafe, Type } from "@sinclair/typebox";
import { Ajv, type ErrorObject } from "ajv";
import { DuetError } from "./errors.js";

/** A user id (SPEC section 2), but not "." or "..": URL paths resolve those as segments. */
export const USER_ID_PATTERN = "^(?!\\.{1,2}$)[A-Za-z0-9_.@-]{1,64}$";
/** Message ids are ULIDs (Crockford base32, 26 characters). */
export const MESSAGE_ID_PATTERN = "^[0-9A-HJKMNP-TV-Z]{26}$";

/**
 * `T | null`: a plain type as `type: [t, "null"]`, so a wrong value gets one error about its field;
 * a named schema (one with a `title`, a component of the documents) as `anyOf: [it, null]`, so the
 * documents can refer to it (ajv's first error is then the first branch's, which names the field).
 */
export function Nullable<T extends TSchema>(schema: T): TUnsafe<Static<T> | null> {
  const { type, title, enum: values } = schema as { type?: unknown; title?: unknown; enum?: unknown };
  // An `enum` must list null too, or it refuses what `type` lets through.
  if (typeof type === "string" && title === undefined)
    return Type.Unsafe<Static<T> | null>({
      ...schema,
      type: [type, "null"],
      ...(Array.isArray(values) ? { enum: [...values, null] } : {}),
    });
  return Type.Unsafe<Static<T> | null>({ anyOf: [schema, { type: "null" }] });
}

export const UserId = (description = "A user id.") =>
  Type.String({
    pattern: USER_ID_PATTERN,
    description,
    errorMessage: "must be 1-64 characters of A-Z a-z 0-9 _ . @ - (and not . or ..)",
  });

export const MessageId = (description = "A message id (a ULID).") =>
  Type.String({ pattern: MESSAGE_ID_PATTERN, description, errorMessage: "must be a message id" });

/** The parts of a request or frame a validator checks, as its error messages name them. */
export type Part = "body" | "query" | "params" | "frame" | "text";

/**
 * ajv warns that `unicode: false` is deprecated; it is still the only way to count String#length.
 * Every other warning is passed on.
 */
const logger = {
  log: console.log,
  warn: (...args: unknown[]) => {
    if (!String(args[0]).startsWith("DEPRECATED: option unicode")) console.warn(...args);
  },
  error: console.error,
};

/**
 * One ajv for the server's validators. `unicode: false`: lengths count UTF-16 code units, as
 * String#length does and the limits always have: counting code points walks the string (twice,
 * for minLength and maxLength), ~3 µs for 200 characters on the send path, against nothing.
 * `errorMessage` is an annotation a schema may carry: the phrase its field's error uses instead of
 * ajv's. `verbose` gives an error its schema (where that phrase is); it costs nothing until a
 * value fails.
 */
export function createAjv(): Ajv {
  const ajv = new Ajv({ allowUnionTypes: true, verbose: true, unicode: false, logger });
  ajv.addKeyword({ keyword: "errorMessage", schemaType: "string" });
  return ajv;
}

const ajv = createAjv();

/** Compiles `schema` once; the function it returns throws `invalid_input` naming what failed. */
export function compile<T extends TSchema>(schema: T, part: Part): (value: unknown) => Static<T> {
  const check = ajv.compile(schema);
  return (value: unknown) => {
    if (check(value)) return value as Static<T>;
    throw new DuetError("invalid_input", describeError(part, check.errors?.[0]));
  };
}

/** `body.links[0].url` from `/links/0/url`. */
function fieldOf(part: Part, pointer: string): string {
  let out: string = part;
  for (const raw of pointer.split("/").slice(1)) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    out += /^\d+$/.test(key) ? `[${key}]` : `.${key.slice(0, 40)}`;
  }
  return out;
}

export function describeError(part: Part, error: ErrorObject | undefined): string {
  if (error === undefined) return `The ${part} is invalid.`;
  const where = fieldOf(part, error.instancePath);
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "additionalProperties":
      return `Unknown field "${String(params.additionalProperty).slice(0, 40)}" in ${where}.`;
    case "required":
      return `${where}.${String(params.missingProperty)} is required.`;
    case "type":
      if (error.instancePath === "" && part !== "query" && part !== "params")
        return `The ${part} must be a JSON object.`;
  }
  const custom = (error.parentSchema as { errorMessage?: unknown } | undefined)?.errorMessage;
  if (typeof custom === "string" && error.keyword !== "type") return `${where} ${custom}.`;
  return `${where} ${error.message ?? "is invalid"}.`;
}
