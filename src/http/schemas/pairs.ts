/** SPEC section 11: pairs (the server API matches and unmatches; a user may unmatch). */
import { Type } from "@sinclair/typebox";
import { PAIR_SCREENS } from "../../core/pairs.js";
import { Nullable, UserId } from "../../core/schema-kit.js";
import { OkSchema, UserParams } from "./common.js";
import { defineRoute } from "./route.js";

const Screen = Type.Unsafe<(typeof PAIR_SCREENS)[number]>({
  type: "string",
  enum: [...PAIR_SCREENS],
  description: "The pair's contact-info screen (SPEC 12); null follows the server's --screen.",
  errorMessage: `must be null or one of ${PAIR_SCREENS.join(", ")}`,
});

export const PairSchema = Type.Object(
  {
    users: Type.Array(UserId(), { minItems: 2, maxItems: 2, description: "The two users, sorted." }),
    since: Type.Integer({ description: "When the pair was (last) matched, ms since the epoch." }),
    screen: Nullable(Screen),
  },
  { title: "Pair" },
);

const PairParams = Type.Object({ a: UserId("One user of the pair."), b: UserId("The other user.") });

const History = Type.Object({
  history: Type.Optional(
    Type.Union([Type.Literal("keep"), Type.Literal("delete")], {
      default: "delete",
      description: "keep leaves the conversation; delete (the default) erases it for both.",
      errorMessage: "must be keep or delete",
    }),
  ),
});

export function pairsApi() {
  return {
    match: defineRoute({
      id: "matchPair",
      method: "PUT",
      path: "/v1/admin/pairs/:a/:b",
      tag: "server",
      auth: "apiKey",
      summary: "Match two users (idempotent)",
      description:
        'Both get a stored {"type":"pair","state":"matched"} event when the pair is new. The body may be absent.',
      params: PairParams,
      body: Type.Object(
        { screen: Type.Optional(Nullable(Screen)) },
        { additionalProperties: false, title: "MatchBody" },
      ),
      responses: {
        201: { description: "Matched now.", schema: Type.Object({ pair: PairSchema }) },
        200: {
          description: "Matched already (its screen may have changed).",
          schema: Type.Object({ pair: PairSchema }),
        },
      },
      errors: ["store_unavailable"],
    }),
    list: defineRoute({
      id: "listPairs",
      method: "GET",
      path: "/v1/admin/pairs/:user",
      tag: "server",
      auth: "apiKey",
      summary: "A user's pairs, newest first",
      params: UserParams,
      responses: {
        200: {
          description: "The pairs.",
          schema: Type.Object({ pairs: Type.Array(PairSchema) }, { title: "Pairs" }),
        },
      },
      errors: ["store_unavailable"],
    }),
    unmatch: defineRoute({
      id: "unmatchPair",
      method: "DELETE",
      path: "/v1/admin/pairs/:a/:b",
      tag: "server",
      auth: "apiKey",
      summary: "Unmatch two users",
      description: "Unless history=keep, the conversation is erased for both; both get a pair event.",
      params: PairParams,
      query: History,
      responses: { 200: { description: "Unmatched.", schema: OkSchema } },
      errors: ["not_found", "store_unavailable"],
    }),
    unmatchMine: defineRoute({
      id: "unmatch",
      method: "DELETE",
      path: "/v1/pairs/:peer",
      tag: "user",
      auth: "user",
      summary: "Unmatch the user and peer",
      description: "As the server API's unmatch, by either user of the pair.",
      params: Type.Object({ peer: UserId("The other user of the pair.") }),
      query: History,
      responses: { 200: { description: "Unmatched.", schema: OkSchema } },
      errors: ["not_found", "store_unavailable"],
    }),
  };
}
