/** The wire shape of every error (SPEC section 4), its codes taken from the one registry. */
import { Type } from "@sinclair/typebox";
import { ERRORS, type ErrorCode } from "./errors.js";

export const ErrorCodeSchema = Type.Unsafe<ErrorCode>({
  type: "string",
  enum: Object.keys(ERRORS),
  description: "A code of the error registry (docs/ERRORS.md).",
});

export const ErrorObjectSchema = Type.Object(
  {
    code: ErrorCodeSchema,
    message: Type.String({ description: "For a person; may change between versions." }),
  },
  { title: "ErrorObject" },
);

export const ErrorBodySchema = Type.Object({ error: ErrorObjectSchema }, { title: "ErrorBody" });
