/** SPEC section 12: reports (users file them; the server API lists and resolves them). */
import { Type } from "@sinclair/typebox";
import { ReportReasonSchema, ReportSchema } from "../../core/report-schema.js";
import { MAX_MESSAGE_IDS, MAX_NOTE } from "../../core/safety/reports.js";
import { MessageId, Nullable, UserId } from "../../core/schema-kit.js";
import { defineRoute } from "./route.js";

const ReportAnswer = Type.Object({ report: ReportSchema }, { title: "ReportAnswer" });

export function reportsApi() {
  return {
    file: defineRoute({
      id: "fileReport",
      method: "POST",
      path: "/v1/reports",
      tag: "user",
      auth: "user",
      summary: "Report a user",
      description: "A user cannot see reports, about them or by them, once filed.",
      body: Type.Object(
        {
          user: UserId("Who is reported: someone the reporter has a conversation with."),
          reason: ReportReasonSchema,
          messageIds: Type.Optional(
            Nullable(
              Type.Array(MessageId(), {
                maxItems: MAX_MESSAGE_IDS,
                description: "Messages of the conversation with user, as evidence.",
                errorMessage: `must be an array of at most ${MAX_MESSAGE_IDS} message ids`,
              }),
            ),
          ),
          note: Type.Optional(
            Nullable(
              Type.String({
                maxLength: MAX_NOTE,
                errorMessage: `must be a string of at most ${MAX_NOTE} characters, without control characters`,
              }),
            ),
          ),
        },
        { additionalProperties: false, title: "ReportBody" },
      ),
      responses: { 201: { description: "Filed.", schema: ReportAnswer } },
      errors: ["not_found", "store_unavailable"],
    }),
    list: defineRoute({
      id: "listReports",
      method: "GET",
      path: "/v1/admin/reports",
      tag: "server",
      auth: "apiKey",
      summary: "Reports, oldest first, by status",
      query: Type.Object({
        status: Type.Optional(
          Type.Union([Type.Literal("open"), Type.Literal("resolved")], {
            default: "open",
            errorMessage: "must be open or resolved",
          }),
        ),
        limit: Type.Optional(
          Type.Integer({
            minimum: 1,
            default: 50,
            description: "Default 50; values above 200 count as 200.",
            errorMessage: "must be a positive integer",
          }),
        ),
        before: Type.Optional(MessageId("Only reports before this id.")),
      }),
      responses: {
        200: {
          description: "The reports.",
          schema: Type.Object({ reports: Type.Array(ReportSchema) }, { title: "Reports" }),
        },
      },
      errors: ["store_unavailable"],
    }),
    resolve: defineRoute({
      id: "resolveReport",
      method: "POST",
      path: "/v1/admin/reports/:id/resolve",
      tag: "server",
      auth: "apiKey",
      summary: "Resolve a report (its evidence copies are dropped)",
      description: "The body may be absent.",
      params: Type.Object({ id: MessageId("The report's id.") }),
      body: Type.Object(
        {
          action: Type.Optional(
            Nullable(Type.String({ minLength: 1, maxLength: 200, description: "What the app did." })),
          ),
        },
        { additionalProperties: false, title: "ResolveBody" },
      ),
      responses: { 200: { description: "Resolved.", schema: ReportAnswer } },
      errors: ["not_found", "store_unavailable"],
    }),
  };
}
