/** SPEC section 12: a report as the server API answers it (and the report.created webhook carries it). */
import { Type } from "@sinclair/typebox";
import { StoredMessageSchema } from "./message-schema.js";
import { REPORT_REASONS } from "./safety/reports.js";
import { MessageId, Nullable, UserId } from "./schema-kit.js";

export const ReportReasonSchema = Type.Unsafe<(typeof REPORT_REASONS)[number]>({
  type: "string",
  enum: [...REPORT_REASONS],
  errorMessage: `must be one of ${REPORT_REASONS.join(", ")}`,
});

export const ReportSchema = Type.Object(
  {
    id: MessageId("A ULID: reports sort by id in the order they were filed."),
    reporter: UserId(),
    user: UserId("Who is reported."),
    reason: ReportReasonSchema,
    note: Nullable(Type.String()),
    messageIds: Type.Array(MessageId(), { description: "The messages the reporter named." }),
    messages: Type.Array(StoredMessageSchema, {
      description:
        "Copies of the evidence taken when filed (the named messages, or the last 20), each in its state then (an unsent or expired one as its tombstone); dropped on resolve.",
    }),
    status: Type.Union([Type.Literal("open"), Type.Literal("resolved")]),
    createdAt: Type.Integer(),
    resolvedAt: Nullable(Type.Integer()),
    action: Nullable(Type.String({ description: "What the app did, as given to resolve." })),
  },
  { title: "Report" },
);
